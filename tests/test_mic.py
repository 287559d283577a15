"""MIC (masked image consistency) as an option of DACS: the block mask, the masked image, its loss
against the teacher's pseudo-labels of the unmasked target, the gradient it adds to the student's,
MIC off = plain DACS, and the MIC configs (each its twin plus ``model.mic``)."""
from __future__ import annotations

import copy

import cv2
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmseg.models.utils import resize

from conftest import REPO
from dacs_helpers import CROP, build_dacs, make_batch
from daspm.engine.hooks.debug_images import PANELS, DebugImageHook
from daspm.models.uda.masking import MICOptions, block_mask, mask_images
from daspm.models.uda.strong_augmentation import strong_augment
from daspm.utils.errors import DaspmInputError

BLOCK = 16  # a 4 x 4 grid on the 64-pixel test crops
MIC = dict(mask_ratio=0.7, block_size=BLOCK, loss_weight=1.0)
DACS_KEYS = {'src.decode.loss_ce', 'src.decode.acc_seg', 'src.loss_imnet_feat_dist', 'mix.decode.loss_ce',
             'mix.decode.acc_seg', 'pseudo_weight', 'tgt_pad_share', 'fd_mask_share', 'loss'}
MIC_KEYS = {'masked.decode.loss_ce', 'masked.decode.acc_seg'}


# ------------------------------------------------------------------------------- the block mask
def _by_definition(keep: torch.Tensor, block: int, height: int, width: int) -> torch.Tensor:
    """Pixel (y, x) takes the value of grid cell (y // block, x // block)."""
    out = torch.empty(keep.shape[0], 1, height, width)
    for y in range(height):
        for x in range(width):
            out[:, 0, y, x] = keep[:, 0, y // block, x // block]
    return out


def test_block_mask_is_binary_and_constant_on_each_block():
    mask = block_mask(3, 32, 40, 0.7, 8, generator=torch.Generator().manual_seed(1))
    assert mask.shape == (3, 1, 32, 40) and mask.dtype == torch.float32
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    # each 8 x 8 block holds one value: the grid is the mask at the blocks' top-left pixels
    grid = mask[:, :, ::8, ::8]
    assert grid.shape == (3, 1, 4, 5)
    torch.testing.assert_close(mask, _by_definition(grid, 8, 32, 40), rtol=0, atol=0)
    # a block is kept when its uniform draw is >= mask_ratio (kept with probability 1 - mask_ratio)
    draws = torch.rand((3, 1, 4, 5), generator=torch.Generator().manual_seed(1))
    assert torch.equal(grid, (draws >= 0.7).float())
    # the same seed gives the same masks, images of a batch get their own
    assert torch.equal(mask, block_mask(3, 32, 40, 0.7, 8, generator=torch.Generator().manual_seed(1)))
    assert not torch.equal(mask[0], mask[1])


def test_partial_border_blocks_belong_to_their_block():
    # 20 x 13 with 8-pixel blocks: a 3 x 2 grid whose last row (4 rows) and column (5 columns) are cut
    draws = torch.rand((2, 1, 3, 2), generator=torch.Generator().manual_seed(3))
    mask = block_mask(2, 20, 13, 0.5, 8, generator=torch.Generator().manual_seed(3))
    assert mask.shape == (2, 1, 20, 13)
    keep = (draws >= 0.5).float()
    torch.testing.assert_close(mask, _by_definition(keep, 8, 20, 13), rtol=0, atol=0)
    assert torch.equal(mask[:, :, 16:, 8:], keep[:, :, 2:, 1:].expand(-1, -1, 4, 5))  # the corner block
    # hand-checked: a 1 x 1 grid covers a 5 x 3 image smaller than one block
    tiny = block_mask(4, 5, 3, 0.5, 8, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(t, torch.full_like(t, t[0, 0, 0].item())) for t in tiny)


def test_kept_share_is_one_minus_the_mask_ratio():
    gen = torch.Generator().manual_seed(0)
    # 2000 images of 8 x 8 blocks: 128 000 blocks, binomial std of the share 0.0013
    mask = block_mask(2000, 64, 64, 0.7, 8, generator=gen)
    assert abs(mask.mean().item() - 0.3) < 0.01
    assert abs(block_mask(2000, 64, 64, 0.2, 8, generator=gen).mean().item() - 0.8) < 0.01
    assert torch.all(block_mask(4, 64, 64, 0.0, 8, generator=gen) == 1)  # ratio 0 keeps everything


def test_mask_images_zeroes_masked_pixels_and_keeps_the_others():
    images = torch.randn(2, 3, 16, 16) + 5.0  # no zeros of its own
    mask = block_mask(2, 16, 16, 0.5, 4, generator=torch.Generator().manual_seed(0))
    out = mask_images(images, mask)
    hidden = (mask == 0).expand_as(images)
    assert hidden.any() and (~hidden).any()
    assert torch.all(out[hidden] == 0) and torch.equal(out[~hidden], images[~hidden])


def test_mic_options_defaults_and_errors():
    assert MICOptions.from_cfg(None) is None
    assert MICOptions.from_cfg({}) == MICOptions(mask_ratio=0.7, block_size=64, loss_weight=1.0)
    with pytest.raises(DaspmInputError,
                       match=r"^model\.mic has no option 'mask_ration'; did you mean mask_ratio\?$"):
        MICOptions.from_cfg(dict(mask_ration=0.7))
    with pytest.raises(DaspmInputError,
                       match=r"model\.mic has no option 'lambda_'; its options: block_size, loss_weight, mask_ratio"):
        MICOptions.from_cfg(dict(mask_ratio=0.7, lambda_=1.0))
    for bad in (dict(mask_ratio=1.0), dict(mask_ratio=-0.1), dict(block_size=0), dict(loss_weight=-1.0)):
        with pytest.raises(ValueError):
            MICOptions.from_cfg(bad)


# ------------------------------------------------------------------------------- DACS with MIC
def _make_confident(model, scale: float = 50.0, boost: float = 2.0) -> None:
    """Spread the classifier's logits so that about a quarter of the target passes 0.968 (see test_dacs)."""
    with torch.no_grad():
        model.model.decode_head.conv_seg.weight.mul_(scale)
        model.model.decode_head.conv_seg.bias[2] += boost


def _run(mic, target_shapes=None) -> dict:
    """One DACS step (iteration 1, teacher = student, no optimizer step) from the same start.

    Returns the model, the starting student, the batch, the log and the student's gradients.
    """
    _, model, wrapper = build_dacs(deterministic=True, accumulate=2, mic=mic)
    _make_confident(model)
    model.ema_model.load_state_dict(model.model.state_dict())
    start = copy.deepcopy(model.model)
    batch = make_batch(target_shapes=target_shapes)
    MessageHub.get_current_instance().update_info('iter', 1)
    log = model.train_step(copy.copy(batch), wrapper)
    # mmengine divides each loss by the accumulation count (2)
    grads = [torch.zeros_like(p) if p.grad is None else 2.0 * p.grad.detach().clone()
             for p in model.model.parameters()]
    return dict(model=model, start=start, batch=batch, log=log, grads=grads)


@pytest.fixture(scope='module')
def runs():
    """DACS steps keyed by MIC loss weight (None: MIC off), computed once each when first used."""
    cache: dict = {}

    def get(loss_weight):
        if loss_weight not in cache:
            cache[loss_weight] = _run(None if loss_weight is None else dict(MIC, loss_weight=loss_weight))
        return cache[loss_weight]
    return get


def _expected_masked_image(model, generator_state: torch.Tensor, mask_ratio: float = 0.7,
                           block: int = BLOCK) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(augmented target, block mask, masked image) replayed from the generator state after DACS's draws.

    MIC draws after DACS, so a run without MIC ends with the generator where MIC starts.
    """
    gen = torch.Generator().manual_seed(0)
    gen.set_state(generator_state)
    target = model.debug_output['target_image']
    augmented = strong_augment(
        target, model.data_preprocessor.mean.flatten().tolist(), model.data_preprocessor.std.flatten().tolist(),
        color_jitter_p=model.color_jitter_probability, color_jitter_strength=model.color_jitter_strength,
        hue_strength=model.color_jitter_hue, blur_p=0.5 if model.blur else 0.0, generator=gen,
        value_scale=model.value_scale, clamp=model.clamp_jitter)
    b, _, h, w = target.shape
    mask = block_mask(b, h, w, mask_ratio, block, generator=gen)
    return augmented, mask, augmented * mask


def _teacher_pseudo_labels(model, images: torch.Tensor, valid: torch.Tensor | None = None):
    """Argmax of the teacher (dropout off, BN on batch statistics) and the confident share."""
    teacher = copy.deepcopy(model.ema_model).train()
    with torch.no_grad():
        logits = resize(teacher.decode_head(teacher.extract_feat(images)), size=images.shape[-2:],
                        mode='bilinear', align_corners=False)
    max_prob, label = torch.softmax(logits, dim=1).max(dim=1)
    valid = torch.ones_like(label, dtype=torch.bool) if valid is None else valid
    share = ((max_prob >= model.pseudo_threshold) & valid).sum().item() / valid.sum().item()
    return label, share


def _masked_ce(student, images: torch.Tensor, label: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean over all pixels of weight * -log softmax(student(images))[label] (logits upsampled bilinearly)."""
    logits = resize(student.decode_head(student.extract_feat(images)), size=label.shape[-2:],
                    mode='bilinear', align_corners=False)
    ce = -F.log_softmax(logits, dim=1).gather(1, label.unsqueeze(1))[:, 0]
    return (weight * ce).mean()


def _combine(*terms):
    return [sum(c * g[i] for c, g in terms) for i in range(len(terms[0][1]))]


def _norm(grads) -> float:
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))


def _assert_grads_close(actual, expected, atol=2e-6, rtol=1e-3):
    for i, (a, e) in enumerate(zip(actual, expected)):
        torch.testing.assert_close(a, e, atol=atol, rtol=rtol, msg=lambda m: f'parameter {i}: {m}')


def test_masked_image_is_the_augmented_target_times_the_block_mask(runs):
    off, on = runs(None), runs(1.0)
    debug = on['model'].debug_output
    augmented, mask, expected = _expected_masked_image(off['model'], off['model'].generator.get_state())
    # the masked pixels are exactly 0, the kept ones exactly the augmented target
    assert torch.equal(debug['mic_mask'], mask)
    assert 0 < mask.mean() < 1
    hidden = (mask == 0).expand_as(expected)
    assert torch.all(debug['masked_image'][hidden] == 0)
    assert torch.equal(debug['masked_image'][~hidden], augmented[~hidden])
    # augmented with DACS's strong augmentation (own draws): not the plain target
    kept_change = ((augmented - debug['target_image']) * mask).abs().amax()
    assert kept_change > 0.01
    # DACS's own part is the same with MIC: same mixed image (same draws), same losses
    torch.testing.assert_close(debug['mixed_image'], off['model'].debug_output['mixed_image'], rtol=0, atol=0)


def test_masked_loss_uses_the_pseudo_labels_and_weight_of_the_unmasked_padded_target():
    # the second target crop is smaller than the batch: its padding has pseudo-weight 0
    shapes = [(CROP, CROP), (40, 48)]
    run = _run(MIC, target_shapes=shapes)
    model, debug = run['model'], run['model'].debug_output
    valid = torch.zeros(2, CROP, CROP, dtype=torch.bool)
    valid[0] = True
    valid[1, :40, :48] = True
    label, share = _teacher_pseudo_labels(model, debug['target_image'], valid)
    assert 0.05 < share < 0.95
    assert torch.equal(debug['pseudo_label'], label)
    weight = torch.where(valid, torch.tensor(share), torch.tensor(0.0))
    torch.testing.assert_close(debug['pseudo_weight'], weight)
    student = copy.deepcopy(run['start']).train()
    with torch.no_grad():
        expected = _masked_ce(student, debug['masked_image'], label, weight)
        # the teacher's labels of the masked image differ: the test tells them apart
        masked_label, _ = _teacher_pseudo_labels(model, debug['masked_image'], valid)
        assert (masked_label != label).float().mean() > 0.05
        other = _masked_ce(student, debug['masked_image'], masked_label, weight)
        unweighted = _masked_ce(student, debug['masked_image'], label, torch.ones_like(weight))
    logged = run['log']['masked.decode.loss_ce']
    torch.testing.assert_close(torch.as_tensor(logged), expected, rtol=1e-4, atol=1e-6)
    assert abs(float(other) - float(expected)) > 1e-3 * float(expected)
    assert abs(float(unweighted) - float(expected)) > 1e-3 * float(expected)


def test_student_gradient_with_mic_is_dacs_plus_the_masked_part_by_its_definition(runs):
    off, on = runs(None), runs(1.0)
    model = off['model']
    _, _, masked = _expected_masked_image(model, model.generator.get_state())
    label, share = _teacher_pseudo_labels(model, model.debug_output['target_image'])
    assert 0.05 < share < 0.95 and float(on['log']['pseudo_weight']) == pytest.approx(share)
    student = copy.deepcopy(on['start']).train()
    loss = _masked_ce(student, masked, label, torch.full_like(label, share, dtype=torch.float32))
    part = [torch.zeros_like(p) if g is None else g for p, g in zip(
        student.parameters(), torch.autograd.grad(loss, list(student.parameters()), allow_unused=True))]
    assert _norm(part) > 0
    _assert_grads_close(on['grads'], _combine((1.0, off['grads']), (1.0, part)))
    assert _norm(_combine((1.0, on['grads']), (-1.0, off['grads']))) > 0.5 * _norm(part)
    # the loss weight scales the part: 0 adds nothing, 2 doubles it
    _assert_grads_close(runs(0.0)['grads'], off['grads'])
    _assert_grads_close(runs(2.0)['grads'], _combine((1.0, off['grads']), (2.0, part)))
    torch.testing.assert_close(torch.as_tensor(runs(2.0)['log']['masked.decode.loss_ce']),
                               2 * torch.as_tensor(on['log']['masked.decode.loss_ce']))


def test_mic_off_is_plain_dacs_and_mic_on_adds_its_log_entries(runs):
    off, on = runs(None), runs(1.0)
    assert off['model'].mic is None
    assert set(off['log']) == DACS_KEYS
    assert 'masked_image' not in off['model'].debug_output
    assert set(on['log']) == DACS_KEYS | MIC_KEYS
    for key in DACS_KEYS - {'loss'}:  # DACS's part of the step is unchanged
        torch.testing.assert_close(torch.as_tensor(on['log'][key]), torch.as_tensor(off['log'][key]),
                                   rtol=0, atol=0, msg=key)
    torch.testing.assert_close(torch.as_tensor(on['log']['loss']),
                               torch.as_tensor(off['log']['loss'] + on['log']['masked.decode.loss_ce']))


def test_debug_grid_shows_the_masked_image(runs, tmp_path):
    debug = runs(1.0)['model'].debug_output
    path = DebugImageHook(max_images=1).write_grid(debug, None, tmp_path / 'grid.png')
    assert cv2.imread(str(path)).shape[1] == round(1.6 * (len(PANELS) + 1) * 80)
    plain = DebugImageHook(max_images=1).write_grid(runs(None)['model'].debug_output, None, tmp_path / 'p.png')
    assert cv2.imread(str(plain)).shape[1] == round(1.6 * len(PANELS) * 80)


# ------------------------------------------------------------------------------- configs
@pytest.mark.parametrize('twin, mic_config, block', [
    ('synthetic_uda_rcs_fd_daformer_mitb0', 'synthetic_uda_mic_rcs_fd_daformer_mitb0', 32),
    ('synthetic_uda_warm_s2sim_pixel_daformer_mitb0', 'synthetic_uda_warm_s2sim_pixel_mic_daformer_mitb0', 32),
    ('gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0',
     'gaofen2sentinel_uda_warm_fdthings_rcs_croppl_a999_mic_daformer_mitb5_s0', 64),
])
def test_mic_configs_are_their_twins_plus_the_mic_option(twin, mic_config, block):
    plain = Config.fromfile(str(REPO / 'configs/daspm' / f'{twin}.py')).to_dict()
    with_mic = Config.fromfile(str(REPO / 'configs/daspm' / f'{mic_config}.py')).to_dict()
    assert 'mic' not in plain['model']
    mic = with_mic['model'].pop('mic')
    assert mic == dict(mask_ratio=0.7, block_size=block, loss_weight=1.0)
    assert MICOptions.from_cfg(mic).block_size == block
    assert with_mic == plain


def test_mic_base_is_the_final_recipe_base_plus_mic():
    base = REPO / 'configs/_base_/uda'
    plain = Config.fromfile(str(base / 'dacs_a999_fdthings.py')).to_dict()
    with_mic = Config.fromfile(str(base / 'dacs_a999_fdthings_mic.py')).to_dict()
    assert with_mic['uda'].pop('mic') == dict(mask_ratio=0.7, block_size=64, loss_weight=1.0)
    assert with_mic == plain
