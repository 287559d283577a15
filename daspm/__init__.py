"""DASPM: domain-adaptive sub-pixel land-use mapping on mmsegmentation 1.x.

Importing ``daspm`` stays light; configs register the mmseg components with
``custom_imports=dict(imports=['daspm.register'])``.
"""
from .utils.mmcv_ops_stub import install as _install_mmcv_ops_stub

__version__ = '0.1.0'

# Fallback for environments set up without the .pth file of scripts/setup_env.sh: serve a
# stand-in mmcv.ops where mmcv has no compiled ops (a no-op if already installed, or with them).
_install_mmcv_ops_stub()
