"""The CUDA path: a DACS training step with bf16 AMP and scene mapping on the GPU (skipped without one)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from conftest import write_tif
from rasterio.windows import Window

from daspm.mapping import ArraySink, input_spec, map_scene, open_scene, output_grid
from dacs_helpers import CROP, build_dacs, make_batch
from test_scene_mapping import smooth_bands

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


@pytest.mark.parametrize('amp', [None, 'bf16'])  # as --amp sets them (bf16: no loss scaling)
def test_dacs_step_on_cuda_trains_the_student_and_averages_the_teacher(amp):
    _, model, wrapper = build_dacs('cuda', amp)
    batch = make_batch(2, CROP, seed=0)  # CPU tensors, as from a loader
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    model.train_step(copy.copy(batch), wrapper)
    student_1 = [p.detach().clone() for p in model.model.parameters()]
    student_0 = [p.detach().clone() for p in model.ema_model.parameters()]  # iteration 0 copied the student
    hub.update_info('iter', 1)
    log = model.train_step(copy.copy(batch), wrapper)
    for key in ('src.decode.loss_ce', 'src.loss_imnet_feat_dist', 'mix.decode.loss_ce', 'loss'):
        assert torch.isfinite(torch.as_tensor(log[key])).all(), key
    assert 0.0 <= float(log['pseudo_weight']) <= 1.0
    assert all(p.is_cuda and p.dtype == torch.float32 for p in model.ema_model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(student_0, student_1)), 'the optimizer step did nothing'
    alpha = min(1 - 1 / 2, model.alpha)
    for teacher, s0, s1 in zip(model.ema_model.parameters(), student_0, student_1):
        torch.testing.assert_close(teacher, alpha * s0 + (1 - alpha) * s1)


def test_scene_mapping_on_cuda_agrees_with_the_cpu(tmp_path):
    _, model, _ = build_dacs('cuda')
    model.eval()
    # Random weights give near-uniform logits where any rounding flips the argmax; a steeper
    # classifier makes the class map a meaningful comparison.
    model.model.decode_head.conv_seg.weight.data *= 50.0
    scene = write_tif(tmp_path / 'scene.tif', smooth_bands((61, 57)), gsd=10.0, descriptions=['B2', 'B3', 'B4', 'B8'])
    spec = input_spec(bands=['B4', 'B3', 'B2'], scale=3000.0, nominal_gsd=10.0, out_gsd=2.0)

    sinks = {}

    def run(amp=None):
        with open_scene([scene], spec) as source:
            # every row buffer the blender fills: classes, confidence, probabilities, uncertainty
            grid = output_grid(source, Window(0, 0, source.width, source.height), 5.0)
            sink = ArraySink(grid, num_classes=5, with_uncertainty=True)
            result = map_scene(source, model, spec, sink, window_size=128, overlap=32, batch_size=4, amp=amp,
                               progress=False, grid=grid)
        # the pixel counts cross to the host once per window row, with the rows (one wait for the GPU)
        assert result.valid_pixels == int((result.sink.class_map != 255).sum()) > 0
        sinks[amp, next(model.parameters()).device.type] = sink
        return result.sink.class_map, result.sink.confidence

    torch.backends.cudnn.benchmark = False
    gpu_cls, gpu_conf = run()
    assert torch.backends.cudnn.benchmark is False, 'map_scene autotunes cuDNN only while it runs'
    bf16_cls, _ = run('bf16')
    fp16_cls, _ = run('fp16')
    model.cpu()
    cpu_cls, cpu_conf = run()
    assert gpu_cls.shape == cpu_cls.shape == (305, 285)
    assert len(np.unique(cpu_cls)) > 1, 'the comparison needs a map with several classes'
    agree = {name: float((cls == cpu_cls).mean()) for name, cls in
             (('fp32', gpu_cls), ('bf16', bf16_cls), ('fp16', fp16_cls))}
    # TF32 convolutions and reduced precision move only pixels near a class boundary
    assert agree['fp32'] > 0.995 and agree['fp16'] > 0.99 and agree['bf16'] > 0.97, agree
    assert float(np.abs(gpu_conf - cpu_conf).max()) < 0.02
    gpu, cpu = sinks[None, 'cuda'], sinks[None, 'cpu']
    for name in ('probabilities', 'uncertainty'):  # uint8, x 254: one step of rounding at most
        assert int(np.abs(getattr(gpu, name).astype(int) - getattr(cpu, name)).max()) <= 1, name


def test_the_step_parts_between_forward_passes_do_not_wait_for_the_gpu():
    """The source loss, FD mask and loss, strong augmentation and the mixed-step loss under CUDA's sync
    check ('error': a wait raises)."""
    from daspm.models.uda.dacs import source_decode_loss, weighted_decode_loss
    from daspm.models.uda.feature_distance import feature_distance_loss, feature_distance_mask
    from daspm.models.uda.strong_augmentation import strong_augment

    _, model, _ = build_dacs('cuda')
    head = model.model.decode_head
    gen = torch.Generator(device='cuda').manual_seed(0)
    student = torch.randn(2, 8, 6, 6, device='cuda', generator=gen, requires_grad=True)
    imnet = torch.randn(2, 8, 6, 6, device='cuda', generator=gen)
    fd_mask = torch.rand(2, 1, 6, 6, device='cuda', generator=gen) > 0.5
    images = torch.rand(2, 3, 32, 32, device='cuda', generator=gen)
    logits = torch.randn(2, head.num_classes, 8, 8, device='cuda', generator=gen)
    label = torch.randint(0, head.num_classes, (2, 1, 32, 32), device='cuda', generator=gen)
    weight = torch.rand(2, 32, 32, device='cuda', generator=gen)
    mean, std = model.data_preprocessor.mean, model.data_preprocessor.std
    host_gen = torch.Generator().manual_seed(0)  # DACS draws on a CPU generator
    batch = make_batch(2, CROP, seed=0)
    source = model.data_preprocessor(dict(inputs=batch['inputs'], data_samples=batch['data_samples']), True)
    feats = model.model.extract_feat(source['inputs'])
    src_label = torch.stack([s.gt_sem_seg.data for s in source['data_samples']]).long()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        src_losses = source_decode_loss(model.model, feats, source['data_samples'])
        fd_cells = feature_distance_mask(src_label, tuple(feats[-1].shape[-2:]), None, 0.75, head.num_classes)
        fd = feature_distance_loss(student, imnet, fd_mask, 0.005)
        augmented = strong_augment(images, mean, std, color_jitter_p=1.0, color_jitter_strength=0.2, blur_p=1.0,
                                   generator=host_gen)
        losses = weighted_decode_loss(head, logits, label, weight)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    dist = torch.norm(student - imnet, p=2, dim=1)
    torch.testing.assert_close(fd, dist[fd_mask[:, 0]].mean() * 0.005)
    assert augmented.shape == images.shape and not torch.equal(augmented, images)
    assert torch.isfinite(losses['decode.loss_ce']) and 0 <= float(losses['decode.acc_seg']) <= 100
    assert torch.isfinite(src_losses['decode.loss_ce']) and fd_cells.shape[-2:] == feats[-1].shape[-2:]


@pytest.mark.parametrize('amp', [None, 'bf16'])
def test_a_whole_dacs_step_from_a_loader_batch_does_not_wait_for_the_gpu(amp):
    """A step after the first (which copies the teacher and creates the optimizer state), fed pageable
    CPU tensors as a loader yields them, under CUDA's sync check ('error': a wait raises): batch copy,
    ClassMix, teacher update, FD, pseudo-labels, augmentation, mixed step and optimizer step."""
    _, model, wrapper = build_dacs('cuda', amp)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 0)
    model.train_step(make_batch(2, CROP, seed=0), wrapper)
    hub.update_info('iter', 1)
    batch = make_batch(2, CROP, seed=1, target_shapes=[(CROP, CROP), (CROP - 16, CROP - 8)])
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        log = model.train_step(batch, wrapper)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert torch.isfinite(log['loss']) and log['loss'].is_cuda
    assert float(log['tgt_pad_share']) > 0  # the padded target crop was in the batch
