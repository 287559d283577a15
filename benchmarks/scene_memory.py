"""Peak memory of scene mapping for growing scenes: it must stay flat while whole-image inference grows.

    python benchmarks/scene_memory.py [--sizes 400 1600 3200] [--model tiny|synthetic]
        [--window-size 512] [--overlap 128] [--batch-size 4] [--work-dir work_dirs/bench_scene]

For each input side N (10 m pixels; output N x 5 at 2 m: 400 -> 2k x 2k, 1600 -> 8k x 8k,
3200 -> 16k x 16k) a 4-band uint16 GeoTIFF (B2, B3, B4, B8, tiled, DEFLATE) is generated
block by block from a tiled synthetic texture, then mapped by ``tools/map_scene.py`` in a fresh
subprocess that reports its peak resident memory (``ru_maxrss``). A baseline subprocess that
only imports and loads the model gives the fixed cost. The whole-image approach (one forward
pass over the resampled scene, as ``demo/image_demo.py`` does) is COMPUTED, not measured (at
16k it would need tens of GB): the float32 network input plus the float32 class-probability
array at output size (what mmseg's inference holds as ``seg_logits``), a lower bound that
ignores the network's activations.
``--model tiny`` (default) is a ~9.5k-parameter 2-stage MiT + SegFormer head, a real mmseg model
that finishes 16k x 16k on 2 CPU cores in minutes; ``synthetic`` is the DAFormer MiT-B0 model of
the synthetic UDA config (random weights; slow on CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

NUM_CLASSES = 5
INPUT_BANDS = 3   # B4, B3, B2 selected by the model's pipeline
_TEXTURE = 400    # side of the texture tile repeated (mirrored) over the scene


def make_scene(path: Path, size: int, seed: int = 0) -> Path:
    """Write a size x size 10 m Sentinel-2-like GeoTIFF, one row of texture tiles at a time."""
    import rasterio
    from affine import Affine

    from scene_throughput import smooth_texture
    if path.exists():
        return path
    texture = (smooth_texture(_TEXTURE, _TEXTURE, channels=4, seed=seed) * 6000).astype(np.uint16)
    tmp = path.with_suffix('.part.tif')
    profile = dict(driver='GTiff', width=size, height=size, count=4, dtype='uint16', crs='EPSG:32650',
                   transform=Affine(10.0, 0, 400000.0, 0, -10.0, 4500000.0), tiled=True, blockxsize=256,
                   blockysize=256, compress='deflate')
    with rasterio.open(tmp, 'w', **profile) as dst:
        for i, band in enumerate(['B2', 'B3', 'B4', 'B8'], start=1):
            dst.set_band_description(i, band)
        for row in range(0, size, _TEXTURE):
            h = min(_TEXTURE, size - row)
            strip = np.empty((4, h, size), np.uint16)
            for col in range(0, size, _TEXTURE):
                w = min(_TEXTURE, size - col)
                tile = texture[:, ::(-1) ** (row // _TEXTURE), ::(-1) ** (col // _TEXTURE)]  # mirrored: no seams
                strip[:, :, col:col + w] = tile[:, :h, :w]
            dst.write(strip, window=rasterio.windows.Window(0, row, size, h))
    os.replace(tmp, path)
    return path


def whole_image_bytes(out_side: int) -> int:
    """Computed footprint of whole-image inference: float32 input + float32 probabilities at output size."""
    return out_side * out_side * 4 * (INPUT_BANDS + NUM_CLASSES)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


def child(args: argparse.Namespace) -> None:
    """In a fresh process: map one scene (or only load the model) and print peak RSS as JSON."""
    t0 = time.perf_counter()
    if args.child == 'baseline':
        from daspm.apis.inference import init_segmentor
        init_segmentor(args.config, args.checkpoint, device='cpu')
        print(json.dumps(dict(peak_mb=_peak_mb(), seconds=time.perf_counter() - t0)))
        return
    from daspm.cli.map_scene import main as map_scene_main
    result = map_scene_main([args.child, str(args.config), str(args.checkpoint), '--out', args.out, '--overwrite',
                             '--window-size', str(args.window_size), '--overlap', str(args.overlap),
                             '--batch-size', str(args.batch_size), '--device', 'cpu', '--no-progress'])
    print(json.dumps(dict(peak_mb=_peak_mb(), seconds=time.perf_counter() - t0, windows=result.windows,
                          shape=[result.grid.height, result.grid.width])))


def _run_child(argv: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f'child {argv[:2]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    """Generate the scenes, measure each in a subprocess, print the table and the flatness check."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[400, 1600, 3200], help='input sides (10 m px)')
    parser.add_argument('--model', choices=['tiny', 'synthetic'], default='tiny')
    parser.add_argument('--window-size', type=int, default=512)
    parser.add_argument('--overlap', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--work-dir', default='work_dirs/bench_scene')
    parser.add_argument('--keep-maps', action='store_true', help='keep the output maps (large)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--config', help=argparse.SUPPRESS)
    parser.add_argument('--checkpoint', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return []

    from scene_throughput import write_model_files
    work = Path(args.work_dir)
    config, checkpoint = write_model_files(args.model, work)
    common = ['--config', str(config), '--checkpoint', str(checkpoint), '--window-size', str(args.window_size),
              '--overlap', str(args.overlap), '--batch-size', str(args.batch_size)]
    base = _run_child(['--child', 'baseline', *common])
    rows = []
    for size in args.sizes:
        scene = make_scene(work / f'scene_{size}.tif', size)
        out = work / f'map_{size}.tif'
        stats = _run_child(['--child', str(scene), '--out', str(out), *common])
        if not args.keep_maps:
            for path in (out, Path(f'{out}.aux.xml'), out.with_suffix('.json')):
                path.unlink(missing_ok=True)
        rows.append(dict(input=size, output=stats['shape'], peak_mb=stats['peak_mb'], seconds=stats['seconds'],
                         windows=stats['windows'], whole_mb=whole_image_bytes(stats['shape'][0]) / 2 ** 20))
    print(f'model {args.model}, window {args.window_size}, overlap {args.overlap}, batch {args.batch_size}, CPU; '
          f'baseline (imports + model): {base["peak_mb"]:.0f} MB peak RSS')
    print(f'{"input":>11} {"output":>13} {"windows":>8} {"time s":>8} {"peak RSS MB":>12} {"over baseline":>14} '
          f'{"whole-image MB (computed)":>26}')
    for r in rows:
        print(f'{r["input"]:>5}x{r["input"]:<5} {r["output"][0]:>6}x{r["output"][1]:<6} {r["windows"]:>8} '
              f'{r["seconds"]:>8.1f} {r["peak_mb"]:>12.0f} {r["peak_mb"] - base["peak_mb"]:>14.0f} '
              f'{r["whole_mb"]:>26.0f}')
    growth = rows[-1]['peak_mb'] / rows[0]['peak_mb']
    area = (rows[-1]['output'][0] * rows[-1]['output'][1]) / (rows[0]['output'][0] * rows[0]['output'][1])
    verdict = 'FLAT (within +25%)' if growth <= 1.25 else 'NOT FLAT (more than +25%)'
    print(f'largest / smallest peak RSS: {growth:.2f} for {area:.0f}x the area -> {verdict}; '
          f'whole-image footprint grows {area:.0f}x')
    return rows


if __name__ == '__main__':
    main()
