"""Misspelt config keys and options are refused before anything runs, naming the nearest existing one."""
from __future__ import annotations

import pytest

from conftest import REPO
from daspm.apis.amp import command_line_options
from daspm.apis.config_loading import load_config
from daspm.models.uda.dacs import DACS
from daspm.utils.errors import DaspmInputError

UDA_CONFIG = REPO / 'configs/daspm/synthetic_uda_rcs_fd_daformer_mitb0.py'


@pytest.mark.parametrize('key, value, missing, nearest', [
    ('randomnes.seed', 3, 'randomnes', 'randomness'),  # a top-level typo was silently ignored
    ('default_hooks.checkpoint.intreval', 1, 'default_hooks.checkpoint.intreval',
     'default_hooks.checkpoint.interval'),  # trained, then crashed at the first save
    ('model.pseudo_treshold', 0.9, 'model.pseudo_treshold', 'model.pseudo_threshold'),  # a registry traceback
    ('model.model.decode_head.dropout_ration', 0.2, 'model.model.decode_head.dropout_ration',
     'model.model.decode_head.dropout_ratio'),
])
def test_a_misspelt_option_key_names_the_nearest_existing_one(key, value, missing, nearest):
    with pytest.raises(DaspmInputError) as err:
        load_config(UDA_CONFIG, {key: value})
    assert str(err.value) == (f'--cfg-options {key}: {UDA_CONFIG} has no key {missing} (did you mean {nearest}?); '
                              f'write +{key}=... to add a new key on purpose')


def test_keys_that_are_options_of_the_section_s_type_or_marked_new_are_accepted():
    # options the config leaves at their defaults: DACS's seed, CheckpointHook's save_best, a head's option
    cfg = load_config(UDA_CONFIG, {'model.seed': 3, 'default_hooks.checkpoint.save_best': 'mIoU',
                                   'model.model.decode_head.dropout_ratio': 0.2, 'custom_hooks.0.interval': 2,
                                   '+my_notes.owner': 'me'})
    assert cfg.model.seed == 3 and cfg.default_hooks.checkpoint.save_best == 'mIoU'
    assert cfg.model.model.decode_head.dropout_ratio == 0.2 and cfg.custom_hooks[0].interval == 2
    assert cfg.my_notes == {'owner': 'me'} and '+my_notes' not in cfg
    # --amp sets the wrapper's type and that type's options together
    assert load_config(UDA_CONFIG, command_line_options('fp16', None)).optim_wrapper.loss_scale == 'dynamic'


def test_list_indices_and_values_are_not_sections():
    with pytest.raises(DaspmInputError, match=r'has no key custom_hooks\.3 \(custom_hooks is a list of 1 entries'):
        load_config(UDA_CONFIG, {'custom_hooks.3.interval': 2})
    with pytest.raises(DaspmInputError, match=r'has no key model\.alpha\.x \(model\.alpha is a value, not a section\)'):
        load_config(UDA_CONFIG, {'model.alpha.x': 1})


def test_a_misspelt_hook_option_in_a_config_file_is_refused(tmp_path):
    config = tmp_path / 'typo.py'
    config.write_text(f"_base_ = ['{UDA_CONFIG}']\ndefault_hooks = dict(checkpoint=dict(intreval=1))\n")
    with pytest.raises(DaspmInputError) as err:
        load_config(config)
    assert str(err.value) == (f"{config}: default_hooks.checkpoint: CheckpointHook has no option 'intreval'; "
                              'did you mean interval?')


def test_the_uda_segmentor_refuses_an_unknown_option_with_the_nearest_one():
    with pytest.raises(DaspmInputError,
                       match=r"^DACS has no option 'pseudo_treshold'; did you mean pseudo_threshold\?$"):
        DACS(model={}, pseudo_treshold=0.9)
    with pytest.raises(DaspmInputError, match=r"^DACS has no option 'zzz'; its options: alpha, blur, "):
        DACS(model={}, zzz=1)
