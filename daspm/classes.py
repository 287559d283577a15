"""Class tables (names, palettes) of the datasets DASPM knows."""
from __future__ import annotations

IGNORE_INDEX: int = 255

DASPM_CLASSES: tuple[str, ...] = (
    'green area', 'urban area', 'roads', 'impervious surface', 'water')
DASPM_PALETTE: list[list[int]] = [
    [0, 238, 0], [205, 20, 20], [255, 255, 0], [196, 196, 0], [2, 2, 141]]

LOVEDA_CLASSES: tuple[str, ...] = (
    'background', 'building', 'road', 'water', 'barren', 'forest', 'agricultural')
LOVEDA_PALETTE: list[list[int]] = [
    [225, 225, 225], [155, 36, 22], [168, 168, 0], [10, 78, 151], [200, 200, 200],
    [0, 123, 79], [254, 195, 124]]
