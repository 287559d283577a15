"""DASPM: domain-adaptive sub-pixel land-use mapping on mmsegmentation 1.x.

Importing ``daspm`` stays light; configs register the mmseg components with
``custom_imports=dict(imports=['daspm.register'])``.
"""
__version__ = '0.1.0'
