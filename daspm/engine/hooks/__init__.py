"""Runner hooks."""
from .debug_images import DebugImageHook
from .deferred_runtime_info import DeferredRuntimeInfoHook
from .prediction_writer import PredictionWriterHook
from .pseudo_label_diagnostics import PseudoLabelDiagnosticsHook
from .rank_consistency import RankConsistencyHook

__all__ = ['DebugImageHook', 'DeferredRuntimeInfoHook', 'PredictionWriterHook', 'PseudoLabelDiagnosticsHook',
           'RankConsistencyHook']
