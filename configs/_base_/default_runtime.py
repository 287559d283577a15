# Runtime shared by every DASPM config (mmengine Runner, iteration-based).
default_scope = 'mmseg'
custom_imports = dict(imports=['daspm.register'], allow_failed_imports=False)
# cuDNN autotuning on, as in the reference: training crops have a fixed size, and without it the
# dilated depthwise convolutions of the DAFormer head take slow kernels on the GPU.
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]  # run_experiments/train add TensorBoard when installed
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='SegTTAModel')
randomness = dict(seed=0, deterministic=False)
