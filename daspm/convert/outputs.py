"""A converter's output folder: ownership, done checks, partial files, orphans, listings.

One version of each helper for every driver (``converter``, ``loveda_family``, ``custom``); a
driver's own wording or file pattern travels as a parameter, so each keeps its messages exactly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from daspm.utils.dataset_layout import ANN_DIR, IMG_DIR
from daspm.utils.errors import DaspmInputError

MAX_LISTED = 10


def listing(items: Sequence[str], limit: int = MAX_LISTED) -> str:
    """'a, b, c (and 7 more)'."""
    shown = ', '.join(items[:limit])
    return shown + (f' (and {len(items) - limit} more)' if len(items) > limit else '')


def is_within(path: Path, root: Path) -> bool:
    """``path`` is ``root`` or lies below it (both already resolved)."""
    return path == root or root in path.parents


def is_done(inputs: Sequence[Path], outputs: Sequence[Path], stamp: Path | None = None) -> bool:
    """The outputs of one item exist and no input is newer than ``stamp`` (default: the oldest output).

    Writes are atomic, so an existing output is complete; an input edited after its conversion
    (e.g. a fixed label) must be converted again. The dataset converters stamp with the annotation,
    written last, as a copied or symlinked image keeps the raw file's time; they ask the image only
    to exist. Without a stamp every output must be a file.
    """
    if stamp is None:
        if not all(p.is_file() for p in outputs):
            return False
        done = min(p.stat().st_mtime_ns for p in outputs)
    else:
        if not (stamp.is_file() and all(p.exists() for p in outputs)):
            return False
        done = stamp.stat().st_mtime_ns
    return all(p.stat().st_mtime_ns <= done for p in inputs)


def clean_partials(out: Path) -> None:
    """Remove the temporary files of a killed run (SIGKILL skips atomic_output's clean-up)."""
    for sub in (IMG_DIR, ANN_DIR):
        if (out / sub).is_dir():
            for part in (out / sub).glob('.*.part'):
                part.unlink()


def orphan_names(out: Path, names: set[str], pattern: str = '*.tif') -> list[str]:
    """Sorted stems of the outputs (``pattern`` in img_dir/ and ann_dir/) whose input is not in ``names``."""
    return sorted({p.stem for sub in (IMG_DIR, ANN_DIR) if (out / sub).is_dir()
                   for p in (out / sub).glob(pattern)} - names)


def check_orphans(out: Path, names: set[str], pattern: str = '*.tif', holder: str = 'previous conversion') -> None:
    """Stop a resume whose output folder holds outputs of images no longer in the input."""
    stale = orphan_names(out, names, pattern)
    if stale:
        raise DaspmInputError(
            f'{out}: {holder} holds outputs for images no longer in the input: '
            f'{listing(stale)}; delete them from {IMG_DIR}/ and {ANN_DIR}/ or pass --overwrite')
