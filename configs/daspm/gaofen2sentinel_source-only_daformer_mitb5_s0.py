# Source-only baseline of the DASPM recipe on the published data: same network, optimiser and
# schedule (configs/_base_/runs/daspm_60k.py), no adaptation.
_base_ = ['../_base_/runs/daspm_60k.py', '../_base_/models/daformer_sepaspp_mitb5.py',
          '../_base_/datasets/gaofen_320.py']
model = dict(data_preprocessor=dict(size=(320, 320)))
