"""Runner hooks."""
from .prediction_writer import PredictionWriterHook

__all__ = ['PredictionWriterHook']
