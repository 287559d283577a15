"""daspm.convert.outputs: the output-folder helpers every converter shares."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from daspm.convert.outputs import check_orphans, clean_partials, is_done, is_within, listing, orphan_names
from daspm.utils.errors import DaspmInputError


def _file(path: Path, mtime_ns: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'x')
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def test_listing_and_within(tmp_path: Path) -> None:
    assert listing([str(i) for i in range(12)]) == '0, 1, 2, 3, 4, 5, 6, 7, 8, 9 (and 2 more)'
    assert listing(['a', 'b'], limit=1) == 'a (and 1 more)'
    assert is_within(tmp_path / 'a' / 'b', tmp_path) and is_within(tmp_path, tmp_path)
    assert not is_within(tmp_path, tmp_path / 'a')


def test_done_by_the_stamp_or_by_the_oldest_output(tmp_path: Path) -> None:
    # a copied image keeps the raw file's old time: the stamp (annotation) decides, not the image
    image, label = _file(tmp_path / 'raw.tif', 100), _file(tmp_path / 'label.tif', 200)
    img_out, ann_out = _file(tmp_path / 'img.tif', 100), _file(tmp_path / 'ann.tif', 300)
    assert is_done([image, label], [img_out], stamp=ann_out)
    assert not is_done([image, label], [img_out, ann_out])       # the oldest output (100) < label (200)
    os.utime(label, ns=(400, 400))                               # a label fixed after its conversion
    assert not is_done([image, label], [img_out], stamp=ann_out)
    assert not is_done([image], [tmp_path / 'missing.tif'], stamp=ann_out)
    assert not is_done([image], [img_out], stamp=tmp_path / 'missing.tif')
    assert is_done([image], [img_out, ann_out])


def test_partials_and_orphans(tmp_path: Path) -> None:
    part = _file(tmp_path / 'ann_dir' / '.a.tif.part', 1)
    _file(tmp_path / 'img_dir' / 'a.png', 1)
    _file(tmp_path / 'img_dir' / 'gone.png', 1)
    _file(tmp_path / 'ann_dir' / 'a.tif', 1)
    _file(tmp_path / 'ann_dir' / '.hidden.tif', 1)
    clean_partials(tmp_path)
    assert not part.exists() and (tmp_path / 'ann_dir' / 'a.tif').exists()
    assert orphan_names(tmp_path, {'a'}) == ['.hidden']
    assert orphan_names(tmp_path, {'a'}, pattern='[!.]*') == ['gone']
    with pytest.raises(DaspmInputError) as err:
        check_orphans(tmp_path, {'a'}, pattern='[!.]*', holder='a previous conversion')
    assert str(err.value) == (f'{tmp_path}: a previous conversion holds outputs for images no longer in the input: '
                              'gone; delete them from img_dir/ and ann_dir/ or pass --overwrite')
    check_orphans(tmp_path, {'a', 'gone', '.hidden'})
