"""Unit tests of the DACS building blocks: EMA teacher, pseudo-labels, ClassMix, strong
augmentation and the ImageNet feature distance (semantics from METHOD.md, the method specification)."""
from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch
from torch import nn

from daspm.models.uda.class_mix import class_mix, class_mix_masks, host_label_classes, mix_batch
from daspm.models.uda.ema import ema_alpha, init_teacher, update_teacher
from daspm.models.uda.feature_distance import (downscale_label_ratio, feature_distance_loss,
                                               feature_distance_mask)
from daspm.models.uda.pseudo_label import pseudo_labels_from_logits
from daspm.models.uda.strong_augmentation import blur_kernel_size, color_jitter, strong_augment


# --------------------------------------------------------------------------------------- EMA
def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.Conv2d(3, 2, 1))


def _fill(module: nn.Module, value: float) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(value)


@pytest.mark.parametrize('iteration,alpha,expected', [
    (1, 0.99, 0.5), (5, 0.99, 5 / 6), (1, 0.999, 0.5), (5, 0.999, 5 / 6),
    (99, 0.99, 0.99), (1000, 0.99, 0.99), (1000, 0.999, 0.999), (500, 0.999, 1 - 1 / 501),
])
def test_ema_alpha(iteration, alpha, expected):
    assert ema_alpha(iteration, alpha) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize('iteration,alpha,expected', [
    (1, 0.99, 0.5 * 1 + 0.5 * 3),             # a = 0.5
    (5, 0.99, 5 / 6 * 1 + 1 / 6 * 3),         # a = 1 - 1/6
    (5, 0.999, 5 / 6 * 1 + 1 / 6 * 3),
    (1000, 0.99, 0.99 * 1 + 0.01 * 3),        # capped at alpha
    (1000, 0.999, 0.999 * 1 + 0.001 * 3),
])
def test_update_teacher_formula(iteration, alpha, expected):
    student, teacher = _net(), _net()
    _fill(teacher, 1.0)
    _fill(student, 3.0)
    update_teacher(teacher, student, iteration, alpha)
    for tp, sp in zip(teacher.parameters(), student.parameters()):
        assert torch.allclose(tp, torch.full_like(tp, expected), atol=1e-6)
        assert torch.all(sp == 3.0)  # the student is never modified


def test_update_teacher_iteration0_copies_and_freezes():
    torch.manual_seed(0)
    student, teacher = _net(), _net()
    update_teacher(teacher, student, 0, 0.99)
    for tp, sp in zip(teacher.parameters(), student.parameters()):
        assert torch.equal(tp, sp)
        assert tp.data_ptr() != sp.data_ptr()  # a copy, not shared storage
        assert not tp.requires_grad
        assert sp.requires_grad
    # Later student changes do not leak into the teacher.
    _fill(student, 7.0)
    assert not any(torch.all(tp == 7.0) for tp in teacher.parameters())


def test_update_teacher_leaves_bn_buffers():
    student, teacher = _net(), _net()
    with torch.no_grad():
        teacher[1].running_mean.fill_(0.25)
        teacher[1].running_var.fill_(4.0)
        student[1].running_mean.fill_(-1.0)
        student[1].running_var.fill_(9.0)
    teacher[1].num_batches_tracked.fill_(11)
    for it in (0, 1, 5):
        update_teacher(teacher, student, it, 0.99)
        assert torch.all(teacher[1].running_mean == 0.25)
        assert torch.all(teacher[1].running_var == 4.0)
        assert int(teacher[1].num_batches_tracked) == 11


def test_update_teacher_mixed_dtypes():
    student = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2).double())
    teacher = copy.deepcopy(student)
    teacher[0].double()  # teacher kept in a different dtype than the student for one layer
    _fill(teacher, 2.0)
    _fill(student, 4.0)
    update_teacher(teacher, student, 1, 0.99)
    for tp in teacher.parameters():
        assert torch.allclose(tp, torch.full_like(tp, 3.0))
    assert teacher[0].weight.dtype == torch.float64


def test_update_teacher_rejects_other_architecture():
    with pytest.raises(ValueError):
        update_teacher(nn.Linear(2, 2), nn.Linear(2, 3), 1, 0.99)
    with pytest.raises(ValueError):
        init_teacher(nn.Linear(2, 2), _net())


# ------------------------------------------------------------------------------ pseudo-labels
def _logits_with_known_confidence(b=2, c=3, h=4, w=5, n_confident=7, seed=0):
    """Logits whose argmax is random and whose max-softmax is 0.9999 on n_confident pixels
    (logit 10 vs 0) and 0.576 elsewhere (logit 1 vs 0)."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.randint(0, c, (b, h, w), generator=g)
    confident = torch.zeros(b * h * w, dtype=torch.bool)
    confident[torch.randperm(b * h * w, generator=g)[:n_confident]] = True
    confident = confident.view(b, h, w)
    peak = torch.where(confident, 10.0, 1.0)
    logits = torch.zeros(b, c, h, w)
    logits.scatter_(1, cls.unsqueeze(1), peak.unsqueeze(1))
    return logits, cls, confident


def test_pseudo_labels_share_and_argmax():
    logits, cls, confident = _logits_with_known_confidence(n_confident=7)
    # sanity on the construction: the two softmax maxima straddle the threshold
    assert math.exp(10) / (math.exp(10) + 2) >= 0.968 > math.e / (math.e + 2)
    label, weight, share = pseudo_labels_from_logits(logits)
    assert label.dtype == torch.long and label.shape == (2, 4, 5)
    assert torch.equal(label, cls)
    assert share == pytest.approx(7 / 40)
    assert weight.shape == (2, 4, 5) and weight.is_floating_point()
    assert torch.allclose(weight, torch.full_like(weight, 7 / 40))


def test_pseudo_labels_threshold_and_extremes():
    logits, _, _ = _logits_with_known_confidence(n_confident=0)
    _, weight, share = pseudo_labels_from_logits(logits)
    assert share == 0.0 and torch.all(weight == 0)
    _, _, share = pseudo_labels_from_logits(logits, threshold=0.5)  # 0.576 >= 0.5 everywhere
    assert share == 1.0


def test_pseudo_labels_margins():
    logits, _, _ = _logits_with_known_confidence(b=2, h=8, w=9, n_confident=30)
    _, weight, share = pseudo_labels_from_logits(logits, margins=(1, 2, 3, 1))
    assert share == pytest.approx(30 / (2 * 8 * 9))
    expected = torch.full((2, 8, 9), share)
    expected[:, :1] = 0
    expected[:, -2:] = 0
    expected[:, :, :3] = 0
    expected[:, :, -1:] = 0
    assert torch.allclose(weight, expected)
    # the confident share is computed over all pixels, margins included
    _, _, share0 = pseudo_labels_from_logits(logits)
    assert share0 == share


# ----------------------------------------------------------------------------------- ClassMix
def _labels_with_ignore_majority() -> torch.Tensor:
    labels = torch.full((3, 1, 6, 6), 255, dtype=torch.long)
    labels[0, 0, 0, :3] = torch.tensor([0, 1, 2])            # n = 3 -> pick 2
    labels[1, 0, 1, :4] = torch.tensor([0, 1, 3, 4])         # n = 4 -> pick 2
    labels[1, 0, 2, :2] = torch.tensor([3, 4])
    # image 2: only ignore -> empty mask
    return labels


def test_class_mix_masks_picks_half_of_present_classes():
    labels = _labels_with_ignore_majority()
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        masks = class_mix_masks(labels, generator=g)
        assert masks.shape == (3, 1, 6, 6) and masks.dtype == torch.float32
        for i, n_expected in ((0, 2), (1, 2)):
            label, mask = labels[i, 0], masks[i, 0].bool()
            chosen = set(label[mask].tolist())
            present = set(label.unique().tolist()) - {255}
            assert len(chosen) == n_expected == math.ceil(len(present) / 2)
            assert chosen <= present and 255 not in chosen
            # mask is exactly the pixels of the chosen classes
            expected = torch.isin(label, torch.tensor(sorted(chosen)))
            assert torch.equal(mask, expected)
            assert not mask[label == 255].any()
        assert torch.all(masks[2] == 0)


def test_class_mix_masks_odd_even_counts_and_randomness():
    for n in (1, 2, 5, 6):
        labels = torch.arange(n).repeat(4).view(1, 1, 2, 2 * n)
        subsets = set()
        for seed in range(40):
            m = class_mix_masks(labels, generator=torch.Generator().manual_seed(seed))
            chosen = tuple(sorted(labels[0, 0][m[0, 0].bool()].unique().tolist()))
            assert len(chosen) == (n + 1) // 2
            subsets.add(chosen)
        if n >= 2:
            assert len(subsets) > 1  # the choice is random, not always the same classes
    # every pair of 3 classes occurs
    labels = torch.tensor([[0, 1, 2]]).view(1, 1, 1, 3)
    pairs = {tuple(sorted(labels[0, 0][class_mix_masks(
        labels, generator=torch.Generator().manual_seed(s))[0, 0].bool()].tolist()))
        for s in range(60)}
    assert pairs == set(itertools.combinations(range(3), 2))


def test_class_mix_masks_deterministic_and_3d_input():
    labels = torch.randint(0, 6, (4, 1, 16, 16), generator=torch.Generator().manual_seed(1))
    a = class_mix_masks(labels, generator=torch.Generator().manual_seed(3))
    b = class_mix_masks(labels, generator=torch.Generator().manual_seed(3))
    c = class_mix_masks(labels[:, 0], generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(a, c)
    others = [class_mix_masks(labels, generator=torch.Generator().manual_seed(s)) for s in range(4, 9)]
    assert any(not torch.equal(a, o) for o in others)


def test_class_mix_classes_from_the_host_labels_give_the_same_masks():
    """The loader's labels (unpadded, on the host) name the classes; the draws and masks are those of
    the padded batch, whose padding carries the ignore value."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    gen = torch.Generator().manual_seed(4)
    loader_labels = [torch.randint(0, 6, (1, 12, 12), generator=gen), torch.full((1, 10, 12), 3)]
    loader_labels[0][0, :3] = 255
    samples = [SegDataSample(gt_sem_seg=PixelData(data=label)) for label in loader_labels]
    classes = host_label_classes(samples)
    assert classes == [sorted(set(loader_labels[0].flatten().tolist())), [3]]
    assert 255 in classes[0]  # the ignore value stays in the list; class_mix_masks drops it
    # the batch the data preprocessor makes: padded to 12 x 12 with the ignore value 255
    batch = torch.full((2, 1, 12, 12), 255)
    batch[0, :, :12, :12] = loader_labels[0]
    batch[1, :, :10, :12] = loader_labels[1]
    for seed in range(5):
        ours = class_mix_masks(batch, generator=torch.Generator().manual_seed(seed), classes=classes)
        read = class_mix_masks(batch, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(ours, read)
    assert torch.equal(ours[1, 0], (batch[1, 0] == 3).float())  # one class: it is pasted
    with pytest.raises(ValueError, match='one list per image'):
        class_mix_masks(batch, classes=classes[:1])


def test_class_mix_mixes_consistently():
    g = torch.Generator().manual_seed(0)
    b, h, w = 2, 8, 8
    source_img = torch.rand(b, 3, h, w, generator=g)
    target_img = torch.rand(b, 3, h, w, generator=g) + 2.0  # disjoint ranges: no ambiguity
    source_label = torch.randint(0, 4, (b, 1, h, w), generator=g)
    source_label[:, :, :2] = 255  # ignore rows in the source
    pseudo_label = torch.randint(10, 13, (b, h, w), generator=g)  # distinct from source ids
    pseudo_weight = torch.full((b, h, w), 0.3)
    mask = class_mix_masks(source_label, generator=g)
    img, label, weight = class_mix(mask, source_img, target_img, source_label, pseudo_label,
                                   pseudo_weight)
    assert img.shape == (b, 3, h, w) and img.dtype == source_img.dtype
    assert label.shape == (b, 1, h, w) and label.dtype == torch.long
    assert weight.shape == (b, h, w)
    m = mask.bool()
    assert torch.equal(img, torch.where(m, source_img, target_img))
    assert torch.equal(label, torch.where(m, source_label, pseudo_label.unsqueeze(1)))
    assert torch.equal(weight, torch.where(m[:, 0], 1.0, 0.3))
    # source ignore pixels are never pasted: they take the pseudo-label and pseudo-weight
    ign = (source_label == 255)
    assert torch.equal(label[ign], pseudo_label.unsqueeze(1)[ign])
    assert not (label == 255).any()
    assert torch.all(weight[ign[:, 0]] == 0.3)
    # [B,1,H,W] pseudo-label gives the same result
    _, label2, _ = class_mix(mask, source_img, target_img, source_label,
                             pseudo_label.unsqueeze(1), pseudo_weight)
    assert torch.equal(label, label2)


def test_mix_batch_formula_and_dtypes():
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    src = torch.full((1, 2, 2, 2), 5.0, dtype=torch.float16)
    tgt = torch.full((1, 2, 2, 2), -1.0, dtype=torch.float16)
    out = mix_batch(mask, src, tgt)
    assert out.dtype == torch.float16
    assert torch.equal(out[0, 1], torch.tensor([[5.0, -1.0], [-1.0, 5.0]], dtype=torch.float16))
    lab = mix_batch(mask, torch.full((1, 1, 2, 2), 3), torch.full((1, 1, 2, 2), 7))
    assert lab.dtype == torch.long and lab.tolist() == [[[[3, 7], [7, 3]]]]
    wgt = mix_batch(mask, torch.ones(1, 2, 2), torch.full((1, 2, 2), 0.5))
    assert wgt.shape == (1, 2, 2) and wgt.tolist() == [[[1.0, 0.5], [0.5, 1.0]]]
    soft = mix_batch(torch.full((1, 1, 2, 2), 0.25), torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
    assert torch.allclose(soft, torch.full((1, 1, 2, 2), 0.25))


# ------------------------------------------------------------------------ strong augmentation
MEAN = [0.4, 0.5, 0.3]
STD = [0.2, 0.25, 0.1]
MEAN_T = torch.tensor(MEAN).view(1, -1, 1, 1)
STD_T = torch.tensor(STD).view(1, -1, 1, 1)


def _normalised(img01: torch.Tensor, mean=MEAN, std=STD) -> torch.Tensor:
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return (img01 - m) / s


def _denorm(x: torch.Tensor, mean=MEAN, std=STD) -> torch.Tensor:
    return x.float() * torch.tensor(std).view(1, -1, 1, 1) + torch.tensor(mean).view(1, -1, 1, 1)


def test_blur_kernel_size():
    assert blur_kernel_size(512) == 51
    assert blur_kernel_size(320) == 33
    assert blur_kernel_size(64) == 7
    assert blur_kernel_size(16) == 3
    assert blur_kernel_size(1) == 1
    assert all(blur_kernel_size(s) % 2 == 1 for s in range(1, 300))


def test_strong_augment_shape_dtype_determinism():
    x = _normalised(torch.rand(4, 3, 24, 32, generator=torch.Generator().manual_seed(0)))
    a = strong_augment(x, MEAN, STD, generator=torch.Generator().manual_seed(5))
    b = strong_augment(x, MEAN, STD, generator=torch.Generator().manual_seed(5))
    c = strong_augment(x, MEAN, STD, generator=torch.Generator().manual_seed(6))
    assert a.shape == x.shape and a.dtype == x.dtype and a.device == x.device
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, x)
    h = strong_augment(x.half(), MEAN, STD, generator=torch.Generator().manual_seed(5))
    assert h.dtype == torch.float16 and h.shape == x.shape
    t = strong_augment(x, torch.tensor(MEAN), torch.tensor(STD),
                       generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, t)


def test_strong_augment_inside_amp_autocast_computes_in_float32():
    # DACS augments inside the AMP optimizer context; the blur must not come back in bf16.
    x = _normalised(torch.rand(4, 3, 24, 32, generator=torch.Generator().manual_seed(0)))
    plain = strong_augment(x, MEAN, STD, blur_p=1.0, generator=torch.Generator().manual_seed(5))
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        amp = strong_augment(x, MEAN, STD, blur_p=1.0, generator=torch.Generator().manual_seed(5))
    assert amp.dtype == torch.float32
    torch.testing.assert_close(amp, plain)


def test_strong_augment_p0_is_identity():
    x = _normalised(torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1)))
    y = strong_augment(x, MEAN, STD, color_jitter_p=0.0, blur_p=0.0,
                       generator=torch.Generator().manual_seed(0))
    assert torch.allclose(y, x, atol=1e-5)


def test_strong_augment_value_scale_255():
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    img = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 255
    x = _normalised(img, mean, std)
    y = strong_augment(x, mean, std, color_jitter_p=0.0, blur_p=0.0, value_scale=255.0)
    assert torch.allclose(y, x, atol=1e-4)
    z = strong_augment(x, mean, std, color_jitter_p=1.0, color_jitter_strength=0.9,
                       value_scale=255.0, generator=torch.Generator().manual_seed(0))
    d = _denorm(z, mean, std)
    assert d.min() >= -1e-3 and d.max() <= 255 + 1e-3


def _hf_energy(x: torch.Tensor) -> torch.Tensor:
    """Per-image energy of horizontal + vertical first differences."""
    dx = x[..., :, 1:] - x[..., :, :-1]
    dy = x[..., 1:, :] - x[..., :-1, :]
    return dx.pow(2).flatten(1).sum(1) + dy.pow(2).flatten(1).sum(1)


def test_strong_augment_blur_reduces_high_frequencies():
    img = torch.rand(4, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    x = _normalised(img)
    before = _hf_energy(img)
    # default sigma range: never sharpens (sigma 0.15 with a 3-tap kernel is almost the identity)
    y = strong_augment(x, MEAN, STD, color_jitter_p=0.0, blur_p=1.0,
                       generator=torch.Generator().manual_seed(0))
    assert torch.all(_hf_energy(_denorm(y)) <= before * (1 + 1e-4))
    # a clearly visible blur removes most of the white-noise energy
    y = strong_augment(x, MEAN, STD, color_jitter_p=0.0, blur_p=1.0, blur_sigma=(1.0, 1.0),
                       generator=torch.Generator().manual_seed(0))
    assert torch.all(_hf_energy(_denorm(y)) < 0.3 * before)
    # the blur preserves the mean intensity (normalised kernel, reflect border)
    assert torch.allclose(_denorm(y).mean(dim=(2, 3)), img.mean(dim=(2, 3)), atol=2e-2)


def test_strong_augment_per_image_probability():
    x = _normalised(torch.rand(16, 3, 12, 12, generator=torch.Generator().manual_seed(4)))
    y = strong_augment(x, MEAN, STD, color_jitter_p=0.5, blur_p=0.0,
                       generator=torch.Generator().manual_seed(0))
    unchanged = torch.isclose(y, x, atol=1e-5).flatten(1).all(1)
    assert 0 < int(unchanged.sum()) < 16  # decisions are per image, not per batch


def _hue(images: torch.Tensor) -> torch.Tensor:
    """Hue angle (radians) of [B,3,H,W] images in [0, 1]."""
    from kornia.color import rgb_to_hsv
    return rgb_to_hsv(images)[:, 0]


def test_strong_augment_hue_strength_zero_keeps_hues():
    # mid-range, clearly coloured pixels: brightness/contrast/saturation (factors <= 1.2) neither
    # clip them nor change their hue, so only the hue step can rotate it
    gen = torch.Generator().manual_seed(7)
    unit = 0.35 + 0.3 * torch.rand(8, 3, 10, 10, generator=gen)
    unit[:, 0] += 0.1  # red dominant: hue well defined
    x = _normalised(unit)
    kept = strong_augment(x, MEAN, STD, color_jitter_p=1.0, blur_p=0.0, hue_strength=0.0,
                          generator=torch.Generator().manual_seed(1))
    shifted = strong_augment(x, MEAN, STD, color_jitter_p=1.0, blur_p=0.0,
                             generator=torch.Generator().manual_seed(1))

    def angle_change(y: torch.Tensor) -> torch.Tensor:
        d = (_hue(y * STD_T + MEAN_T) - _hue(unit)).abs()
        return torch.minimum(d, 2 * math.pi - d)

    assert not torch.allclose(kept, x, atol=1e-3)  # brightness/contrast/saturation still act
    assert angle_change(kept).max() < 1e-3
    # the reference setting (hue strength = colour-jitter strength, 0.2 turns) rotates hues
    assert angle_change(shifted).flatten(1).mean(1).max() > 0.05


def test_strong_augment_jitter_clamps_to_unit_range_as_kornia_058():
    img = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(5)) * 1.4 - 0.2
    x = _normalised(img)
    y = strong_augment(x, MEAN, STD, color_jitter_p=1.0, color_jitter_strength=0.9, blur_p=1.0,
                       generator=torch.Generator().manual_seed(1))
    d = _denorm(y)
    assert d.min() >= -1e-5 and d.max() <= 1 + 1e-5


def test_strong_augment_clips_nothing_without_jitter():
    # reflectance / 3000 exceeds 1 on bright roofs: mixing and blurring must keep it (test time does)
    img = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(8)) * 2.5
    img[:, :, :8] = 3.0  # a bright block wide enough that the blur keeps values > 1
    x = _normalised(img)
    same = strong_augment(x, MEAN, STD, color_jitter_p=0.0, blur_p=0.0)
    torch.testing.assert_close(_denorm(same), img, atol=1e-5, rtol=1e-5)
    blurred = _denorm(strong_augment(x, MEAN, STD, color_jitter_p=0.0, blur_p=1.0,
                                     generator=torch.Generator().manual_seed(0)))
    assert blurred.max() > 2.9
    # with jitter but clamp=False nothing is clipped either
    jittered = _denorm(strong_augment(x, MEAN, STD, color_jitter_p=1.0, blur_p=0.0, hue_strength=0.0,
                                      clamp=False, generator=torch.Generator().manual_seed(0)))
    assert jittered.max() > 1.5


# the hand-made pixel (R, G, B) = (0.8, 0.4, 0.2): V = 0.8, S = 0.75, H = 20 degrees
PIXEL = (0.8, 0.4, 0.2)


def _pixel_images(*pixels) -> torch.Tensor:
    return torch.tensor(pixels, dtype=torch.float32).view(len(pixels), 3, 1, 1).expand(-1, 3, 2, 2).clone()


@pytest.mark.parametrize('factor,expected', [
    (0.8, (0.6, 0.2, 0.0)),   # x + (f - 1), clamped at 0
    (1.2, (1.0, 0.6, 0.4)),   # clamped at 1
])
def test_color_jitter_brightness_is_additive(factor, expected):
    one = torch.ones(1)
    y = color_jitter(_pixel_images(PIXEL), torch.tensor([factor]), one, one, torch.zeros(1), [0])
    torch.testing.assert_close(y[0, :, 0, 0], torch.tensor(expected), atol=1e-6, rtol=0)


@pytest.mark.parametrize('factor,expected', [
    (0.8, (0.64, 0.32, 0.16)),  # x * f, no mean involved
    (1.5, (1.0, 0.6, 0.3)),     # clamped at 1
])
def test_color_jitter_contrast_is_multiplicative(factor, expected):
    one = torch.ones(1)
    y = color_jitter(_pixel_images(PIXEL), one, torch.tensor([factor]), one, torch.zeros(1), [1])
    torch.testing.assert_close(y[0, :, 0, 0], torch.tensor(expected), atol=1e-6, rtol=0)


@pytest.mark.parametrize('factor,expected', [
    # HSV S * f with V and H kept: min = V (1 - S'), the middle channel keeps its relative place
    # (G - B) / (R - B) = 1/3
    (0.5, (0.8, 0.6, 0.5)),      # S' = 0.375: B = 0.5, G = 0.5 + 0.3 / 3
    (1.2, (0.8, 0.32, 0.08)),    # S' = 0.9:   B = 0.08, G = 0.08 + 0.72 / 3
    (2.0, (0.8, 0.8 / 3, 0.0)),  # S' = min(1.5, 1) = 1
])
def test_color_jitter_saturation_scales_hsv_saturation(factor, expected):
    one = torch.ones(1)
    y = color_jitter(_pixel_images(PIXEL), one, one, torch.tensor([factor]), torch.zeros(1), [2])
    torch.testing.assert_close(y[0, :, 0, 0], torch.tensor(expected), atol=1e-5, rtol=0)


@pytest.mark.parametrize('turns,expected', [
    (1 / 3, (0.2, 0.8, 0.4)),    # H 20 -> 140 degrees: (R, G, B) -> (B, R, G)
    (-1 / 3, (0.4, 0.2, 0.8)),   # H 20 -> 260 degrees: (R, G, B) -> (G, B, R)
])
def test_color_jitter_hue_rotates_hsv_hue(turns, expected):
    one = torch.ones(1)
    y = color_jitter(_pixel_images(PIXEL), one, one, one, torch.tensor([turns]), [3])
    torch.testing.assert_close(y[0, :, 0, 0], torch.tensor(expected), atol=1e-5, rtol=0)


def test_color_jitter_applies_the_parts_in_the_given_order_per_image():
    b, c = torch.tensor([1.1, 0.9]), torch.tensor([0.5, 1.2])
    one, zero = torch.ones(2), torch.zeros(2)
    x = _pixel_images(PIXEL, (0.5, 0.5, 0.5))
    px = torch.tensor([PIXEL, (0.5, 0.5, 0.5)])
    brightness_first = color_jitter(x, b, c, one, zero, [0, 1])[:, :, 0, 0]
    contrast_first = color_jitter(x, b, c, one, zero, [1, 0])[:, :, 0, 0]
    torch.testing.assert_close(brightness_first, ((px + (b - 1).view(2, 1)) * c.view(2, 1)).clamp(0, 1))
    torch.testing.assert_close(contrast_first, (px * c.view(2, 1) + (b - 1).view(2, 1)).clamp(0, 1))


def test_strong_augment_draws_factors_as_documented_and_applies_kornia_058_jitter():
    # the documented draw order: jitter on, brightness, contrast, saturation, hue, order, blur on, sigma
    s, n = 0.2, 3
    unit = 0.2 + 0.6 * torch.rand(n, 3, 4, 4, generator=torch.Generator().manual_seed(9))
    y = strong_augment(_normalised(unit), MEAN, STD, color_jitter_p=1.0, color_jitter_strength=s,
                       blur_p=0.0, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    torch.rand(n, generator=g)
    b, c, sat = ((1 - s) + 2 * s * torch.rand(n, generator=g) for _ in range(3))
    hue = -s + 2 * s * torch.rand(n, generator=g)
    order = torch.randperm(4, generator=g).tolist()
    x = unit.clone()
    for op in order:  # brightness and contrast written out; saturation and hue by the tests above
        if op == 0:
            x = (x + (b - 1).view(n, 1, 1, 1)).clamp(0, 1)
        elif op == 1:
            x = (x * c.view(n, 1, 1, 1)).clamp(0, 1)
        else:
            x = color_jitter(x, torch.ones(n), torch.ones(n), sat, hue, [op])
    torch.testing.assert_close(_denorm(y), x, atol=1e-5, rtol=1e-5)
    # the torchvision-style formulas (multiplicative brightness, contrast and saturation blended
    # with the grey mean) that this replaced give other images
    assert (_denorm(y) - _torchvision_style(unit, b, c, sat, hue, order)).abs().mean() > 0.01


def _torchvision_style(x, b, c, sat, hue, order):
    """The previous (torchvision / kornia >= 0.6) semantics, to show the difference."""
    n = x.shape[0]
    for op in order:
        if op == 0:
            x = (x * b.view(n, 1, 1, 1)).clamp(0, 1)
        elif op == 1:
            grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).mean(dim=(-2, -1)).view(n, 1, 1, 1)
            x = (x * c.view(n, 1, 1, 1) + grey * (1 - c.view(n, 1, 1, 1))).clamp(0, 1)
        elif op == 2:
            grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
            x = (x * sat.view(n, 1, 1, 1) + grey * (1 - sat.view(n, 1, 1, 1))).clamp(0, 1)
        else:
            x = color_jitter(x, torch.ones(n), torch.ones(n), torch.ones(n), hue, [3])
    return x


def test_strong_augment_is_the_same_in_any_value_scale_of_the_normalisation():
    # ImageNet statistics in 8-bit units with 0..255 inputs (value_scale 255) and the same in
    # [0, 1] units with [0, 1] inputs give the same network input after augmentation
    mean255, std255 = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    mean1, std1 = [m / 255 for m in mean255], [v / 255 for v in std255]
    unit = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(11))
    x = _normalised(unit, mean1, std1)  # identical normalised tensors in both conventions
    kwargs = dict(color_jitter_p=1.0, blur_p=1.0)
    a = strong_augment(x, mean255, std255, value_scale=255.0, generator=torch.Generator().manual_seed(2), **kwargs)
    b = strong_augment(x, mean1, std1, value_scale=1.0, generator=torch.Generator().manual_seed(2), **kwargs)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # the reference's normalisation (mean 0, std 255 on 8-bit values)
    c = strong_augment(unit, [0.0] * 3, [255.0] * 3, value_scale=255.0,
                       generator=torch.Generator().manual_seed(2), **kwargs)
    d = strong_augment(unit, [0.0] * 3, [1.0] * 3, value_scale=1.0,
                       generator=torch.Generator().manual_seed(2), **kwargs)
    torch.testing.assert_close(c, d, atol=1e-5, rtol=1e-5)


def test_dacs_infers_the_value_scale_from_the_normalisation():
    from daspm.models.uda.dacs import infer_value_scale
    assert infer_value_scale([0.0, 0.0, 0.0], [255.0, 255.0, 255.0]) == 255.0
    assert infer_value_scale([123.675, 116.28, 103.53], [58.395, 57.12, 57.375]) == 255.0
    assert infer_value_scale([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]) == 1.0
    assert infer_value_scale([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]) == 1.0


def test_strong_augment_multispectral():
    g = torch.Generator().manual_seed(6)
    img = torch.rand(3, 4, 16, 16, generator=g)
    img[:, 3] = 0.6  # spatially constant NIR band
    mean, std = [0.3, 0.3, 0.3, 0.4], [0.2, 0.2, 0.2, 0.3]
    x = _normalised(img, mean, std)
    y = strong_augment(x, mean, std, color_jitter_p=1.0, blur_p=0.0,
                       generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    d = _denorm(y, mean, std)
    # brightness/contrast reach the NIR band but (per-channel contrast, no hue/saturation mixing
    # with RGB) keep it spatially constant
    nir = d[:, 3]
    assert torch.allclose(nir, nir[:, :1, :1].expand_as(nir), atol=1e-5)
    assert not torch.allclose(nir, torch.full_like(nir, 0.6), atol=1e-4)
    assert not torch.allclose(d[:, :3], img[:, :3], atol=1e-3)
    # single-band input works too (saturation/hue skipped)
    one = strong_augment(torch.rand(2, 1, 16, 16), [0.0], [1.0], color_jitter_p=1.0, blur_p=1.0,
                         generator=torch.Generator().manual_seed(0))
    assert one.shape == (2, 1, 16, 16)


# -------------------------------------------------------------------------- feature distance
def _fd_label() -> torch.Tensor:
    """8x8 label, 4x4 cells: [[all 1, 12x2+4x0 (share 0.75)], [10x0+6x1 (0.625), 12x255+4x2]]."""
    lab = torch.empty(8, 8, dtype=torch.long)
    lab[:4, :4] = 1
    tr = torch.full((16,), 2)
    tr[:4] = 0
    lab[:4, 4:] = tr.view(4, 4)
    bl = torch.zeros(16, dtype=torch.long)
    bl[10:] = 1
    lab[4:, :4] = bl.view(4, 4)
    br = torch.full((16,), 255)
    br[:4] = 2
    lab[4:, 4:] = br.view(4, 4)
    return lab.view(1, 1, 8, 8)


def test_downscale_label_ratio_hand_made():
    lab = _fd_label()
    out = downscale_label_ratio(lab, 4, 0.75, num_classes=3)
    assert out.shape == (1, 1, 2, 2) and out.dtype == torch.long
    assert out[0, 0].tolist() == [[1, 2], [255, 255]]
    assert torch.equal(downscale_label_ratio(lab[:, 0], 4, 0.75, num_classes=3), out)
    # with a lower ratio the 0.625 cell keeps its majority (class 0)
    assert downscale_label_ratio(lab, 4, 0.6, 3)[0, 0].tolist() == [[1, 2], [0, 255]]
    # a custom ignore index
    lab7 = lab.masked_fill(lab == 255, 7)
    assert downscale_label_ratio(lab7, 4, 0.75, 3, ignore_index=7)[0, 0].tolist() == [[1, 2], [7, 7]]
    # scale 1 is the identity (up to out-of-range -> ignore)
    assert torch.equal(downscale_label_ratio(lab, 1, 0.75, 3), lab)


def test_downscale_label_ratio_not_divisible_uses_ceil_mode():
    lab = torch.ones(1, 1, 10, 10, dtype=torch.long)
    out = downscale_label_ratio(lab, 4, 0.75, 3)
    assert out.shape == (1, 1, 3, 3)
    assert torch.all(out == 1)  # edge cells share over their valid pixels only


def test_feature_distance_mask_classes():
    lab = _fd_label()
    assert feature_distance_mask(lab, (2, 2), None, 0.75, 3)[0, 0].tolist() == \
        [[True, True], [False, False]]
    m = feature_distance_mask(lab, (2, 2), [2], 0.75, 3)
    assert m.dtype == torch.bool and m.shape == (1, 1, 2, 2)
    assert m[0, 0].tolist() == [[False, True], [False, False]]
    assert not feature_distance_mask(lab, (2, 2), [0], 0.75, 3).any()
    assert feature_distance_mask(lab, (2, 2), (0, 1), 0.6, 3)[0, 0].tolist() == \
        [[True, False], [True, False]]


def test_feature_distance_mask_odd_shapes_match_features():
    lab = torch.ones(2, 1, 330, 330, dtype=torch.long)
    m = feature_distance_mask(lab, (11, 11), None, 0.75, 3)
    assert m.shape == (2, 1, 11, 11) and m.all()
    # 330 // 12 = 27 and ceil(330 / 27) = 13 != 12: falls back to adaptive pooling
    m = feature_distance_mask(lab, (12, 12), None, 0.75, 3)
    assert m.shape == (2, 1, 12, 12) and m.all()
    m = feature_distance_mask(torch.ones(1, 1, 33, 65, dtype=torch.long), (2, 3), [1], 0.75, 3)
    assert m.shape == (1, 1, 2, 3) and m.all()


def _fd_feats():
    imnet = torch.tensor([[[[1.0, -2.0]], [[0.5, 0.0]]]], requires_grad=True)  # [1,2,1,2]
    diff = torch.tensor([[[[3.0, 0.0]], [[4.0, 1.0]]]])  # pixel norms 5 and 1
    student = (imnet.detach() + diff).requires_grad_(True)
    return student, imnet


def test_feature_distance_loss_hand_computed():
    student, imnet = _fd_feats()
    both = torch.ones(1, 1, 1, 2, dtype=torch.bool)
    assert feature_distance_loss(student, imnet, both, 0.5).item() == pytest.approx(0.5 * 3.0)
    assert feature_distance_loss(student, imnet, None, 0.5).item() == pytest.approx(1.5)
    second = torch.tensor([[[[False, True]]]])
    loss = feature_distance_loss(student, imnet, second, 0.5)
    assert loss.item() == pytest.approx(0.5)
    loss.backward()
    # d/dstudent of 0.5*||d1||: 0.5 * d1/||d1|| at pixel 1, zero at the unmasked pixel 0
    assert torch.allclose(student.grad, torch.tensor([[[[0.0, 0.0]], [[0.0, 0.5]]]]))
    assert imnet.grad is None  # the ImageNet feature is detached


def test_feature_distance_loss_empty_mask_is_zero_not_nan():
    student, imnet = _fd_feats()
    loss = feature_distance_loss(student, imnet, torch.zeros(1, 1, 1, 2, dtype=torch.bool), 0.005)
    assert loss.item() == 0.0 and not torch.isnan(loss)
    assert loss.requires_grad
    loss.backward()
    assert student.grad is not None and torch.all(student.grad == 0)


def test_feature_distance_loss_zero_distance_has_finite_grad():
    feat = torch.ones(1, 3, 2, 2, requires_grad=True)
    loss = feature_distance_loss(feat, feat.detach().clone(), None, 1.0)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(feat.grad).all()
