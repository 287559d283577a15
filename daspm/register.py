"""Register every DASPM component into mmseg's registries (named in configs' custom_imports)."""
from .utils.compat import allow_mmengine_checkpoints

allow_mmengine_checkpoints()

from . import datasets, engine, evaluation, models  # noqa: E402,F401  (imported for registration)
