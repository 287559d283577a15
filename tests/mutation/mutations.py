"""The semantic mutations that tests/mutation/mutation_check.py applies, one at a time.

FORMAT: one ``M(...)`` line per mutation in ``MUTATIONS`` below:

    M(id, file, old, new, description, tests)

* ``id``: short unique name, lower-case with dashes (``--only`` selects by it).
* ``file``: path relative to the repository root of the file to mutate.
* ``old``: exact text that must occur EXACTLY ONCE in ``file`` (a tuple of such texts, with a
  tuple ``new`` of the same length, for a bug that takes edits in several places) (include enough context to make it
  unique; use '\\n' for line breaks). If the code changes so that it no longer occurs exactly once,
  the mutation is reported "stale" and mutation_check.py exits non-zero: update the entry.
* ``new``: the replacement text (the bug). The mutant must still compile (a syntax error would be
  "caught" by any import and prove nothing; mutation_check.py reports it as stale).
* ``description``: what a developer would have got wrong, in words.
* ``tests``: test files or pytest node ids (relative to the repository root) that must fail on
  the mutant; keep it to a few files so each run stays short. The groups below name the usual ones.

To add a mutation, append one line to MUTATIONS, e.g.

    M('dacs-target-loss-detached', 'daspm/models/uda/dacs.py', 'old text', 'new text',
      'target loss not backpropagated', [T_DACS]),

and check it with ``python tests/mutation/mutation_check.py --list`` (stale entries are flagged) and
``python tests/mutation/mutation_check.py --only dacs-target-loss-detached``.
"""
from __future__ import annotations

from typing import NamedTuple


class Mutation(NamedTuple):
    id: str
    file: str
    old: str | tuple[str, ...]
    new: str | tuple[str, ...]
    description: str
    tests: list[str]


M = Mutation

# -- test groups ----------------------------------------------------------------------------------
T_UDA = 'tests/test_uda_components.py'
T_UDA_B = 'tests/test_uda_boundaries.py'
T_DACS = 'tests/test_dacs.py'
T_SYNC = 'tests/test_step_host_syncs.py'
T_RCS = 'tests/test_uda_dataset.py'
T_SUB = 'tests/test_subpixel.py'
T_GEO = 'tests/test_geotiff_loading.py'
T_SHIFT = 'tests/test_synthetic_shifts.py'
T_DIAG = 'tests/test_pseudo_label_diagnostics.py'
_DIAG = 'daspm/engine/hooks/pseudo_label_diagnostics.py'
_GEN = 'daspm/synthetic/generate.py'
_SHIFTS = 'daspm/synthetic/shifts.py'
_SENS = 'daspm/synthetic/sensors.py'
_SPECTRA = 'daspm/synthetic/spectra.py'
T_CAL = 'tests/test_synthetic_calibration.py'
T_CONV = 'tests/test_converters.py'
T_SCENE = 'tests/test_scene_mapping.py'
T_OPT = 'tests/test_optimizer_groups.py'
T_HEAD = 'tests/test_daformer_head.py'
T_MIT = 'tests/test_weight_conversion.py'
T_CKPT = 'tests/test_checkpoint.py'
T_SHARED = 'tests/test_shared_helpers.py'
T_MIC = 'tests/test_mic.py'
T_DEFER = 'tests/test_deferred_runtime_info.py'
T_FUSED = 'tests/test_fused_attention.py'
T_S2F = 'tests/test_sentinel2_format.py'
T_NF = 'tests/test_nonfinite_input.py'
_S2_SAT = f'{T_S2F}::test_saturated_dn_of_one_band_makes_its_pixels_nodata'
_S2_SAT_META = f'{T_S2F}::test_saturated_value_is_the_metadatas'
_S2_SAT_DEFAULT = f'{T_S2F}::test_saturated_value_defaults_to_65535_without_metadata'
T_SAFE = 'tests/test_run_safety.py'
T_OPTS = 'tests/test_config_options.py'
T_TND = 'tests/test_target_nodata.py'

_PL = 'daspm/models/uda/pseudo_label.py'
_CM = 'daspm/models/uda/class_mix.py'
_EMA = 'daspm/models/uda/ema.py'
_FD = 'daspm/models/uda/feature_distance.py'
_ACC = 'daspm/models/uda/accuracy.py'
_RCS = 'daspm/datasets/rare_class_sampling.py'
_UDA = 'daspm/datasets/uda_dataset.py'
_SUB = 'daspm/datasets/transforms/subpixel.py'
_GEO = 'daspm/datasets/transforms/geotiff_loading.py'
_RASTER = 'daspm/utils/raster.py'
_LT = 'daspm/convert/label_tables.py'
_CS = 'daspm/convert/class_stats.py'
_GRID = 'daspm/mapping/grid.py'
_MAPPER = 'daspm/mapping/mapper.py'
_RESAMPLE = 'daspm/mapping/resample.py'
_INPUTS = 'daspm/mapping/inputs.py'
_OPT = 'daspm/engine/optimizers/merged_param_groups.py'
_HEAD = 'daspm/models/decode_heads/daformer_head.py'
_MIT = 'daspm/models/backbones/mit_weights.py'
_CKPT = 'daspm/apis/checkpoint.py'
_TND_PACK = 'daspm/datasets/transforms/image_nodata.py'
_TND_UDA = 'daspm/models/uda/image_nodata.py'
_UCKPT = 'daspm/utils/checkpoint.py'
_DACS = 'daspm/models/uda/dacs.py'
_AUG = 'daspm/models/uda/strong_augmentation.py'
_MASK = 'daspm/models/uda/masking.py'
_DEVICE = 'daspm/utils/device.py'
_DEFER = 'daspm/engine/hooks/deferred_runtime_info.py'
_FUSED = 'daspm/models/backbones/fused_mit.py'
_S2 = 'daspm/mapping/sentinel2.py'

# MIC tests on the block mask and on DACS's masked step.
_MIC_MASK = [f'{T_MIC}::test_block_mask_is_binary_and_constant_on_each_block',
             f'{T_MIC}::test_kept_share_is_one_minus_the_mask_ratio']
_MIC_IMAGE = f'{T_MIC}::test_masked_image_is_the_augmented_target_times_the_block_mask'
_MIC_LOSS = f'{T_MIC}::test_masked_loss_uses_the_pseudo_labels_and_weight_of_the_unmasked_padded_target'
_MIC_GRAD = f'{T_MIC}::test_student_gradient_with_mic_is_dacs_plus_the_masked_part_by_its_definition'

# Scene-mapping tests that exercise the blending and the window reads (the whole file takes longer).
# Rare class sampling inside forked DataLoader workers (persistent or not).
_RCS_WORKERS = f'{T_RCS}::test_rcs_in_forked_workers_draws_own_reproducible_streams_with_the_rcs_frequencies'

_SCENE_BLEND = [f'{T_SCENE}::test_blend_ramp_values',
                f'{T_SCENE}::test_blending_is_the_ramp_weighted_average_of_the_windows',
                f'{T_SCENE}::test_windows_cover_the_grid_with_at_least_the_overlap',
                f'{T_SCENE}::test_blending_is_identical_for_any_window_size_overlap_and_batch',
                f'{T_SCENE}::test_mapping_equals_the_whole_image_prediction_of_the_test_pipeline']
_COMP = 'daspm/mapping/composite.py'
_STAC = 'daspm/mapping/stac.py'
_T_COMP = 'tests/test_composite_stac.py'
_COMP_FILL = f'{_T_COMP}::test_composite_fills_each_dates_clouds_and_counts_clear_dates'
_COMP_CONF = f'{_T_COMP}::test_confidence_rule_weights_each_date_by_its_confidence'
_COMP_ITEM = f'{_T_COMP}::test_composite_files_and_their_stac_item_validate_and_describe_the_map'
_COMP_CLI = f'{_T_COMP}::test_cli_out_dir_writes_items_and_a_collection_and_a_composite_item'
_COMP_BAD = f'{_T_COMP}::test_bad_dates_and_unwritable_stac_folder_end_in_one_line_and_write_nothing'

MUTATIONS: list[Mutation] = [
    # -- pseudo-labels ----------------------------------------------------------------------------
    M('pl-threshold-strict', _PL, 'confident = max_prob >= threshold', 'confident = max_prob > threshold', 'confidence compared with > instead of >= threshold', [T_UDA_B, T_UDA]),
    M('pl-margins-swapped', _PL, 'top, bottom, left, right = (int(m) for m in margins)', 'bottom, top, left, right = (int(m) for m in margins)', 'top and bottom margins swapped', [T_UDA_B, T_UDA]),
    M('pl-share-per-image', _PL, 'else share.to(max_prob.dtype).expand_as(max_prob).clone()', 'else confident.float().mean(dim=(1, 2), keepdim=True).expand_as(max_prob).clone()', 'confident share per image instead of one scalar per batch', [T_UDA_B, T_UDA]),
    M('pl-no-float32-softmax', _PL, 'probs = torch.softmax(logits.detach().float(), dim=1)', 'probs = torch.softmax(logits.detach(), dim=1)', 'softmax in the logits dtype (fp16) instead of float32', [T_UDA_B, T_UDA]),
    # -- ClassMix ---------------------------------------------------------------------------------
    M('cm-floor-half', _CM, 'for j in perm[:(n + 1) // 2].tolist()', 'for j in perm[:n // 2].tolist()', 'half of the classes rounded down instead of up', [T_UDA_B, T_UDA]),
    M('cm-ignore-pickable', _CM, 'present = [c for c in present if c != ignore_index]', 'present = [c for c in present if c != -1]', 'ignore label can be picked as a class to paste', [T_UDA_B, T_UDA]),
    M('cm-mask-inverted', _CM, 'masks[i, 0] = torch.isin(label, host_to_device(chosen, label.device)).float()', 'masks[i, 0] = (~torch.isin(label, host_to_device(chosen, label.device))).float()', 'mask marks the classes not chosen', [T_UDA_B, T_UDA]),
    M('cm-source-weight', _CM, 'mix_batch(mask, torch.ones_like(pseudo_weight), pseudo_weight)', 'mix_batch(mask, pseudo_weight, pseudo_weight)', 'pasted source pixels get the pseudo-weight instead of 1', [T_UDA_B, T_UDA]),
    M('cm-labels-swapped', _CM, 'mix_batch(mask, source_label.long(), pseudo_label.long())', 'mix_batch(mask, pseudo_label.long(), source_label.long())', 'mixed label takes pseudo-labels under the mask', [T_UDA_B, T_UDA]),
    # -- EMA teacher ------------------------------------------------------------------------------
    M('ema-alpha-max', _EMA, 'return min(1.0 - 1.0 / (iteration + 1), alpha)', 'return max(1.0 - 1.0 / (iteration + 1), alpha)', 'EMA decay takes max instead of min (no ramp-up)', [T_UDA_B, T_UDA]),
    M('ema-alpha-offbyone', _EMA, 'return min(1.0 - 1.0 / (iteration + 1), alpha)', 'return min(1.0 - 1.0 / (iteration + 2), alpha)', 'EMA ramp-up 1 - 1/(iter+2) instead of 1 - 1/(iter+1)', [T_UDA_B, T_UDA]),
    M('ema-weights-swapped', _EMA, '            torch._foreach_mul_(ts, a)\n            torch._foreach_add_(ts, ss, alpha=1.0 - a)\n        if self.converted:', '            torch._foreach_mul_(ts, 1.0 - a)\n            torch._foreach_add_(ts, ss, alpha=1.0 - a)\n        if self.converted:', 'teacher weighted by 1-a (and student by 1-a)', [T_UDA_B, T_UDA]),
    M('ema-buffers-averaged', _EMA, 't_params = list(teacher.parameters())\n    s_params = list(student.parameters())', 't_params = list(teacher.state_dict().values())\n    s_params = list(student.state_dict().values())', 'BN buffers averaged/copied along with the parameters', [T_UDA_B, T_UDA]),
    M('ema-no-iter0-copy', _EMA, '    if iteration == 0:\n        init_teacher(teacher, student)', '    if iteration < 0:\n        init_teacher(teacher, student)', 'iteration 0 runs an EMA step instead of copying (and freezing) the student', [T_UDA_B, T_UDA]),
    # -- feature distance -------------------------------------------------------------------------
    M('fd-ratio-le', _FD, 'unsure = (share < min_ratio)', 'unsure = (share <= min_ratio)', 'a cell exactly at scale_min_ratio becomes ignore', [T_UDA_B, T_UDA]),
    M('fd-ignore-majority-kept', _FD, 'unsure = (share < min_ratio) | (out == num_classes)', 'unsure = (share < min_ratio)', 'cells whose majority is ignore keep the extra class id', [T_UDA_B, T_UDA]),
    M('fd-empty-mask-nan', _FD, 'if dist.numel() == 0:', 'if dist.numel() < 0:', 'empty mask gives the mean of nothing (NaN)', [T_UDA_B, T_UDA]),
    M('fd-mean-over-all', _FD, '        dist = dist[m.bool()]', '        dist = dist * m.float()', 'mean over all cells instead of the masked ones', [T_UDA_B, T_UDA]),
    M('fd-no-lambda', _FD, 'return dist.mean() * weight', 'return dist.mean()', 'FD weight lambda not applied', [T_UDA_B, T_UDA]),
    M('fd-imnet-not-detached', _FD, 'dist = torch.norm(student_feat - imnet_feat.detach(), p=2, dim=1)', 'dist = torch.norm(student_feat - imnet_feat, p=2, dim=1)', 'ImageNet feature not detached', [T_UDA_B, T_UDA]),
    M('fd-mask-keeps-ignore', _FD, 'return down != ignore_index', 'return down >= 0', 'FD mask with classes=None keeps ignore cells', [T_UDA_B, T_UDA]),
    M('fd-masked-mean-over-all', _FD, 'return selected.sum() / mask.sum().clamp_min(1).to(values.dtype)', 'return selected.sum() / mask.numel()', 'the GPU masked mean divides by every cell, not the masked ones', [T_SYNC]),
    M('acc-counts-ignored', _ACC, '(counted.sum(dtype=torch.float32) + eps)', '(float(label.numel()) + eps)', 'acc_seg divides by every pixel, the ignored ones too', [T_SYNC]),
    M('dacs-source-loss-always-own', _DACS, '    if (type(head).loss is BaseDecodeHead.loss', '    if True or (type(head).loss is BaseDecodeHead.loss', 'a head with a loss of its own gets mmseg\'s base loss on the source batch', [T_SYNC]),
    # -- rare class sampling ----------------------------------------------------------------------
    M('rcs-min-pixels-ge', _RCS, 'if n > self.min_pixels]', 'if n >= self.min_pixels]', 'a file with exactly min_pixels pixels of a class qualifies', [T_RCS]),
    M('rcs-temperature-times', _RCS, 'logits = (1.0 - freq) / temperature', 'logits = (1.0 - freq) * temperature', 'temperature multiplies instead of divides', [T_RCS]),
    M('rcs-frequency-not-inverted', _RCS, 'logits = (1.0 - freq) / temperature', 'logits = freq / temperature', 'softmax of f_c instead of 1 - f_c (frequent classes favoured)', [T_RCS]),
    M('rcs-crop-ratio-ignored', _RCS, 'return self.min_pixels * self.min_crop_ratio', 'return self.min_pixels', 'crop check uses min_pixels without min_crop_ratio', [T_RCS]),
    M('rcs-crop-ge', _UDA, 'if int((gt == c).sum()) > rcs.min_crop_pixels:', 'if int((gt == c).sum()) >= rcs.min_crop_pixels:', 'crop accepted with exactly min_pixels * min_crop_ratio pixels', [T_RCS]),
    M('rcs-split-not-restricted', _RCS, '            if file not in split:\n                continue\n            seen.add(file)', '            seen.add(file)', 'class frequencies counted over every file, not the split', [T_RCS]),
    M('rcs-freq-over-sampled-classes', _RCS, 'freq = counts / total', 'freq = counts / counts.sum()', 'f_c over the sampled classes only (dropped classes leave the denominator)', [T_RCS]),
    M('uda-target-not-uniform', _UDA, 'target = self.target[int(rng.integers(len(self.target)))]', 'target = self.target[int(rng.integers(max(len(self.target) - 1, 1)))]', 'RCS target drawn from all but the last image', [T_RCS]),
    M('uda-pairs-wrong-target', _UDA, 'self.source[idx // n_target], self.target[idx % n_target]', 'self.source[idx // n_target], self.target[idx // n_target % n_target]', 'target index taken from the source part of the item index (pairs repeat, some never appear)', [T_RCS]),
    # -- sub-pixel resampling and GeoTIFF loading -------------------------------------------------
    M('sp-factor-inverted', _SUB, 'factor = in_gsd / out_gsd', 'factor = out_gsd / in_gsd', 'sub-pixel factor inverted', [T_SUB]),
    M('sp-snap-tolerance', _SUB, 'abs(factor - nearest) <= 0.01 * nearest', 'abs(factor - nearest) <= 0.001 * nearest', 'factor snapped within 0.1% instead of 1%', [T_SUB]),
    M('sp-label-bilinear', _SUB, "seg, (out_shape[1], out_shape[0]),\n                                               interpolation=cv2.INTER_NEAREST)", "seg, (out_shape[1], out_shape[0]),\n                                               interpolation=cv2.INTER_LINEAR)", 'coarse labels upsampled bilinearly instead of nearest', [T_SUB]),
    M('sp-nodata-mask-bilinear', _SUB, "(out_shape[1], out_shape[0]),\n                    interpolation=cv2.INTER_NEAREST).astype(bool)", "(out_shape[1], out_shape[0]),\n                    interpolation=cv2.INTER_LINEAR).astype(bool)", 'nodata mask upsampled bilinearly (grows by a pixel)', [T_SUB]),
    M('sp-no-clip', _SUB, "results['img'] = np.clip(resized, low, high).astype(img.dtype, copy=False)", "results['img'] = resized.astype(img.dtype, copy=False)", 'cubic overshoot not clipped to the input range', [T_SUB]),
    M('sp-gsd-not-updated', _SUB, "results['gsd'] = in_gsd * in_shape[1] / out_shape[1]", "results['gsd'] = in_gsd", 'GSD metadata left at the input GSD', [T_SUB]),
    M('raster-scale-axes-swapped', _RASTER, 'Affine.scale(in_w / out_w, in_h / out_h)', 'Affine.scale(in_h / out_h, in_w / out_w)', 'geotransform scaled with the row ratio in x and the column ratio in y', [T_SUB]),
    M('raster-shape-floor', _RASTER, 'return int(round(in_shape[0] * factor)), int(round(in_shape[1] * factor))', 'return int(in_shape[0] * factor), int(in_shape[1] * factor)', 'fine grid size truncated instead of rounded', [T_SUB, f'{T_SCENE}::test_non_integer_factor_follows_cv2_resize']),
    M('gl-offset-after-scale', _GEO, 'img = (masked.data.astype(np.float32) + self.offset) / self.scale_for(dtype)', 'img = masked.data.astype(np.float32) / self.scale_for(dtype) + self.offset', 'offset added after scaling instead of before', [T_GEO]),
    M('gl-label-keeps-image-nodata', _GEO, "        apply_image_nodata_to_label(results)\n        return results\n\n\ndef _check_label_values", "        return results\n\n\ndef _check_label_values", 'image nodata not applied to the label', [T_GEO]),
    M('gl-nodata-any-band', _GEO, 'nodata = np.ma.getmaskarray(masked).all(axis=0)', 'nodata = np.ma.getmaskarray(masked).any(axis=0)', 'pixel is nodata when any band (not every band) is nodata', [T_GEO]),
    M('gl-auto-scale-uint16', _GEO, "'uint16': 10000.0", "'uint16': 65535.0", 'uint16 auto scale by the dtype range instead of reflectance x 10000', [T_GEO]),
    M('gl-label-map-chained', _GEO, 'seg[original == old_id] = new_id', 'seg[seg == old_id] = new_id', 'label_map applied in place (swaps chain)', [T_GEO]),
    M('gl-label-check-offbyone', _GEO, 'bad = np.flatnonzero(counts[num_classes:IGNORE_INDEX]) + num_classes', 'bad = np.flatnonzero(counts[num_classes + 1:IGNORE_INDEX]) + num_classes + 1', 'label value == num_classes not reported', [T_GEO]),
    # -- dataset conversion -----------------------------------------------------------------------
    M('lt-roads-impervious-swapped', _LT, '{0: IGNORE_INDEX, 1: 0, 2: 1, 3: 2, 4: 3, 5: 4}', '{0: IGNORE_INDEX, 1: 0, 2: 1, 3: 3, 4: 2, 5: 4}', 'raw codes of roads and impervious surface swapped', [T_CONV]),
    M('lt-nodata-not-ignored', _LT, '        train_ids[nodata_mask] = IGNORE_INDEX\n', '        pass\n', 'declared nodata pixels keep the train id of the code they were parked on', [T_CONV]),
    M('lt-colour-bgr', _LT, 'colours = [((int(p) >> 16) & 255, (int(p) >> 8) & 255, int(p) & 255) for p in uniq]', 'colours = [(int(p) & 255, (int(p) >> 8) & 255, (int(p) >> 16) & 255) for p in uniq]', 'RGB label colours decoded as BGR', [T_CONV]),
    M('cs-ignore-counted', _CS, '    hist[IGNORE_INDEX] = 0\n', '', 'ignore pixels counted (and rejected) in the class statistics', [T_CONV]),
    M('cs-class0-dropped', _CS, "re-run the converter with --overwrite')\n    return {c: int(hist[c]) for c in range(num_classes) if hist[c] > 0}", "re-run the converter with --overwrite')\n    return {c: int(hist[c]) for c in range(1, num_classes) if hist[c] > 0}", 'class 0 left out of the statistics', [T_CONV]),
    # -- whole-scene mapping ----------------------------------------------------------------------
    M('blend-ramp-shape', _GRID, 'ramp = np.minimum(t + 1, size - t) / (overlap + 1)', 'ramp = (np.minimum(t + 1, size - t) / (overlap + 1)) ** 2', 'blend ramp quadratic instead of linear', _SCENE_BLEND),
    M('blend-uniform', _GRID, 'return np.clip(ramp, 0.0, 1.0).astype(np.float32)', 'return np.ones(size, np.float32)', 'windows averaged with equal weights (no ramp)', _SCENE_BLEND),
    M('blend-ramp-width', _GRID, 'ramp = np.minimum(t + 1, size - t) / (overlap + 1)', 'ramp = np.minimum(t + 1, size - t) / (2 * overlap + 1)', 'ramp twice as long as the overlap', _SCENE_BLEND),
    M('windows-last-short', _GRID, 'return [(k * span) // (count - 1) for k in range(count)]', 'return [(k * span) // count for k in range(count)]', 'last window does not reach the grid edge', _SCENE_BLEND),
    M('windows-count', _GRID, 'count = math.ceil((total - overlap) / (size - overlap))', 'count = math.ceil(total / size)', 'window count ignores the overlap (overlaps shrink)', _SCENE_BLEND),
    M('grid-aoi-offset-swapped', _GRID, 'Affine.translation(aoi.col_off, aoi.row_off)', 'Affine.translation(aoi.row_off, aoi.col_off)', 'AOI origin with rows and columns swapped', [f'{T_SCENE}::test_aoi_by_bbox_and_window_snaps_to_input_pixels']),
    M('mapper-blend-logits', _MAPPER, 'probs = torch.softmax(logits.float(), dim=1)', 'probs = logits.float()', 'logits blended instead of softmax probabilities', _SCENE_BLEND),
    M('mapper-nodata-weighted', _MAPPER, 'w = (self.weights * valid)[:, None]', 'w = (self.weights * torch.ones_like(valid))[:, None]', 'nodata pixels get window weight (and a class)', [f'{T_SCENE}::test_nodata_pixels_get_255_and_empty_windows_are_skipped']),
    M('mapper-confidence-unnormalised', _MAPPER, 'torch.where(valid, best / safe_weight, 0.0)', 'torch.where(valid, best, 0.0)', 'confidence not divided by the blend weight', _SCENE_BLEND),
    M('resample-cubic-a', _RESAMPLE, '_CUBIC_A = -0.75', '_CUBIC_A = -0.5', "bicubic coefficient -0.5 instead of cv2's -0.75", [f'{T_SCENE}::test_non_integer_factor_follows_cv2_resize']),
    M('resample-margin-small', _RESAMPLE, '_MARGIN = 3 ', '_MARGIN = 1 ', 'window reads with too small a margin for the bicubic kernel', [f'{T_SCENE}::test_window_reads_equal_subpixel_resample_of_the_whole_image']),
    # -- optimizer, decode head, weights ----------------------------------------------------------
    M('opt-merge-by-lr-only', _OPT, 'key = tuple(sorted(options.items()))', "key = options.get('lr')", 'groups merged by lr only (weight decay settings lost)', [T_OPT]),
    M('opt-merge-drops-params', _OPT, "merged[key]['params'].extend(group['params'])", "merged[key]['params'] = list(group['params'])", 'merging keeps only the last group of each setting', [T_OPT]),
    M('opt-head-lr-mult', 'configs/_base_/schedules/adamw.py', 'head=dict(lr_mult=10.0)', 'head=dict(lr_mult=1.0)', 'decoder learning rate not x10', [T_OPT]),
    M('head-dilations', _HEAD, 'dilations: Sequence[int] = (1, 6, 12, 18)', 'dilations: Sequence[int] = (1, 6, 12, 24)', 'ASPP dilations 6, 12, 24 instead of 6, 12, 18', [T_HEAD]),
    M('head-align-corners', _HEAD, "out = resize(out, size=size, mode='bilinear', align_corners=self.align_corners)", "out = resize(out, size=size, mode='bilinear', align_corners=True)", 'embeddings upsampled with align_corners=True', [T_HEAD]),
    M('head-embed-layout', _HEAD, 'return out.transpose(1, 2).reshape(n, -1, h, w)', 'return out.reshape(n, -1, h, w)', 'linear embedding reshaped without the transpose (pixels scrambled)', [T_HEAD]),
    M('head-level-order', _HEAD, 'return self.fuse_layer(torch.cat(embedded, dim=1))', 'return self.fuse_layer(torch.cat(embedded[::-1], dim=1))', 'levels concatenated in reverse order', [T_HEAD]),
    M('mit-qkv-order', _MIT, 'torch.cat([value, state[kv_key]], dim=0)', 'torch.cat([state[kv_key], value], dim=0)', 'key/value stacked before the query in the in-projection', [T_MIT]),
    M('mit-fc2-index', _MIT, "'mlp.fc2.': 'ffn.layers.4.',", "'mlp.fc2.': 'ffn.layers.3.',", 'second MLP linear mapped to the wrong FFN layer', [T_MIT]),
    M('mit-module-prefix', _MIT, 'return strip_module_prefix({k: v for k, v in state.items() if isinstance(v, Tensor)})', 'return {k: v for k, v in state.items() if isinstance(v, Tensor)}', 'DDP module. prefix not stripped from MiT weights', [T_MIT]),
    M('mit-backbone-prefix', _MIT, "prefix = 'backbone.' if any(k.startswith('backbone.') for k in state) else ''", "prefix = ''", 'whole-segmentor checkpoints not narrowed to the backbone', [T_MIT]),
    M('ckpt-module-prefix', _CKPT, "return strip_module_prefix(ckpt.get('state_dict', ckpt))", "return dict(ckpt.get('state_dict', ckpt))", 'DDP module. prefix not stripped from checkpoints', [T_CKPT]),
    M('ddp-prefix-helper', _UCKPT, 'return {k[len(DDP_PREFIX):] if k.startswith(DDP_PREFIX) else k: v for k, v in state.items()}', 'return {k.replace(DDP_PREFIX, \'\', 1): v for k, v in state.items()}', "shared helper strips 'module.' anywhere in a key, not only in front", [T_SHARED]),
    M('ckpt-mismatch-accepted', _CKPT, 'if missing or mismatched:', 'if missing:', 'shape mismatches not reported clearly', [T_CKPT]),
    # -- DACS train_step and strong augmentation --------------------------------------------------
    M('dacs-target-loss-not-backpropagated', _DACS, '            _backward(optim_wrapper, mix_loss)\n', '            pass\n', 'the mixed (target) loss never backpropagated: DACS trains source-only', [T_DACS]),
    M('dacs-fd-not-backpropagated', _DACS, '                _backward(optim_wrapper, fd_total)\n', '                pass\n', 'the feature-distance loss never backpropagated', [T_DACS]),
    M('dacs-fd-second-deepest', _DACS, ('self._feature_distance(src_img, src_feats[-1], src_label)', 'imnet_feat = self.imnet_model.extract_feat(src_img)[-1]'), ('self._feature_distance(src_img, src_feats[-2], src_label)', 'imnet_feat = self.imnet_model.extract_feat(src_img)[-2]'), 'FD taken from the second-deepest feature (stride 16) in both models', [T_DACS]),
    M('dacs-teacher-dropout-on', _DACS, '            module.training = False\n', '            module.training = module.training\n', 'the teacher pseudo-labels with dropout and drop-path on', [T_DACS]),
    M('dacs-teacher-not-copied', _DACS, 'self._ema.update(iteration, self.alpha)', 'self._ema.update(iteration + 1, self.alpha)', 'teacher not set to the student at iteration 0', [T_DACS]),
    M('dacs-imnet-not-loaded', _DACS, 'if iteration == 0 and self.imnet_model is not None:', 'if iteration < 0 and self.imnet_model is not None:', 'the ImageNet model keeps its own initialisation instead of the starting weights', [T_DACS]),
    M('dacs-eval-model-swapped', _DACS, "return self.ema_model if self.eval_with == 'teacher' else self.model", "return self.model if self.eval_with == 'teacher' else self.ema_model", 'evaluation uses the teacher when the student is configured', [T_DACS]),
    M('dacs-padding-transposed', _DACS, 'valid[i, :img_h, :img_w] = True', 'valid[i, :img_w, :img_h] = True', 'padding mask with height and width swapped', [T_DACS]),
    M('dacs-padding-weighted', _DACS, "both(valid if self.ignore_padding else None, has_data)", "both(None, has_data)", 'padded target pixels weighted and counted (ignore_padding has no effect)', [T_DACS]),
    M('dacs-no-strong-augmentation', _DACS, '            mixed_img = strong_augment(mixed_img,', '            _unused = strong_augment(mixed_img,', 'the mixed images are not augmented', [T_DACS]),
    M('pl-share-over-padding', _PL, '            share = (confident & valid).sum().double() / valid.sum().clamp(min=1).double()', '            share = confident.float().mean().double()', 'confident share taken over padded pixels too', [T_DACS]),
    M('aug-brightness-multiplicative', _AUG, 'x = _clamp01(x + (brightness.view(n, 1, 1, 1) - 1.0), clamp)', 'x = _clamp01(x * brightness.view(n, 1, 1, 1), clamp)', 'brightness multiplied (torchvision) instead of added (kornia 0.5.8)', [T_UDA]),
    M('aug-contrast-blended', _AUG, 'x = _clamp01(x * contrast.view(n, 1, 1, 1), clamp)', 'x = _clamp01(x * contrast.view(n, 1, 1, 1) + x.mean(dim=(-2, -1), keepdim=True) * (1 - contrast.view(n, 1, 1, 1)), clamp)', 'contrast blended with the mean instead of multiplied', [T_UDA]),
    M('aug-saturation-unclamped', _AUG, 's = (s * saturation.view(-1, 1, 1)).clamp(0.0, 1.0)', 's = s * saturation.view(-1, 1, 1)', 'HSV saturation not clamped to 1', [T_UDA]),
    M('aug-hue-in-radians', _AUG, 'h = torch.fmod(h + hue.view(-1, 1, 1) * (2 * math.pi), 2 * math.pi)', 'h = torch.fmod(h + hue.view(-1, 1, 1), 2 * math.pi)', 'hue shift in turns applied as radians', [T_UDA]),
    M('aug-order-ignored', _AUG, '    for op in order:\n', '    for op in sorted(order):\n', 'jitter parts always in the same order', [T_UDA]),
    M('aug-clamp-before-jitter', _AUG, 'x = (images.detach().float() * std_t + mean_t) / value_scale\n', 'x = ((images.detach().float() * std_t + mean_t) / value_scale).clamp(0.0, 1.0)\n', 'every mixed image clipped to [0, 1] (not done at test time)', [T_UDA]),
    M('aug-value-scale-ignored', _AUG, 'out = (x * value_scale - mean_t) / std_t', 'out = (x - mean_t) / std_t', 'renormalised without the value scale', [T_UDA]),
    M('aug-clamp-ignored', _AUG, "    return x.clamp(0.0, 1.0) if clamp else x", "    return x.clamp(0.0, 1.0)", 'jitter clamps reflectance inputs although clamp=False', [T_UDA]),
    # -- the Sentinel-2 product layer, checked against the product format ------------------------
    M('s2-quantification-ignored', _S2, 'return self.offsets.get(band, 0.0), TARGET_QUANTIFICATION / self.quantification', 'return self.offsets.get(band, 0.0), 1.0', "DNs taken as reflectance x 10000 whatever the metadata's quantification value", [T_S2F]),
    M('s2-quantification-inverted', _S2, 'return self.offsets.get(band, 0.0), TARGET_QUANTIFICATION / self.quantification', 'return self.offsets.get(band, 0.0), self.quantification / TARGET_QUANTIFICATION', 'DNs multiplied by quantification / 10000 instead of divided', [T_S2F]),
    M('s2-offset-after-gain', _INPUTS, '    if offset:\n        band += np.float32(offset)\n    if gain != 1.0:\n        band *= np.float32(gain)\n', '    if gain != 1.0:\n        band *= np.float32(gain)\n    if offset:\n        band += np.float32(offset)\n', 'DN * gain + offset instead of (DN + offset) * gain (same only for quantification 10000)', [T_S2F]),
    M('s2-default-mask-dark-area-not-cloud-shadow', _S2, 'DEFAULT_MASK_CLASSES = (0, 1, 3, 8, 9, 10, 11)', 'DEFAULT_MASK_CLASSES = (0, 1, 2, 8, 9, 10, 11)', 'default mask holds SCL 2 (dark area) instead of 3 (cloud shadow)', [T_S2F]),
    M('s2-default-mask-without-cloud-shadow', _S2, 'DEFAULT_MASK_CLASSES = (0, 1, 3, 8, 9, 10, 11)', 'DEFAULT_MASK_CLASSES = (0, 1, 8, 9, 10, 11)', 'cloud shadows left in the map by default', [T_S2F]),
    M('s2-product-nodata-ignored', _INPUTS, 'nodata=product.nodata if nodata is None else nodata,', 'nodata=nodata,', "the product's NODATA value (DN 0) reaches the mapper as reflectance", [T_S2F]),
    M('s2-nodata-only-in-every-band', _INPUTS, 'exclusion=exclusion, notes=notes, nodata_in_any_band=True)', 'exclusion=exclusion, notes=notes, nodata_in_any_band=False)', 'a product pixel with DN 0 in one band (e.g. a 20 m band at the swath edge) kept as data', [T_S2F]),
    M('s2-nodata-harmonised', _INPUTS, '    if nodata.any():\n        band[nodata] = 0.0\n', '', 'no-data DN 0 offset to -1000 and interpolated into the valid pixels beside it', [T_S2F]),
    M('s2-mask-window-start-snapped', _S2, 'rows, cols = slice(r0 - cr0 * k, r0 - cr0 * k + h), slice(c0 - cc0 * k, c0 - cc0 * k + w)', 'rows, cols = slice(0, h), slice(0, w)', 'a window starting inside a coarse mask pixel read as if it started at that pixel', [T_S2F]),
    M('s2-mask-window-end-floored', _S2, 'cr1, cc1 = min(-(-(r0 + h) // k), src.height), min(-(-(c0 + w) // k), src.width)', 'cr1, cc1 = min((r0 + h) // k, src.height), min((c0 + w) // k, src.width)', 'the coarse mask pixel a window ends inside is not read (the previous one repeated)', [T_S2F]),
    M('s2-l1c-cirrus-layer-for-snow', _S2, "2: ('cirrus', (10,)), 3: ('snow and ice', (11,))", "2: ('cirrus', (11,)), 3: ('snow and ice', (10,))", 'L1C cloud-mask cirrus and snow layers stand for the wrong SCL classes', [T_S2F]),
    M('s2-saturated-ignored', _INPUTS, 'saturated=product.saturated,', 'saturated=None,', "the product's SATURATED value (DN 65535) reaches the model as reflectance 6.45", [_S2_SAT]),
    M('s2-saturated-metadata-ignored', _S2, '        if text in special:\n', "        if text == 'NODATA':\n", "the metadata's SATURATED value not read: 65535 taken whatever the product says", [_S2_SAT_META]),
    M('s2-saturated-default-lost', _S2, "DEFAULT_SPECIAL_VALUES = {'NODATA': 0.0, 'SATURATED': 65535.0}", "DEFAULT_SPECIAL_VALUES = {'NODATA': 0.0, 'SATURATED': 0.0}", 'a metadata without SATURATED leaves DN 65535 as data', [_S2_SAT_DEFAULT]),
    M('s2-saturated-20m-band-ignored', _INPUTS, 'Window(cc0, cr0, cc1 - cc0, cr1 - cr0), self.nodata, self.saturated)', 'Window(cc0, cr0, cc1 - cc0, cr1 - cr0), self.nodata)', 'a saturated pixel of a 20 m / 60 m band kept as data and interpolated into its neighbours', [_S2_SAT]),
    M('s2-saturated-zeroed-only-with-offset', _INPUTS, '    if nodata.any():\n        band[nodata] = 0.0\n', '    if offset and nodata.any():\n        band[nodata] = 0.0\n', 'without band offsets (baseline < 04.00) DN 65535 of a coarse band bleeds into the valid pixels beside it', [_S2_SAT]),
    M('rcs-worker-seed-ignored', _UDA, 'entropy = [self.seed & 0xFFFFFFFF, torch.initial_seed(),\n                       info.seed if info is not None else 0, _rank()]', 'entropy = [self.seed & 0xFFFFFFFF, 0,\n                       0, _rank()]', 'every DataLoader worker (and epoch) draws the same RCS stream', [_RCS_WORKERS]),
    M('rcs-epoch-seed-ignored', _UDA, 'info.seed if info is not None else 0, _rank()]', '0, _rank()]', "the loader's per-iterator worker seed not mixed in: new workers replay the last epoch's RCS draws", [_RCS_WORKERS]),
    M('rcs-generator-inherited-through-fork', _UDA, 'if self._rng is None or self._rng_pid != pid:', 'if self._rng is None:', "forked workers keep the main process's generator: identical RCS streams", [_RCS_WORKERS]),
    M('rcs-generator-unseeded', _UDA, 'self._rng = np.random.default_rng(np.random.SeedSequence(entropy))', 'self._rng = np.random.default_rng()', 'RCS generator seeded from the OS: runs not reproducible', [_RCS_WORKERS]),
    # -- MIC (masked image consistency) ---------------------------------------------------------
    M('mic-mask-ratio-inverted', _MASK, 'generator=generator, device=rand_device) >= mask_ratio', 'generator=generator, device=rand_device) < mask_ratio', 'blocks kept with probability mask_ratio instead of 1 - mask_ratio', _MIC_MASK),
    M('mic-mask-shared-by-the-batch', _MASK, 'keep = torch.rand((batch, 1, rows, cols), generator=generator, device=rand_device) >= mask_ratio', 'keep = (torch.rand((1, 1, rows, cols), generator=generator, device=rand_device) >= mask_ratio).expand(batch, -1, -1, -1)', 'one block mask drawn for the whole batch instead of one per image', _MIC_MASK),
    M('mic-masked-pixels-kept', _MASK, 'return images * mask.to(device=images.device, dtype=images.dtype)', 'return images.clone()', 'masked pixels not set to 0 (the student sees the whole target)', [f'{T_MIC}::test_mask_images_zeroes_masked_pixels_and_keeps_the_others', _MIC_IMAGE]),
    M('mic-target-not-augmented', _DACS, 'augmented = strong_augment(tgt_img,', 'augmented = tgt_img if True else strong_augment(tgt_img,', 'the masked target is not strongly augmented', [_MIC_IMAGE]),
    M('mic-pseudo-labels-of-masked-image', _DACS, 'logits, pseudo_label.unsqueeze(1), pseudo_weight)', 'logits, self._pseudo_label(masked_img)[0].unsqueeze(1), pseudo_weight)', "MIC's pseudo-labels predicted by the teacher on the masked image instead of the unmasked target", [_MIC_LOSS, _MIC_GRAD]),
    M('mic-pseudo-weight-ignored', _DACS, 'logits, pseudo_label.unsqueeze(1), pseudo_weight)', 'logits, pseudo_label.unsqueeze(1), torch.ones_like(pseudo_weight))', 'masked loss with weight 1 instead of the pseudo-weight (padding weighted too)', [_MIC_LOSS, _MIC_GRAD]),
    M('mic-loss-weight-ignored', _DACS, "losses = {k: v * self.mic.loss_weight if 'loss' in k else v for k, v in losses.items()}", 'losses = dict(losses)', 'mic.loss_weight not applied to the masked loss', [_MIC_GRAD]),
    M('mic-masked-loss-not-backpropagated', _DACS, '                _backward(optim_wrapper, masked_loss)\n', '                pass\n', 'the masked loss is logged but never backpropagated', [_MIC_GRAD]),
    # -- no host waits in an iteration ------------------------------------------------------------
    M('classmix-host-classes-unsorted', _CM, 'return [torch.unique(label).tolist() for label in labels]', 'return [torch.unique(label).flip(0).tolist() for label in labels]', "the loader labels' classes in another order than the batch's: other ClassMix draws", [T_UDA, f'{T_DACS}::test_classmix_reads_the_source_classes_before_any_forward_pass_of_the_step']),
    M('dacs-classmix-reads-the-device', _DACS, "        src_classes = (host_label_classes(data['data_samples'])", "        src_classes = (None and host_label_classes(data['data_samples'])", 'ClassMix reads the classes from the copied batch (a wait for the GPU)', [T_SYNC, T_DACS]),
    M('device-labels-left-on-the-host', _DEVICE, 'if isinstance(value, (Tensor, BaseDataElement)):', 'if isinstance(value, Tensor) and False:', 'the labels inside the data samples are left to the preprocessor (a pageable copy: a wait)', [T_SYNC]),
    M('deferred-log-no-checkpoint-flush', _DEFER, '        elif isinstance(hook, CheckpointHook) and not hook.by_epoch:\n            intervals.append(hook.interval)\n', '', 'checkpoints saved before the values of their iterations reach the message hub', [T_DEFER]),
    M('deferred-log-no-loader-end-flush', _DEFER, 'or done in self._reading_iters', 'or False', "the logger's line at the end of the loader's first pass misses the values not yet read", [T_DEFER]),
    M('deferred-log-reads-each-iteration', _DEFER, '                    value = value.detach()\n', '                    value = value.detach().item()\n', 'every logged tensor read at once, as RuntimeInfoHook (a wait each iteration)', [T_DEFER]),
    # -- fused MiT attention --------------------------------------------------------------------
    M('fused-attention-keys-not-reduced', _FUSED, 'out = self.attn(query=query, key=context, value=context, need_weights=False)[0]', 'out = self.attn(query=query, key=query, value=query, need_weights=False)[0]', 'keys and values from the full-resolution tokens instead of the spatially reduced map', [f'{T_MIT}::test_converted_block_computes_what_the_official_block_computes', T_FUSED]),
    M('fused-attention-identity-ignored', _FUSED, 'return (x if identity is None else identity) + self.dropout_layer', 'return x + self.dropout_layer', 'the residual taken from the input although the caller passes its own identity', [T_MIT]),
    M('fused-attention-switch-ignored', _FUSED, '        if self.fused_attention:\n            for module', '        if True:\n            for module', 'fused_attention=False still swaps the attention', [T_FUSED]),
    # -- the end of a distributed command ----------------------------------------------------------
    M('dist-group-left-at-exit', 'daspm/apis/distributed.py', '    torch.distributed.destroy_process_group()\n', '', 'the process group left for the interpreter exit (gloo can abort a finished run)', ['tests/test_distributed.py::test_a_command_under_a_launcher_destroys_its_process_group_and_leaves_the_callers']),
    M('dist-group-closed-without-launcher', 'daspm/apis/distributed.py', "if launcher == 'none' or not torch.distributed.is_initialized():", 'if not torch.distributed.is_initialized():', 'a process group the caller made (no launcher) destroyed by the command', ['tests/test_distributed.py::test_a_command_under_a_launcher_destroys_its_process_group_and_leaves_the_callers']),
    M('test-cli-loads-into-the-wrapper', 'daspm/cli/test.py', 'model = runner.model.module if is_model_wrapper(runner.model) else runner.model', 'model = runner.model', 'daspm-test under a launcher loads the checkpoint into the DDP wrapper (every key missing)', ['tests/test_distributed.py::test_two_processes_train_check_their_teachers_and_resume_in_one']),
    # -- NaN/Inf input and the mapper's output paths -----------------------------------------------
    M('nonfinite-label-learned', _GEO, '        nodata |= nonfinite\n', '', 'NaN/Inf pixels filled but not nodata: their label is trained on', [f'{T_NF}::test_loader_fills_nonfinite_pixels_and_sets_their_label_to_ignore']),
    M('nonfinite-not-nodata-in-maps', _RESAMPLE, '    nodata = nodata | nonfinite\n', '    nodata = nodata\n', 'NaN/Inf pixels of a scene not nodata: they reach the model and the resampling kernels', [f'{T_NF}::test_a_nan_block_is_nodata_and_the_rest_of_the_map_does_not_change']),
    M('nonfinite-every-band', _RASTER, 'return ~np.isfinite(data).all(axis=0)', 'return ~np.isfinite(data).any(axis=0)', 'a pixel counts as non-finite only when every band is (NaN in one band passes)', [f'{T_NF}::test_loader_fills_nonfinite_pixels_and_sets_their_label_to_ignore']),
    M('nonfinite-loader-all-accepted', _GEO, '        if nonfinite.all():\n', '        if False:\n', 'a tile without one finite pixel is trained on as all-ignore', [f'{T_NF}::test_loader_refuses_a_tile_without_a_finite_pixel']),
    M('sp-range-counts-nodata', _SUB, '        pixels = pixels[~nodata.ravel()]\n', '        pixels = pixels\n', "SubPixelResample's clip range includes the nodata fill: a NaN block changes the image far from it", [f'{T_NF}::test_loader_fills_nonfinite_pixels_and_sets_their_label_to_ignore']),
    M('mapper-range-counts-nodata', _RESAMPLE, '        pixels = img[:, ~nodata]\n', '        pixels = img.reshape(img.shape[0], -1)\n', "the mapper's clip range includes the nodata fill: a NaN block changes the map far from it", [f'{T_NF}::test_a_nan_block_is_nodata_and_the_rest_of_the_map_does_not_change']),
    M('mapper-nonfinite-not-counted', _MAPPER, '            self.counts_on_device[2] += (block[-1] > 0).sum()', '            self.counts_on_device[2] += 0', 'NaN/Inf pixels missing from the count in the JSON record', [f'{T_NF}::test_nodata_nan_makes_nan_ordinary_nodata_and_the_record_counts_the_rest']),
    M('mapper-nonfinite-skipped-windows-uncounted', _MAPPER, '                if extra.any():', '                if extra.any() and False:', 'NaN/Inf pixels of windows without a pixel to predict not counted (an all-NaN scene maps as empty)', [f'{T_NF}::test_a_scene_without_a_finite_pixel_is_refused_in_one_line']),
    M('mapper-all-nonfinite-mapped', _MAPPER, '    if blender.valid_pixels == 0 and blender.nonfinite_pixels > 0:', '    if False:', 'a scene without one finite pixel written as an empty map', [f'{T_NF}::test_a_scene_without_a_finite_pixel_is_refused_in_one_line']),
    M('nodata-nan-compared', _INPUTS, '(np.isnan(data) if np.isnan(nodata) else data == np.float32(nodata))', '(data == np.float32(nodata))', '--nodata nan compared with ==, which never holds for NaN', [f'{T_NF}::test_nodata_nan_makes_nan_ordinary_nodata_and_the_record_counts_the_rest']),
    M('stale-partials-kept', _RASTER, '    for partial in removed:\n        partial.unlink(missing_ok=True)', '    for partial in removed:\n        pass', 'the partial files of a killed map are never removed', [f'{T_NF}::test_a_rerun_removes_the_partial_files_a_killed_run_left_and_nothing_else']),
    M('stale-partials-of-a-live-run', _RASTER, 'if match and candidate.is_file() and not _process_alive(match.group(1)):', 'if match and candidate.is_file():', "a running process's partial files deleted under it", [f'{T_NF}::test_a_rerun_removes_the_partial_files_a_killed_run_left_and_nothing_else']),
    M('stale-partials-of-other-outputs', _RASTER, "_PARTIAL_RANDOM = '[a-z0-9_]+'", "_PARTIAL_RANDOM = '[a-z0-9_.-]+'", 'partial files of other outputs (map.v2.tif for map.tif) removed', [f'{T_NF}::test_a_rerun_removes_the_partial_files_a_killed_run_left_and_nothing_else']),
    M('outputs-not-checked-first', _MAPPER, "        check_writable(path, option='output')\n", '', 'an unusable output path found only after loading the model and mapping', [f'{T_NF}::test_output_path_problems_end_in_one_line_with_exit_2']),
    M('masked-counts-nodata', _MAPPER, '                      else window.excluded & ~window.nodata)', '                      else window.excluded)', 'no-data pixels under a quality mask class (SCL 0 at a swath edge) counted as masked', [f'{T_S2F}::test_masked_pixels_count_only_pixels_with_data']),
    # -- multi-date composites and STAC items ---------------------------------------------------
    M('composite-cloudy-dates-predicted', _COMP, 'w = weights * _stack_on(device, [clear[d] for d in dates])', 'w = weights * _stack_on(device, [np.ones_like(clear[d]) for d in dates])', "every date's probabilities combined, also where it is cloudy", [_COMP_FILL]),
    M('composite-clouds-count-as-clear', _COMP, 'clear = np.stack([~w.nodata if w.excluded is None else ~(w.nodata | w.excluded)', 'clear = np.stack([~w.nodata if True else ~(w.nodata | w.excluded)', 'the quality mask ignored: cloudy pixels count as clear', [_COMP_FILL]),
    M('composite-confidence-rule-ignored', _COMP, "        if rule == 'confidence':\n", "        if rule == 'confidence' and False:\n", '--composite-rule confidence averages like mean', [_COMP_CONF]),
    M('composite-count-of-all-dates', _COMP, 'self.rows[:final, x:x_next] = part.sum(axis=0)', 'self.rows[:final, x:x_next] = len(part)', 'the count gives the number of dates, not of clear dates', [_COMP_FILL]),
    M('composite-other-grid-accepted', _COMP, '        if (source.crs, source.transform, source.width, source.height) != \\\n', '        if False and (source.crs, source.transform, source.width, source.height) != \\\n', 'dates of another tile combined pixel by pixel as if on one grid', [_COMP_BAD]),
    M('stac-composite-end-is-start', _STAC, 'end_datetime=dates[-1] if composite else None', 'end_datetime=dates[0] if composite else None', "a composite's STAC time range ends at its first date", [_COMP_ITEM]),
    M('stac-bbox-not-wgs84', _STAC, "geometry = transform_geom(src.crs, 'EPSG:4326', native, antimeridian_cutting=True, precision=7)", 'geometry = native', 'geometry and bbox in the map CRS instead of WGS84', [_COMP_ITEM]),
    M('stac-collection-keeps-first-item', _STAC, "items = [pystac.Item.from_file(str(p)) for p in sorted(folder.glob('*' + ITEM_SUFFIX))]", "items = [pystac.Item.from_file(str(p)) for p in sorted(folder.glob('*' + ITEM_SUFFIX))][:1]", 'the collection is not updated as further scenes finish', [_COMP_CLI]),
    M('composite-partials-kept', 'daspm/mapping/composite.py', '    prepare_outputs(paths.finals.values(), paths.quicklook, sidecar_path(paths.map), opts.overwrite)', '    prepare_outputs([], paths.quicklook, sidecar_path(paths.map), opts.overwrite)', "a killed composite's partial files never removed (its outputs left out of the preparation)", ['tests/test_composite_stac.py::test_a_composite_removes_the_partials_a_killed_composite_left']),
    M('single-date-read-failure-traceback', _MAPPER, '        with naming_read_failures(plan.source.label):\n', '        if True:\n', 'a band file that breaks mid-read ends single-date mapping in a rasterio traceback', ['tests/test_composite_stac.py::test_a_single_date_whose_band_file_breaks_ends_in_one_line']),
    # -- run safety: non-finite loss, config typos, resume, safe loading ---------------------------
    M('nonfinite-loss-not-stopped', _DEFER, '        if stop is not None:\n            step, parts = stop\n', '        if stop is not None and False:\n            step, parts = stop\n', 'a loss that is not finite is logged and trained on; checkpoints with NaN weights are saved', [f'{T_SAFE}::test_a_loss_that_is_not_finite_stops_training_before_the_next_checkpoint']),
    M('nonfinite-loss-names-the-flush-iteration', _DEFER, '    step = min(bad)\n', '    step = max(steps)\n', 'the stop names the iteration whose values were read, not the one that went wrong', [f'{T_SAFE}::test_a_loss_that_is_not_finite_stops_training_before_the_next_checkpoint']),
    M('stopped-run-directory-removed', 'daspm/cli/train.py', 'removed = [] if isinstance(err, TrainingStopped) else new_dirs.remove_unfinished()', 'removed = new_dirs.remove_unfinished()', 'a run stopped during training is deleted with the logs that say why', [f'{T_SAFE}::test_a_nan_input_stops_the_run_in_one_line_and_keeps_its_directory']),
    M('failed-run-with-logs-removed', 'daspm/cli/train.py', 'not has_checkpoint(run_dir) and not has_training_logs(run_dir)', 'not has_checkpoint(run_dir)', 'a failed new run that logged iterations is deleted with its logs', [f'{T_SAFE}::test_a_failed_new_run_whose_logs_hold_iterations_is_kept']),
    M('cfg-option-keys-unchecked', 'daspm/apis/config_loading.py', '        problem = missing_key(cfg.to_dict(), key, cfg_options)\n', '        problem = None\n', 'a misspelt --cfg-options key is merged as a new key and silently ignored', [T_OPTS]),
    M('cfg-option-type-options-ignored', 'daspm/apis/config_loading.py', '        if options is not None and part in options:\n            return None', '        if False:\n            return None', "an option of the section's type that the config leaves at its default is refused", [f'{T_OPTS}::test_keys_that_are_options_of_the_section_s_type_or_marked_new_are_accepted']),
    M('hook-options-unchecked', 'daspm/apis/config_loading.py', "                if options is not None and option not in options and option not in ('type', '_scope_'):", "                if False:", 'a misspelt hook option in a config file trains until the first checkpoint save', [f'{T_OPTS}::test_a_misspelt_hook_option_in_a_config_file_is_refused']),
    M('uda-options-unchecked', 'daspm/utils/options.py', '            if name not in known:\n', '            if False:\n', "a misspelt DACS option ends in the registry's TypeError traceback", [f'{T_OPTS}::test_the_uda_segmentor_refuses_an_unknown_option_with_the_nearest_one']),
    M('resume-no-fallback', 'daspm/apis/checkpoint.py', "            skipped.append(f'{path.name} ({err.reason})')\n            continue\n", "            raise\n", 'an unreadable newest checkpoint stops the resume instead of falling back to the older one', [f'{T_SAFE}::test_resume_skips_an_unreadable_newest_checkpoint_and_keeps_config_py']),
    M('resume-rewrites-config', 'daspm/cli/train.py', '        cfg = Config(load_config(resolved, command_line_options(args.amp, args.cfg_options)).to_dict())', '        cfg = load_config(resolved, command_line_options(args.amp, args.cfg_options))', "the runner dumps the resumed config over the run's config.py", [f'{T_SAFE}::test_resume_skips_an_unreadable_newest_checkpoint_and_keeps_config_py']),
    M('resume-without-checkpoint-trains-anew', 'daspm/apis/checkpoint.py', "    if not candidates:\n        raise DaspmInputError(f'{run_dir} holds no checkpoint", "    if False:\n        raise DaspmInputError(f'{run_dir} holds no checkpoint", '--resume on a directory without a checkpoint is not refused', [f'{T_SAFE}::test_resume_without_a_checkpoint_is_refused_in_one_line']),
    M('load-from-not-checked', 'daspm/apis/checkpoint.py', "    paths = [cfg.get('load_from')] + [", "    paths = [] + [", 'a refused load_from ends in the runner with a torch traceback', [f'{T_SAFE}::test_a_refused_checkpoint_through_resume_load_from_or_init_cfg_is_one_line']),
    M('refusal-names-no-object', 'daspm/utils/checkpoint.py', "    return f'a pickled {match.group(1)}' if match.groups() else", "    return 'a pickled object' if match.groups() else", 'the refusal does not say what the checkpoint holds', [f'{T_SAFE}::test_a_safe_loading_refusal_is_one_complete_line_naming_the_object']),
    M('allow-list-wider-than-checkpoints', 'daspm/utils/compat.py', "for t in ('float64', 'int64')]", "for t in ('float64', 'int64', 'int32')]", 'safe loading admits a numpy type no checkpoint of the project holds', [f'{T_SAFE}::test_a_safe_loading_refusal_is_one_complete_line_naming_the_object']),
    M('allow-list-lacks-counts', 'daspm/utils/compat.py', "for t in ('float64', 'int64')]", "for t in ('float64',)]", "safe loading refuses the int64 counts of mmengine's own log buffers", [f'{T_SAFE}::test_a_real_mmengine_checkpoint_needs_exactly_the_allow_list']),
    M('mmseg-resume-newest-unreadable', 'daspm/cli/mmseg_train.py', "        if cfg.get('load_from') is None:\n            choose_resume_checkpoint(cfg)", "        if False:\n            choose_resume_checkpoint(cfg)", "tools/train.py --resume takes mmengine's newest checkpoint even when it cannot be read", ['tests/test_run_safety.py::test_mmseg_style_resume_skips_an_unreadable_newest_checkpoint_and_says_when_there_is_none']),
    M('target-nodata-ignored', 'daspm/models/uda/dacs.py', 'both(valid if self.ignore_padding else None, has_data)', 'valid if self.ignore_padding else None', 'target nodata pixels (NaN/Inf input) keep the pseudo-weight and count in the confident share', [f'{T_TND}::test_target_nodata_pixels_get_pseudo_weight_0_and_do_not_count_in_the_share']),
    M('target-nodata-with-padding-switch', 'daspm/models/uda/dacs.py', 'both(valid if self.ignore_padding else None, has_data)', 'both(valid, has_data) if self.ignore_padding else None', 'ignore_padding=False (the reference) also trains on the target nodata pixels', [f'{T_TND}::test_nodata_and_padding_together_and_the_reference_switch_keeps_nodata_out']),
    M('target-nodata-inverted', _TND_UDA, '= ~nodata', '= nodata', 'the image pixels get weight 0 and the nodata pixels keep it', [f'{T_TND}::test_target_nodata_pixels_get_pseudo_weight_0_and_do_not_count_in_the_share']),
    M('target-nodata-not-moved', _TND_PACK, '                fields.append(NODATA_MAP_KEY)', '                pass', 'the nodata map is not among the seg_fields: resize/crop/flip leave it behind the image', [f'{T_TND}::test_the_nodata_mask_follows_resize_crop_and_flip_of_the_real_target_pipeline']),
    M('target-nodata-packed-inverted', _TND_PACK, 'torch.from_numpy(nodata[None] != 0)', 'torch.from_numpy(nodata[None] == 0)', 'the packed mask marks the image pixels as nodata', [f'{T_TND}::test_the_nodata_mask_follows_resize_crop_and_flip_of_the_real_target_pipeline']),
    M('target-nodata-mask-always-packed', _TND_PACK, '            if nodata.any():', '            if True:', 'a crop beside the nodata still carries a (empty) mask: such tiles leave the unchanged route', [f'{T_TND}::test_the_nodata_mask_follows_resize_crop_and_flip_of_the_real_target_pipeline']),
    # -- docs: README length, links, and the test command CI runs ---------------------------------
    M('ci-run-skips-make-test', '.ci/run', 'cd "$(dirname "$0")/.."\nmake test', 'cd "$(dirname "$0")/.."\nbash scripts/run_tests.sh', "CI runs the suite without the set-up, not the README's make test", ['tests/test_docs.py::test_ci_runs_make_test_which_runs_the_suite_the_readme_names']),
    M('make-test-runs-demo', 'Makefile', 'test: setup\n\tbash scripts/run_tests.sh', 'test: setup\n\tbash scripts/demo.sh', 'make test runs the demo instead of the test suite', ['tests/test_docs.py::test_ci_runs_make_test_which_runs_the_suite_the_readme_names']),
    M('test-suite-outside-venv', 'scripts/run_tests.sh', '.venv/bin/python -m pytest -q', 'python -m pytest -q', "the suite runs with whatever python is on PATH, not the project's .venv", ['tests/test_docs.py::test_ci_runs_make_test_which_runs_the_suite_the_readme_names']),
    M('docs-heading-renamed-under-a-link', 'docs/results.md', '\n## On one H100\n', '\n## On an H100\n', 'a heading renamed while another page links to its anchor', ['tests/test_docs.py::test_relative_links_resolve']),
    # -- synthetic target-domain shifts -----------------------------------------------------------
    M('shift-season-on-the-source', _GEN, '    reflectance = layout_reflectance(material_rng, layout, profile.materials)\n    if domain', '    reflectance = apply_land_cover(get_shift(shift), layout_reflectance(material_rng, layout, profile.materials), layout.labels)\n    if domain', "the season's land cover applied to the source too", [f'{T_SHIFT}::test_source_tiles_ignore_the_shift']),
    M('shift-haze-ranges-ignored', _GEN, 'sensors.draw_atmosphere(sensor_rng, *profile.atmosphere_ranges(shift))', 'sensors.draw_atmosphere(sensor_rng)', "the atmosphere family's haze ranges not used when drawing a tile's haze", [T_SHIFT]),
    M('shift-tone-curve-inverted', _SHIFTS, '** np.float32(1.0 / shift.gamma)', '** np.float32(shift.gamma)', 'tone curve rho ** gamma instead of rho ** (1 / gamma) (darkens instead of brightening)', [T_SHIFT]),
    M('shift-season-on-every-class', _SHIFTS, '    green = labels == GREEN\n', '    green = labels >= GREEN\n', "the season's vegetation factors applied to every class", [T_SHIFT]),
    M('shift-default-tagged', _SHIFTS, '    if shift.is_default:\n        return {}\n', '', 'default files tagged (no longer byte-identical to the generator before shifts)', [T_SHIFT]),
    M('shift-psf-in-metres', _SENS, 'psf_blur(signal.astype(np.float32), shift.psf_sigma_m() / FINE_GSD_M)', 'psf_blur(signal.astype(np.float32), shift.psf_sigma_m())', 'PSF sigma in metres used as fine pixels', [T_SHIFT]),
    # -- synthetic spectral profiles (--spectra sentinel2) ------------------------------------------
    M('spectra-default-tagged', _SPECTRA, '    if profile.is_default:\n        return {}\n', '', 'default files tagged with their spectra (no longer byte-identical)', [T_CAL]),
    M('spectra-materials-not-passed', _GEN, 'layout_reflectance(material_rng, layout, profile.materials)', 'layout_reflectance(material_rng, layout)', 'the calibrated material spectra never reach the rendering', [T_CAL]),
    M('spectra-l2a-keeps-haze', _SENS, "    if profile.level == 'L1C':\n", "    if True:\n", 'the L2A (surface reflectance) profile still gets the atmosphere', [T_CAL]),
    M('spectra-path-exponent-ignored', _SENS, 'apply_atmosphere(coarse, atmosphere, rng, profile.path_exponent, profile.airmass)', 'apply_atmosphere(coarse, atmosphere, rng)', "the calibrated Rayleigh-like path fall-off not used (the default's lambda^-2)", [T_CAL]),
    M('spectra-profile-haze-beats-shift', _SPECTRA, "path = shift.path_blue if 'path_blue' in shift.changes else self.path_blue", 'path = self.path_blue', "the profile's haze range replaces the shift's instead of the shift applying on top", [T_CAL]),
    M('calibration-texture-across-borders', 'daspm/synthetic/statistics.py', "    inside = interior(classes, cls)\n", "    inside = mask\n", 'texture measured on every class pixel, borders with other classes included', [T_CAL]),
    # -- pseudo-label diagnostics (target labels for diagnosis only) --------------------------------
    M('dacs-trains-on-target-labels', _DACS, "            log_vars['pseudo_weight'] = confident.float()\n", "            if 'gt_sem_seg' in target['data_samples'][0]:\n                pseudo_label = torch.stack([s.gt_sem_seg.data[0] for s in target['data_samples']]).long()\n            log_vars['pseudo_weight'] = confident.float()\n", 'the target labels leak into training (they replace the pseudo-labels when the batch holds them)', [f'{T_DIAG}::test_training_never_reads_the_target_labels']),
    M('diag-ignored-pixels-scored', _DIAG, '    keep = true != ignore_index\n', '    keep = true >= 0\n', 'unlabelled (ignore) pixels scored as a class', [T_DIAG]),
    M('diag-confident-share-of-the-batch', _DIAG, '        confident_share=n_conf / pixels if pixels else None,', '        confident_share=float(confident.float().mean()),', 'confident share over all pixels, unlabelled ones included', [T_DIAG]),
    M('diag-label-loader-before-resampling', 'daspm/datasets/uda_dataset.py', "    at = types.index('SubPixelResample') + 1 if 'SubPixelResample' in types else 1\n", '    at = 1\n', "the target labels loaded before the image's resampling (the resampler would treat them as coarse)", [T_DIAG]),
    M('config-text-one-tuple-unmarked', 'daspm/convert/config_file.py', "('(', ',)' if len(value) == 1 else ')')", "('(', ')')", "a written one-element tuple reads back as its element", ['tests/test_custom_converter.py::test_config_text_writes_values_that_read_back']),
    M('config-text-fit-ignores-key', 'daspm/convert/config_file.py', "python_text(v, indent + 4, indent + 5 + len(k))", "python_text(v, indent + 4)", "a written dict entry overruns the line width by its key", ['tests/test_custom_converter.py::test_config_text_writes_values_that_read_back']),
    M('custom-uda-on-plain-network', 'daspm/convert/custom_config.py', "network = spec.recipe.uda_base if uda else spec.recipe.base", "network = spec.recipe.base", "the converter's uda.py lists the plain network base: its DACS values land on an EncoderDecoder", ['tests/test_custom_converter.py::test_written_configs_are_a_base_plus_values']),
    M('outputs-done-ignores-stamp', 'daspm/convert/outputs.py', "    if stamp is None:\n", "    if True:\n", "a converter's resume stamps with the oldest output, not the annotation: a copied image (raw time) makes every pair redo", ['tests/test_convert_outputs.py::test_done_by_the_stamp_or_by_the_oldest_output']),
    M('outputs-orphans-ignore-pattern', 'daspm/convert/outputs.py', "for p in (out / sub).glob(pattern)}", "for p in (out / sub).glob('*.tif')}", "the LoveDA family's orphan check looks only at .tif outputs: a .png image left behind is missed", ['tests/test_convert_outputs.py::test_partials_and_orphans']),
    M('global23k-impervious-as-roads', 'daspm/convert/formats/global23k.py', "7: IGNORE_INDEX, 8: 3, 9: IGNORE_INDEX", "7: IGNORE_INDEX, 8: 2, 9: IGNORE_INDEX", "the assumed Global23k table sends raw code 8 (impervious) to roads", ['tests/test_convert_global23k.py::test_tool_converts_beside_the_input_into_the_five_classes']),
    M('outputs-writes-into-input', 'daspm/convert/outputs.py', "        if is_within(out_r, folder_r):\n", "        if False:\n", "a converter accepts an output folder inside its input and writes there", ['tests/test_convert_global23k.py::test_layout_errors_name_the_folder_and_the_fix']),
    M('folder-label-map-ignored', 'daspm/convert/formats/image_folders.py', "            table.update(options.label_map)\n", "            pass\n", "--label-map is recorded in the table name but its entries never reach the lookup table", ['tests/test_convert_global23k.py::test_table_is_explicit_and_label_map_corrects_it']),
    M('uda-base-basic-teacher', 'configs/_base_/models/uda_danet_r50-d8.py', "'../uda/dacs_a999.py'", "'../uda/dacs.py'", "a UDA model base wraps its network with the basic DACS options (alpha 0.99)", ['tests/test_configs.py::test_uda_model_bases_wrap_their_network_with_the_a999_options']),
    M('resume-load-failure-traceback', 'daspm/cli/train.py', "        if not cfg.get('resume') or provenance.recorded:", "        if True:", 'a resume whose checkpoint does not fit ends in a traceback instead of one line', ['tests/test_run_safety.py::test_a_resume_that_fails_while_loading_leaves_provenance_and_config_as_they_were']),
    M('resume-weights-only-chosen', 'daspm/apis/checkpoint.py', "        if missing or 'iter' not in ckpt['meta']:", "        if False:", 'a checkpoint of weights alone (no meta/optimizer) chosen to resume from', ['tests/test_run_safety.py::test_a_resume_that_fails_while_loading_leaves_provenance_and_config_as_they_were']),
    M('provenance-before-load', 'daspm/apis/run_directory.py', "    def before_train(self, runner) -> None:\n        record_provenance(self.run_dir)\n        self.recorded = True", "    def before_run(self, runner) -> None:\n        record_provenance(self.run_dir)\n        self.recorded = True", 'the start recorded in provenance.json before the checkpoint has loaded', ['tests/test_run_safety.py::test_a_resume_that_fails_while_loading_leaves_provenance_and_config_as_they_were']),
    M('cli-maps-scene-twice', 'daspm/cli/map_scene.py', '        result = map_plan_to_files(plan, args.inputs, model, spec, paths, opts)\n', '        from daspm.mapping.mapper import map_scene_to_files; result = map_scene_to_files(args.inputs, model, spec, args.out, confidence=args.confidence, probabilities=args.probabilities, uncertainty=args.uncertainty, quicklook=args.quicklook, **{**vars(opts), "overwrite": True})\n', 'daspm-map opens, plans and checks a scene a second time instead of mapping the plan it showed', [f'{T_SCENE}::test_cli_opens_plans_and_checks_a_scene_once']),
    M('cli-composite-opens-dates-twice', 'daspm/cli/map_scene.py', '        result = composite_plan_to_files(sources, plan, args.inputs, model, spec, paths, opts, args.composite_rule)\n', '        from daspm.mapping.composite import composite_to_files; result = composite_to_files(args.inputs, model, spec, args.out, rule=args.composite_rule, **{**vars(opts), "overwrite": True})\n', 'daspm-map --composite opens, plans and checks the dates a second time instead of mapping the plan', [f'{_T_COMP}::test_cli_composite_opens_plans_and_checks_each_date_once']),
    # -- real target set and land-cover evaluation -------------------------------------------------------
    M('real-target-offset-ignored', 'daspm/mapping/real_target.py', "    spec = input_spec(bands=list(opts.bands), scale=1.0, offset=opts.offset)\n", "    spec = input_spec(bands=list(opts.bands), scale=1.0)\n", 'the --offset of plain baseline-04.00 band files is not applied', ['tests/test_real_target.py::test_band_files_at_10_and_20_m_with_the_baseline_offset']),
    M('real-target-nodata-kept', 'daspm/mapping/real_target.py', "    tile[:, nodata] = NODATA_DN\n", "", 'no-data (and cloud) pixels written as DN 1 instead of no data', ['tests/test_real_target.py']),
    M('real-target-last-tile-short', 'daspm/mapping/real_target.py', "    count = -(-(length - tile) // stride) + 1\n", "    count = (length - tile) // stride + 1\n", 'the last tile does not reach the end of the scene', ['tests/test_real_target.py']),
    M('unlabelled-set-reads-ann-dir', 'daspm/datasets/geotiff_dataset.py', "        if root is not None and (root / MANIFEST).is_file() and not (root / ANN_DIR).exists():\n", "        if False:\n", 'an unlabelled target set is listed with label paths that do not exist', ['tests/test_real_target.py']),
    M('landcover-mask-bilinear', 'daspm/evaluation/landcover.py', "resampling=Resampling.nearest, src_nodata=None", "resampling=Resampling.bilinear, src_nodata=None", 'mask codes interpolated onto the map grid (invented classes at borders)', ['tests/test_landcover_eval.py']),
    M('landcover-map-nodata-counted', 'daspm/evaluation/landcover.py', "    both = (mask != MASK_NODATA) & (class_map != IGNORE_INDEX)\n", "    both = (mask != MASK_NODATA) & (class_map < 255 + 1)\n", 'map pixels without a prediction (255) counted in the confusion table', ['tests/test_landcover_eval.py']),
    M('landcover-group-expects-one-class', 'daspm/evaluation/landcover.py', "    Group('built-up', (8,), (1, 2, 3)),", "    Group('built-up', (8,), (1,)),", 'artificial surface counted right only as urban area (roads, impervious surface missed)', ['tests/test_landcover_eval.py']),
]
