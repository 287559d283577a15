# The recipe of synthetic_uda_warm_mic_teacher_daformer_mitb0.py (MIC, warm start) from the false-colour
# synthetic source to real, unlabelled Sentinel-2 (tools/make_real_target.py -> data/real_target),
# read as B8/B4/B3 like the source (issue 28, docs/demo.md). Validation and test: the labelled
# synthetic target of the same data. Start: synthetic_nir_source-only_daformer_mitb0.py's checkpoint.
# Tested and mapped with the *student*: the teacher's batch-norm statistics come from target
# batches only, and this target is ~95 % forest and grass against 43 % green area in the source.
# Normalised with them, the teacher called 5 % of the patch's vegetation green area where the
# student of the same run called 100 % (docs/demo.md): target statistics help under a sensor shift
# and break under a shift of the class shares.
_base_ = ['./synthetic_uda_warm_mic_teacher_daformer_mitb0.py', '../_base_/datasets/load_nir_red_green.py']
load = {{_base_.load_nir_red_green}}
target_pipeline = [load, *_base_.train_dataloader.dataset.target.pipeline[1:]]
test_pipeline = [load, *_base_.test_dataloader.dataset.pipeline[1:]]
train_dataloader = dict(dataset=dict(source=dict(data_root='data/synthetic_nir/gaofen_converted'),
                                     target=dict(data_root='data/real_target', pipeline=target_pipeline)))
val_dataloader = dict(dataset=dict(data_root='data/synthetic_nir/sentinel_converted', pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(eval_with='student')
