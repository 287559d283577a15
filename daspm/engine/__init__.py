"""Training/testing engine extensions (hooks, optimizer wrapper constructors, the distributed model wrapper)."""
from .hooks import DeferredRuntimeInfoHook, PredictionWriterHook, RankConsistencyHook
from .model_wrappers import UDADistributedDataParallel
from .optimizers import MergedParamGroupsConstructor

__all__ = ['DeferredRuntimeInfoHook', 'MergedParamGroupsConstructor', 'PredictionWriterHook',
           'RankConsistencyHook', 'UDADistributedDataParallel']
