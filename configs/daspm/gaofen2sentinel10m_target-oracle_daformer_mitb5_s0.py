# Target oracle of the DASPM recipe on Sentinel-2 10 m reflectance: trained on Sentinel-2 WITH labels
# (upper bound).
_base_ = ['../_base_/runs/daspm_60k.py', '../_base_/models/daformer_sepaspp_mitb5.py',
          '../_base_/datasets/sentinel10m_oracle_320.py']
model = dict(data_preprocessor=dict(size=(320, 320)))
