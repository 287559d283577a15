"""Unsupervised domain adaptation: DACS and its building blocks."""
from .dacs import DACS

__all__ = ['DACS']
