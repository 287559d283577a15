"""Checkpoint loading: safe unpickling of mmengine checkpoints and clear errors for misfits."""
from __future__ import annotations

import collections

import pytest
import torch
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmseg.registry import MODELS

from conftest import REPO
from daspm.apis.checkpoint import load_checkpoint_checked
from daspm.utils.checkpoint import read_checkpoint
from daspm.utils.errors import DaspmInputError

CONFIG = REPO / 'configs/daspm/synthetic_source_only_segformer_mitb0.py'


def _model(num_classes: int = 5):
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.decode_head.num_classes = num_classes
    return MODELS.build(cfg.model)


class NotAllowed:
    """An arbitrary class: safe loading must refuse to unpickle it."""


def test_mmengine_style_checkpoint_loads_with_weights_only(tmp_path):
    torch.manual_seed(0)
    source = _model()
    buffer = HistoryBuffer()
    buffer.update(0.5)
    meta = dict(iter=4, dataset_meta=dict(classes=('a',) * 5, palette=[[0, 0, 0]] * 5),
                message_hub=dict(log_scalars={'train/loss': buffer}, runtime_info={'iter': 4}))
    path = tmp_path / 'iter_4.pth'
    torch.save(dict(meta=meta, state_dict=source.state_dict()), path)
    target = _model()
    ckpt = load_checkpoint_checked(target, path)
    assert ckpt['meta']['iter'] == 4
    assert target.dataset_meta['classes'] == ('a',) * 5
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value)


def test_checkpoint_with_foreign_objects_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=collections.OrderedDict(), extra=NotAllowed()), path)
    with pytest.raises(DaspmInputError,
                       match=r'evil\.pth holds a pickled test_checkpoint\.NotAllowed, which safe loading refuses'):
        read_checkpoint(path)


def test_checkpoint_of_another_model_names_keys_and_shapes(tmp_path):
    path = tmp_path / 'seven_classes.pth'
    torch.save(dict(state_dict=_model(num_classes=7).state_dict()), path)
    with pytest.raises(DaspmInputError) as err:
        load_checkpoint_checked(_model(num_classes=5), path)
    message = str(err.value)
    assert 'seven_classes.pth does not fit the model' in message
    assert 'decode_head.conv_seg.weight: checkpoint (7, 128, 1, 1) vs model (5, 128, 1, 1)' in message
    assert 'use the config the checkpoint was trained with' in message


def test_missing_keys_and_missing_or_truncated_files(tmp_path):
    state = _model().state_dict()
    state.pop('backbone.layers.0.0.projection.weight')
    path = tmp_path / 'partial.pth'
    torch.save(state, path)
    with pytest.raises(DaspmInputError, match=r'1 missing key\(s\) \(e\.g\. backbone\.layers\.0\.0\.projection\.weight\)'):
        load_checkpoint_checked(_model(), path)
    with pytest.raises(DaspmInputError, match='nothing.pth not found'):
        read_checkpoint(tmp_path / 'nothing.pth')
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DaspmInputError, match='truncated.pth is not a readable torch file'):
        read_checkpoint(truncated)


def test_checkpoint_saved_from_distributed_data_parallel_loads(tmp_path):
    torch.manual_seed(1)
    source = _model()
    path = tmp_path / 'ddp.pth'
    torch.save(dict(state_dict={f'module.{k}': v for k, v in source.state_dict().items()}), path)
    target = _model()
    load_checkpoint_checked(target, path)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value)
