"""The shift benchmark's bookkeeping and arithmetic on hand-made results (nothing is trained)."""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CLASSES = ('green area', 'urban area', 'roads', 'impervious surface', 'water')


@pytest.fixture(scope='module')
def shifts():
    loaded = {}
    for name in ('results_io', 'adaptation_synthetic', 'adaptation_shifts'):
        spec = importlib.util.spec_from_file_location(name, REPO / f'benchmarks/{name}.py')
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        loaded[name] = module
    yield loaded['adaptation_shifts']
    for name in loaded:
        del sys.modules[name]


def _write(path: Path, miou: float, key: str = 'result') -> None:
    path.mkdir(parents=True, exist_ok=True)
    per_class = {c: miou + i for i, c in enumerate(CLASSES)}
    if key == 'result':
        (path / 'result.json').write_text(json.dumps(dict(miou=miou, per_class=per_class, run_dir='r',
                                                          checkpoint='c', train_minutes=1.0)))
    else:
        metrics = {'mIoU': miou, **{f'IoU.{c}': v for c, v in per_class.items()}}
        (path / 'metrics.json').write_text(json.dumps(dict(metrics=metrics)))


def test_rows_and_plan_follow_the_issue(shifts):
    x1, x2 = shifts.tested_rows('daspm-warm-mic-teacher')
    assert {'source-only-warm', 'oracle-warm', 'daspm-warm', 'daspm-warm-mic', 'daspm-warm-mic-teacher'} <= set(x1)
    assert x1['daspm-warm-mic-teacher'] == ('daspm-warm-mic', {'model.eval_with': 'teacher'})
    assert x2 == {'source-only-warm': ('source-only-warm-longer', {}), 'oracle-warm': ('oracle-warm-longer', {}),
                  'daspm-warm-mic-teacher': ('daspm-warm-mic-longer', {'model.eval_with': 'teacher'})}
    rows = shifts.trained_rows()
    shifts.add_longer_rows(rows, 'daspm-warm-mic-teacher')
    longer, base = rows['daspm-warm-mic-longer'], rows['daspm-warm-mic']
    assert (longer.config, longer.options, longer.warm_start) == (base.config, base.options, True)
    assert longer.iters_factor == 2 * base.iters_factor
    args = argparse.Namespace(seeds=[0, 1], shifts=('default', 'sensor-1'), longer_shifts=('sensor-1',),
                              recommended='daspm-warm-mic-teacher')
    plan = shifts.training_plan(args)
    # rows that never read the target train once per seed, on the default data
    assert [j for j in plan if j[0] == 'source-only-warm'] == [('source-only-warm', 'default', 0),
                                                               ('source-only-warm', 'default', 1)]
    assert ('daspm-warm-mic', 'sensor-1', 1) in plan and ('daspm-warm-mic-longer', 'sensor-1', 0) in plan
    assert plan.index(('source-only', 'default', 1)) > plan.index(('daspm-warm-mic', 'sensor-1', 0))


def test_summary_reads_finished_runs_and_computes_the_gap_closed(shifts, tmp_path):
    args = argparse.Namespace(seeds=[0, 1], shifts=('default', 'sensor-1'), longer_shifts=('sensor-1',),
                              recommended='daspm-warm-teacher', iters=400, jobs=2, work_root=tmp_path,
                              data_root=tmp_path / 'data')
    for seed in (0, 1):
        _write(tmp_path / f'seed{seed}/default/source-only-warm', 30.0)   # trained once, tested per shift
        for shift, (control, ceiling, warm, teacher) in {'default': (30, 50, 40, 45),
                                                         'sensor-1': (10, 50, 12, 30 + 10 * seed)}.items():
            _write(tmp_path / f'seed{seed}/{shift}/tests/source-only-warm', control, 'metrics')
            _write(tmp_path / f'seed{seed}/{shift}/oracle-warm', ceiling)
            _write(tmp_path / f'seed{seed}/{shift}/daspm-warm', warm)
            _write(tmp_path / f'seed{seed}/{shift}/tests/daspm-warm-teacher', teacher, 'metrics')
    b = shifts.Benchmark(args)
    summary = shifts.summarise(b, args)
    default, sensor = summary['shifts']['default'], summary['shifts']['sensor-1']
    # the control row is its test on each shift's target, not its own validation on the default target
    assert sensor['rows']['source-only-warm']['miou'] == [10.0, 10.0]
    assert default['gap_closed']['daspm-warm']['per_seed'] == [0.5, 0.5]
    assert default['gap_closed']['daspm-warm-teacher']['mean'] == pytest.approx(0.75)
    assert sensor['gap_closed']['daspm-warm-teacher']['per_seed'] == pytest.approx([0.5, 0.75])
    assert sensor['gap_closed']['daspm-warm-teacher']['pooled'] == pytest.approx((20 + 30) / 80)
    assert sensor['rows']['daspm-warm-mic']['miou'] == [None, None]  # not run: null, not zero
    verdict = summary['verdict']
    assert verdict['gap_closed_per_shift'] == pytest.approx({'default': 0.75, 'sensor-1': 0.625})
    assert verdict['every_shift_at_least_50'] and verdict['mean_at_least_60'] and verdict['complete']
    assert verdict['longer_vs_1x'] == {'sensor-1': (None, pytest.approx(0.625))}
    assert set(summary) >= {'iters', 'uda_iters', 'test_tiles', 'control', 'ceiling', 'recommended', 'shifts', 'longer'}
    assert summary['uda_iters'] == 200 and summary['control'] == 'source-only-warm'
    text = shifts.markdown(summary)
    assert '| sensor-1 | daspm-warm-teacher | 35.00 ± 7.07 (n=2) | +62 % | +62 % |' in text
