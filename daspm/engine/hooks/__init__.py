"""Runner hooks."""
from .debug_images import DebugImageHook
from .prediction_writer import PredictionWriterHook

__all__ = ['DebugImageHook', 'PredictionWriterHook']
