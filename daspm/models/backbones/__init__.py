"""Encoder weight loading: SegFormer MiT ImageNet weights, local ImageNet files for other encoders."""
from .local_weights import LocalPretrained, load_local_weights
from .mit_weights import MiTPretrained, convert_mit_official, load_mit_weights

__all__ = ['MiTPretrained', 'convert_mit_official', 'load_mit_weights', 'LocalPretrained', 'load_local_weights']
