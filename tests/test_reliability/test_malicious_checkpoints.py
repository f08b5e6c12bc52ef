"""Malicious checkpoints run no code, through any entry point (issue 12,
item 10, second half).

Every way vosbench loads a checkpoint file is given one whose pickle runs
code when it is unpickled: a ``_Payload`` object (its reduction calls a
class of this module that writes a marker file) or the classic
``os.system('touch MARKER')``, each saved in both ``torch.save`` formats
(zip, and legacy with ``_use_new_zipfile_serialization=False``). Each test
calls the entry point the way a user does (the tools through their
``main(argv)``, in-process) and asserts that loading fails with a refusal
and that the marker file does not exist.

Every refusal comes from :func:`vosbench.engine.load_local_checkpoint`
(explicit ``weights_only=True`` and an allowlist; the error is
:class:`~vosbench.engine.UnsafeCheckpointError` and names the file),
reached directly, through ``load_checkpoint_file`` (the backbones'
Pretrained loading, also without ``register_all_modules``; URLs and
mmengine's model names are downloaded to or resolved to a file first), or
through mmengine's ``CheckpointLoader`` once
:func:`~vosbench.engine.install_safe_checkpoint_loader` has run
(``register_all_modules``, ``init_model``, the tools, ``VOSEnsemble``), so
that ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` changes nothing.

The entry points that install the loader themselves are called with
mmengine's original local loader put back first (the ``mmengine_loader``
fixture), so that they are shown to protect themselves, not to profit from
another test having installed it.

The entry points (numbered as in the sections below): 1
``load_local_checkpoint``; 2 mmengine's ``load_checkpoint`` /
``_load_checkpoint`` after ``register_all_modules``; 3 ``init_model``; 4
``tools/test.py CONFIG CKPT`` (also ``--partial-load``); 5 ``tools/test.py
ENSEMBLE none`` (member checkpoints); 6 ``VOSEnsemble`` in a script
(``init_weights``, ``load_checkpoints``, ``new_stream``); 7
``tools/train.py`` with ``load_from``; 8 ``--resume CKPT``; 9 ``--resume``
from ``last_checkpoint`` (and the fallback past a malicious newest
checkpoint); 10 ``tools/finetune_video.py`` (strict and ``--partial-load``);
11-14 a backbone's ``Pretrained`` init_cfg (through ``tools/train.py``, in a
script after and without ``register_all_modules``, and ``open-mmlab://``
mapped to a local file); 15-17 the three model converters. Then
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` and remote checkpoints.

Remote checkpoints (``https://``, ``open-mmlab://``: mmengine's
``load_from_http``) are tested offline, with the file already in torch's
hub cache, where ``torch.hub.load_state_dict_from_url`` finds it without
downloading: vosbench downloads into that cache itself and loads the file
with ``weights_only=True`` (mmengine's URL loader would unpickle it with
``weights_only=False``). Every payload here only touches a file in the
test's tmp_path.
"""
import os
import os.path as osp
import pickle

import pytest
import torch
from mmengine.config import Config

from tool_loading import load_tool
from tool_run_helpers import write_train_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(REPO, 'configs', '_base_')
TINY_MODEL = osp.join(BASE, 'models', 'stm_r18-tiny.py')
CONVERTERS = ('stm_to_vosbench', 'resnest_to_vosbench',
              'mmpretrain_resnet_to_vosbench')

pytestmark = pytest.mark.usefixtures('one_torch_thread')

test_tool = load_tool('tools/test.py', 'vosbench_tool_test_malicious')
train_tool = load_tool('tools/train.py', 'vosbench_tool_train_malicious')
finetune_tool = load_tool('tools/finetune_video.py',
                          'vosbench_tool_finetune_malicious')


# ---------------------------------------------------------------------------
# payloads and malicious checkpoints
# ---------------------------------------------------------------------------
def _write_marker(marker):
    with open(marker, 'w') as f:
        f.write('executed')
    return 'executed'


class _Payload:
    """Its unpickling calls :func:`_write_marker` (a function of this
    module, which a full unpickler imports and calls)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_write_marker, (self.marker, ))


class _SystemCall:
    """The classic: unpickling calls ``os.system``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


PAYLOADS = {'marker': _Payload, 'system': _SystemCall}
#: the name of the global each payload makes the unpickler look up
PAYLOAD_GLOBALS = {'marker': '_write_marker', 'system': 'system'}
#: (torch.save format, payload): os.system in both formats
CASES = [('zip', 'marker'), ('zip', 'system'), ('legacy', 'marker'),
         ('legacy', 'system')]
CASE_IDS = [f'{fmt}-{payload}' for fmt, payload in CASES]


@pytest.fixture(scope='module')
def tiny_state_dict():
    """The tiny STM's weights: the malicious files are otherwise valid
    checkpoints of the model they are loaded into."""
    from vosbench.registry import MODELS
    import vosbench.models  # noqa: F401  (registers the modules)
    torch.manual_seed(0)
    return MODELS.build(Config.fromfile(TINY_MODEL).model).state_dict()


class Evil:
    """A malicious checkpoint: ``path``, and the ``marker`` its payload
    would create."""

    def __init__(self, folder, fmt, payload, state_dict,
                 name='evil.pth', marker_name='marker'):
        self.fmt, self.payload = fmt, payload
        self.marker = str(folder / marker_name)
        self.path = str(folder / name)
        self.write(self.path, state_dict)

    def write(self, path, state_dict):
        """Write the checkpoint (also to another ``path``): a runner-like
        checkpoint whose ``meta`` holds the payload."""
        os.makedirs(osp.dirname(path), exist_ok=True)
        payload = PAYLOADS[self.payload](self.marker)
        torch.save(dict(meta=dict(epoch=1, iter=2, payload=payload),
                        state_dict=state_dict),
                   path, _use_new_zipfile_serialization=self.fmt == 'zip')

    @property
    def global_name(self):
        return PAYLOAD_GLOBALS[self.payload]

    def assert_not_run(self):
        assert not osp.exists(self.marker), \
            f'the payload ran: {self.marker} was created'


@pytest.fixture(params=CASES, ids=CASE_IDS)
def evil(request, tmp_path, tiny_state_dict):
    fmt, payload = request.param
    checkpoint = Evil(tmp_path / 'ckpt', fmt, payload, tiny_state_dict)
    assert not osp.exists(checkpoint.marker)
    yield checkpoint
    checkpoint.assert_not_run()


@pytest.fixture(params=[c for c in CASES if c[0] == 'zip'],
                ids=[i for i in CASE_IDS if i.startswith('zip')])
def evil_zip(request, tmp_path, tiny_state_dict):
    """Zip format only (the cases that are costly or known unsafe)."""
    fmt, payload = request.param
    checkpoint = Evil(tmp_path / 'ckpt', fmt, payload, tiny_state_dict)
    yield checkpoint


def _chain(error):
    """``error`` and its causes and contexts."""
    seen = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def assert_refused_by_vosbench(error, evil, path=None):
    """``error`` is (or was caused by) vosbench's UnsafeCheckpointError,
    which names the file and (zip: from torch's scan of the archive;
    legacy: from torch's message) the payload's global."""
    from vosbench.engine import UnsafeCheckpointError
    path = path or evil.path
    refusals = [e for e in _chain(error)
                if isinstance(e, UnsafeCheckpointError)]
    assert refusals, f'not refused by vosbench: {error!r}'
    message = str(refusals[0])
    assert path in message
    assert 'weights_only=True' in message
    assert evil.global_name in message, message
    assert isinstance(refusals[0], pickle.UnpicklingError)
    evil.assert_not_run()


def assert_refused_without_running(evil, load):
    """Call ``load()``: the payload must not run (checked first) and
    loading must be refused."""
    try:
        load()
    except Exception as exc:  # noqa: BLE001 (checked below)
        error = exc
    else:
        error = None
    evil.assert_not_run()
    assert isinstance(error, pickle.UnpicklingError), \
        f'the malicious checkpoint was not refused: {error!r}'


# ---------------------------------------------------------------------------
# loader state, data, configs
# ---------------------------------------------------------------------------
@pytest.fixture
def mmengine_loader(monkeypatch):
    """mmengine's own local loader, as in a process where nothing has
    installed vosbench's (restored after the test)."""
    from mmengine.runner.checkpoint import CheckpointLoader, load_from_local
    monkeypatch.setitem(CheckpointLoader._schemes, '', load_from_local)
    return load_from_local


@pytest.fixture
def safe_loader(monkeypatch):
    """vosbench's loader installed (as by ``register_all_modules``),
    restored after the test."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from vosbench.utils import register_all_modules
    monkeypatch.setitem(CheckpointLoader._schemes, '',
                        CheckpointLoader._schemes[''])
    register_all_modules(init_default_scope=False)


def assert_loader_is_vosbench():
    """The entry point installed vosbench's loader itself."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from vosbench.engine import load_local_checkpoint
    assert CheckpointLoader._schemes[''] is load_local_checkpoint


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    from vosbench.datasets.synthetic import generate_synthetic_davis
    root = str(tmp_path_factory.mktemp('malicious_data'))
    generate_synthetic_davis(root, num_train=1, num_val=1, num_frames=2,
                             height=32, width=32, seed=0, progress=False)
    return root


def write_config(folder, name, data_root, extra=''):
    """A tiny-STM config on the synthetic data (2 iterations), named after
    ``name`` and ``folder``: the runner's experiment name is the config's
    stem and a timestamp in seconds, and two parametrized cases within one
    second would otherwise share mmengine's logger and scope instances."""
    unique_name = name + '_' + osp.basename(str(folder))
    return write_train_config(folder, unique_name, data_root, extra=extra,
                              visualizer_name=unique_name)


def pretrained_backbone_cfg(checkpoint):
    """The tiny STM's query encoder with ``init_cfg=dict(type=
    'Pretrained')``; ``prefix`` picks its weights out of the checkpoint."""
    cfg = Config.fromfile(TINY_MODEL).model.query_encoder
    cfg.init_cfg = dict(type='Pretrained', checkpoint=checkpoint,
                        prefix='query_encoder')
    return cfg


def build_backbone(cfg):
    import vosbench.models  # noqa: F401  (registers the modules)
    from vosbench.registry import BACKBONES
    return BACKBONES.build(cfg)


# ---------------------------------------------------------------------------
# 1. vosbench.engine.load_local_checkpoint
# ---------------------------------------------------------------------------
def test_load_local_checkpoint(evil):
    from vosbench.engine import load_local_checkpoint
    with pytest.raises(pickle.UnpicklingError) as info:
        load_local_checkpoint(evil.path, map_location='cpu')
    assert_refused_by_vosbench(info.value, evil)


# ---------------------------------------------------------------------------
# 2. mmengine's load_checkpoint / _load_checkpoint after
#    register_all_modules (a user's own script)
# ---------------------------------------------------------------------------
def test_mmengine_load_checkpoint_after_register_all_modules(
        evil, mmengine_loader):
    from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint

    from vosbench.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    assert_loader_is_vosbench()
    with pytest.raises(pickle.UnpicklingError) as info:
        load_checkpoint(torch.nn.Linear(2, 2), evil.path)
    assert_refused_by_vosbench(info.value, evil)
    with pytest.raises(pickle.UnpicklingError) as info:
        _load_checkpoint(evil.path)
    assert_refused_by_vosbench(info.value, evil)


# ---------------------------------------------------------------------------
# 3. vosbench.apis.init_model
# ---------------------------------------------------------------------------
def test_init_model(evil, mmengine_loader):
    from vosbench.apis import init_model
    with pytest.raises(pickle.UnpicklingError) as info:
        init_model(TINY_MODEL, evil.path)
    assert_refused_by_vosbench(info.value, evil)
    assert_loader_is_vosbench()
    # partial loading changes nothing about it
    with pytest.raises(pickle.UnpicklingError) as info:
        init_model(TINY_MODEL, evil.path, strict=False)
    assert_refused_by_vosbench(info.value, evil)


# ---------------------------------------------------------------------------
# 4. tools/test.py CONFIG CKPT
# ---------------------------------------------------------------------------
def test_tools_test(evil, mmengine_loader, tmp_path, data_root):
    config = write_config(tmp_path, 'malicious_test', data_root)
    with pytest.raises(pickle.UnpicklingError) as info:
        test_tool.main([config, evil.path, '--work-dir',
                        str(tmp_path / 'work'), '--out',
                        str(tmp_path / 'out')])
    assert_refused_by_vosbench(info.value, evil)
    assert_loader_is_vosbench()


def test_tools_test_partial_load(evil_zip, mmengine_loader, tmp_path,
                                 data_root):
    config = write_config(tmp_path, 'malicious_test_partial', data_root)
    with pytest.raises(pickle.UnpicklingError) as info:
        test_tool.main([config, evil_zip.path, '--partial-load',
                        '--work-dir', str(tmp_path / 'work')])
    assert_refused_by_vosbench(info.value, evil_zip)


# ---------------------------------------------------------------------------
# 5. tools/test.py ENSEMBLE_CONFIG none: the members' checkpoints
#    (configs/ensemble style: each member names its config and checkpoint)
# ---------------------------------------------------------------------------
def test_tools_test_ensemble_members(evil, mmengine_loader, tmp_path,
                                     data_root, tiny_state_dict):
    good = str(tmp_path / 'good.pth')
    torch.save(dict(meta={}, state_dict=tiny_state_dict), good)
    config = write_config(tmp_path, 'malicious_ensemble', data_root, f'''
model = dict(
    _delete_=True,
    type='VOSEnsemble',
    models=[dict(config={TINY_MODEL!r}, checkpoint={good!r}),
            dict(config={TINY_MODEL!r}, checkpoint={evil.path!r})])
''')
    with pytest.raises((pickle.UnpicklingError, SystemExit)) as info:
        test_tool.main([config, 'none', '--work-dir',
                        str(tmp_path / 'work'), '--out',
                        str(tmp_path / 'out')])
    if isinstance(info.value, SystemExit):
        # the members load at the first video: with the test loop that
        # goes on past a failed video, the refusal is that video's failure
        # in the summary tools/test.py exits with
        message = str(info.value.code)
        assert 'FAILED' in message, message
        assert f'{evil.path} cannot be loaded with weights_only=True' \
            in message, message
        evil.assert_not_run()
    else:
        assert_refused_by_vosbench(info.value, evil)
    assert_loader_is_vosbench()


# ---------------------------------------------------------------------------
# 6. VOSEnsemble in a script: dict(model=..., checkpoint=...) members
# ---------------------------------------------------------------------------
def test_vos_ensemble_members(evil, mmengine_loader):
    import vosbench.models  # noqa: F401  (registers the modules)
    from vosbench.registry import MODELS
    member = dict(model=Config.fromfile(TINY_MODEL).model.to_dict(),
                  checkpoint=evil.path)
    model = MODELS.build(dict(type='VOSEnsemble', models=[member]))
    with pytest.raises(pickle.UnpicklingError) as info:
        model.init_weights()
    assert_refused_by_vosbench(info.value, evil)
    assert_loader_is_vosbench()
    # the other ways in: load_checkpoints, new_stream (segmenting)
    with pytest.raises(pickle.UnpicklingError) as info:
        model.load_checkpoints()
    assert_refused_by_vosbench(info.value, evil)
    with pytest.raises(pickle.UnpicklingError) as info:
        model.new_stream([1])
    assert_refused_by_vosbench(info.value, evil)


# ---------------------------------------------------------------------------
# 7. tools/train.py with load_from
# ---------------------------------------------------------------------------
def test_tools_train_load_from(evil, mmengine_loader, tmp_path, data_root):
    config = write_config(tmp_path, 'malicious_load_from', data_root,
                          f'load_from = {evil.path!r}')
    work = tmp_path / 'work'
    with pytest.raises(pickle.UnpicklingError) as info:
        train_tool.main([config, '--work-dir', str(work)])
    assert_refused_by_vosbench(info.value, evil)
    assert_loader_is_vosbench()
    assert not osp.exists(work / 'iter_2.pth')


# ---------------------------------------------------------------------------
# 8. tools/train.py --resume CKPT (an explicit path)
# ---------------------------------------------------------------------------
def assert_resume_refused(exit_info, evil):
    """``tools/train.py`` stops (SystemExit) before training, naming the
    checkpoint and vosbench's refusal."""
    message = str(exit_info.value.code)
    assert message.startswith('tools/train.py: '), message
    assert evil.path in message
    assert 'UnsafeCheckpointError' in message, message
    assert 'weights_only=True' in message
    evil.assert_not_run()


def test_tools_train_resume_explicit(evil, mmengine_loader, tmp_path,
                                     data_root):
    config = write_config(tmp_path, 'malicious_resume', data_root)
    work = tmp_path / 'work'
    with pytest.raises(SystemExit) as info:
        train_tool.main([config, '--resume', evil.path, '--work-dir',
                         str(work)])
    assert_resume_refused(info, evil)
    assert 'cannot resume from' in str(info.value.code)
    assert_loader_is_vosbench()


# ---------------------------------------------------------------------------
# 9. tools/train.py --resume (auto: the work dir's last_checkpoint)
# ---------------------------------------------------------------------------
def test_tools_train_resume_auto(evil, mmengine_loader, tmp_path,
                                 data_root, tiny_state_dict):
    config = write_config(tmp_path, 'malicious_auto_resume', data_root)
    work = tmp_path / 'work'
    in_work = str(work / 'iter_2.pth')
    evil.write(in_work, tiny_state_dict)
    with open(work / 'last_checkpoint', 'w') as f:
        f.write(in_work)
    with pytest.raises(SystemExit) as info:
        train_tool.main([config, '--resume', '--work-dir', str(work)])
    message = str(info.value.code)
    assert in_work in message and 'last_checkpoint' in message
    assert 'UnsafeCheckpointError' in message, message
    assert 'no intact' in message
    evil.assert_not_run()
    assert_loader_is_vosbench()


def test_resume_fallback_skips_a_malicious_last_checkpoint(
        evil, tmp_path, tiny_state_dict):
    """The fallback of auto-resume opens (weights_only) every candidate:
    a malicious newest checkpoint is skipped, with a warning naming it,
    for the newest intact one; nothing runs."""
    from vosbench.engine import find_resume_checkpoint
    work = tmp_path / 'work'
    newest = str(work / 'iter_4.pth')
    evil.write(newest, tiny_state_dict)
    intact = str(work / 'iter_2.pth')
    torch.save(dict(meta=dict(iter=2), state_dict=tiny_state_dict), intact)
    with open(work / 'last_checkpoint', 'w') as f:
        f.write(newest)
    warnings = []
    assert find_resume_checkpoint(str(work), warn=warnings.append) == intact
    assert any(newest in w and 'UnsafeCheckpointError' in w
               for w in warnings), warnings
    evil.assert_not_run()


# ---------------------------------------------------------------------------
# 10. tools/finetune_video.py CONFIG CKPT VIDEO FIRST_MASK
# ---------------------------------------------------------------------------
@pytest.fixture(scope='module')
def video(tmp_path_factory):
    import cv2
    import numpy as np

    from vosbench.utils.mask_io import write_mask
    folder = tmp_path_factory.mktemp('malicious_video')
    frames = folder / 'frames'
    frames.mkdir()
    for t in range(2):
        frame = np.full((32, 32, 3), 90, np.uint8)
        frame[8 + t:20 + t, 8:20] = (220, 40, 40)
        cv2.imwrite(str(frames / f'{t:05d}.jpg'), frame)
    labels = np.zeros((32, 32), np.uint8)
    labels[8:20, 8:20] = 1
    mask = str(folder / 'first.png')
    write_mask(mask, labels)
    return str(frames), mask


@pytest.mark.parametrize('partial', [False, True],
                         ids=['strict', 'partial-load'])
def test_tools_finetune_video(evil, mmengine_loader, tmp_path, video,
                              partial):
    frames, mask = video
    out = tmp_path / 'out'
    argv = [TINY_MODEL, evil.path, frames, mask, '--iters', '1', '--out',
            str(out), '--log-interval', '0', '--save-checkpoint',
            str(tmp_path / 'tuned.pth')]
    with pytest.raises(pickle.UnpicklingError) as info:
        finetune_tool.main(argv + (['--partial-load'] if partial else []))
    assert_refused_by_vosbench(info.value, evil)
    assert not osp.exists(out)
    assert not osp.exists(tmp_path / 'tuned.pth')


# ---------------------------------------------------------------------------
# 11-14. backbone init_cfg=dict(type='Pretrained', checkpoint=PATH)
# ---------------------------------------------------------------------------
def test_backbone_pretrained_through_tools_train(evil, mmengine_loader,
                                                 tmp_path, data_root,
                                                 monkeypatch):
    """The usual way: a training config whose backbone starts from a
    pretrained file (vosbench/models/backbones/pretrained.py). The path is
    relative to the working directory (as in the configs): the runner's
    config dump (yapf) takes seconds on a long absolute path nested so
    deep."""
    monkeypatch.chdir(tmp_path)
    relative = osp.relpath(evil.path, str(tmp_path))
    init_cfg = dict(type='Pretrained', checkpoint=relative,
                    prefix='query_encoder')
    config = write_config(tmp_path, 'malicious_pretrained', data_root,
                          f'model = dict(query_encoder=dict('
                          f'init_cfg={init_cfg!r}))')
    with pytest.raises(pickle.UnpicklingError) as info:
        train_tool.main([config, '--work-dir', 'work'])
    assert_refused_by_vosbench(info.value, evil, path=relative)
    assert_loader_is_vosbench()


def test_backbone_pretrained_after_register_all_modules(evil, safe_loader):
    backbone = build_backbone(pretrained_backbone_cfg(evil.path))
    with pytest.raises(pickle.UnpicklingError) as info:
        backbone.init_weights()
    assert_refused_by_vosbench(info.value, evil)


def test_backbone_pretrained_without_register_all_modules(evil,
                                                          mmengine_loader):
    """A script that builds a backbone without ``register_all_modules``
    (importing vosbench installs no loader): the backbones' Pretrained
    loading reads files with vosbench's loader itself
    (``load_checkpoint_file``), not through mmengine's registry."""
    backbone = build_backbone(pretrained_backbone_cfg(evil.path))
    with pytest.raises(pickle.UnpicklingError) as info:
        backbone.init_weights()
    assert_refused_by_vosbench(info.value, evil)


def test_backbone_pretrained_open_mmlab_local_name(evil, safe_loader,
                                                   tmp_path, monkeypatch,
                                                   tiny_state_dict):
    """``open-mmlab://NAME`` that ``$MMENGINE_HOME/open_mmlab.json`` maps
    to a local file: vosbench resolves the name and loads the file with its
    own loader (mmengine's ``load_from_openmmlab`` would call
    ``torch.load`` itself)."""
    import json
    home = tmp_path / 'mmengine_home'
    home.mkdir()
    evil.write(str(home / 'local_evil.pth'), tiny_state_dict)
    with open(home / 'open_mmlab.json', 'w') as f:
        json.dump({'local_evil': 'local_evil.pth'}, f)
    monkeypatch.setenv('MMENGINE_HOME', str(home))
    backbone = build_backbone(
        pretrained_backbone_cfg('open-mmlab://local_evil'))
    with pytest.raises(pickle.UnpicklingError) as info:
        backbone.init_weights()
    assert_refused_by_vosbench(info.value, evil,
                               path=str(home / 'local_evil.pth'))


# ---------------------------------------------------------------------------
# 15-17. tools/model_converters/*.py SRC DST
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('converter', CONVERTERS)
def test_model_converter(evil, converter, tmp_path, capsys):
    tool = load_tool(f'tools/model_converters/{converter}.py',
                     f'vosbench_tool_{converter}_malicious')
    dst = str(tmp_path / 'converted.pth')
    assert tool.main([evil.path, dst]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f'{converter}: error: {evil.path}: '), err
    assert 'UnsafeCheckpointError' in err and 'weights_only=True' in err
    assert evil.global_name in err
    assert not osp.exists(dst)
    evil.assert_not_run()


# ---------------------------------------------------------------------------
# TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 (the usual workaround for mmengine's
# "Weights only load failed" on torch >= 2.6): vosbench's loader passes
# weights_only=True explicitly, which the variable does not override
# ---------------------------------------------------------------------------
def test_safe_loader_ignores_torch_force_no_weights_only(evil_zip,
                                                         monkeypatch,
                                                         mmengine_loader,
                                                         tmp_path):
    from vosbench.apis import init_model
    from vosbench.engine import load_local_checkpoint
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(pickle.UnpicklingError) as info:
        load_local_checkpoint(evil_zip.path)
    assert_refused_by_vosbench(info.value, evil_zip)
    with pytest.raises(pickle.UnpicklingError) as info:
        init_model(TINY_MODEL, evil_zip.path)
    assert_refused_by_vosbench(info.value, evil_zip)
    tool = load_tool('tools/model_converters/stm_to_vosbench.py',
                     'vosbench_tool_stm_to_vosbench_force')
    assert tool.main([evil_zip.path, str(tmp_path / 'out.pth')]) == 1
    evil_zip.assert_not_run()


@pytest.mark.filterwarnings(
    'ignore:Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')
def test_backbone_pretrained_without_loader_torch_force_no_weights_only(
        evil_zip, monkeypatch, mmengine_loader):
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    backbone = build_backbone(pretrained_backbone_cfg(evil_zip.path))
    assert_refused_without_running(evil_zip, backbone.init_weights)


# ---------------------------------------------------------------------------
# remote checkpoints (offline: the file is already in torch's hub cache)
# ---------------------------------------------------------------------------
EVIL_URL = 'https://example.invalid/checkpoints/evil_remote.pth'
#: what mmengine's openmmlab.json maps open-mmlab://resnet18_v1c to
OPEN_MMLAB_NAME = 'resnet18_v1c'
OPEN_MMLAB_FILE = 'resnet18_v1c-b5776b93.pth'


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """torch's hub dir in tmp_path (restored after the test), and
    mmengine's home there too (so that no user file is read)."""
    hub = tmp_path / 'hub'
    (hub / 'checkpoints').mkdir(parents=True)
    monkeypatch.setattr(torch.hub, '_hub_dir', str(hub))
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path / 'mmengine_home'))
    return hub / 'checkpoints'



def test_init_model_remote_url(evil_zip, hub_cache, mmengine_loader,
                               tiny_state_dict):
    from vosbench.apis import init_model
    evil_zip.write(str(hub_cache / osp.basename(EVIL_URL)),
                   tiny_state_dict)
    assert_refused_without_running(
        evil_zip, lambda: init_model(TINY_MODEL, EVIL_URL))


@pytest.mark.parametrize('tool', ['train-load_from', 'finetune_video'])
def test_tools_remote_url(tool, hub_cache, mmengine_loader, tmp_path,
                          data_root, video):
    """The same through the tools that accept a URL (os.system payload,
    zip only: the path is the one of the case above)."""
    # no weights: a run that unpickled it would stop right after, on the
    # strict key check
    evil = Evil(tmp_path / 'ckpt', 'zip', 'system', {})
    evil.write(str(hub_cache / osp.basename(EVIL_URL)), {})
    if tool == 'finetune_video':
        frames, mask = video
        argv = [TINY_MODEL, EVIL_URL, frames, mask, '--iters', '1',
                '--out', str(tmp_path / 'out'), '--log-interval', '0']
        assert_refused_without_running(evil,
                                       lambda: finetune_tool.main(argv))
    else:
        config = write_config(tmp_path, 'malicious_url_load_from',
                              data_root, f'load_from = {EVIL_URL!r}')
        argv = [config, '--work-dir', str(tmp_path / 'work')]
        assert_refused_without_running(evil, lambda: train_tool.main(argv))


@pytest.mark.parametrize('checkpoint', [EVIL_URL,
                                        f'open-mmlab://{OPEN_MMLAB_NAME}'],
                         ids=['https', 'open-mmlab'])
def test_backbone_pretrained_remote(evil_zip, hub_cache, safe_loader,
                                    tiny_state_dict, checkpoint):
    name = osp.basename(EVIL_URL) if checkpoint == EVIL_URL \
        else OPEN_MMLAB_FILE
    evil_zip.write(str(hub_cache / name), tiny_state_dict)
    backbone = build_backbone(pretrained_backbone_cfg(checkpoint))
    assert_refused_without_running(evil_zip, backbone.init_weights)


def test_entry_points_that_take_only_files_refuse_urls(
        evil_zip, hub_cache, tmp_path, capsys, tiny_state_dict):
    """tools/test.py, tools/train.py --resume, VOSEnsemble members and the
    converters check that
    the checkpoint is a file before anything loads it: a URL whose
    malicious file sits in the hub cache is refused unread."""
    evil_zip.write(str(hub_cache / osp.basename(EVIL_URL)), tiny_state_dict)
    config = write_config(tmp_path, 'malicious_url', str(tmp_path))
    with pytest.raises(SystemExit, match='checkpoint not found'):
        test_tool.main([config, EVIL_URL])
    with pytest.raises(SystemExit, match='the file does not exist'):
        train_tool.main([config, '--resume', EVIL_URL, '--work-dir',
                         str(tmp_path / 'work')])
    import vosbench.models  # noqa: F401  (registers the modules)
    from vosbench.registry import MODELS
    member = dict(model=Config.fromfile(TINY_MODEL).model.to_dict(),
                  checkpoint=EVIL_URL)
    model = MODELS.build(dict(type='VOSEnsemble', models=[member]))
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        model.load_checkpoints()
    tool = load_tool('tools/model_converters/resnest_to_vosbench.py',
                     'vosbench_tool_resnest_url_malicious')
    assert tool.main([EVIL_URL, str(tmp_path / 'out.pth')]) == 1
    assert 'no such file' in capsys.readouterr().err
    evil_zip.assert_not_run()
