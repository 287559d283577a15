"""The adaptation benchmark's rows and its summary arithmetic, on hand-made results (nothing is trained)."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from mmengine.config import Config, DictAction

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def bench():
    spec = importlib.util.spec_from_file_location('adaptation_synthetic', REPO / 'benchmarks/adaptation_synthetic.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def result(miou: float, green: float, urban: float, roads: float | None, imperv: float, water: float) -> dict:
    classes = ('green area', 'urban area', 'roads', 'impervious surface', 'water')
    return dict(miou=miou, per_class=dict(zip(classes, (green, urban, roads, imperv, water))),
                train_minutes=1.0, pseudo_weight=None)


def test_rows_cover_the_issue_and_the_controls(bench):
    rows = {r.name: r for r in bench.benchmark_rows()}
    for name in ('source-only', 'daspm', 'daspm-mic', 'oracle', 'daspm-s2sim', 'daspm-pixel-weight',
                 'daspm-warm', 'daspm-warm-mic', 'daspm-tuned', 'oracle-warm',
                 'source-only-s2sim', 'source-only-longer', 'daspm-tuned-mic', 'daspm-warm-fd-ratio-0.5',
                 'daspm-warm-longer', 'source-only-2x'):
        assert name in rows
    assert set(bench.CORE_ROWS) <= set(rows)
    # the warm rows train half the schedule after a full source-only run: their control trains 1.5x
    assert rows['source-only-longer'].config == rows['source-only'].config
    assert rows['source-only-longer'].iters_factor == rows['daspm-tuned'].iters_factor + 1.0
    assert rows['daspm-tuned'].warm_start and rows['daspm-warm'].warm_start
    assert not rows['source-only-longer'].warm_start
    # MIC on top of the tuned method: the same schedule and start as the tuned row
    tuned, tuned_mic = rows['daspm-tuned'], rows['daspm-tuned-mic']
    assert (tuned_mic.iters_factor, tuned_mic.warm_start) == (tuned.iters_factor, tuned.warm_start)
    assert tuned_mic.config.endswith('_pixel_mic_daformer_mitb0.py')
    # MIC on the warm start alone: daspm-mic's config and options, daspm-warm's schedule and start
    warm, warm_mic = rows['daspm-warm'], rows['daspm-warm-mic']
    assert (warm_mic.config, warm_mic.options) == (rows['daspm-mic'].config, rows['daspm-mic'].options)
    assert (warm_mic.iters_factor, warm_mic.warm_start) == (warm.iters_factor, warm.warm_start)
    # the FD-ratio and longer-schedule levers on the warm start: one change each against daspm-warm
    fd = rows['daspm-warm-fd-ratio-0.5']
    assert (fd.config, fd.iters_factor, fd.warm_start) == (warm.config, warm.iters_factor, True)
    assert fd.options == {'model.imnet_feature_dist_scale_min_ratio': 0.5}
    longer = rows['daspm-warm-longer']
    assert (longer.config, longer.options, longer.warm_start) == (warm.config, {}, True)
    assert longer.iters_factor == 2 * warm.iters_factor


def test_summary_gap_closed_gain_and_classes_below_source_only(bench):
    rows = [r for r in bench.benchmark_rows() if r.name in ('source-only', 'oracle', 'daspm')]
    results = {
        ('source-only', 0): result(30.0, 50, 60, 10, 5, 40),
        ('source-only', 1): result(40.0, 60, 60, None, 5, 50),
        ('oracle', 0): result(50.0, 70, 70, 20, 10, 60),
        ('oracle', 1): result(44.0, 70, 60, 10, 5, 60),
        ('daspm', 0): result(40.0, 60, 58, 12, 10, 50),   # half the gap (10 of 20)
        ('daspm', 1): result(43.0, 62, 57, 8, 7, 55),     # three quarters of the gap (3 of 4)
    }
    summary = bench.summarise(rows, [0, 1], results, iters=400)
    daspm = summary['runs']['daspm']
    assert daspm['miou'] == [40.0, 43.0]
    assert daspm['gap_closed'] == pytest.approx([0.5, 0.75])
    assert daspm['gap_closed_mean'] == pytest.approx(0.625)
    assert daspm['gap_closed_pooled'] == pytest.approx((10 + 3) / (20 + 4))
    assert daspm['gain_over_source_only'] == pytest.approx([10.0, 3.0])
    gains = daspm['per_class_gain_mean']
    assert gains['green area'] == pytest.approx((10 + 2) / 2)
    assert gains['urban area'] == pytest.approx((-2 - 3) / 2)
    assert gains['roads'] == pytest.approx(2.0)  # seed 1's source-only has no roads IoU: seed 0 alone
    assert daspm['classes_below_source_only'] == ['urban area']
    assert summary['runs']['oracle']['gap_closed'] == pytest.approx([1.0, 1.0])
    assert summary['test_tiles'] == 18 and summary['seeds'] == [0, 1]
    table = bench.markdown_table(summary).splitlines()
    daspm_row = next(line for line in table if line.startswith('| daspm |'))
    assert daspm_row.startswith('| daspm | 0,1 | 41.50 ± 2.12 | +6.50 ± 4.95 | +62 ± 18 % | +54 % |  | 61.0 (+6.0) | '
                                '57.5 (-2.5) |')
    assert daspm['control'] is None and daspm['gain_over_control'] == [None, None]


def test_a_longer_row_is_also_measured_against_source_only_trained_as_long(bench):
    """Warm rows against source-only continued from the same model on the same schedule; a 2x schedule
    from scratch against source-only's 2x schedule."""
    rows = bench.benchmark_rows()
    controls = {r.name: bench.equal_iteration_control(r, rows) for r in rows}
    warm_rows = ('daspm-warm', 'daspm-warm-mic', 'daspm-warm-fd-ratio-0.5', 'daspm-tuned', 'daspm-tuned-mic')
    assert {controls[name] for name in warm_rows} == {'source-only-warm'}
    assert controls['daspm-warm-longer'] == 'source-only-warm-longer'
    longer = next(r for r in rows if r.name == 'daspm-warm-longer')
    assert bench.equal_iteration_control(longer, rows, 'oracle') == 'oracle-warm-longer'
    daspm = next(r for r in rows if r.name == 'daspm')
    assert bench.equal_iteration_control(bench.Row('daspm-2x', daspm.config, iters_factor=2.0), rows) == 'source-only-2x'
    for name in ('daspm', 'daspm-mic', 'oracle', 'source-only', 'source-only-longer', 'source-only-s2sim',
                 'source-only-warm'):
        assert controls[name] is None
    control = next(r for r in rows if r.name == 'source-only-warm')
    warm = next(r for r in rows if r.name == 'daspm-warm')
    assert (control.iters_factor, control.warm_start) == (warm.iters_factor, True)
    # both load the checkpoint into their segmentor: DACS's model.model, the plain config's model
    checkpoint = Path('seed0/source-only/iter_400.pth')
    control_options = bench.run_options(control, Path('data'), 0, 200, checkpoint)
    warm_options = bench.run_options(warm, Path('data'), 0, 200, checkpoint)
    for options, network in ((control_options, 'model'), (warm_options, 'model.model')):
        assert f'{network}.init_cfg.type=Pretrained' in options
        assert f'{network}.init_cfg.checkpoint={checkpoint}' in options
        assert 'train_cfg.max_iters=200' in options and 'randomness.seed=0' in options
    wanted = ('source-only', 'source-only-warm', 'oracle', 'daspm-warm')
    results = {
        ('source-only', 0): result(30.0, 50, 60, 10, 5, 40), ('source-only', 1): result(40.0, 60, 60, 10, 5, 50),
        ('source-only-warm', 0): result(34.0, 50, 60, 10, 5, 40),
        ('source-only-warm', 1): result(41.0, 60, 60, 10, 5, 50),
        ('oracle', 0): result(44.0, 70, 70, 20, 10, 60), ('oracle', 1): result(45.0, 70, 60, 10, 5, 60),
        ('daspm-warm', 0): result(39.0, 60, 58, 12, 10, 50),  # +5 over its control, gap 10
        ('daspm-warm', 1): result(42.0, 62, 57, 8, 7, 55),    # +1 over its control, gap 4
    }
    summary = bench.summarise([r for r in rows if r.name in wanted], [0, 1], results, iters=400)
    warm = summary['runs']['daspm-warm']
    assert warm['control'] == 'source-only-warm'
    assert warm['gain_over_control'] == pytest.approx([5.0, 1.0])
    assert warm['gain_over_control_mean'] == pytest.approx(3.0)
    assert warm['gap_closed_over_control_pooled'] == pytest.approx((5 + 1) / (10 + 4))
    assert warm['gain_over_source_only'] == pytest.approx([9.0, 2.0])  # the issue's measure is kept
    assert warm['classes_below_control'] == ['urban area']  # 58 and 57 against 60 and 60
    warm_row = next(line for line in bench.markdown_table(summary).splitlines() if line.startswith('| daspm-warm |'))
    assert '| +3.00 vs source-only-warm (+43 % of the gap to oracle) |' in warm_row
    # with the oracle trained on the warm rows' start and schedule, that is the ceiling
    warm_row_def = next(r for r in rows if r.name == 'daspm-warm')
    assert bench.equal_iteration_control(warm_row_def, rows, 'oracle') == 'oracle-warm'
    results[('oracle-warm', 0)] = result(50.0, 70, 70, 20, 10, 60)  # gap 16 over the control
    results[('oracle-warm', 1)] = result(45.0, 70, 60, 10, 5, 60)   # gap 4
    summary = bench.summarise([r for r in rows if r.name in wanted + ('oracle-warm',)], [0, 1], results, iters=400)
    warm = summary['runs']['daspm-warm']
    assert warm['control_ceiling'] == 'oracle-warm'
    assert warm['gap_closed_over_control_pooled'] == pytest.approx((5 + 1) / (16 + 4))
    assert warm['gap_closed_pooled'] == pytest.approx((9 + 2) / (14 + 5))  # the issue's measure: the 1x oracle


def test_a_seed_without_source_only_or_oracle_has_no_gap_closed(bench):
    rows = [r for r in bench.benchmark_rows() if r.name in ('source-only', 'oracle', 'daspm')]
    results = {('source-only', 0): result(30.0, 50, 60, 10, 5, 40), ('daspm', 0): result(35.0, 50, 60, 10, 5, 40),
               ('daspm', 1): result(36.0, 50, 60, 10, 5, 40)}
    summary = bench.summarise(rows, [0, 1], results, iters=400)
    assert summary['runs']['daspm']['gap_closed'] == [None, None]
    assert summary['runs']['daspm']['gap_closed_mean'] is None
    assert summary['runs']['daspm']['gap_closed_pooled'] is None
    assert summary['runs']['daspm']['gain_over_source_only'] == [5.0, None]
    assert 'oracle' not in summary['runs']


def test_make_demo_trains_the_warm_mic_row_of_seed_0_on_the_real_patch(bench):
    """The demo: the benchmark's daspm-warm-mic protocol on seed 0 (schedule, model, optimiser, hooks), with
    the false-colour source, the real patch as target (B8/B4/B3 read as the source's bands) and the student
    mapping."""
    demo = (REPO / 'scripts/demo.sh').read_text()
    defaults = dict(re.findall(r'^(\w+)=\$\{\w+:-(\d+)\}$', demo, flags=re.M))
    rows = {r.name: r for r in bench.benchmark_rows()}
    warm, source_only = rows['daspm-warm-mic'], rows['source-only']
    assert int(defaults['SOURCE_ONLY_ITERS']) == bench.DEFAULT_ITERS
    assert int(defaults['DASPM_ITERS']) == round(bench.DEFAULT_ITERS * warm.iters_factor)
    generator = re.search(r'make_synthetic_dataset\.py \$DATA (.*?)\\?$', demo, flags=re.M).group(1).split()
    generator += re.search(r'^\s+(--spectra \S+)$', demo, flags=re.M).group(1).split()
    assert generator == [*bench.GENERATOR_ARGS, '--spectra', 'sentinel2-nir']  # no --seed: seed 0
    demo_so = Config.fromfile(str(REPO / re.search(r'^SOURCE_ONLY=(\S+)$', demo, flags=re.M).group(1)))
    row_so = Config.fromfile(str(REPO / source_only.config))
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'default_hooks', 'randomness'):
        assert demo_so[key] == row_so[key], key
    assert demo_so.train_dataloader.dataset.pipeline == row_so.train_dataloader.dataset.pipeline
    options = dict(o.split('=', 1) for o in bench.run_options(warm, Path('data'), 0, int(defaults['DASPM_ITERS']),
                                                                Path('source-only/iter_400.pth')))
    options = {k: DictAction._parse_iterable(v) for k, v in options.items()}
    assert options.pop('model.seed') == 0  # DACS's own generator: the demo keeps its default, 0
    row_cfg = Config.fromfile(str(REPO / warm.config))
    row_cfg.merge_from_dict(options)
    demo_cfg = Config.fromfile(str(REPO / re.search(r'^DASPM=(\S+)$', demo, flags=re.M).group(1)))
    demo_cfg.merge_from_dict({k: v for k, v in options.items() if k.endswith('init_cfg.checkpoint')})
    assert demo_cfg.model.eval_with == 'student' == row_cfg.model.eval_with
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'default_hooks', 'custom_hooks',
                'randomness'):
        assert demo_cfg[key] == row_cfg[key], key
    target, row_target = demo_cfg.train_dataloader.dataset.target, row_cfg.train_dataloader.dataset.target
    assert target.data_root == 'data/real_target'
    assert target.pipeline[0].bands == ['B8', 'B4', 'B3'] and target.pipeline[1:] == row_target.pipeline[1:]
    assert demo_cfg.train_dataloader.dataset.source.pipeline == row_cfg.train_dataloader.dataset.source.pipeline
    for cfg in (demo_so, demo_cfg):  # training seed 0
        assert cfg.randomness.seed == 0 and cfg.model.get('seed', 0) == 0
