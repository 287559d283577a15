"""Colour maps, legends and overlays for class-id maps."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..classes import IGNORE_INDEX


def colorize(class_map: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """(H, W) class ids -> (H, W, 3) uint8 RGB; ignore/nodata pixels are black."""
    lut = np.zeros((256, 3), np.uint8)
    lut[:len(palette)] = np.asarray(palette, np.uint8)
    lut[IGNORE_INDEX] = 0
    return lut[class_map.astype(np.uint8)]


def colormap_table(palette: Sequence[Sequence[int]]) -> dict[int, tuple[int, ...]]:
    """GeoTIFF colour table: palette entries for the classes, transparent black for nodata."""
    table = {i: tuple(int(c) for c in rgb) + (255,) for i, rgb in enumerate(palette)}
    table[IGNORE_INDEX] = (0, 0, 0, 0)
    return table


def to_display_rgb(img: np.ndarray) -> np.ndarray:
    """Float (H, W, C>=3) image in ~[0, 1] -> uint8 RGB with a 2-98 percentile stretch per band."""
    rgb = img[..., :3].astype(np.float32)
    low = np.percentile(rgb, 2, axis=(0, 1))
    high = np.percentile(rgb, 98, axis=(0, 1))
    stretched = (rgb - low) / np.maximum(high - low, 1e-6)
    return (np.clip(stretched, 0, 1) * 255).astype(np.uint8)


def overlay(rgb: np.ndarray, colours: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """Blend a coloured map over an RGB image of the same size."""
    return (rgb.astype(np.float32) * (1 - opacity) + colours.astype(np.float32) * opacity).astype(np.uint8)


def save_map_with_legend(path: str | Path, colours: np.ndarray, classes: Sequence[str],
                         palette: Sequence[Sequence[int]], title: str = '') -> Path:
    """Save a coloured map as PNG with a class legend beside it (matplotlib, no display needed)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    height, width = colours.shape[:2]
    fig_w = 6 + 2.5
    fig, ax = plt.subplots(figsize=(fig_w, 6 * height / max(width, 1) + 0.5), dpi=120)
    ax.imshow(colours, interpolation='nearest')
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    handles = [Patch(facecolor=np.asarray(c) / 255.0, edgecolor='black', label=n)
               for n, c in zip(classes, palette)]
    ax.legend(handles=handles, loc='upper left', bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
