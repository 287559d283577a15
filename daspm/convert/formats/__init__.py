"""One adapter per dataset format; :data:`FORMATS` names the pair formats for the CLI and the pipeline.

``custom`` (any labelled folder plus a class table, with training configs; no RAW argument) is
``formats.custom.CUSTOM``, run by the same driver with its own options record.
"""
from __future__ import annotations

from .base import PairFormat
from .gaofen_sentinel import GAOFEN2M, SENTINEL10M
from .global23k import GLOBAL23K
from .loveda import LOVEDA
from .utcd import UTCD
from .whdld import WHDLD

#: every pair format by name, in the order --help lists them
FORMATS: dict[str, PairFormat] = {f.name: f for f in (GAOFEN2M, SENTINEL10M, LOVEDA, UTCD, WHDLD, GLOBAL23K)}

__all__ = ['FORMATS', 'PairFormat']
