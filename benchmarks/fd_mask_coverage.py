"""How much of the source batch does the ImageNet feature distance (FD) cover on the synthetic config?

    python benchmarks/fd_mask_coverage.py [--samples 200] [--tiles 12] [--seed 0] [--keep DIR]

The synthetic UDA config trains on 128 x 128 crops, so the stride-32 feature map has 4 x 4 cells;
the FD mask keeps a cell when its downscaled label (majority over 32 x 32 pixels) is one of the
"thing" classes [1, 2, 3] with a share >= scale_min_ratio (0.75). This script generates a small
synthetic dataset (tile 320, as the demo data), converts it, draws source crops through the
config's own training pipeline (random resize 0.5-2, crop 128 with cat_max_ratio 0.75, flip; with
and without rare class sampling) and reports, per setting: the share of stride-32 cells the FD
mask keeps, the share of crops whose mask is empty, and the share of source batches (2 crops, as
the config) with an empty mask, i.e. steps whose FD loss is 0. Variants at scale_min_ratio 0.5
and with all classes show what limits the coverage. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'
FEAT_CELLS = (4, 4)  # stride 32 on 128 crops
VARIANTS = {  # name: (classes, scale_min_ratio)
    'things [1,2,3], ratio 0.75 (config)': ([1, 2, 3], 0.75),
    'things [1,2,3], ratio 0.5': ([1, 2, 3], 0.5),
    'all classes, ratio 0.75': (None, 0.75),
}


def make_data(root: Path, tiles: int, seed: int) -> tuple[Path, Path]:
    """Generate and convert a synthetic dataset of ``tiles`` source tiles of 320 pixels."""
    from daspm.convert.pipeline import convert_dataset
    from daspm.synthetic import generate_dataset

    generate_dataset(root / 'raw', seed=seed, tile_size=320, num_source=tiles, num_target=2, progress=False)
    convert_dataset(root / 'raw/gaofen', root / 'gaofen_converted', dataset='gaofen2m', progress=False)
    convert_dataset(root / 'raw/sentinel', root / 'sentinel_converted', dataset='sentinel10m', progress=False)
    return root / 'gaofen_converted', root / 'sentinel_converted'


def source_labels(source_root: Path, target_root: Path, samples: int, rcs: bool, seed: int) -> list[torch.Tensor]:
    """``samples`` source label crops [1,128,128] drawn by the config's training dataset."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    import daspm.register  # noqa: F401
    from daspm.apis.config_loading import load_config

    init_default_scope('mmseg')
    cfg = load_config(CONFIG)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.source.data_root = str(source_root)
    dataset_cfg.target.data_root = str(target_root)
    if not rcs:
        dataset_cfg.rare_class_sampling = None
    dataset = DATASETS.build(dataset_cfg)
    np.random.seed(seed)  # mmcv's RandomResize / RandomCrop / RandomFlip draw from numpy's global RNG
    rng = np.random.default_rng(seed)
    labels = []
    for _ in range(samples):
        item = dataset[int(rng.integers(len(dataset)))]
        labels.append(item['data_samples'].gt_sem_seg.data.long())
    return labels


def coverage(labels: list[torch.Tensor], classes, ratio: float) -> dict[str, float]:
    """Kept-cell share, empty-crop share and empty-batch share (pairs of crops) of the FD mask."""
    from daspm.models.uda.feature_distance import feature_distance_mask

    masks = [feature_distance_mask(label[None], FEAT_CELLS, classes, ratio, num_classes=5)[0, 0] for label in labels]
    kept = torch.stack(masks).float()
    empty = torch.tensor([not m.any() for m in masks])
    pairs = empty[: len(empty) // 2 * 2].view(-1, 2).all(dim=1)
    return dict(cells=kept.mean().item(), empty_crops=empty.float().mean().item(),
                empty_batches=pairs.float().mean().item())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--samples', type=int, default=200)
    parser.add_argument('--tiles', type=int, default=12, help='source tiles (320 x 320) to generate')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--keep', type=Path, help='generate into this folder (kept) instead of a temporary one')
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix='daspm-fd-coverage-') as tmp:
        root = args.keep or Path(tmp)
        source_root, target_root = make_data(root, args.tiles, args.seed)
        print(f'{args.tiles} source tiles of 320 px, {args.samples} source crops of 128 px each, '
              f'FD mask on {FEAT_CELLS[0]} x {FEAT_CELLS[1]} stride-32 cells')
        print(f'{"sampling":10s} {"FD mask":40s} {"cells kept":>10s} {"empty crops":>12s} {"empty batches":>14s}')
        for rcs in (True, False):
            labels = source_labels(source_root, target_root, args.samples, rcs, args.seed)
            things = torch.stack([torch.isin(lab, torch.tensor([1, 2, 3])) for lab in labels]).float().mean().item()
            for name, (classes, ratio) in VARIANTS.items():
                c = coverage(labels, classes, ratio)
                print(f'{"RCS" if rcs else "uniform":10s} {name:40s} {c["cells"]:10.1%} {c["empty_crops"]:12.1%} '
                      f'{c["empty_batches"]:14.1%}')
            print(f'{"":10s} (pixels of classes 1-3 in these crops: {things:.1%})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
