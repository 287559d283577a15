"""Convert a raw Sentinel-2 10 m dataset with 2 m labels (the target domain) to the DASPM layout.

Input (never modified):
  <raw>/images/<name>.tif   uint16 reflectance x10000 at 10 m, normally 4 bands B2,B3,B4,B8
                            (any band count is copied unchanged; bands are selected later)
  <raw>/labels/<name>.tif   1-band uint8 raw codes on the 2 m grid covering the image bounds
                            (or 3-band uint8 RGB in the DASPM palette, black = unlabelled)
  <raw>/splits/{train,val,test}.txt   optional, one name (no suffix) per line

The label must cover the image bounds (within half a label pixel) and its pixel size must be
the image pixel size divided by an integer (10 m / 5 = 2 m); the factor is recorded as
"subpixel_factor" in daspm_dataset.json.

Output (default <raw>_converted beside the input):
  img_dir/<name>.tif  ann_dir/<name>.tif (uint8 train ids on the 2 m grid, 255 = ignore)
  train.txt val.txt test.txt  sample_class_stats.json  samples_with_class.json
  daspm_dataset.json

Raw codes: 0 unlabelled -> 255 (ignore), 1 green area -> 0, 2 urban area (buildings) -> 1,
3 roads -> 2, 4 impervious surface -> 3, 5 water -> 4; any other value is an error.
A previous conversion in the output folder is resumed; --overwrite redoes it.
See docs/datasets.md.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from daspm.convert.cli import main as convert_main  # noqa: E402
from daspm.utils.errors import exit_on_input_error  # noqa: E402


@exit_on_input_error
def main() -> None:
    """Command-line entry point."""
    convert_main('sentinel10m', __doc__)


if __name__ == '__main__':
    main()
