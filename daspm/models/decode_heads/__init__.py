"""Decode heads registered into mmseg's MODELS registry."""
from .daformer_head import DAFormerHead

__all__ = ['DAFormerHead']
