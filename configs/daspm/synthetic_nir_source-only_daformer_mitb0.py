# Source-only on the false-colour synthetic data (`make_synthetic_dataset.py --spectra sentinel2-nir`:
# 2 m NIR/red/green source, Sentinel-2 target read as B8/B4/B3): the demo's baseline for the real
# Sentinel-2 patch (issue 28, docs/demo.md). In RGB at top of atmosphere forest and water are both
# dark and bluish; NIR tells them apart.
_base_ = ['./synthetic_source-only_daformer_mitb0.py', '../_base_/datasets/load_nir_red_green.py']
test_pipeline = [{{_base_.load_nir_red_green}}, *_base_.test_dataloader.dataset.pipeline[1:]]
train_dataloader = dict(dataset=dict(data_root='data/synthetic_nir/gaofen_converted'))
val_dataloader = dict(dataset=dict(data_root='data/synthetic_nir/sentinel_converted', pipeline=test_pipeline))
test_dataloader = val_dataloader
