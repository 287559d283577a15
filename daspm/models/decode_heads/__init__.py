"""Decode heads registered into mmseg's MODELS registry."""
from .daformer_head import DAFormerHead
from .danet_head import DAHeadFusedLogits
from .dlv2_head import DLV2Head

__all__ = ['DAFormerHead', 'DAHeadFusedLogits', 'DLV2Head']
