"""Model ensembles: VOSEnsemble and the averaging of member streams
(vosbench.models.vos.ensemble), alone and under test-time augmentation."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from vos_test_utils import REPO, TINY_CFG, build_tiny, make_video, run_probs

import vosbench.models  # noqa: F401  (registers the modules)
from vosbench.models.tta import VOSTTAModel
from vosbench.inference import AveragingStream, VideoStream
from vosbench.models.vos import VOSEnsemble
from vosbench.registry import MODELS

EXAMPLE = osp.join(REPO, 'configs/ensemble/'
                   'ensemble_stm-r50_stm-refine-r50_4xb4-80k_ytvos19.py')

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Two tiny models (different random weights) saved as checkpoints."""
    folder = tmp_path_factory.mktemp('members')
    paths = []
    for seed in (0, 1):
        path = str(folder / f'tiny_{seed}.pth')
        torch.save(dict(state_dict=build_tiny(seed).state_dict(), meta={}),
                   path)
        paths.append(path)
    return paths


def test_two_copies_of_a_model_equal_the_model(checkpoints):
    ensemble = MODELS.build(dict(type='VOSEnsemble', models=[
        dict(config=TINY_CFG, checkpoint=checkpoints[0]),
        dict(config=TINY_CFG, checkpoint=checkpoints[0])])).eval()
    single = build_tiny(seed=5)  # other weights until the checkpoint loads
    from mmengine.runner.checkpoint import load_checkpoint
    load_checkpoint(single, checkpoints[0], map_location='cpu')
    frames, first = make_video(7, 40, 56)
    expected, _ = run_probs(single, frames, first)
    probs, stream = run_probs(ensemble, frames, first)
    assert isinstance(stream, AveragingStream)
    assert all(isinstance(s, VideoStream) for s in stream.streams)
    torch.testing.assert_close(probs, expected, atol=1e-6, rtol=0)
    for x, y in zip(ensemble.segment_video(frames, first),
                    single.segment_video(frames, first)):
        np.testing.assert_array_equal(x, y)


def test_members_load_their_checkpoints_at_first_use(checkpoints, tmp_path):
    ensemble = VOSEnsemble([dict(config=TINY_CFG,
                                 checkpoint=checkpoints[1])])
    saved = torch.load(checkpoints[1], weights_only=True)['state_dict']
    key = 'decoder.cls_conv.weight'
    assert not torch.equal(ensemble.members[0].state_dict()[key], saved[key])
    ensemble.new_stream([1])
    assert torch.equal(ensemble.members[0].state_dict()[key], saved[key])
    missing = str(tmp_path / 'nope.pth')
    lazy = VOSEnsemble([dict(config=TINY_CFG, checkpoint=missing)])
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        lazy.new_stream([1])


def test_average_of_different_members_is_memorised_by_each(checkpoints):
    """Different weights (and memory policies): the ensemble's probabilities
    are the weighted mean of its members', and each member memorises that
    mean, which a hand-written loop reproduces."""
    ensemble = VOSEnsemble([
        dict(config=TINY_CFG, checkpoint=checkpoints[0]),
        dict(config=TINY_CFG, checkpoint=checkpoints[1],
             cfg_options={'model.test_cfg.mem_every': 2})],
        weights=[3, 1]).eval()
    assert ensemble.weights == [0.75, 0.25]
    frames, first = make_video(6, 40, 56)
    probs, stream = run_probs(ensemble, frames, first)
    assert [s.mem_every for s in stream.streams] == [5, 2]
    a, b = ensemble.members
    stream_a, stream_b = a.new_stream([1, 2]), b.new_stream([1, 2])
    stream_a.start(frames[0], first)
    stream_b.start(frames[0], first)
    for t, frame in enumerate(frames[1:], 1):
        mean = 0.75 * stream_a.segment(frame) + 0.25 * stream_b.segment(frame)
        stream_a.memorize(mean)
        stream_b.memorize(mean)
        torch.testing.assert_close(probs[t], mean, atol=1e-6, rtol=0)
    assert all(torch.equal(s._previous[1], probs[-1])
               for s in stream.streams)
    single, _ = run_probs(a, frames, first)
    assert (single - probs).abs().max() > 1e-3  # member b matters


def test_views_times_members_compose(checkpoints):
    """TTA of an ensemble: each view runs an ensemble stream. An ensemble
    of two copies under flip TTA equals flip TTA of the single model."""
    copies = VOSEnsemble([dict(config=TINY_CFG, checkpoint=checkpoints[0])]
                         * 2).eval()
    single = build_tiny()
    from mmengine.runner.checkpoint import load_checkpoint
    load_checkpoint(single, checkpoints[0], map_location='cpu')
    views = dict(type='FlipViews')
    frames, first = make_video(5, 40, 56)
    tta_ensemble = VOSTTAModel(copies, views=views)
    probs, stream = run_probs(tta_ensemble, frames, first)
    assert len(stream.streams) == 2
    assert all(isinstance(s, AveragingStream) and len(s.streams) == 2
               for s in stream.streams)
    expected, _ = run_probs(VOSTTAModel(single, views=views), frames, first)
    torch.testing.assert_close(probs, expected, atol=1e-6, rtol=0)
    # and through the config route, with a scale view too
    cfg_model = MODELS.build(dict(
        type='VOSTTAModel',
        module=dict(type='VOSEnsemble', models=[
            dict(config=TINY_CFG, checkpoint=checkpoints[0]),
            dict(config=TINY_CFG, checkpoint=checkpoints[1])]),
        views=[dict(type='IdentityView'),
               dict(type='ScaleView', scale=0.75)])).eval()
    labels = list(cfg_model.segment_video(frames, first))
    assert len(labels) == 5 and labels[-1].shape == (40, 56)


def test_objects_given_mid_video_join_every_member(checkpoints):
    ensemble = VOSEnsemble([dict(config=TINY_CFG, checkpoint=c)
                            for c in checkpoints]).eval()
    frames, first = make_video(6, 40, 56)
    given1 = np.where(first == 1, 1, 0).astype(np.uint8)
    given2 = np.where(first == 2, 2, 0).astype(np.uint8)
    labels = list(ensemble.segment_video(frames, given_labels={
        0: given1, 2: given2}))
    assert (labels[2][given2 == 2] == 2).all()
    stream = ensemble.new_stream([1])
    stream.start(frames[0], given1)
    stream.memorize(stream.segment(frames[1]))
    stream.memorize(stream.segment(frames[2]))
    merged = stream.add_objects(given2)
    assert merged.shape == (3, 40, 56)
    for member in stream.streams:
        assert member.object_ids == [1, 2]
        assert torch.equal(member._previous[1], merged)


def test_member_errors():
    with pytest.raises(ValueError, match='at least one'):
        VOSEnsemble([])
    with pytest.raises(ValueError, match='either config'):
        VOSEnsemble([dict(checkpoint='x.pth')])
    with pytest.raises(ValueError, match='unknown keys'):
        VOSEnsemble([dict(config=TINY_CFG, ckpt='x.pth')])
    with pytest.raises(FileNotFoundError, match='missing.py'):
        VOSEnsemble([dict(config='missing.py')])
    with pytest.raises(ValueError, match='weights'):
        VOSEnsemble([dict(config=TINY_CFG)], weights=[1, 1])
    ensemble = VOSEnsemble([dict(config=TINY_CFG)])
    with pytest.raises(RuntimeError, match='only predicts'):
        ensemble(torch.zeros(1), [], mode='loss')


def test_example_config_builds_without_reading_checkpoints():
    cfg = Config.fromfile(EXAMPLE)
    assert cfg.model.type == 'VOSEnsemble'
    for member in cfg.model.models:
        assert osp.isfile(member['config'])
    model = MODELS.build(cfg.model)
    assert len(model.members) == 2
    assert all(type(m).__name__ == 'STM' for m in model.members)
    # the reports' pairing: ResNet-50 + Refine-50 encoders
    assert [type(m.query_encoder).__name__ for m in model.members] == [
        'ResNet', 'RefineResNet']
