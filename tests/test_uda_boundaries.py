"""Boundary cases of the DACS building blocks (pseudo-labels, ClassMix, EMA, feature distance).

Each test pins a value that a one-token slip would move: a probability exactly at the
confidence threshold, half-precision logits, a cell exactly at ``scale_min_ratio``, and so on.
Expected values are written out from the formulas of METHOD.md (the project's method specification).
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from daspm.models.uda.class_mix import class_mix, class_mix_masks
from daspm.models.uda.ema import ema_alpha, update_teacher
from daspm.models.uda.feature_distance import (downscale_label_ratio, feature_distance_loss,
                                               feature_distance_mask)
from daspm.models.uda.pseudo_label import pseudo_labels_from_logits


# ------------------------------------------------------------------------------ pseudo-labels
def _two_class_logits(diffs: list[list[float]]) -> torch.Tensor:
    """[1,2,H,W] logits with class 0 ahead of class 1 by ``diffs[y][x]`` (class 1 logit 0)."""
    d = torch.tensor(diffs, dtype=torch.float32)
    return torch.stack([d, torch.zeros_like(d)])[None]


def test_probability_exactly_at_the_threshold_counts_as_confident():
    # Equal logits give a max probability of exactly 1/2 (exp(0) = 1 in every implementation),
    # so threshold 0.5 puts those pixels exactly on the threshold: ">= threshold" counts them.
    logits = _two_class_logits([[0.0, 0.0, 3.0], [-2.0, 0.0, 0.0]])
    # max probs: 0.5, 0.5, 0.953, 0.881, 0.5, 0.5 -> all six are >= 0.5
    _, weight, share = pseudo_labels_from_logits(logits, threshold=0.5)
    assert share == 1.0
    assert torch.all(weight == 1.0)
    # A threshold just above 1/2 keeps only the two decided pixels.
    _, _, share = pseudo_labels_from_logits(logits, threshold=0.5 + 1e-6)
    assert share == pytest.approx(2 / 6)


def test_threshold_taken_from_a_computed_float32_probability_is_inclusive():
    # Logit gap 1.0: p = 1 / (1 + e^-1) = 0.7310586. Take the threshold to be exactly the float32
    # value the softmax gives, so the three pixels with gap 1.0 sit exactly on it.
    logits = _two_class_logits([[1.0, 1.0, 1.0, 4.0], [0.5, 0.25, 0.0, -4.0]])
    probs = torch.softmax(logits.float(), dim=1).max(dim=1).values  # what the function computes
    p = probs[0, 0, 0].item()
    assert p == pytest.approx(1 / (1 + math.exp(-1.0)), abs=1e-6)
    assert torch.all(probs[0, 0, :3] == p)  # the three pixels with gap 1.0 sit exactly on it
    # at or above p: the three on the threshold, 4.0 and -4.0 (p = 0.982); below: 0.5, 0.25, 0.0
    _, weight, share = pseudo_labels_from_logits(logits, threshold=p)
    assert share == pytest.approx(5 / 8)
    assert torch.allclose(weight, torch.full((1, 2, 4), 5 / 8))
    # the threshold one float32 step higher excludes the three pixels on it
    above = torch.nextafter(torch.tensor(p), torch.tensor(2.0)).item()
    _, _, share = pseudo_labels_from_logits(logits, threshold=above)
    assert share == pytest.approx(2 / 8)


def test_default_threshold_is_0968():
    # Two classes: max probability = 1 / (1 + exp(-gap)); the gap with p = 0.968 exactly is
    # ln(0.968 / 0.032) = 3.4095. Gaps of +-0.01 around it lie on either side of the threshold.
    gap = math.log(0.968 / 0.032)
    just_above, just_below = gap + 0.01, gap - 0.01
    assert 1 / (1 + math.exp(-just_above)) > 0.968 > 1 / (1 + math.exp(-just_below))
    logits = _two_class_logits([[just_above, just_below, -just_above, -just_below, 0.5]])
    label, _, share = pseudo_labels_from_logits(logits)
    assert share == pytest.approx(2 / 5)  # the two pixels above, whichever class wins
    assert label[0, 0].tolist() == [0, 0, 1, 1, 0]


def test_half_precision_logits_are_judged_in_float32():
    # float16 holds the gap 3.40 as 3.400390625: p = 1 / (1 + e^-3.400390625) = 0.96772, below
    # 0.968. A float16 softmax would round p to 1982 * 2^-11 = 0.96777 (float16 steps near 1 are 2^-11)
    # and compare it with 0.968 rounded to float16, the same 0.96777, counting the pixel; the
    # specified float32 softmax must not count it.
    logits = _two_class_logits([[3.40, 3.40, 6.0, -6.0]]).half()
    gap = logits[0, 0, 0, 0].item()
    assert gap == 3.400390625 and 1 / (1 + math.exp(-gap)) < 0.968
    _, weight, share = pseudo_labels_from_logits(logits)
    assert share == pytest.approx(2 / 4)
    assert weight.dtype == torch.float32


def test_share_is_one_scalar_for_the_whole_batch():
    # image 0: 3 of 4 pixels confident, image 1: 1 of 4 -> one share 4/8 for both images
    confident, unsure = 10.0, 0.1
    logits = torch.cat([_two_class_logits([[confident, confident], [confident, unsure]]),
                        _two_class_logits([[unsure, unsure], [confident, unsure]])])
    _, weight, share = pseudo_labels_from_logits(logits)
    assert share == pytest.approx(0.5)
    assert torch.allclose(weight, torch.full((2, 2, 2), 0.5))


def test_margins_are_top_bottom_left_right():
    logits = _two_class_logits([[10.0] * 5] * 6)  # all confident: share 1
    _, weight, _ = pseudo_labels_from_logits(logits, margins=(1, 2, 0, 0))
    assert weight[0, :, 0].tolist() == [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    _, weight, _ = pseudo_labels_from_logits(logits, margins=(0, 0, 2, 1))
    assert weight[0, 0].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]


# ----------------------------------------------------------------------------------- ClassMix
def test_class_mix_pastes_ceil_half_of_an_odd_number_of_classes():
    # 1 class -> 1 pasted (ceil(1/2) = 1, not 0), 3 classes -> 2, 5 classes -> 3
    for n, expected in ((1, 1), (3, 2), (5, 3)):
        labels = torch.arange(n).view(1, 1, 1, n)
        for seed in range(5):
            mask = class_mix_masks(labels, generator=torch.Generator().manual_seed(seed))
            assert int(mask.sum()) == expected


def test_class_mix_never_pastes_ignore_pixels():
    labels = torch.tensor([[[[255, 255, 255, 2]]]])  # one class and a majority of ignore
    for seed in range(10):
        mask = class_mix_masks(labels, generator=torch.Generator().manual_seed(seed))
        assert mask[0, 0, 0].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_class_mix_source_pixels_carry_ground_truth_with_weight_one():
    mask = torch.tensor([[[[1.0, 0.0]]]])
    img, label, weight = class_mix(mask, torch.full((1, 1, 1, 2), 7.0), torch.full((1, 1, 1, 2), -7.0),
                                   torch.tensor([[[[3, 3]]]]), torch.tensor([[[1, 1]]]),
                                   torch.tensor([[[0.25, 0.25]]]))
    assert img.flatten().tolist() == [7.0, -7.0]
    assert label.flatten().tolist() == [3, 1]
    assert weight.flatten().tolist() == [1.0, 0.25]


# ----------------------------------------------------------------------------------------- EMA
def test_ema_first_update_after_the_copy_is_an_even_average():
    # iteration 1: a = min(1 - 1/2, alpha) = 0.5 -> teacher = (teacher + student) / 2
    assert ema_alpha(1, 0.999) == 0.5
    assert ema_alpha(2, 0.999) == pytest.approx(2 / 3)
    teacher, student = nn.Linear(1, 1), nn.Linear(1, 1)
    with torch.no_grad():
        teacher.weight.fill_(2.0)
        teacher.bias.fill_(-2.0)
        student.weight.fill_(6.0)
        student.bias.fill_(4.0)
    update_teacher(teacher, student, 1, 0.999)
    assert teacher.weight.item() == 4.0 and teacher.bias.item() == 1.0


def test_ema_iteration_0_copies_and_freezes_the_teacher():
    teacher, student = nn.Linear(2, 1), nn.Linear(2, 1)
    update_teacher(teacher, student, 0, 0.99)
    assert torch.equal(teacher.weight, student.weight) and torch.equal(teacher.bias, student.bias)
    assert not teacher.weight.requires_grad and not teacher.bias.requires_grad


# -------------------------------------------------------------------------- feature distance
def test_cell_exactly_at_scale_min_ratio_keeps_its_class():
    # 2x2 cells of a 4x4 label: shares of the majority 3/4, 2/4 (tie), 4/4, 3/4 of ignore
    label = torch.tensor([[1, 1, 0, 2],
                          [1, 0, 2, 0],
                          [2, 2, 255, 255],
                          [2, 2, 255, 1]]).view(1, 1, 4, 4)
    down = downscale_label_ratio(label, 2, 0.75, num_classes=3)
    assert down[0, 0].tolist() == [[1, 255], [2, 255]]
    # ratio just above 3/4: the 3/4 cell becomes unsure too
    assert downscale_label_ratio(label, 2, 0.76, num_classes=3)[0, 0].tolist() == [[255, 255], [2, 255]]
    # a cell that is 3/4 ignore stays ignore whatever the ratio (ignore is never a class)
    assert downscale_label_ratio(label, 2, 0.0, num_classes=3)[0, 0, 1, 1].item() == 255
    mask = feature_distance_mask(label, (2, 2), None, 0.75, num_classes=3)
    assert mask[0, 0].tolist() == [[True, False], [True, False]]


def test_feature_distance_is_the_mean_over_masked_cells_times_lambda():
    # per-cell L2 distances 5, 1, 2, 0 (channels (3,4), (0,1), (2,0), (0,0))
    imnet = torch.zeros(1, 2, 2, 2)
    student = torch.tensor([[[[3.0, 0.0], [2.0, 0.0]], [[4.0, 1.0], [0.0, 0.0]]]], requires_grad=True)
    mask = torch.tensor([[[[True, False], [True, True]]]])
    loss = feature_distance_loss(student, imnet, mask, 0.005)
    assert loss.item() == pytest.approx(0.005 * (5 + 2 + 0) / 3)
    assert feature_distance_loss(student, imnet, None, 0.005).item() == pytest.approx(0.005 * 8 / 4)
    empty = feature_distance_loss(student, imnet, torch.zeros_like(mask), 0.005)
    assert empty.item() == 0.0 and empty.requires_grad
