"""Training/testing engine extensions (hooks)."""
from .hooks import PredictionWriterHook

__all__ = ['PredictionWriterHook']
