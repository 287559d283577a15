"""What a model expects of its input, read from the config's test pipeline (bands, scaling, grid)."""
from __future__ import annotations

from dataclasses import dataclass

from mmengine.config import Config

from ..datasets.transforms.geotiff_loading import LoadGeoTiff
from ..datasets.transforms.subpixel import SubPixelResample, subpixel_factor
from ..utils.errors import DaspmInputError
from ..apis.inference import inference_pipeline_cfg

# Pipeline steps that scene mapping reproduces (loading, resampling) or that do not change pixels.
_HANDLED_STEPS = {'LoadGeoTiff', 'SubPixelResample', 'PackSegInputs'}


@dataclass(frozen=True)
class InputSpec:
    """Band selection, scaling and output grid of the model, as its test pipeline defines them."""

    loader: LoadGeoTiff                  # bands, scale, offset, nominal_gsd, num_bands
    out_gsd: float | None = None         # None: no SubPixelResample, the map keeps the input grid
    interpolation: str = 'bicubic'       # SubPixelResample's interpolation of the imagery

    @property
    def bands(self) -> list[int | str] | None:
        """Configured bands (1-based indexes or names), None for all."""
        return self.loader.bands

    def scale_for(self, dtype: str) -> float:
        """Divisor mapping raw values of ``dtype`` to ~[0, 1] (LoadGeoTiff's rule, 'auto' included)."""
        return self.loader.scale_for(dtype)

    @property
    def offset(self) -> float:
        """Added to raw values before scaling."""
        return self.loader.offset

    def factor(self, in_gsd: float) -> float:
        """Fine pixels per input pixel for an input of ``in_gsd`` metres."""
        return 1.0 if self.out_gsd is None else subpixel_factor(in_gsd, self.out_gsd)


def input_spec(bands=None, scale: float | str = 'auto', offset: float = 0.0, nominal_gsd: float | None = None,
               num_bands: int | None = None, out_gsd: float | None = None,
               interpolation: str = 'bicubic') -> InputSpec:
    """Build an InputSpec from LoadGeoTiff / SubPixelResample arguments (for code and tests)."""
    loader = LoadGeoTiff(bands=bands, scale=scale, offset=offset, nominal_gsd=nominal_gsd, num_bands=num_bands)
    if out_gsd is not None:
        SubPixelResample(out_gsd=out_gsd, interpolation=interpolation)  # validates the arguments
    return InputSpec(loader=loader, out_gsd=None if out_gsd is None else float(out_gsd),
                     interpolation=interpolation)


def input_spec_from_config(cfg: Config) -> InputSpec:
    """Read LoadGeoTiff and SubPixelResample of the test pipeline; refuse steps mapping cannot reproduce."""
    steps = inference_pipeline_cfg(cfg, 'scene.tif')
    kinds = [s['type'] for s in steps]
    unknown = [k for k in kinds if k not in _HANDLED_STEPS]
    if 'LoadGeoTiff' not in kinds or unknown:
        raise DaspmInputError(
            f'{getattr(cfg, "filename", "config")}: scene mapping reproduces a test pipeline of LoadGeoTiff '
            f'[-> SubPixelResample] -> PackSegInputs, but this one is {kinds}; '
            'use the config of a model trained on georeferenced imagery (e.g. configs/daspm/synthetic_*)')
    load = dict(next(s for s in steps if s['type'] == 'LoadGeoTiff'))
    load.pop('type')
    resample = next((dict(s) for s in steps if s['type'] == 'SubPixelResample'), None)
    if resample is None:
        return input_spec(**load)
    resample.pop('type')
    return input_spec(**load, out_gsd=resample['out_gsd'], interpolation=resample.get('interpolation', 'bicubic'))
