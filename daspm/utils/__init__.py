"""Bottom-layer helpers: errors, rasters, checkpoints, colours, class maps, dataset layout, compat."""
from .errors import DaspmInputError, exit_on_input_error

__all__ = ['DaspmInputError', 'exit_on_input_error']
