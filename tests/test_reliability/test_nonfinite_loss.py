"""Training stops on a non-finite loss (issue 12, item 8 and its table row).

Row: "training clips whose later frames are all void: ``loss: nan`` logged
for every iteration, exit 0". Reproduced with a 2-video synthetic DAVIS
whose first video has void (255) everywhere after its first frame: its
clips have no labelled pixel to learn from, the cross-entropy of a batch of
them is 0/0 (NaN), and the logger's mean over its window shows ``loss: nan``
at every log line that window touches. Now ``SelectObjects``
rejects such clips (the dataset draws another, as for a clip whose first
frame has no object), and a step whose loss is not finite never reaches the
weights: it raises naming the iteration and the clips (default,
``model.train_cfg.nonfinite_loss='raise'``) or is skipped and counted
(``'skip'``, ``nonfinite_skipped`` in the message hub).
"""
import os
import os.path as osp
import uuid

import numpy as np
import pytest
import torch
from mmengine.config import Config

from vosbench.utils.mask_io import write_mask

from tool_loading import load_tool
from tool_run_helpers import write_train_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(REPO, 'configs', '_base_')
TINY_MODEL = osp.join(BASE, 'models', 'stm_r18-tiny.py')
VOID_VIDEO = 'synth_train_0000'
MAX_ITERS = 6

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """Two training videos; the first is void after its first frame."""
    from vosbench.datasets.synthetic import generate_synthetic_davis
    root = str(tmp_path_factory.mktemp('void_data'))
    generate_synthetic_davis(root, num_train=2, num_val=0, num_frames=4,
                             height=48, width=48, seed=0, progress=False)
    ann = osp.join(root, 'Annotations', '480p', VOID_VIDEO)
    for name in sorted(os.listdir(ann))[1:]:
        write_mask(osp.join(ann, name), np.full((48, 48), 255, np.uint8))
    return root


def write_config(folder, data_root, extra=''):
    return write_train_config(
        folder, 'void_train', data_root, clip_length=3,
        samples_per_video=3, max_iters=MAX_ITERS, validate=False,
        visualizer_name=f'void_{uuid.uuid4().hex}',
        extra="optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))\n"
        + extra)


class ClipLog:
    """The clips STM trains on (video, loss) and the ones SelectObjects
    rejects."""

    def __init__(self, monkeypatch):
        from vosbench.datasets.transforms import SelectObjects
        from vosbench.models.vos import STM
        self.trained, self.rejected = [], []
        loss, select = STM.loss, SelectObjects.transform

        def logged_loss(model, frames, data_samples):
            losses = loss(model, frames, data_samples)
            self.trained.append((data_samples[0]['seq_name'],
                                 float(losses['loss_ce'].detach())))
            return losses

        def logged_select(transform, results):
            out = select(transform, results)
            if out is None:
                self.rejected.append(results.get('seq_name'))
            return out
        monkeypatch.setattr(STM, 'loss', logged_loss)
        monkeypatch.setattr(SelectObjects, 'transform', logged_select)


def final_weights(work_dir):
    from vosbench.engine import load_local_checkpoint
    return load_local_checkpoint(
        osp.join(str(work_dir), f'iter_{MAX_ITERS}.pth'))['state_dict']


def test_clips_with_void_later_frames_are_resampled(tmp_path, data_root,
                                                    monkeypatch):
    """Before: the void video's clips reached the model and their loss was
    NaN; the run ended normally."""
    train_tool = load_tool('tools/train.py', 'vosbench_tool_train_void')
    log = ClipLog(monkeypatch)
    train_tool.main([write_config(tmp_path, data_root), '--work-dir',
                     str(tmp_path / 'work')])
    assert len(log.trained) == MAX_ITERS
    assert all(np.isfinite(loss) for _, loss in log.trained), log.trained
    assert VOID_VIDEO not in {seq for seq, _ in log.trained}
    assert VOID_VIDEO in log.rejected  # drawn, rejected, drawn again
    for key, value in final_weights(tmp_path / 'work').items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), key


def test_select_objects_rejects_clips_without_later_labels():
    from vosbench.datasets.transforms import SelectObjects
    first = np.zeros((8, 8), np.uint8)
    first[:4, :4] = 3
    void = np.full((8, 8), 255, np.uint8)
    background = np.zeros((8, 8), np.uint8)
    select = SelectObjects(min_pixels=1)
    # a later frame all void (no labelled pixel): no loss to compute
    assert select(dict(masks=[first, first, void])) is None
    # the chosen objects gone after the first frame (background and void)
    half_void = np.where(np.arange(64).reshape(8, 8) % 2, 0,
                         255).astype(np.uint8)
    assert select(dict(masks=[first, background, half_void])) is None
    assert SelectObjects(min_pixels=1, min_later_pixels=0)(
        dict(masks=[first, background])) is not None
    kept = select(dict(masks=[first, background, first]))
    assert kept['num_objects'] == 1 and kept['object_ids'] == [3]
    # a single frame clip has no later frames to check
    assert select(dict(masks=[first])) is not None


# ---------------------------------------------------------------------------
# the training step
# ---------------------------------------------------------------------------
def tiny_stm(nonfinite_loss=None):
    from vosbench.registry import MODELS
    torch.manual_seed(0)
    cfg = Config.fromfile(TINY_MODEL).model
    if nonfinite_loss is not None:
        cfg.train_cfg.nonfinite_loss = nonfinite_loss
    return MODELS.build(cfg).train()


def batch(void_later: bool):
    frames = torch.randint(0, 255, (3, 3, 32, 32), dtype=torch.uint8)
    masks = torch.zeros(3, 32, 32, dtype=torch.long)
    masks[:, 8:20, 8:20] = 1
    if void_later:
        masks[1:] = 255
    return dict(inputs=[frames], data_samples=[dict(
        masks=masks, num_objects=1, seq_name='void_video',
        clip_indices=[4, 6, 9])])


def at_iteration(iteration):
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance(f'nonfinite_{uuid.uuid4().hex}')
    hub.update_info('iter', iteration)
    return hub


def optim_wrapper(model):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))


def snapshot(model):
    """The weights (batch-norm statistics move with every forward)."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def assert_unchanged(model, before):
    for key, value in model.named_parameters():
        assert torch.equal(value, before[key]), key


def test_nonfinite_loss_stops_training_naming_iteration_and_clip():
    model = tiny_stm()
    wrapper = optim_wrapper(model)
    at_iteration(41)
    before = snapshot(model)
    with pytest.raises(FloatingPointError) as info:
        model.train_step(batch(void_later=True), wrapper)
    message = str(info.value)
    assert 'iteration 41' in message
    assert 'void_video frames [4, 6, 9]' in message
    assert 'loss_ce=nan' in message
    assert "nonfinite_loss='skip'" in message
    assert_unchanged(model, before)


def test_nonfinite_loss_skip_counts_and_keeps_the_weights():
    model = tiny_stm('skip')
    wrapper = optim_wrapper(model)
    hub = at_iteration(7)
    before = snapshot(model)
    for count in (1, 2):
        log_vars = model.train_step(batch(void_later=True), wrapper)
        assert float(log_vars['nonfinite_skipped']) == count
        assert hub.get_info('nonfinite_skipped') == count
        assert_unchanged(model, before)
        assert all(p.grad is None or not p.grad.any()
                   for p in model.parameters())
    log_vars = model.train_step(batch(void_later=False), wrapper)
    assert np.isfinite(float(log_vars['loss'].detach()))
    after = dict(model.named_parameters())
    assert any(not torch.equal(after[k], before[k]) for k in before)
    assert all(torch.isfinite(v).all() for v in after.values())


def test_runner_names_the_iteration(tmp_path, data_root, monkeypatch):
    """Through tools/train.py: the iteration is the runner's."""
    from vosbench.models.vos import STM
    loss = STM.loss

    def nan_at_iteration_2(model, frames, data_samples):
        from mmengine.logging import MessageHub
        losses = loss(model, frames, data_samples)
        if MessageHub.get_current_instance().get_info('iter') == 2:
            losses['loss_ce'] = losses['loss_ce'] * float('nan')
        return losses
    monkeypatch.setattr(STM, 'loss', nan_at_iteration_2)
    train_tool = load_tool('tools/train.py', 'vosbench_tool_train_nan')
    with pytest.raises(FloatingPointError,
                       match=r'iteration 2: non-finite loss .* on the clips '
                       r'synth_train_000\d frames \[\d+, \d+, \d+\]'):
        train_tool.main([write_config(tmp_path, data_root), '--work-dir',
                         str(tmp_path / 'work')])
