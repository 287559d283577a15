"""``tools/compare_runs.py``: two tested runs side by side with their difference."""
from __future__ import annotations

import json

import pytest

from daspm.cli.compare_runs import main


def write_metrics(run_dir, metrics):
    run_dir.mkdir()
    (run_dir / 'metrics.json').write_text(json.dumps(dict(metrics=metrics)))
    return run_dir


def test_prints_both_runs_per_class_and_the_difference(tmp_path, capsys):
    base = write_metrics(tmp_path / 'so', {'aAcc': 70.0, 'mIoU': 40.0, 'IoU.green area': 60.0, 'IoU.water': 20.0})
    run = write_metrics(tmp_path / 'uda', {'aAcc': 72.0, 'mIoU': 42.5, 'IoU.green area': 58.0, 'IoU.water': 27.0})
    main([str(base), str(run), '--names', 'source-only', 'DASPM'])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ['source-only', 'DASPM', 'difference']
    assert lines[1].split() == ['mIoU', '40.00', '42.50', '+2.50']
    assert lines[2].split() == ['green', 'area', '60.00', '58.00', '-2.00']
    assert lines[3].split() == ['water', '20.00', '27.00', '+7.00']
    assert lines[4] == 'DASPM target mIoU 42.50 is 2.50 points above source-only (40.00)'


def test_an_untested_run_is_named_with_the_fix(tmp_path, capsys):
    base = write_metrics(tmp_path / 'so', {'mIoU': 40.0})
    (tmp_path / 'uda').mkdir()
    with pytest.raises(SystemExit) as exc:
        main([str(base), str(tmp_path / 'uda')])
    assert exc.value.code == 2
    assert 'uda/metrics.json not found: test the run first with `sh test.sh' in capsys.readouterr().err
