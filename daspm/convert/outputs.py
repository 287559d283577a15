"""A converter's output folder: ownership, resume, done checks, partial files, orphans, writing outputs.

One version of each helper for every format; a format's own wording or file pattern travels as a
parameter (``Wording``, ``OutputRules``), so each keeps its messages exactly.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
from rasterio.errors import NotGeoreferencedWarning

from daspm.classes import IGNORE_INDEX
from daspm.utils.colors import colormap_table
from daspm.utils.dataset_layout import ANN_DIR, IMG_DIR, SPLITS
from daspm.utils.errors import DaspmInputError
from daspm.utils.raster import atomic_output, write_geotiff

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


@dataclass(frozen=True)
class Wording:
    """How a format words the output-folder errors (each keeps the words its users know); ``{out}``, ``{raw}``."""

    inside_input: str
    input_inside: str
    not_dir: str


def check_placement(inputs: Sequence[Path], out: Path, words: Wording) -> None:
    """Refuse an output inside an input (converters never write into their input) or the other way round."""
    out_r = out.resolve()
    for folder in inputs:
        folder_r = folder.resolve()
        if is_within(out_r, folder_r):
            raise DaspmInputError(words.inside_input.format(out=out, raw=folder))
        if is_within(folder_r, out_r):
            raise DaspmInputError(words.input_inside.format(out=out, raw=folder))
    if out.exists() and not out.is_dir():
        raise DaspmInputError(words.not_dir.format(out=out, raw=inputs[0]))


def load_manifest(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def clear(paths: Sequence[Path], links_too: bool = False) -> None:
    """Remove what a conversion wrote (folders and files); nothing else in the output folder is touched.

    A symlinked folder is left alone unless ``links_too`` (then it is unlinked, not followed).
    """
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.is_file() if not links_too else (path.exists() or path.is_symlink()):
            path.unlink()


@dataclass(frozen=True)
class OutputRules:
    """A format's output-folder policy: wording, how it reads a previous manifest, what is ours, the resume check."""

    words: Wording
    read_previous: Callable[[Path], dict[str, Any]]           # raises when ``out`` is not a conversion
    ours: Callable[[Path, dict[str, Any]], list[Path]]         # what --overwrite removes
    check_resume: Callable[[Path, dict[str, Any]], None]       # raises when resuming would mix outputs
    links_too: bool = False


def prepare_output(inputs: Sequence[Path], out: Path, rules: OutputRules,
                   overwrite: bool) -> tuple[bool, dict[str, Any]]:
    """Check ``out`` against the inputs and a previous conversion; clear it for ``overwrite``.

    Returns (resuming, the previous manifest or {}).
    """
    check_placement(inputs, out, rules.words)
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return False, {}
    previous = rules.read_previous(out)
    if overwrite:
        clear(rules.ours(out, previous), rules.links_too)
        return False, previous
    rules.check_resume(out, previous)
    return True, previous


def place_image(src: Path, dst: Path, symlink: bool) -> None:
    """Copy (or symlink) an image into the output, through atomic_output so an interrupted copy never looks finished."""
    with atomic_output(dst) as tmp:
        if symlink:
            tmp.unlink()
            os.symlink(src.resolve(), tmp)
        else:
            shutil.copy2(src, tmp)


@contextmanager
def quiet_georeference() -> Iterator[None]:
    """Silence rasterio's NotGeoreferencedWarning: PNG/JPEG without a georeference are expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', NotGeoreferencedWarning)
        yield


def write_annotation(path: Path, train_ids: np.ndarray, crs: Any, transform: Any, classes: Sequence[str],
                     palette: Sequence[Sequence[int]]) -> None:
    """A train-id GeoTIFF: uint8, 255 = ignore, a colour table (QGIS shows the classes) and the class names."""
    with quiet_georeference():
        write_geotiff(path, train_ids, crs=crs, transform=transform, nodata=IGNORE_INDEX,
                      band_descriptions=['train id'], colormap=colormap_table(palette),
                      tags={'daspm_classes': ';'.join(f'{i}={n}' for i, n in enumerate(classes)),
                            'ignore_index': str(IGNORE_INDEX)})


def write_lines(path: Path, names: Sequence[str]) -> None:
    """One name a line, atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(''.join(f'{n}\n' for n in names), encoding='utf-8')


def write_splits(out: Path, splits: Mapping[str, Sequence[str]], previous: Mapping[str, Any]) -> None:
    """``<split>.txt`` for each split; a split file of a previous conversion that this one lacks goes."""
    for split, names in splits.items():
        write_lines(out / f'{split}.txt', names)
    for split in set(previous.get('splits') or {}) | set(SPLITS):
        if split not in splits and (out / f'{split}.txt').is_file():
            (out / f'{split}.txt').unlink()


def default_output_dir(raw_dir: str | os.PathLike) -> Path:
    """``<raw_dir>_converted`` beside the raw directory."""
    raw = Path(raw_dir).resolve()
    return raw.with_name(raw.name + '_converted')
