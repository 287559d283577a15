"""The CUDA path: a DACS training step with bf16 AMP and scene mapping on the GPU (skipped without one)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from conftest import write_tif
from rasterio.windows import Window

from daspm.apis.scene import ArraySink, input_spec, map_scene, open_scene, output_grid
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
