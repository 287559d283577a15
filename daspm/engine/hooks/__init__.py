"""Runner hooks."""
from .debug_images import DebugImageHook
from .prediction_writer import PredictionWriterHook
from .rank_consistency import RankConsistencyHook

__all__ = ['DebugImageHook', 'PredictionWriterHook', 'RankConsistencyHook']
