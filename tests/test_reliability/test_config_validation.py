"""Configs are validated (issue 12, item 4 and its table row).

Row: "``--cfg-options model.test_cfg.mem_evry=10`` (typo), ``mem_every=2.5``,
``keep_previous=maybe``: accepted silently (2.5 behaves as 5);
``mem_every=abc`` gives a TypeError that names no key". STM's ``test_cfg``
and ``train_cfg`` are checked when the model is built: an unknown key is an
error naming it (``model.test_cfg.mem_evry``) and listing the accepted ones;
a value of the wrong type or range names the key and what it should be.
Overrides passed to ``new_stream`` (TTA, ensembles) are checked the same
way.
"""

import pytest
from mmengine.config import Config

from tool_loading import load_tool
from tool_run_helpers import (TINY_MODEL, write_synthetic_davis,
                              write_test_config)

STREAM_KEYS = ('aggregation_channels, keep_previous, max_memory_frames, '
               'max_size, mem_every, object_chunk_size, pad_divisor')
#: the keys of an STM test_cfg: the stream options and STM's own
TEST_CFG_KEYS = ('aggregation_channels, keep_previous, max_memory_frames, '
                 'max_size, mem_every, object_chunk_size, pad_divisor, '
                 'precision, top_k')

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def build(**cfg_options):
    from vosbench.apis import init_model
    return init_model(TINY_MODEL, cfg_options=cfg_options)


# ---------------------------------------------------------------------------
# the table row, through tools/test.py
# ---------------------------------------------------------------------------
@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_synthetic_davis(
        str(tmp_path_factory.mktemp('validation_data')), num_val=1,
        num_frames=3)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    import torch
    model = build()
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return path


@pytest.mark.parametrize('option,message', [
    ('model.test_cfg.mem_evry=10',
     'unknown key model.test_cfg.mem_evry (did you mean mem_every?); '
     f'model.test_cfg accepts: {TEST_CFG_KEYS}'),
    ('model.test_cfg.mem_every=abc',
     "model.test_cfg.mem_every must be a positive integer, got 'abc' (str)"),
])
def test_tools_test_rejects_bad_test_cfg(tmp_path, data_root, checkpoint,
                                         option, message):
    """Before: the typo ran the test with the default, ``abc`` failed
    inside the first video with a TypeError naming no key."""
    config = write_test_config(tmp_path, f'validation_{len(option)}',
                               data_root)
    test_tool = load_tool('tools/test.py', 'vosbench_tool_test_validation')
    with pytest.raises(ValueError) as info:
        test_tool.main([config, checkpoint, '--work-dir',
                        str(tmp_path / 'work'), '--cfg-options', option])
    assert message in str(info.value)


# ---------------------------------------------------------------------------
# test_cfg and train_cfg values, at build time
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('key,value,expected', [
    ('mem_every', 2.5, 'a positive integer, got 2.5 (float)'),
    ('mem_every', 'abc', "a positive integer, got 'abc' (str)"),
    ('mem_every', 0, 'a positive integer, got 0 (int)'),
    ('mem_every', True, 'a positive integer, got True (bool)'),
    ('keep_previous', 'maybe', "True or False, got 'maybe' (str)"),
    ('keep_previous', 1, 'True or False, got 1 (int)'),
    ('max_memory_frames', 0, 'None or a positive integer, got 0'),
    ('max_memory_frames', 2.0, 'None or a positive integer, got 2.0'),
    ('pad_divisor', -16, 'a positive integer, got -16'),
    ('aggregation_channels', 1, 'None or an integer >= 2, got 1'),
])
def test_test_cfg_types_and_ranges(key, value, expected):
    with pytest.raises(ValueError) as info:
        build(**{f'model.test_cfg.{key}': value})
    assert f'model.test_cfg.{key} must be {expected}' in str(info.value)


@pytest.mark.parametrize('key,value,expected', [
    ('max_object', 3,
     'unknown key model.train_cfg.max_object (did you mean max_objects?); '
     'model.train_cfg accepts: max_objects, nonfinite_loss'),
    ('max_objects', 0,
     'model.train_cfg.max_objects must be None or a positive integer'),
    ('nonfinite_loss', 'ignore',
     "model.train_cfg.nonfinite_loss must be one of 'raise', 'skip', got "
     "'ignore'"),
])
def test_train_cfg_keys_and_values(key, value, expected):
    with pytest.raises(ValueError) as info:
        build(**{f'model.train_cfg.{key}': value})
    assert expected in str(info.value)


def test_allowed_values_are_accepted():
    model = build(**{'model.test_cfg.mem_every': 1,
                     'model.test_cfg.keep_previous': False,
                     'model.test_cfg.max_memory_frames': 10,
                     'model.test_cfg.aggregation_channels': 11,
                     'model.train_cfg.max_objects': None,
                     'model.train_cfg.nonfinite_loss': 'skip'})
    stream = model.new_stream([1, 2])
    assert (stream.mem_every, stream.keep_previous,
            stream.max_memory_frames) == (1, False, 10)
    model = build(**{'model.test_cfg.max_memory_frames': None})
    assert model.new_stream([1]).max_memory_frames is None


# ---------------------------------------------------------------------------
# new_stream overrides of the model, TTA and ensembles
# ---------------------------------------------------------------------------
@pytest.fixture(scope='module')
def wrappers():
    from vosbench.models.tta import VOSTTAModel
    from vosbench.models.vos import VOSEnsemble
    model = build()
    return dict(stm=model,
                tta=VOSTTAModel(model, views=[dict(type='IdentityView')]),
                ensemble=VOSEnsemble([model]))


@pytest.mark.parametrize('which', ['stm', 'tta', 'ensemble'])
def test_new_stream_overrides_are_checked(wrappers, which):
    """Before: ``mem_every=2.5`` made a stream that kept every 5th frame
    or so."""
    model = wrappers[which]
    with pytest.raises(ValueError, match=r'new_stream\(\)\.mem_every must '
                       r'be a positive integer, got 2\.5'):
        model.new_stream([1], mem_every=2.5)
    with pytest.raises(TypeError) as info:
        model.new_stream([1], mem_evry=3)
    assert 'new_stream().mem_evry' in str(info.value)
    assert STREAM_KEYS in str(info.value)
    assert model.new_stream([1], mem_every=2) is not None


def test_ensemble_member_config_is_checked():
    from vosbench.models.vos import VOSEnsemble
    member = Config.fromfile(TINY_MODEL).model
    member.test_cfg.keep_previous = 'maybe'
    with pytest.raises(ValueError) as info:
        VOSEnsemble([dict(model=member)])
    assert 'ensemble member 0' in str(info.value)
    assert 'model.test_cfg.keep_previous must be True or False' in str(
        info.value)


def test_adding_an_option_is_one_line(monkeypatch):
    """The checks are tables: one entry makes an option known and
    checked (a stream option, or one of STM's own test options)."""
    import importlib
    so = importlib.import_module('vosbench.inference.stream_options')
    stm = importlib.import_module('vosbench.models.vos.stm')
    from vosbench.utils.option_checks import (Option, one_of, optional,
                                              positive_int)
    with pytest.raises(ValueError,
                       match='unknown key model.test_cfg.read_every'):
        build(**{'model.test_cfg.read_every': 20})
    monkeypatch.setitem(so.STREAM_OPTIONS, 'read_every',
                        Option(None, optional(positive_int)))
    monkeypatch.setitem(stm.TEST_OPTIONS, 'output_mode',
                        Option('labels', one_of('labels', 'probs')))
    build(**{'model.test_cfg.read_every': 20,
             'model.test_cfg.output_mode': 'probs'})
    with pytest.raises(ValueError,
                       match='model.test_cfg.read_every must be'):
        build(**{'model.test_cfg.read_every': 'all'})
    with pytest.raises(ValueError,
                       match="output_mode must be one of 'labels'"):
        build(**{'model.test_cfg.output_mode': 'half'})
    assert so.STREAM_DEFAULTS == dict(
        mem_every=5, keep_previous=True, max_memory_frames=None,
        pad_divisor=16, aggregation_channels=None, max_size=None,
        object_chunk_size=None)
