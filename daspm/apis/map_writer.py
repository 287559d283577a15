"""Write class-id maps as GeoTIFFs (kept here for existing importers).

The writer lives in :mod:`daspm.utils.class_map`, below the engine hook that writes predictions.
"""
from ..utils.class_map import class_map_tags, write_class_map

__all__ = ['class_map_tags', 'write_class_map']
