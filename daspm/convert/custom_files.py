"""Finding a custom dataset's files: images paired with masks by relative path and stem, and the splits.

``images/city1/tile_7.jpg`` pairs with ``masks/city1/tile_7.png``: the key of a file is its path
below its folder without the suffix. With ``--image-suffix _sat.jpg --mask-suffix _mask.png``
the suffix is that whole ending, so ``x_sat.jpg`` pairs with ``x_mask.png`` (images and masks may
then share one folder). Converted files are named by the key with ``/`` replaced by ``__``, so
nested inputs give one flat folder whose names stay unique (predictions are written by name).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from daspm.utils.dataset_layout import SPLITS
from daspm.utils.errors import DaspmInputError

from .outputs import listing

IMAGE_SUFFIXES: tuple[str, ...] = ('.tif', '.tiff', '.png', '.jpg', '.jpeg')
# JPEG is left out on purpose: lossy compression invents colours and ids along class borders.
MASK_SUFFIXES: tuple[str, ...] = ('.png', '.tif', '.tiff', '.bmp', '.gif')
NESTED_SEPARATOR = '__'


def _match_suffix(name: str, suffixes: Sequence[str]) -> str | None:
    lower = name.lower()
    return next((s for s in suffixes if lower.endswith(s.lower()) and len(name) > len(s)), None)


def list_files(folder: str | os.PathLike, suffixes: Sequence[str], what: str,
               exclude: Sequence[Path] = ()) -> dict[str, Path]:
    """``{key: path}`` of the files under ``folder`` (recursively) ending with one of ``suffixes``.

    Hidden files and folders and everything under ``exclude`` are skipped; two files with the
    same key (``a.png`` and ``a.tif``) raise.
    """
    root = Path(folder)
    if not root.is_dir():
        raise DaspmInputError(f'{root}: {what} folder not found; pass an existing folder')
    excluded = [e.resolve() for e in exclude if e.resolve() != root.resolve()]
    files: dict[str, Path] = {}
    for path in sorted(root.rglob('*')):
        rel = path.relative_to(root)
        if any(part.startswith('.') for part in rel.parts) or not path.is_file():
            continue
        if any(e == path.resolve() or e in path.resolve().parents for e in excluded):
            continue
        suffix = _match_suffix(rel.name, suffixes)
        if suffix is None:
            continue
        key = rel.as_posix()[:-len(suffix)]
        if key in files:
            raise DaspmInputError(
                f'{root}: {files[key].relative_to(root)} and {rel} are both {what} {key!r}; names must be '
                'unique without their suffix: remove or rename one')
        files[key] = path
    return files


def output_name(key: str) -> str:
    """Flat name of a converted file: 'city1/tile_7' -> 'city1__tile_7'."""
    return key.replace('/', NESTED_SEPARATOR)


def flat_names(keys: Sequence[str], root: Path) -> dict[str, str]:
    """``{key: output name}``; two keys giving one name ('a/b' and 'a__b') raise."""
    names: dict[str, str] = {}
    seen: dict[str, str] = {}
    for key in keys:
        name = output_name(key)
        if name in seen:
            raise DaspmInputError(
                f'{root}: {seen[name]!r} and {key!r} would both be converted to {name!r} (sub-folders are '
                f'joined with {NESTED_SEPARATOR!r}); rename one of them')
        seen[name] = key
        names[key] = name
    return names


def _suffix_help() -> str:
    return ('images and masks pair by their path below --images / --masks without the suffix '
            '(images/a/x.jpg <-> masks/a/x.png); if the names differ by more than the extension, pass '
            'the endings, e.g. --image-suffix _sat.jpg --mask-suffix _mask.png')


def pair_files(images: dict[str, Path], masks: dict[str, Path], image_dir: Path, mask_dir: Path, *,
               allow_unmatched: bool = False) -> tuple[dict[str, tuple[Path, Path]], list[str], list[str]]:
    """``({key: (image, mask)}, image keys without mask, mask keys without image)``.

    Unmatched files raise one error listing both kinds, unless ``allow_unmatched`` (then they are
    returned and skipped).
    """
    if not images:
        raise DaspmInputError(f'{image_dir}: no images found (looked for {", ".join(IMAGE_SUFFIXES)} or '
                              'the --image-suffix given); put the images there or pass --image-suffix')
    shared = sorted(str(p) for p in set(images.values()) & set(masks.values()))
    if shared:
        raise DaspmInputError(
            f'{listing(shared)}: read both as image and as mask; when images and masks share a folder, '
            'pass endings that tell them apart, e.g. --image-suffix _sat.jpg --mask-suffix _mask.png')
    no_mask = sorted(set(images) - set(masks))
    no_image = sorted(set(masks) - set(images))
    if (no_mask or no_image) and not allow_unmatched:
        parts = []
        if no_mask:
            parts.append(f'{len(no_mask)} image(s) in {image_dir} without a mask: '
                         f'{listing([images[k].relative_to(image_dir).as_posix() for k in no_mask])}')
        if no_image:
            parts.append(f'{len(no_image)} mask(s) in {mask_dir} without an image: '
                         f'{listing([masks[k].relative_to(mask_dir).as_posix() for k in no_image])}')
        hint = _suffix_help()
        if no_mask and not set(images) & set(masks) and any(p.suffix.lower() in ('.jpg', '.jpeg')
                                                             for p in mask_dir.rglob('*')):
            hint += ('; JPEG masks are not read by default (lossy compression changes colours along '
                     'class borders): pass --mask-suffix .jpg to read them anyway')
        raise DaspmInputError('; '.join(parts) + f'; {hint}; or pass --allow-unmatched to skip unpaired files')
    pairs = {k: (images[k], masks[k]) for k in sorted(set(images) & set(masks))}
    if not pairs:
        raise DaspmInputError(f'{image_dir} and {mask_dir}: no image has a mask; {_suffix_help()}')
    return pairs, no_mask, no_image


def parse_ratios(text: str) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' -> (0.8, 0.1, 0.1): train, val, test shares (normalised to sum 1)."""
    try:
        ratios = [float(v) for v in text.split(',')]
    except ValueError:
        ratios = []
    if len(ratios) != 3 or any(r < 0 for r in ratios) or ratios[0] <= 0 or ratios[1] + ratios[2] <= 0:
        raise DaspmInputError(
            f'--splits {text}: give three shares train,val,test such as 0.8,0.1,0.1 (train and val or '
            'test above 0)')
    total = sum(ratios)
    return ratios[0] / total, ratios[1] / total, ratios[2] / total


def random_splits(keys: Sequence[str], ratios: tuple[float, float, float], seed: int = 0) -> dict[str, list[str]]:
    """Deterministic train/val/test split: the sorted keys shuffled with ``seed``, then cut by ``ratios``.

    Every split with a share above 0 gets at least one image; empty splits are left out.
    """
    order = sorted(keys)
    wanted = [s for s, r in zip(SPLITS, ratios) if r > 0]
    if len(order) < len(wanted):
        raise DaspmInputError(
            f'{len(order)} image(s) cannot fill the {"/".join(wanted)} splits; add images, give shares of 0 '
            '(e.g. --splits 0.8,0.2,0) or pass split files with --split-dir')
    rng = np.random.default_rng(seed)
    order = [order[i] for i in rng.permutation(len(order))]
    n = len(order)
    n_val = max(1, round(n * ratios[1])) if ratios[1] > 0 else 0
    n_test = max(1, round(n * ratios[2])) if ratios[2] > 0 else 0
    while n - n_val - n_test < 1:  # train keeps at least one image; take from the larger of the two
        if n_val >= n_test:
            n_val -= 1
        else:
            n_test -= 1
    splits = {'val': order[:n_val], 'test': order[n_val:n_val + n_test], 'train': order[n_val + n_test:]}
    return {s: sorted(splits[s]) for s in SPLITS if splits[s]}


def _entry_key(line: str, keys: set[str], suffixes: Sequence[str]) -> str:
    """A split file entry as a pairing key: 'a/x', 'a/x.jpg', 'a__x' and 'a\\x' all name 'a/x'."""
    entry = line.replace('\\', '/').strip('/')
    if entry in keys:
        return entry
    suffix = _match_suffix(entry, suffixes)
    if suffix is not None and entry[:-len(suffix)] in keys:
        return entry[:-len(suffix)]
    unflat = entry.replace(NESTED_SEPARATOR, '/')
    return unflat if unflat in keys else entry


def read_split_dir(split_dir: str | os.PathLike, keys: Sequence[str],
                   suffixes: Sequence[str]) -> dict[str, list[str]]:
    """Splits from ``<split_dir>/{train,val,test}.txt``: one image per line (path below --images,
    with or without suffix); ``train`` and ``val`` or ``test`` are required, unknown names raise."""
    root = Path(split_dir)
    if not root.is_dir():
        raise DaspmInputError(f'{root}: split folder not found; it holds train.txt, val.txt and/or test.txt')
    known = set(keys)
    splits: dict[str, list[str]] = {}
    for split in SPLITS:
        path = root / f'{split}.txt'
        if not path.is_file():
            continue
        entries = [line.strip() for line in path.read_text(encoding='utf-8').splitlines()]
        resolved = [_entry_key(e, known, suffixes) for e in entries if e and not e.startswith('#')]
        unknown = sorted(set(resolved) - known)
        if unknown:
            raise DaspmInputError(
                f'{path}: {len(unknown)} name(s) are not among the paired images: {listing(unknown)}; list '
                'images by their path below --images (suffix optional), one per line')
        splits[split] = sorted(dict.fromkeys(resolved))
    if 'train' not in splits or not ({'val', 'test'} & set(splits)):
        raise DaspmInputError(f'{root}: needs train.txt and val.txt or test.txt (found: '
                              f'{", ".join(f"{s}.txt" for s in splits) or "none"})')
    return splits


__all__ = ['IMAGE_SUFFIXES', 'MASK_SUFFIXES', 'NESTED_SEPARATOR', 'list_files', 'pair_files', 'output_name',
           'flat_names', 'parse_ratios', 'random_splits', 'read_split_dir']
