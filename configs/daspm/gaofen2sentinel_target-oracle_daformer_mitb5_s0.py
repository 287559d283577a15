# Target oracle of the DASPM recipe on the published data: trained on Sentinel-2 WITH labels
# (upper bound).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_mitb5.py',
    '../_base_/datasets/sentinel_oracle_320.py',
    '../_base_/schedules/adamw.py',
    '../_base_/schedules/poly10warm_60k.py',
    '../_base_/schedules/schedule_60k.py',
]
randomness = dict(seed=0)
model = dict(data_preprocessor=dict(size=(320, 320)))
