"""DACS self-training with a mean teacher (DAFormer's UDA algorithm), as specified in METHOD.md."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor, nn

from ...utils.device import batch_to_device
from ...utils.errors import DaspmInputError
from ...utils.options import refuse_unknown_options
from .accuracy import pixel_accuracy
from .class_mix import class_mix, class_mix_masks, host_label_classes
from .compile import compile_options, compile_segmentor
from .ema import TeacherEMA
from .feature_distance import feature_distance_loss, feature_distance_mask
from .image_nodata import both, image_data_mask
from .masking import MICOptions, block_mask, mask_images
from .pseudo_label import pseudo_labels_with_confidence
from .strong_augmentation import strong_augment


@MODELS.register_module()
@refuse_unknown_options  # a misspelt option names the nearest one, not a registry traceback
class DACS(BaseModel):
    """Student / EMA teacher / frozen ImageNet model; one ``train_step`` = the eight steps of METHOD.md
    (plus MIC's masked step when ``mic`` is set).

    Args:
        model: config of the segmentor (an mmseg EncoderDecoder) that is trained (the student).
        data_preprocessor: the segmentor's preprocessor config (shared by both domains).
        alpha: EMA coefficient of the teacher (0.99 basic recipe, 0.999 final).
        pseudo_threshold: softmax confidence that counts a target pixel as confident.
        pseudo_margins: (top, bottom, left, right) rows/columns whose pseudo-weight is 0.
        pseudo_weight: 'share' (DACS): every target pixel is weighted by the batch's share of
            confident pixels; 'pixel' (a deviation): each pixel by itself, 1 if confident else 0.
        mix: 'class' for cross-domain ClassMix, None for plain target self-training.
        color_jitter_strength / color_jitter_probability / blur: strong augmentation of mixed images.
        color_jitter_hue: largest hue shift in turns; None = ``color_jitter_strength`` (reference).
        value_scale: the denormalised pixel value of white (1 for inputs scaled to [0, 1], 255 for
            8-bit values with mean/std in 8-bit units); None infers it from the preprocessor's
            mean/std (255 when any of them exceeds 1, else 1).
        clamp_jitter: clamp colour-jitter results to [0, white] after each part, as kornia 0.5.8
            (right for 8-bit inputs); False for inputs test time does not clip (reflectance / c).
        ignore_padding: padded target pixels (crops smaller than the batch) get pseudo-weight 0
            and do not count in the confident share; False counts them as the reference did.
            Target nodata pixels (the sample's ``img_nodata_mask``) get weight 0 either way.
        imnet_feature_dist_lambda: weight of the ImageNet feature distance (0 = off, no ImageNet model).
        imnet_feature_dist_classes: classes whose pixels the FD covers (None = all).
        imnet_feature_dist_scale_min_ratio: majority share a downscaled label cell needs.
        eval_with: 'student' or 'teacher' for validation/testing.
        mic: masked image consistency (MIC, Hoyer et al. CVPR 2023); None (default) = off, plain
            DACS. ``dict(mask_ratio=0.7, block_size=64, loss_weight=1.0)`` (MIC's values; missing
            keys take them): after the mixed step, the target batch is strongly augmented (the
            options above, own draws), masked by random ``block_size`` square blocks (each kept
            with probability 1 - mask_ratio; masked pixels 0 in the normalised input), and the
            student is trained with the weighted cross-entropy against the teacher's pseudo-labels
            and pseudo-weight of the unmasked target (step 4), times ``loss_weight``, with its own
            backward. Logged as ``masked.decode.loss_ce``. Its random draws come after those of
            DACS, so an iteration's DACS part is the same with and without MIC.
        compile: ``torch.compile`` for the forward passes of the student, the teacher and the
            ImageNet model (backbone and decode head; the DACS step itself stays Python). None
            (default) = off; True = torch's defaults (inductor: needs a C++ compiler on the CPU,
            Triton on a GPU); a dict of torch.compile options, e.g. ``dict(mode='max-autotune-no-cudagraphs')``,
            plus ``scope``: 'blocks' (default; the backbone's repeated blocks one by one, which
            share their compiled graphs) or 'whole' (whole forward passes). Parameter names and
            checkpoints are unchanged, so a run may switch it on or off on resume.
        seed: seed of the generator behind ClassMix, strong augmentation and MIC masks. In
            distributed training rank 0 uses it and every other rank a seed derived from
            (seed, rank), so that the processes mix and augment their images differently.

    Distributed training: ``grad_sync``, when set, is called once right before each optimizer
    step, after all backward passes of the iteration (those of accumulated iterations included);
    ``UDADistributedDataParallel`` (the model wrapper of the UDA configs) sets it to average the
    student's gradients over the processes. The teacher and the ImageNet model are not wrapped:
    each process updates its teacher from its own copy of the student, which is the same on all.
    """

    def __init__(self, model: dict, data_preprocessor: dict | None = None, alpha: float = 0.99,
                 pseudo_threshold: float = 0.968, pseudo_margins: Sequence[int] = (0, 0, 0, 0),
                 pseudo_weight: str = 'share',
                 mix: str | None = 'class', color_jitter_strength: float = 0.2,
                 color_jitter_probability: float = 0.8, blur: bool = True,
                 color_jitter_hue: float | None = None, value_scale: float | None = None,
                 clamp_jitter: bool = True, ignore_padding: bool = True,
                 imnet_feature_dist_lambda: float = 0.0, imnet_feature_dist_classes: Sequence[int] | None = None,
                 imnet_feature_dist_scale_min_ratio: float = 0.75, eval_with: str = 'student',
                 mic: dict | None = None, compile: bool | dict | None = None, seed: int = 0,
                 init_cfg: dict | None = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = model.get('data_preprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if eval_with not in ('student', 'teacher'):
            raise ValueError(f"eval_with must be 'student' or 'teacher', got {eval_with!r}")
        if pseudo_weight not in ('share', 'pixel'):
            raise ValueError(f"pseudo_weight must be 'share' or 'pixel', got {pseudo_weight!r}")
        if mix not in ('class', None):
            raise ValueError(f"mix must be 'class' or None, got {mix!r}")
        segmentor_cfg = copy.deepcopy(model)
        segmentor_cfg.pop('data_preprocessor', None)  # DACS preprocesses both domains itself
        self.model = MODELS.build(segmentor_cfg)
        self.ema_model = MODELS.build(copy.deepcopy(segmentor_cfg))
        for param in self.ema_model.parameters():
            param.requires_grad_(False)
        self.fd_lambda = float(imnet_feature_dist_lambda)
        self.imnet_model = None
        if self.fd_lambda > 0:
            self.imnet_model = MODELS.build(copy.deepcopy(segmentor_cfg))
            for param in self.imnet_model.parameters():
                param.requires_grad_(False)
        self.alpha = alpha
        self.pseudo_threshold = pseudo_threshold
        self.pseudo_margins = tuple(int(m) for m in pseudo_margins)
        self.pseudo_weight_mode = pseudo_weight
        self.mix = mix
        self.color_jitter_strength = color_jitter_strength
        self.color_jitter_probability = color_jitter_probability
        self.color_jitter_hue = color_jitter_hue
        self.blur = blur
        self.clamp_jitter = bool(clamp_jitter)
        self.ignore_padding = bool(ignore_padding)
        self.fd_classes = list(imnet_feature_dist_classes) if imnet_feature_dist_classes is not None else None
        self.fd_scale_min_ratio = imnet_feature_dist_scale_min_ratio
        self.eval_with = eval_with
        self.mic = MICOptions.from_cfg(mic)
        self.num_classes = self.model.decode_head.num_classes
        self.ignore_index = self.model.decode_head.ignore_index
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(rank_seed(self.seed, get_rank()))
        self.grad_sync: Callable[[], None] | None = None
        self.local_iter = 0
        self.debug_output: dict = {}
        # the teacher predicts without dropout / drop-path but keeps BN in training mode, as the reference
        self._teacher_dropouts = [m for m in self.ema_model.modules() if _is_dropout(m)]
        self._ema = TeacherEMA(self.ema_model, self.model)
        # the preprocessor's normalisation as lists, for the debug grid and the value scale
        self._mean_std = (self.data_preprocessor.mean.flatten().tolist(),
                          self.data_preprocessor.std.flatten().tolist())
        self.value_scale = float(value_scale) if value_scale is not None \
            else infer_value_scale(*self._mean_std)
        self.compile_options = compile_options(compile)
        if self.compile_options is not None:
            for segmentor in (self.model, self.ema_model, self.imnet_model):
                if segmentor is not None:
                    compile_segmentor(segmentor, self.compile_options)

    def init_weights(self) -> None:
        """Initialise as mmengine does; a warm start (``model.init_cfg`` Pretrained) must name a checkpoint file.

        A warm start loads e.g. a source-only checkpoint into the student, and so into the teacher
        and the ImageNet model, which copy the student at iteration 0.
        """
        init_cfg = self.model.init_cfg
        for cfg in init_cfg if isinstance(init_cfg, list) else [init_cfg]:
            if cfg and cfg.get('type') == 'Pretrained':
                checkpoint = cfg.get('checkpoint')
                if not checkpoint or ('://' not in str(checkpoint) and not Path(checkpoint).is_file()):
                    raise DaspmInputError(
                        f'warm start: checkpoint {checkpoint!r} is not a file; set '
                        'model.model.init_cfg.checkpoint to a checkpoint of the same network, e.g. '
                        '--cfg-options model.model.init_cfg.checkpoint=work_dirs/<exp>/<source-only run>/iter_N.pth')
        super().init_weights()

    # ----------------------------------------------------------------- evaluation
    @property
    def eval_model(self) -> nn.Module:
        """The segmentor used for validation and testing."""
        return self.ema_model if self.eval_with == 'teacher' else self.model

    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        """'predict' and 'tensor' run the evaluation model; training goes through ``train_step``."""
        if mode == 'predict':
            return self.eval_model.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.eval_model._forward(inputs, data_samples)
        if mode == 'loss':
            self._check_gradient_sync()  # mmengine's DDP wrapper trains through here: source-only
            return self.model.loss(inputs, data_samples)
        raise ValueError(f'invalid mode {mode!r}')

    # ------------------------------------------------------------------- training
    def train_step(self, data: dict, optim_wrapper: OptimWrapper) -> dict[str, Tensor]:
        """One UDA iteration: teacher update, source, FD, pseudo-labels, ClassMix, augmentation, mixed step."""
        self._check_gradient_sync()
        iteration = self._iteration()
        # 1. teacher update (iteration 0: copy of the student)
        if self._ema.teacher is not self.ema_model or self._ema.student is not self.model:
            self._ema = TeacherEMA(self.ema_model, self.model)  # a part was replaced (e.g. SyncBN reverted)
        self._ema.update(iteration, self.alpha)
        if iteration == 0 and self.imnet_model is not None:
            # Same weights as the student's start: the ImageNet weights when the config loads them,
            # otherwise the student's own initialisation (a frozen copy, never updated).
            self.imnet_model.load_state_dict(self.model.state_dict())
        log_vars: dict[str, Tensor] = {}
        # ClassMix needs each source label's classes on the host. Read from the loader's labels before
        # the copy, they wait for nothing (batch augments change the labels: then the batch is read)
        src_classes = (host_label_classes(data['data_samples'])
                       if self.mix == 'class' and getattr(self.data_preprocessor, 'batch_augments', None) is None
                       else None)
        data = batch_to_device(data, self.data_preprocessor.device)
        with optim_wrapper.optim_context(self):
            source = self.data_preprocessor(dict(inputs=data['inputs'], data_samples=data['data_samples']), True)
            target = self.data_preprocessor(
                dict(inputs=data['target_inputs'], data_samples=data['target_data_samples']), True)
            src_img, src_samples = source['inputs'], source['data_samples']
            tgt_img = target['inputs']
            src_label = torch.stack([s.gt_sem_seg.data for s in src_samples]).long()
            # The ClassMix masks, drawn before any of the step's kernels are queued. With the classes
            # from the host (above) nothing waits; otherwise reading them waits only for the batch's
            # copy (drawn at step 5 it would wait for the source and FD passes). The draws from
            # self.generator keep their order (nothing before step 5 uses it).
            mix_mask = (class_mix_masks(src_label, self.ignore_index, generator=self.generator,
                                        classes=src_classes)
                        if self.mix == 'class' else None)

            # 2. source step (graph kept for the feature distance)
            src_feats = self.model.extract_feat(src_img)
            src_losses = source_decode_loss(self.model, src_feats, src_samples)
            src_loss, src_log = self.parse_losses(_prefixed(src_losses, 'src'))
            log_vars.update(_without_total(src_log))
            total = src_loss.detach()
            _backward(optim_wrapper, src_loss, retain_graph=self.imnet_model is not None)

            # 3. ImageNet feature distance on the source batch
            fd_mask = None
            if self.imnet_model is not None:
                fd_loss, fd_mask = self._feature_distance(src_img, src_feats[-1], src_label)
                fd_total, fd_log = self.parse_losses({'src.loss_imnet_feat_dist': fd_loss})
                log_vars.update(_without_total(fd_log))
                # share of feature cells FD acts on: at stride 32 few cells reach the label majority
                log_vars['fd_mask_share'] = fd_mask.float().mean()
                total = total + fd_total.detach()
                _backward(optim_wrapper, fd_total)
            del src_feats

            # 4. pseudo-labels of the teacher on the target batch
            # crops smaller than the batch are padded (bottom, right): those pixels hold no image
            valid = unpadded_mask(target['data_samples'], tgt_img.shape[-2:], tgt_img.device)
            # nodata pixels (NaN/Inf input filled by LoadGeoTiff) hold no image either: from the image, not a label
            has_data = image_data_mask(target['data_samples'], tgt_img.shape[-2:], tgt_img.device)
            pseudo_label, pseudo_weight, confident, confident_pixels = self._pseudo_label(
                tgt_img, both(valid if self.ignore_padding else None, has_data))
            # logged as tensors: the logger reads them after the step, so the step never waits for the GPU
            log_vars['pseudo_weight'] = confident.float()
            log_vars['tgt_pad_share'] = (torch.zeros((), device=tgt_img.device) if valid is None
                                         else 1.0 - valid.float().mean())

            # 5. ClassMix across domains, 6. strong augmentation
            if mix_mask is not None:
                mask = mix_mask
                mixed_img, mixed_label, mixed_weight = class_mix(
                    mask, src_img, tgt_img, src_label, pseudo_label, pseudo_weight)
            else:
                mask = torch.zeros_like(src_label, dtype=src_img.dtype)
                mixed_img, mixed_label, mixed_weight = tgt_img, pseudo_label.unsqueeze(1), pseudo_weight
            mixed_img = strong_augment(mixed_img, *self._normalisation(), **self._augmentation_options())

            # 7. mixed step with the pseudo-weight
            mix_logits = self.model.decode_head.forward(self.model.extract_feat(mixed_img))
            mix_losses = weighted_decode_loss(self.model.decode_head, mix_logits, mixed_label, mixed_weight)
            mix_loss, mix_log = self.parse_losses(_prefixed(mix_losses, 'mix'))
            log_vars.update(_without_total(mix_log))
            total = total + mix_loss.detach()
            _backward(optim_wrapper, mix_loss)

            # MIC: the student on the augmented, block-masked target (after DACS's random draws)
            masked_img = mic_mask = None
            if self.mic is not None:
                masked_loss, masked_log, masked_img, mic_mask = self._masked_step(
                    tgt_img, pseudo_label, pseudo_weight)
                log_vars.update(_without_total(masked_log))
                total = total + masked_loss.detach()
                _backward(optim_wrapper, masked_loss)
            log_vars['loss'] = total

        # 8. one optimizer step for the sum of all gradients (averaged over the processes first)
        _step(optim_wrapper, self.grad_sync)
        self.local_iter = iteration + 1
        self.debug_output = dict(
            source_image=src_img.detach(), target_image=tgt_img.detach(), mixed_image=mixed_img.detach(),
            source_label=src_label, pseudo_label=pseudo_label, mix_mask=mask, mixed_label=mixed_label,
            pseudo_weight=pseudo_weight, pseudo_confident=confident_pixels,
            fd_mask=fd_mask, mean=self._mean_std[0], std=self._mean_std[1])
        if self.mic is not None:
            self.debug_output.update(masked_image=masked_img.detach(), mic_mask=mic_mask)
        return log_vars

    def _check_gradient_sync(self) -> None:
        """Refuse to train in several processes when nothing averages the gradients.

        Each process would train its own student on its own data, and mmengine's default DDP
        wrapper would call ``forward(mode='loss')``: the student on the source only.
        """
        if self.grad_sync is None and get_world_size() > 1:
            raise RuntimeError(
                "DACS trains in a distributed process group, but nothing averages its student's "
                "gradients: set model_wrapper_cfg = dict(type='UDADistributedDataParallel') in the config "
                '(configs/_base_/uda/dacs.py does; a config that sets model_wrapper_cfg itself overrides it)')

    def _iteration(self) -> int:
        """The runner's iteration (restored on resume); a local counter outside a runner."""
        info = MessageHub.get_current_instance().get_info('iter')
        return int(info) if info is not None else self.local_iter

    @torch.no_grad()
    def _pseudo_label(self, tgt_img: Tensor, valid: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Teacher prediction on the target: argmax labels, pseudo-weight map, the confident share (0-dim
        tensor) and the [B,H,W] bool map of confident pixels (kept in ``debug_output`` for the hooks).

        The logits are resized to the (padded) batch, not to a sample's ``img_shape`` as mmseg's
        ``encode_decode`` does, so that pseudo-labels line up with the padded images they mix with.
        ``valid`` ([B,H,W] bool) marks image pixels: the others get weight 0 and are not counted.
        """
        for module in self._teacher_dropouts:
            module.training = False
        head = self.ema_model.decode_head
        logits = resize(head.forward(self.ema_model.extract_feat(tgt_img)), size=tgt_img.shape[-2:],
                        mode='bilinear', align_corners=head.align_corners)
        return pseudo_labels_with_confidence(logits, self.pseudo_threshold, self.pseudo_margins, valid=valid,
                                        per_pixel=self.pseudo_weight_mode == 'pixel')

    def _normalisation(self) -> tuple[Tensor, Tensor]:
        """The preprocessor's mean and std, on the model's device (not copied there at every call)."""
        return self.data_preprocessor.mean, self.data_preprocessor.std

    def _augmentation_options(self) -> dict:
        """Keyword arguments of ``strong_augment`` for the mixed and the MIC images (shared generator)."""
        return dict(color_jitter_p=self.color_jitter_probability, color_jitter_strength=self.color_jitter_strength,
                    hue_strength=self.color_jitter_hue, blur_p=0.5 if self.blur else 0.0,
                    generator=self.generator, value_scale=self.value_scale, clamp=self.clamp_jitter)

    def _masked_step(self, tgt_img: Tensor, pseudo_label: Tensor,
                     pseudo_weight: Tensor) -> tuple[Tensor, dict, Tensor, Tensor]:
        """MIC loss: the student on the augmented, block-masked target against the unmasked target's pseudo-labels.

        Returns (loss, log entries, masked images, [B,1,H,W] block mask).
        """
        augmented = strong_augment(tgt_img, *self._normalisation(), **self._augmentation_options())
        b, _, h, w = tgt_img.shape
        mask = block_mask(b, h, w, self.mic.mask_ratio, self.mic.block_size, generator=self.generator,
                          device=tgt_img.device)
        masked_img = mask_images(augmented, mask)
        logits = self.model.decode_head.forward(self.model.extract_feat(masked_img))
        # the same labels and weights as the mixed step's target pixels (margins, padding: weight 0)
        losses = weighted_decode_loss(self.model.decode_head, logits, pseudo_label.unsqueeze(1), pseudo_weight)
        losses = {k: v * self.mic.loss_weight if 'loss' in k else v for k, v in losses.items()}
        loss, log = self.parse_losses(_prefixed(losses, 'masked'))
        return loss, log, masked_img, mask

    def _feature_distance(self, src_img: Tensor, student_feat: Tensor, src_label: Tensor) -> tuple[Tensor, Tensor]:
        """FD between the student's and the frozen ImageNet model's deepest features, on masked pixels."""
        with torch.no_grad():
            self.imnet_model.eval()
            imnet_feat = self.imnet_model.extract_feat(src_img)[-1]
        mask = feature_distance_mask(src_label, tuple(student_feat.shape[-2:]), self.fd_classes,
                                     self.fd_scale_min_ratio, self.num_classes, self.ignore_index)
        return feature_distance_loss(student_feat, imnet_feat, mask, self.fd_lambda), mask


def rank_seed(seed: int, rank: int) -> int:
    """``seed`` for rank 0 (and a single process); for another rank a seed derived from (seed, rank)."""
    if rank == 0:
        return int(seed)
    # SeedSequence spreads (seed, rank) over the seed space: seed + rank would repeat another run's seeds
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(rank)]).generate_state(1, np.uint64)[0])


def infer_value_scale(mean: Sequence[float], std: Sequence[float]) -> float:
    """White in denormalised units: 255 when mean/std are in 8-bit units, else 1."""
    return 255.0 if max(max(abs(v) for v in mean), max(std)) > 1.0 else 1.0


def unpadded_mask(samples, batch_shape: Sequence[int], device: torch.device) -> Tensor | None:
    """[B,H,W] bool of the pixels that hold image data (mmseg pads at the bottom and right).

    None when no sample of the batch was padded.
    """
    h, w = (int(v) for v in batch_shape)
    shapes = [tuple(int(v) for v in s.metainfo.get('img_shape', (h, w)))[:2] for s in samples]
    if all(shape == (h, w) for shape in shapes):
        return None
    valid = torch.zeros((len(shapes), h, w), dtype=torch.bool, device=device)
    for i, (img_h, img_w) in enumerate(shapes):
        valid[i, :img_h, :img_w] = True
    return valid


def source_decode_loss(segmentor: nn.Module, feats: Sequence[Tensor], samples) -> dict[str, Tensor]:
    """The decode head's training losses on the labelled batch, as ``segmentor._decode_head_forward_train``.

    A head that keeps mmseg's own ``loss`` and ``loss_by_feat`` and has no pixel sampler gets the
    same losses from ``weighted_decode_loss`` without a weight (the same operations in the same
    order): its ``acc_seg`` does not wait for the device, which mmseg's ``accuracy`` does twice.
    Any other head (e.g. DANet's three losses) computes its own.
    """
    head = segmentor.decode_head
    if (type(head).loss is BaseDecodeHead.loss and type(head).loss_by_feat is BaseDecodeHead.loss_by_feat
            and getattr(head, 'sampler', None) is None):
        return weighted_decode_loss(head, head.forward(feats), head._stack_batch_gt(samples), None)
    return segmentor._decode_head_forward_train(feats, samples)


def weighted_decode_loss(head: nn.Module, logits: Tensor, label: Tensor, weight: Tensor | None) -> dict[str, Tensor]:
    """The decode head's configured losses with a per-pixel weight map (None: unweighted; mean over all pixels)."""
    logits = resize(logits, size=label.shape[-2:], mode='bilinear', align_corners=head.align_corners)
    seg_label = label.squeeze(1)
    losses = {}
    modules = head.loss_decode if isinstance(head.loss_decode, nn.ModuleList) else [head.loss_decode]
    for loss_module in modules:
        value = loss_module(logits, seg_label, weight=weight, ignore_index=head.ignore_index)
        losses[loss_module.loss_name] = losses.get(loss_module.loss_name, 0) + value
    losses['acc_seg'] = pixel_accuracy(logits, seg_label, head.ignore_index)
    return {f'decode.{k}': v for k, v in losses.items()}


def _prefixed(losses: dict, prefix: str) -> dict:
    return {f'{prefix}.{k}': v for k, v in losses.items()}


def _without_total(log_vars: dict) -> dict:
    """A part's log entries without its own 'loss' total (the iteration's total is logged once)."""
    return {k: v for k, v in log_vars.items() if k != 'loss'}


def _is_dropout(module: nn.Module) -> bool:
    """Dropout and drop-path modules (disabled while the teacher pseudo-labels)."""
    return isinstance(module, nn.modules.dropout._DropoutNd) or type(module).__name__ == 'DropPath'


def _backward(optim_wrapper: OptimWrapper, loss: Tensor, retain_graph: bool = False) -> None:
    """Accumulate the gradient of one part of the iteration's loss (AMP loss scaling included).

    mmengine counts one backward per optimizer step (``_inner_count``); DACS makes several
    backward passes per step, so the counter is advanced once, in ``_step``.
    """
    optim_wrapper.backward(optim_wrapper.scale_loss(loss), retain_graph=retain_graph)
    optim_wrapper._inner_count -= 1


def _step(optim_wrapper: OptimWrapper, grad_sync: Callable[[], None] | None = None) -> None:
    """Count the iteration and step the optimizer when gradient accumulation allows it.

    ``grad_sync`` (distributed training) averages the gradients first: once per optimizer step,
    whatever the number of backward passes and accumulated iterations before it.
    """
    optim_wrapper._inner_count += 1
    if optim_wrapper.should_update():
        if grad_sync is not None:
            grad_sync()
        optim_wrapper.step()
        optim_wrapper.zero_grad()
