"""Encoders: mmseg's MiT with fused attention; weight loading (SegFormer MiT ImageNet weights, local ImageNet files)."""
from .fused_mit import FusedEfficientMultiheadAttention, FusedMixVisionTransformer
from .local_weights import LocalPretrained, load_local_weights
from .mit_weights import MiTPretrained, convert_mit_official, load_mit_weights

__all__ = ['FusedEfficientMultiheadAttention', 'FusedMixVisionTransformer', 'MiTPretrained', 'convert_mit_official',
           'load_mit_weights', 'LocalPretrained', 'load_local_weights']
