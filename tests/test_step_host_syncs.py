"""What the DACS step computes between its forward passes waits for nothing on a GPU.

An operation whose result size or value the host must read (boolean indexing, ``nonzero``,
``.item()``) makes the host wait for every kernel queued before it. These tests run the step's
parts on the CPU and list such operations with a dispatch mode; tests/test_cuda_path.py runs
them on a GPU with CUDA's own sync check.
"""
from __future__ import annotations

import torch
from mmseg.models.losses import accuracy as mmseg_accuracy
from mmseg.models.utils import resize
from torch.utils._python_dispatch import TorchDispatchMode

from daspm.models.uda.accuracy import pixel_accuracy
from daspm.models.uda.dacs import weighted_decode_loss
from daspm.models.uda.feature_distance import feature_distance_loss, masked_mean
from dacs_helpers import build_dacs

# operators whose output the host must read (size or value) before it can go on
_HOST_READS = {'aten.nonzero', 'aten._local_scalar_dense', 'aten.masked_select', 'aten._unique2', 'aten.unique_dim',
               'aten.unique_consecutive'}


class HostReads(TorchDispatchMode):
    """Records the operators that would make the host wait for a GPU."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket)
        indices = args[1] if name == 'aten.index' and len(args) > 1 else ()
        if name in _HOST_READS or any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices):
            self.names.append(name)
        return func(*args, **(kwargs or {}))


def host_reads(fn, *args, **kwargs) -> list[str]:
    with HostReads() as reads:
        fn(*args, **kwargs)
    return reads.names


def test_the_detector_sees_boolean_indexing_and_item():
    x = torch.arange(6.0)
    assert host_reads(lambda: x[x > 2].mean()) == ['aten.index']
    assert host_reads(lambda: x.sum().item()) == ['aten._local_scalar_dense']
    assert host_reads(lambda: torch.where(x > 2, x, 0.0).sum()) == []


def test_pixel_accuracy_by_hand_and_without_host_reads():
    # argmax classes [[0, 1], [2, 1]]; labels [[0, 2], [2, 255]]: 2 of the 3 counted pixels are right
    logits = torch.tensor([[[[5., 0.], [0., 0.]], [[0., 5.], [0., 5.]], [[0., 0.], [5., 0.]]]])
    label = torch.tensor([[[0, 2], [2, 255]]])
    eps = torch.finfo(torch.float32).eps
    value = pixel_accuracy(logits, label, 255)
    assert value.shape == (1,)
    torch.testing.assert_close(value, torch.tensor([(2 + eps) * 100 / (3 + eps)]))
    assert host_reads(pixel_accuracy, logits, label, 255) == []
    # mmseg's value (what acc_seg logged before) on a random batch with ignored pixels
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 16, 16, generator=gen)
    label = torch.randint(0, 5, (2, 16, 16), generator=gen)
    label[:, :4] = 255
    torch.testing.assert_close(pixel_accuracy(logits, label, 255), mmseg_accuracy(logits, label, ignore_index=255))
    # nothing counted: eps / eps, as mmseg
    torch.testing.assert_close(pixel_accuracy(logits, torch.full_like(label, 255), 255), torch.tensor([100.0]))


def test_masked_mean_by_hand_empty_and_without_host_reads():
    values = torch.tensor([[1.0, 2.0], [4.0, 8.0]], requires_grad=True)
    mask = torch.tensor([[True, False], [True, True]])
    mean = masked_mean(values, mask)
    torch.testing.assert_close(mean, torch.tensor(13.0 / 3))
    mean.backward()
    torch.testing.assert_close(values.grad, mask.float() / 3)
    assert host_reads(masked_mean, values, mask) == []
    values.grad = None
    empty = masked_mean(values, torch.zeros_like(mask))
    assert empty.item() == 0.0 and empty.requires_grad
    empty.backward()
    assert torch.equal(values.grad, torch.zeros_like(values))


def test_masked_mean_is_the_feature_distance_of_the_selected_cells():
    gen = torch.Generator().manual_seed(1)
    student, imnet = torch.randn(2, 8, 6, 6, generator=gen), torch.randn(2, 8, 6, 6, generator=gen)
    mask = torch.rand(2, 1, 6, 6, generator=gen) > 0.5
    dist = torch.norm(student - imnet, p=2, dim=1)
    # the CPU keeps the selected cells' own mean; a GPU the masked sum: equal up to rounding
    torch.testing.assert_close(masked_mean(dist, mask[:, 0]) * 0.005, feature_distance_loss(student, imnet, mask, 0.005))
    torch.testing.assert_close(feature_distance_loss(student, imnet, mask, 0.005), dist[mask[:, 0]].mean() * 0.005,
                               rtol=0, atol=0)


def test_the_mixed_step_loss_reads_nothing_on_the_host():
    _, model, _ = build_dacs('cpu')
    head = model.model.decode_head
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(2, head.num_classes, 8, 8, generator=gen)
    label = torch.randint(0, head.num_classes, (2, 1, 32, 32), generator=gen)
    label[..., :3, :] = 255
    weight = torch.rand(2, 32, 32, generator=gen)
    assert host_reads(weighted_decode_loss, head, logits, label, weight) == []
    losses = weighted_decode_loss(head, logits, label, weight)
    resized = resize(logits, size=(32, 32), mode='bilinear', align_corners=head.align_corners)
    torch.testing.assert_close(losses['decode.acc_seg'], mmseg_accuracy(resized, label[:, 0], ignore_index=255))


def test_the_source_loss_is_mmseg_s_head_loss_without_host_reads():
    from daspm.models.uda.dacs import source_decode_loss
    from dacs_helpers import CROP, make_batch

    _, model, _ = build_dacs('cpu')
    segmentor = model.model
    batch = make_batch(2, CROP, seed=3)
    data = model.data_preprocessor(dict(inputs=batch['inputs'], data_samples=batch['data_samples']), True)
    feats = segmentor.extract_feat(data['inputs'])
    samples = data['data_samples']
    torch.manual_seed(0)  # the same dropout draws for both
    ours = source_decode_loss(segmentor, feats, samples)
    torch.manual_seed(0)
    theirs = segmentor._decode_head_forward_train(feats, samples)
    assert sorted(ours) == sorted(theirs) == ['decode.acc_seg', 'decode.loss_ce']
    torch.testing.assert_close(ours['decode.loss_ce'], theirs['decode.loss_ce'], rtol=0, atol=0)
    torch.testing.assert_close(ours['decode.acc_seg'], theirs['decode.acc_seg'])
    assert host_reads(source_decode_loss, segmentor, feats, samples) == []
    assert host_reads(segmentor._decode_head_forward_train, feats, samples) == ['aten.index', 'aten.index']

    # a head with a loss of its own computes it itself
    head = segmentor.decode_head
    head.__class__ = type('HeadWithOwnLoss', (type(head),),
                          {'loss_by_feat': lambda self, logits, samples: {'loss_own': logits.sum() * 0}})
    assert list(source_decode_loss(segmentor, feats, samples)) == ['decode.loss_own']


def test_the_device_read_detector_follows_tensors_from_the_device():
    from device_reads import DeviceReads, mark_module, on_device

    layer = torch.nn.Linear(3, 2).requires_grad_(False)
    mark_module(layer)
    host = torch.arange(6.0).view(2, 3)
    with DeviceReads() as reads:
        out = layer(host)
        assert on_device(out) and not on_device(host)
        host.sum().item()  # host data: no wait
        acc = torch.zeros(2)
        acc.add_(out.sum(1))  # in place: now holds device data
        float(acc[0])
        out[out > 0].sum()
    assert [r.split(' ')[0] for r in reads.reads] == ['__float__', '__getitem__']
    assert all('test_step_host_syncs.py' in r for r in reads.reads)


def _device_step_reads(monkeypatch, host_classes: bool = True, iterations: int = 2) -> list[list[tuple[str, str]]]:
    """(name, file) of the device reads in each of ``iterations`` DACS steps (FD and MIC on), with
    the batch copied "to the device" by daspm's own batch_to_device traversal."""
    import daspm.models.uda.dacs as dacs_module
    import daspm.utils.device as device_module
    from dacs_helpers import CROP, make_batch
    from device_reads import DeviceReads, mark_module, on_device_copy
    from mmengine.logging import MessageHub

    _, model, wrapper = build_dacs('cpu', mic=dict(mask_ratio=0.7, block_size=16))
    assert model.imnet_model is not None and model.mic is not None and model.mix == 'class'
    mark_module(model)
    monkeypatch.setattr(device_module, 'host_to_device', on_device_copy)
    monkeypatch.setattr(dacs_module, 'batch_to_device', device_module._on_device)
    if not host_classes:
        monkeypatch.setattr(dacs_module, 'host_label_classes', lambda samples: None)
    hub = MessageHub.get_current_instance()
    steps = []
    for iteration in range(iterations):
        hub.update_info('iter', iteration)
        with DeviceReads() as reads:
            # one target crop smaller than the batch: padded, as at a scene's edge
            batch = make_batch(2, CROP, seed=iteration, target_shapes=[(CROP, CROP), (CROP - 16, CROP - 8)])
            log_vars = model.train_step(batch, wrapper)
        assert torch.isfinite(log_vars['loss'])
        steps.append([(r.split(' ')[0], r.split('(')[1].split(':')[0]) for r in reads.reads])
    return steps


def test_a_whole_dacs_step_reads_nothing_back_from_the_device(monkeypatch):
    """Teacher update, both domains' preprocessing, ClassMix, source, FD, pseudo-labels, augmentation,
    mixed and MIC steps, optimizer step: the only read is the FD's CPU branch (a GPU takes masked_mean)."""
    assert _device_step_reads(monkeypatch) == [[('__getitem__', 'feature_distance.py')]] * 2


def test_classmix_classes_from_the_batch_would_read_the_device(monkeypatch):
    """The control: ClassMix reading the classes from the copied batch is seen as a wait, so the
    batch did reach the "device" through batch_to_device (labels inside the data samples included)."""
    steps = _device_step_reads(monkeypatch, host_classes=False, iterations=1)
    assert steps[0][0] == ('unique', 'class_mix.py'), steps


def test_batch_to_device_replaces_every_tensor_of_a_loader_batch(monkeypatch):
    import daspm.utils.device as device_module
    from dacs_helpers import CROP, make_batch
    from daspm.utils.device import batch_to_device
    from device_reads import on_device, on_device_copy

    batch = make_batch(2, CROP, seed=0)
    batch['extra'] = ('text', 3, [torch.zeros(2)])
    assert batch_to_device(batch, 'cpu') is batch  # off a GPU: as is
    monkeypatch.setattr(device_module, 'host_to_device', on_device_copy)
    moved = device_module._on_device(batch, torch.device('cpu'))
    assert all(on_device(t) for t in moved['inputs'] + moved['target_inputs'])
    for before, after in zip(batch['data_samples'], moved['data_samples']):
        assert on_device(after.gt_sem_seg.data) and not on_device(before.gt_sem_seg.data)
        assert torch.equal(after.gt_sem_seg.data, before.gt_sem_seg.data)
        assert after.metainfo == before.metainfo and after is not before
    assert [s.metainfo for s in moved['target_data_samples']] == [s.metainfo for s in batch['target_data_samples']]
    assert moved['extra'][:2] == ('text', 3) and on_device(moved['extra'][2][0])
