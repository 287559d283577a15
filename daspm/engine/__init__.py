"""Training/testing engine extensions (hooks, optimizer wrapper constructors)."""
from .hooks import PredictionWriterHook
from .optimizers import MergedParamGroupsConstructor

__all__ = ['MergedParamGroupsConstructor', 'PredictionWriterHook']
