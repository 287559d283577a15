"""Models: DAFormer head, MiT weight conversion, UDA segmentors."""
from . import backbones, decode_heads, uda  # noqa: F401  (imported for registration)
