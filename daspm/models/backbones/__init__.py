"""Encoder weight loading: SegFormer MiT ImageNet weights for mmseg's MixVisionTransformer."""
from .mit_weights import MiTPretrained, convert_mit_official, load_mit_weights

__all__ = ['MiTPretrained', 'convert_mit_official', 'load_mit_weights']
