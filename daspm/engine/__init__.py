"""Training/testing engine extensions (hooks, optimizer wrapper constructors, the distributed model wrapper)."""
from .hooks import PredictionWriterHook, RankConsistencyHook
from .model_wrappers import UDADistributedDataParallel
from .optimizers import MergedParamGroupsConstructor

__all__ = ['MergedParamGroupsConstructor', 'PredictionWriterHook', 'RankConsistencyHook',
           'UDADistributedDataParallel']
