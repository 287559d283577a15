"""``python tools/eval_landcover.py``: class maps scored against a land-cover mask, side by side.

    python tools/eval_landcover.py --mask demo/real_target/lulc_10m.tif \\
        --maps source-only=so_map.tif daspm=daspm_map.tif
    python tools/eval_landcover.py --mask demo/real_target/lulc_10m.tif \\
        --runs source-only=work_dirs/demo/<run> daspm=work_dirs/demo/<run>/config.py,work_dirs/demo/<run>/iter_200.pth

--maps takes class maps on any grid (the GeoTIFFs daspm-map or demo.image_demo write); --runs maps
--image (default: s2_b2_b3_b4_b8_10m.tif beside the mask) with each model through daspm-map first
(a run directory: its config.py and latest checkpoint). The mask goes onto each map's grid by
nearest neighbour. Writes OUT/landcover_eval.json and OUT/landcover_eval.md and prints the recalls.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from daspm.utils.errors import DaspmInputError, exit_on_input_error

DEFAULT_IMAGE = 's2_b2_b3_b4_b8_10m.tif'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Score class maps against a land-cover mask')
    parser.add_argument('--mask', required=True, help='land-cover GeoTIFF (eo-learn codes, 0 = no data)')
    parser.add_argument('--maps', nargs='+', default=[], metavar='NAME=MAP',
                        help='class maps (uint8 ids, 255 = no data) to score, each with a name')
    parser.add_argument('--runs', nargs='+', default=[], metavar='NAME=RUN',
                        help='models to map --image with first: a run directory, or CONFIG,CHECKPOINT')
    parser.add_argument('--image', help=f'the image --runs map (default: {DEFAULT_IMAGE} beside the mask)')
    parser.add_argument('--out-dir', default='work_dirs/landcover_eval',
                        help='folder for landcover_eval.json / .md and the maps of --runs')
    parser.add_argument('--device', default='cpu', help='device of --runs (cpu, cuda)')
    return parser.parse_args(argv)


def named(values: list[str], option: str) -> dict[str, str]:
    """NAME=VALUE pairs in order; a missing name or a name given twice is an error naming the option."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, item = value.partition('=')
        if not sep or not name or not item:
            raise DaspmInputError(f'{option} {value}: give NAME=VALUE, e.g. {option} daspm=map.tif')
        if name in out:
            raise DaspmInputError(f'{option}: the name {name!r} is given twice; give each map its own name')
        out[name] = item
    return out


def config_and_checkpoint(run: str) -> tuple[str, str]:
    """(config, checkpoint) of a run directory or of 'CONFIG,CHECKPOINT'."""
    from daspm.apis.run_directory import RESOLVED_CONFIG
    from daspm.cli.test import latest_checkpoint

    if ',' in run:
        config, checkpoint = run.split(',', 1)
        return config, checkpoint
    run_dir = Path(run)
    checkpoint = latest_checkpoint(run_dir) if run_dir.is_dir() else None
    if checkpoint is None or not (run_dir / RESOLVED_CONFIG).is_file():
        raise DaspmInputError(f'--runs {run}: not a run directory with {RESOLVED_CONFIG} and a checkpoint; give a '
                              'run of daspm-train, or CONFIG,CHECKPOINT')
    return str(run_dir / RESOLVED_CONFIG), str(checkpoint)


def map_runs(runs: dict[str, str], image: Path, out_dir: Path, device: str) -> dict[str, str]:
    """Map ``image`` with each run through daspm-map; name -> map path."""
    from daspm.cli import map_scene

    if not image.is_file():
        raise DaspmInputError(f'--image {image}: not found; give the image the mask belongs to')
    maps = {}
    for name, run in runs.items():
        config, checkpoint = config_and_checkpoint(run)
        maps[name] = str(out_dir / f'{name}_map.tif')
        map_scene.main([str(image), config, checkpoint, '--out', maps[name], '--device', device, '--overwrite',
                        '--no-progress', '--no-mask'])
    return maps


@exit_on_input_error
def main(argv: list[str] | None = None) -> dict:
    """Score every map, write JSON and Markdown, print the recall table; returns the JSON record."""
    from daspm.evaluation.landcover import evaluate_map, markdown_report

    args = parse_args(argv)
    maps, runs = named(args.maps, '--maps'), named(args.runs, '--runs')
    if not maps and not runs:
        raise DaspmInputError('nothing to score: give --maps NAME=MAP.tif and/or --runs NAME=RUN_DIR')
    if set(maps) & set(runs):
        raise DaspmInputError(f'{sorted(set(maps) & set(runs))[0]!r} names a map and a run; use other names')
    out_dir = Path(args.out_dir)
    image = Path(args.image) if args.image else Path(args.mask).with_name(DEFAULT_IMAGE)
    maps.update(map_runs(runs, image, out_dir, args.device) if runs else {})
    scores = [evaluate_map(path, args.mask, name) for name, path in maps.items()]
    record = dict(mask=args.mask, maps={s.name: s.to_dict() for s in scores})
    report = markdown_report(scores, args.mask)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / 'landcover_eval.json').write_text(json.dumps(record, indent=2) + '\n', encoding='utf-8')
    (out_dir / 'landcover_eval.md').write_text(report, encoding='utf-8')
    print(report.split('\n\n## ')[0].rstrip())
    print(f'\nwrote {out_dir / "landcover_eval.json"} and {out_dir / "landcover_eval.md"}')
    return record


def cli() -> None:
    """Console entry point."""
    main()
