"""Colour maps, legends and overlays for class-id maps (kept here for existing importers).

The functions live in :mod:`daspm.utils.colors`, below the engine hooks that draw with them.
"""
from ..utils.colors import colorize, colormap_table, overlay, save_map_with_legend, to_display_rgb

__all__ = ['colorize', 'colormap_table', 'overlay', 'save_map_with_legend', 'to_display_rgb']
