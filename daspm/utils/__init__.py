"""Utilities: user-facing errors, raster helpers, torch/mmengine compatibility."""
from .errors import DaspmInputError, exit_on_input_error

__all__ = ['DaspmInputError', 'exit_on_input_error']
