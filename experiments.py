"""Experiment generator: ``run_experiments.py --exp N`` trains every run of experiment N.

Each run is a base config plus overrides (mmengine ``cfg-options`` keys), so an ablation is a
table you can read here rather than a folder of near-identical config files.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SYNTHETIC_UDA = 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'
SYNTHETIC_SOURCE_ONLY = 'configs/daspm/synthetic_source-only_daformer_mitb0.py'
SYNTHETIC_ORACLE = 'configs/daspm/synthetic_target-oracle_daformer_mitb0.py'
SYNTHETIC_UDA_MIC = 'configs/daspm/synthetic_uda_mic_rcs_fd_daformer_mitb0.py'
SYNTHETIC_UDA_S2SIM = 'configs/daspm/synthetic_uda_rcs_fd_s2sim_daformer_mitb0.py'
SYNTHETIC_SOURCE_ONLY_S2SIM = 'configs/daspm/synthetic_source-only_s2sim_daformer_mitb0.py'

NO_RCS = {'train_dataloader.dataset.rare_class_sampling': None}
NO_FD = {'model.imnet_feature_dist_lambda': 0.0}
# levers of the adaptation benchmark (benchmarks/adaptation_synthetic.py), each a config option
FD_RATIO_HALF = {'model.imnet_feature_dist_scale_min_ratio': 0.5}  # FD cells need a 50 % (not 75 %) majority
PIXEL_WEIGHT = {'model.pseudo_weight': 'pixel'}  # per-pixel instead of per-batch pseudo-weights

# The reference's LoveDA -> UTCD / WHDLD family: five decoders, each source-only, DACS (alpha 0.999,
# RCS, no FD, as the reference ran it) and target oracle; config tags are the reference's names.
LOVEDA_DECODERS = {'daformer': 'daformer_mitb5_s0', 'deeplabv2': 'daformer_dv2', 'deeplabv3plus': 'daformer_dv3p',
                   'danet': 'daformer_danet', 'isanet': 'daformer_isanet'}
LOVEDA_RUNS = {'source-only': 'source-only', 'dacs-rcs': 'uda_warm_fdthings_rcs_croppl_a999',
               'target-oracle': 'target-oracle'}


@dataclass(frozen=True)
class Run:
    """One training run of an experiment."""

    name: str
    config: str
    options: dict = field(default_factory=dict)


def loveda_family_runs(target: str) -> list[Run]:
    """Every decoder's source-only, DACS and target-oracle run of LoveDA -> ``target`` ('utcd' or 'whdld')."""
    return [Run(f'{run}-{decoder}', f'configs/daspm/loveda2{target}_{kind}_{tag}.py')
            for decoder, tag in LOVEDA_DECODERS.items() for run, kind in LOVEDA_RUNS.items()]


EXPERIMENTS: dict[int, tuple[str, list[Run]]] = {
    1: ('ablation on the synthetic Gaofen -> Sentinel data (same encoder, schedule and seed)', [
        Run('source-only', SYNTHETIC_SOURCE_ONLY),
        Run('dacs-classmix', SYNTHETIC_UDA, {**NO_RCS, **NO_FD}),
        Run('dacs-classmix-rcs', SYNTHETIC_UDA, {**NO_FD}),
        Run('dacs-classmix-fd', SYNTHETIC_UDA, {**NO_RCS}),
        Run('daspm-full', SYNTHETIC_UDA),
    ]),
    2: ('adaptation benchmark: source-only, full DASPM and the target oracle on the synthetic data', [
        Run('source-only', SYNTHETIC_SOURCE_ONLY),
        Run('daspm-full', SYNTHETIC_UDA),
        Run('target-oracle', SYNTHETIC_ORACLE),
    ]),
    # the MIC run is daspm-full with masked image consistency added (named by its parts: RCS, FD, MIC)
    3: ('masked image consistency (MIC): source-only, full DASPM, DASPM + MIC and the target oracle '
        'on the synthetic data', [
            Run('source-only', SYNTHETIC_SOURCE_ONLY),
            Run('daspm-full', SYNTHETIC_UDA),
            Run('daspm-rcs-fd-mic', SYNTHETIC_UDA_MIC),
            Run('target-oracle', SYNTHETIC_ORACLE),
        ]),
    # each lever alone on top of daspm-full, the sensor simulation also without adaptation; the
    # benchmark adds a warm start (UDA from the source-only checkpoint) and a longer schedule
    4: ('adaptation levers on the synthetic data (benchmarks/adaptation_synthetic.py)', [
        Run('source-only', SYNTHETIC_SOURCE_ONLY),
        Run('source-only-s2sim', SYNTHETIC_SOURCE_ONLY_S2SIM),
        Run('daspm-full', SYNTHETIC_UDA),
        Run('daspm-rcs-fd-mic', SYNTHETIC_UDA_MIC),
        Run('daspm-fd-ratio-0.5', SYNTHETIC_UDA, FD_RATIO_HALF),
        Run('daspm-s2sim', SYNTHETIC_UDA_S2SIM),
        Run('daspm-pixel-weight', SYNTHETIC_UDA, PIXEL_WEIGHT),
        Run('target-oracle', SYNTHETIC_ORACLE),
    ]),
    5: ('LoveDA -> UTCD (the reference\'s second family, crop 512): DAFormer, DeepLabV2, DeepLabV3+, DANet and '
        'ISANet, each source-only, DACS with RCS, and the target oracle', loveda_family_runs('utcd')),
    6: ('LoveDA -> WHDLD (crop 256): the same five decoders and three runs each', loveda_family_runs('whdld')),
}


def experiment_runs(exp: int) -> list[Run]:
    """The runs of experiment ``exp``; an unknown id names the known ones."""
    if exp not in EXPERIMENTS:
        known = ', '.join(f'{k} ({v[0]})' for k, v in EXPERIMENTS.items())
        raise KeyError(f'unknown experiment {exp}; known: {known}')
    return EXPERIMENTS[exp][1]
