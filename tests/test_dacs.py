"""DACS train_step semantics: teacher EMA over real steps, each loss part's gradient against its
definition (METHOD.md), pseudo-labels on padded batches, evaluation model, checkpoint round trip."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from dacs_helpers import CROP, SOURCE_BLOCKS, build_dacs, make_batch
from daspm.apis.checkpoint import load_checkpoint_checked

FD_CLASSES = (1, 2, 3)  # the synthetic config's FD "things"
FD_LAMBDA = 0.005


@pytest.fixture()
def dacs_setup():
    cfg, model, wrapper = build_dacs()
    return cfg, model, wrapper, make_batch()


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _step(model, wrapper, batch, iteration):
    MessageHub.get_current_instance().update_info('iter', iteration)
    return model.train_step(copy.copy(batch), wrapper)


def test_teacher_is_copied_then_averaged_with_the_ema_formula(dacs_setup):
    _, model, wrapper, batch = dacs_setup
    student_0 = _params(model.model)
    _step(model, wrapper, batch, 0)
    for teacher, start in zip(model.ema_model.parameters(), student_0):
        torch.testing.assert_close(teacher, start)  # iteration 0: teacher = student before the step
    assert not any(p.requires_grad for p in model.ema_model.parameters())
    student_1 = _params(model.model)
    assert any(not torch.equal(a, b) for a, b in zip(student_0, student_1)), 'the optimizer step did nothing'
    _step(model, wrapper, batch, 1)
    alpha = min(1 - 1 / 2, 0.99)  # a = min(1 - 1/(iter+1), alpha) at iteration 1
    for teacher, s0, s1 in zip(model.ema_model.parameters(), student_0, student_1):
        torch.testing.assert_close(teacher, alpha * s0 + (1 - alpha) * s1)


def test_losses_and_pseudo_weight_are_logged(dacs_setup):
    _, model, wrapper, batch = dacs_setup
    log = _step(model, wrapper, batch, 0)
    for key in ('src.decode.loss_ce', 'src.loss_imnet_feat_dist', 'mix.decode.loss_ce', 'pseudo_weight', 'loss'):
        assert key in log and torch.isfinite(torch.as_tensor(log[key]))
    total = log['src.decode.loss_ce'] + log['src.loss_imnet_feat_dist'] + log['mix.decode.loss_ce']
    torch.testing.assert_close(torch.as_tensor(log['loss']), torch.as_tensor(total))
    assert 0.0 <= float(log['pseudo_weight']) <= 1.0
    debug = model.debug_output
    assert debug['mixed_image'].shape == (2, 3, CROP, CROP) and debug['fd_mask'].dtype == torch.bool
    # the logged FD mask share is the share of feature cells in the mask the loss used
    assert float(log['fd_mask_share']) == debug['fd_mask'].float().mean().item()
    # mixed labels come from the source where the mask is set, from the pseudo-labels elsewhere
    mask = debug['mix_mask'].bool()
    assert torch.equal(debug['mixed_label'][mask], debug['source_label'][mask])
    assert torch.equal(debug['mixed_label'][~mask], debug['pseudo_label'].unsqueeze(1)[~mask])


def test_evaluation_uses_student_or_teacher(dacs_setup):
    _, model, wrapper, batch = dacs_setup
    _step(model, wrapper, batch, 0)
    _step(model, wrapper, batch, 1)
    model.eval()
    data = model.data_preprocessor(dict(inputs=batch['target_inputs'], data_samples=batch['target_data_samples']))
    with torch.no_grad():
        student = model(data['inputs'], data['data_samples'], mode='tensor')
        model.eval_with = 'teacher'
        teacher = model(data['inputs'], data['data_samples'], mode='tensor')
        torch.testing.assert_close(teacher, model.ema_model._forward(data['inputs'], data['data_samples']))
    assert not torch.allclose(student, teacher)


def test_checkpoint_round_trip_restores_teacher_and_imagenet_model(dacs_setup, tmp_path):
    cfg, model, wrapper, batch = dacs_setup
    _step(model, wrapper, batch, 0)
    _step(model, wrapper, batch, 1)
    path = tmp_path / 'iter_2.pth'
    torch.save(dict(meta=dict(iter=2), state_dict=model.state_dict()), path)
    restored = MODELS.build(copy.deepcopy(cfg.model))
    ckpt = load_checkpoint_checked(restored, path)
    assert ckpt['meta']['iter'] == 2
    for part in ('model', 'ema_model', 'imnet_model'):
        for (name, a), b in zip(getattr(model, part).state_dict().items(), getattr(restored, part).state_dict().values()):
            torch.testing.assert_close(a, b, msg=f'{part}.{name}')


def test_gradient_accumulation_steps_once_per_accumulated_iterations(dacs_setup):
    cfg, model, _, batch = dacs_setup
    wrapper = build_optim_wrapper(model, dict(copy.deepcopy(cfg.optim_wrapper), accumulative_counts=2))
    wrapper.initialize_count_status(model, 0, 4)
    start = _params(model.model)
    _step(model, wrapper, batch, 0)  # three backward passes, no optimizer step yet
    assert all(torch.equal(a, b) for a, b in zip(start, _params(model.model)))
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.model.parameters())
    _step(model, wrapper, batch, 1)  # second iteration: one step for the accumulated gradients
    assert any(not torch.equal(a, b) for a, b in zip(start, _params(model.model)))
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.model.parameters())


# ------------------------------------------------------------- each loss part against its definition
def _make_confident(model, scale: float = 50.0, boost: float = 2.0) -> None:
    """Spread the classifier's logits so the (copied) teacher is confident on part of the target.

    Freshly initialised logits are almost constant (std 0.07): every pixel would be on the same
    side of the threshold. Scaled by 50 (std about 3.4) about a quarter of the pixels pass 0.968.
    """
    with torch.no_grad():
        model.model.decode_head.conv_seg.weight.mul_(scale)
        model.model.decode_head.conv_seg.bias[2] += boost


def _grads(module) -> list[torch.Tensor]:
    return [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone() for p in module.parameters()]


def _logits_at_input_size(segmentor, images: torch.Tensor) -> torch.Tensor:
    """The segmentor's logits upsampled bilinearly to the (padded) input, without gradients."""
    with torch.no_grad():
        return resize(segmentor.decode_head(segmentor.extract_feat(images)), size=images.shape[-2:],
                      mode='bilinear', align_corners=False)


def _ce_map(logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Per-pixel cross-entropy -log softmax(logits)[label], logits upsampled bilinearly to the label."""
    logits = resize(logits, size=label.shape[-2:], mode='bilinear', align_corners=False)
    return -F.log_softmax(logits, dim=1).gather(1, label.view(label.shape[0], 1, *label.shape[-2:]))[:, 0]


def _train_step_grads(threshold: float = 0.968, fd_lambda: float = FD_LAMBDA,
                      **uda_options):
    """One DACS step from the same start; the student's gradients (no optimizer step) and
    everything needed to recompute the loss parts by hand.

    The step runs as iteration 1 with the teacher equal to the student, and the frozen "ImageNet"
    model keeps its own initialisation: at iteration 0 it would be a copy of the student and the
    feature distance (and its gradient) exactly zero.
    """
    _, model, wrapper = build_dacs(deterministic=True, accumulate=2, pseudo_threshold=threshold,
                                   imnet_feature_dist_lambda=fd_lambda, **uda_options)
    _make_confident(model)
    model.ema_model.load_state_dict(model.model.state_dict())
    start = copy.deepcopy(model.model)
    batch = make_batch()
    MessageHub.get_current_instance().update_info('iter', 1)
    log = model.train_step(copy.copy(batch), wrapper)
    # mmengine divides each loss by the accumulation count (2) so that accumulated steps average
    return model, start, batch, log, [2.0 * g for g in _grads(model.model)]


def _hand_parts(model, start, batch):
    """The three loss parts recomputed from their definitions on a copy of the starting student."""
    pre = model.data_preprocessor
    src = pre(dict(inputs=batch['inputs'], data_samples=batch['data_samples']), True)
    tgt = pre(dict(inputs=batch['target_inputs'], data_samples=batch['target_data_samples']), True)
    src_label = torch.stack([s.gt_sem_seg.data for s in src['data_samples']])[:, 0].long()
    debug = model.debug_output

    # the teacher (= the starting student here) predicts without dropout, BN on batch statistics
    t_logits = _logits_at_input_size(copy.deepcopy(model.ema_model).train(), tgt['inputs'])
    max_prob, pseudo = torch.softmax(t_logits, dim=1).max(dim=1)
    share = (max_prob >= model.pseudo_threshold).float().mean()

    student = copy.deepcopy(start).train()
    imnet = copy.deepcopy(model.imnet_model).eval() if model.imnet_model is not None else None
    feats = student.extract_feat(src['inputs'])
    # source: mean cross-entropy over all pixels
    l_src = _ce_map(student.decode_head(feats), src_label).mean()
    # FD: lambda * mean over masked stride-32 cells of the L2 distance of the deepest features;
    # the 32x32 label blocks make each cell's downscaled label its block's class
    assert feats[-1].shape[-2:] == (CROP // 32, CROP // 32)
    cell_label = src_label[:, ::32, ::32]
    mask = torch.isin(cell_label, torch.tensor(FD_CLASSES))
    if imnet is not None:
        with torch.no_grad():
            imnet_feat = imnet.extract_feat(src['inputs'])[-1]
        dist = (feats[-1] - imnet_feat).pow(2).sum(dim=1).sqrt()
        l_fd = model.fd_lambda * dist[mask].mean()
    else:
        l_fd = feats[-1].sum() * 0
    # mixed: cross-entropy weighted 1 on pasted source pixels and the pseudo-weight elsewhere
    mix_mask = debug['mix_mask'][:, 0]
    mixed_label = debug['mixed_label'][:, 0]
    assert torch.equal(mixed_label, torch.where(mix_mask.bool(), src_label, pseudo))
    mix_ce = _ce_map(student.decode_head(student.extract_feat(debug['mixed_image'])), mixed_label)
    l_pasted = (mix_mask * mix_ce).mean()
    l_target = ((1 - mix_mask) * mix_ce).mean()  # per unit of pseudo-weight

    def grad(loss):
        return [torch.zeros_like(p) if g is None else g for p, g in zip(
            student.parameters(), torch.autograd.grad(loss, list(student.parameters()),
                                                      retain_graph=True, allow_unused=True))]

    return dict(share=share.item(), mask=mask, src=grad(l_src), fd=grad(l_fd), pasted=grad(l_pasted),
                target=grad(l_target), pseudo=pseudo)


def _assert_grads_close(actual, expected, atol=2e-6, rtol=1e-3):
    for i, (a, e) in enumerate(zip(actual, expected)):
        torch.testing.assert_close(a, e, atol=atol, rtol=rtol, msg=lambda m: f'parameter {i}: {m}')


def _combine(*terms):
    """sum of coefficient * gradient list."""
    return [sum(c * g[i] for c, g in terms) for i in range(len(terms[0][1]))]


def _norm(grads) -> float:
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))


def test_student_gradient_is_the_sum_of_the_three_parts_by_their_definitions():
    model, start, batch, log, grads = _train_step_grads()
    parts = _hand_parts(model, start, batch)
    # the fixture exercises every path with non-zero values
    assert 0.05 < parts['share'] < 0.95
    assert float(log['pseudo_weight']) == pytest.approx(parts['share'])
    assert parts['mask'].any() and not parts['mask'].all()
    torch.testing.assert_close(model.debug_output['pseudo_label'], parts['pseudo'])
    for name in ('src', 'fd', 'pasted', 'target'):
        assert _norm(parts[name]) > 0, name
    expected = _combine((1.0, parts['src']), (1.0, parts['fd']), (1.0, parts['pasted']),
                        (parts['share'], parts['target']))
    _assert_grads_close(grads, expected)
    # and not without any one of them
    for name, coef in (('fd', 1.0), ('target', parts['share']), ('src', 1.0)):
        partial = _combine((1.0, expected), (-coef, parts[name]))
        assert _norm(_combine((1.0, grads), (-1.0, partial))) > 0.05 * _norm(_combine((coef, parts[name]))), name


def test_feature_distance_gradient_scales_with_lambda_and_vanishes_when_off():
    runs = {lam: _train_step_grads(fd_lambda=lam) for lam in (0.0, FD_LAMBDA, 2 * FD_LAMBDA)}
    off = runs[0.0][4]
    fd_1 = _combine((1.0, runs[FD_LAMBDA][4]), (-1.0, off))
    fd_2 = _combine((1.0, runs[2 * FD_LAMBDA][4]), (-1.0, off))
    parts = _hand_parts(*runs[FD_LAMBDA][:3])
    assert _norm(fd_1) > 0
    _assert_grads_close(fd_1, parts['fd'])
    _assert_grads_close(fd_2, _combine((2.0, parts['fd'])))
    # off: no ImageNet model, no FD log entry, the gradient is source + mixed only
    model_off, start_off, batch_off, log_off, _ = runs[0.0]
    assert model_off.imnet_model is None and 'src.loss_imnet_feat_dist' not in log_off
    parts_off = _hand_parts(model_off, start_off, batch_off)
    _assert_grads_close(off, _combine((1.0, parts_off['src']), (1.0, parts_off['pasted']),
                                      (parts_off['share'], parts_off['target'])))


def test_target_gradient_scales_with_the_pseudo_weight_and_vanishes_at_zero():
    # the pseudo-weight is the mixed target pixels' loss weight: the confident share
    grads, shares = {}, {}
    for threshold in (0.9, 0.968, 1.01):
        model, start, batch, log, g = _train_step_grads(threshold=threshold)
        grads[threshold] = g
        shares[threshold] = _hand_parts(model, start, batch)['share']
        assert float(log['pseudo_weight']) == pytest.approx(shares[threshold])
    assert shares[1.01] == 0.0 and shares[0.9] > shares[0.968] > 0
    unit = {t: _combine((1 / shares[t], grads[t]), (-1 / shares[t], grads[1.01])) for t in (0.9, 0.968)}
    assert _norm(unit[0.9]) > 0
    _assert_grads_close(unit[0.9], unit[0.968], atol=1e-5, rtol=1e-2)
    # without ClassMix and with pseudo-weight 0 nothing of the target reaches the student
    model, start, batch, _, g_off = _train_step_grads(threshold=1.01, mix=None)
    parts = _hand_parts(model, start, batch)
    _assert_grads_close(g_off, _combine((1.0, parts['src']), (1.0, parts['fd'])))


# ------------------------------------------------------------------------------- teacher
def test_teacher_pseudo_labels_are_deterministic_without_dropout_and_use_batch_statistics():
    _, model, _ = build_dacs()  # the config's dropout 0.1 and drop-path 0.1 are on
    dropouts = [m for m in model.ema_model.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    drop_paths = [m for m in model.ema_model.modules() if type(m).__name__ == 'DropPath']
    assert any(m.p > 0 for m in dropouts) and any(m.drop_prob > 0 for m in drop_paths)
    batch = make_batch()
    tgt = model.data_preprocessor(dict(inputs=batch['target_inputs'],
                                       data_samples=batch['target_data_samples']), True)
    first = model._pseudo_label(tgt["inputs"])
    second = model._pseudo_label(tgt["inputs"])
    assert torch.equal(first[0], second[0]) and first[2] == second[2]
    # the same as the teacher in eval mode for dropout / drop-path, train mode for BN
    reference = copy.deepcopy(model.ema_model).train()
    for module in reference.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd) or type(module).__name__ == 'DropPath':
            module.eval()
    logits = _logits_at_input_size(reference, tgt['inputs'])
    torch.testing.assert_close(first[0], logits.argmax(dim=1))
    # BN running statistics would give other labels: the teacher does not use them
    eval_logits = _logits_at_input_size(copy.deepcopy(model.ema_model).eval(), tgt['inputs'])
    assert not torch.allclose(eval_logits, logits, atol=1e-3)


# ------------------------------------------------------------------------------- padding
def test_padded_target_crops_get_pseudo_labels_of_the_batch_size_and_no_weight_on_padding():
    # one target crop is smaller than the crop size: the preprocessor pads it (bottom, right)
    shapes = [(CROP, CROP), (40, 48)]
    _, model, wrapper = build_dacs(deterministic=True)
    _make_confident(model)
    batch = make_batch(target_shapes=shapes)
    MessageHub.get_current_instance().update_info('iter', 0)
    log = model.train_step(copy.copy(batch), wrapper)
    debug = model.debug_output
    assert debug['pseudo_label'].shape == (2, CROP, CROP)
    weight = debug['pseudo_weight']
    assert torch.all(weight[1, 40:, :] == 0) and torch.all(weight[1, :, 48:] == 0)
    assert torch.all(weight[1, :40, :48] == weight[0, 0, 0]) and weight[0, 0, 0] > 0
    # the confident share counts the image pixels only
    tgt = model.data_preprocessor(dict(inputs=batch['target_inputs'],
                                       data_samples=batch['target_data_samples']), True)
    probs = torch.softmax(_logits_at_input_size(copy.deepcopy(model.ema_model).train(), tgt['inputs']), dim=1)
    confident = probs.max(dim=1).values >= model.pseudo_threshold
    valid = torch.zeros_like(confident)
    valid[0] = True
    valid[1, :40, :48] = True
    assert float(log['pseudo_weight']) == pytest.approx((confident & valid).sum().item() / valid.sum().item())
    assert float(log['tgt_pad_share']) == pytest.approx(1 - valid.float().mean().item())
    # the reference's behaviour stays one switch away: padding counted and weighted
    _, ref_model, ref_wrapper = build_dacs(deterministic=True, ignore_padding=False)
    _make_confident(ref_model)
    ref_model.train_step(copy.copy(batch), ref_wrapper)
    assert torch.all(ref_model.debug_output['pseudo_weight'] > 0)


def test_imagenet_model_is_the_students_start_and_stays_frozen(dacs_setup):
    _, model, wrapper, batch = dacs_setup
    start = {k: v.clone() for k, v in model.model.state_dict().items()}
    assert any(not torch.equal(v, start[k]) for k, v in model.imnet_model.state_dict().items())  # own init
    _step(model, wrapper, batch, 0)
    for name, value in model.imnet_model.state_dict().items():
        torch.testing.assert_close(value, start[name], msg=name)  # iteration 0: the student's start
    assert not any(p.requires_grad for p in model.imnet_model.parameters())
    _step(model, wrapper, batch, 1)
    for name, value in model.imnet_model.state_dict().items():
        torch.testing.assert_close(value, start[name], msg=name)  # never updated


def test_mixed_images_are_class_mixed_then_strongly_augmented():
    batch = make_batch()

    def mixed(**options):
        _, model, wrapper = build_dacs(deterministic=True, **options)
        MessageHub.get_current_instance().update_info('iter', 0)
        model.train_step(copy.copy(batch), wrapper)
        debug = model.debug_output
        m = debug['mix_mask']
        return debug['mixed_image'], m * debug['source_image'] + (1 - m) * debug['target_image']

    plain, formula = mixed(color_jitter_probability=0.0, blur=False)
    torch.testing.assert_close(plain, formula)  # mask * source + (1 - mask) * target
    augmented, formula = mixed()
    assert (augmented - formula).abs().flatten(1).amax(1).max() > 0.01


def test_classmix_reads_the_source_classes_before_any_forward_pass_of_the_step(dacs_setup, monkeypatch):
    """ClassMix takes the classes of the loader's labels (on the host: no wait for the device), its
    masks come before the step's kernels are queued, and they are those the step's generator draws first."""
    import daspm.models.uda.dacs as dacs_module
    from daspm.models.uda.class_mix import class_mix_masks

    _, model, wrapper, batch = dacs_setup
    events = []
    given_classes = []
    generator_state = model.generator.get_state()

    def recording_masks(labels, ignore_index=255, generator=None, classes=None):
        events.append('classmix')
        given_classes.append(classes)
        return class_mix_masks(labels, ignore_index, generator=generator, classes=classes)

    for name, segmentor in (('student', model.model), ('teacher', model.ema_model), ('imagenet', model.imnet_model)):
        original = segmentor.extract_feat
        monkeypatch.setattr(segmentor, 'extract_feat',
                            lambda inputs, _name=name, _original=original: events.append(_name) or _original(inputs))
    monkeypatch.setattr(dacs_module, 'class_mix_masks', recording_masks)
    _step(model, wrapper, batch, 0)
    assert events[0] == 'classmix' and events.count('classmix') == 1, events
    assert {'student', 'teacher', 'imagenet'} <= set(events[1:]), events
    # the classes of each loader label, sorted (the blocks of dacs_helpers.SOURCE_BLOCKS)
    assert given_classes == [[sorted({c for row in SOURCE_BLOCKS for c in row})] * len(batch['data_samples'])]
    # the same masks as drawing first from the generator the step started with, classes read from the batch
    generator = torch.Generator().manual_seed(0)
    generator.set_state(generator_state)
    expected = class_mix_masks(model.debug_output['source_label'], model.ignore_index, generator=generator)
    assert torch.equal(model.debug_output['mix_mask'], expected)
    assert 0 < float(expected.mean()) < 1, 'the check needs masks that paste some classes and not all'


def test_eval_with_does_not_change_training():
    """The teacher rows of benchmarks/adaptation_shifts.py test a run trained with eval_with='student'."""
    states = []
    for eval_with in ('student', 'teacher'):
        _, model, wrapper = build_dacs(eval_with=eval_with)
        batch = make_batch()
        torch.manual_seed(1)
        for iteration in range(2):
            _step(model, wrapper, batch, iteration)
        states.append(model.state_dict())
    assert states[0].keys() == states[1].keys()
    for name, value in states[0].items():
        assert torch.equal(value, states[1][name]), name
    # the teacher's batch-norm statistics are its own (target batches in training mode), not the student's
    bn = [n for n in states[0] if n.endswith('running_mean')]
    assert any(not torch.equal(states[0][n], states[0][n.replace('ema_model.', 'model.', 1)])
               for n in bn if n.startswith('ema_model.'))
