"""``python -m demo.image_demo``: one image mapped with a trained model.

Outputs: a coloured map with legend, an overlay and (georeferenced input) a GeoTIFF.

    python -m demo.image_demo IMAGE CONFIG CHECKPOINT [--out-dir demo_out] [--device cpu]

For a georeferenced input the GeoTIFF map lies on the sub-pixel grid: same CRS and bounds, pixel
size divided by the scale factor of the config (10 m Sentinel-2 -> 2 m), with a colour table.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from daspm.utils.errors import DaspmInputError, exit_on_input_error


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description='Map an image with a DASPM model')
    parser.add_argument('image', help='GeoTIFF (any band count the config selects from) or PNG/JPG')
    parser.add_argument('config', help='config file of the model')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', default='demo_out', help='output directory (default demo_out/)')
    parser.add_argument('--device', default='cuda:0' if _cuda() else 'cpu')
    parser.add_argument('--opacity', type=float, default=0.5, help='map opacity in the overlay')
    return parser.parse_args(argv)


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


@exit_on_input_error
def main(argv: list[str] | None = None) -> dict[str, Path]:
    """Predict and write the outputs; returns their paths."""
    import cv2

    from daspm.apis.inference import init_segmentor, predict_file
    from daspm.utils.class_map import write_class_map
    from daspm.utils.colors import colorize, overlay, save_map_with_legend, to_display_rgb
    from daspm.utils.raster import check_writable

    args = parse_args(argv)
    image = Path(args.image)
    if not image.is_file():
        raise DaspmInputError(f'image {image} not found')
    check_writable(Path(args.out_dir) / f'{image.stem}_map.png', option='--out-dir')
    model = init_segmentor(args.config, args.checkpoint, device=args.device)
    pred = predict_file(model, image)
    classes, palette = model.dataset_meta['classes'], model.dataset_meta['palette']
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    colours = colorize(pred.class_map, palette)
    outputs = {
        'map_png': save_map_with_legend(
            out_dir / f'{image.stem}_map.png', colours, classes, palette,
            title=f'{image.name}  (x{pred.subpixel_factor:g} sub-pixel grid)'),
        'overlay_png': out_dir / f'{image.stem}_overlay.png',
    }
    blended = overlay(to_display_rgb(pred.image), colours, args.opacity)
    cv2.imwrite(str(outputs['overlay_png']), blended[..., ::-1])
    if pred.geo_transform is not None:
        outputs['map_tif'] = write_class_map(out_dir / f'{image.stem}_map.tif', pred.class_map,
                                             crs=pred.crs, geo_transform=pred.geo_transform,
                                             classes=classes, palette=palette)
    for name, path in outputs.items():
        print(f'{name}: {path}')
    return outputs
