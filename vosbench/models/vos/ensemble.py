"""Model ensembles: several trained VOS models averaged frame by frame."""
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from torch import nn

from vosbench.inference.averaging_stream import (AveragingStream,
                                                 normalized_weights)
from vosbench.inference.stream_options import check_stream_overrides
from vosbench.inference.video_segmenter import StreamingSegmenterMixin
from vosbench.registry import MODELS
from vosbench.utils.option_checks import OptionError


@MODELS.register_module()
class VOSEnsemble(StreamingSegmenterMixin, BaseModel):
    """Several trained VOS models segmenting a video together: their
    object probabilities are averaged at every frame and every member
    memorises the average.

    Each member is built from the ``model`` field of its config and loads
    its own checkpoint (``weights_only``, through vosbench's safe loader);
    members may differ in backbone and in ``test_cfg`` (each runs its own
    memory policy). As with ``init_cfg=dict(type='Pretrained')``, building
    the ensemble reads no checkpoint: the checkpoints are loaded at the
    first use (:meth:`new_stream`, hence :meth:`segment_video`,
    :meth:`predict` and ``test_step``), by :meth:`load_checkpoints` or by
    :meth:`init_weights`. A missing file fails there with its path, and a
    checkpoint that does not fit its member (missing, unexpected or
    mis-shaped keys) with a message naming the member, the file and the
    keys, unless ``load_strict=False`` (or the config's top-level
    ``load_strict = False``, which the runner passes on). The ensemble only
    predicts and starts in eval mode.

    ``new_stream`` returns an :class:`AveragingStream` of the members'
    streams, so an ensemble has the streaming API of :class:`STM` and can
    be wrapped by :class:`vosbench.models.tta.VOSTTAModel` (each view then
    runs the whole ensemble).

    Args:
        models (Sequence[dict | nn.Module]): The members. A dict is
            ``dict(config='path.py', checkpoint='path.pth',
            cfg_options=None)`` (``cfg_options`` merged into the member's
            config) or ``dict(model=dict(type='STM', ...),
            checkpoint=...)``; ``checkpoint`` may be None (the member keeps
            its initial weights). A module is used as is.
        weights (Sequence[float], optional): Weight of each member
            (normalised). Defaults to equal weights.
        data_preprocessor (dict, optional): Defaults to
            ``VOSDataPreprocessor``.
        load_strict (bool): Whether each member's checkpoint must match it
            exactly. False loads the keys that fit and logs the others.
            Defaults to True.
    """

    def __init__(self, models: Sequence[Union[dict, nn.Module]],
                 weights: Optional[Sequence[float]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 load_strict: bool = True):
        if data_preprocessor is None:
            data_preprocessor = dict(type='VOSDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if len(models) == 0:
            raise ValueError('an ensemble needs at least one model')
        members, checkpoints = [], []
        for i, member in enumerate(models):
            model, checkpoint = self._build_member(i, member)
            members.append(model)
            checkpoints.append(checkpoint)
        self.members = nn.ModuleList(members)
        self.checkpoints: List[Optional[str]] = checkpoints
        self.weights = normalized_weights(weights, len(members))
        self._checkpoints_loaded = all(c is None for c in checkpoints)
        if not isinstance(load_strict, bool):
            raise ValueError(f'load_strict must be True or False, got '
                             f'{load_strict!r}')
        self.load_strict = load_strict
        self.eval()  # it only predicts

    @staticmethod
    def _build_member(index: int, member):
        if isinstance(member, nn.Module):
            return member, None
        if not isinstance(member, dict):
            raise TypeError(f'ensemble member {index}: expected a dict or a '
                            f'module, got {type(member)}')
        member = dict(member)
        unknown = set(member) - {'config', 'model', 'checkpoint',
                                 'cfg_options'}
        if unknown:
            raise ValueError(f'ensemble member {index}: unknown keys '
                             f'{sorted(unknown)} (use config, model, '
                             'checkpoint, cfg_options)')
        if ('config' in member) == ('model' in member):
            raise ValueError(f'ensemble member {index}: give either config '
                             '(a file) or model (a model config)')
        if 'config' in member:
            path = member['config']
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'ensemble member {index}: config not found: {path}')
            cfg = Config.fromfile(path)
            if member.get('cfg_options'):
                cfg.merge_from_dict(member['cfg_options'])
            model_cfg = cfg.model
        else:
            model_cfg = member['model']
        try:
            model = MODELS.build(model_cfg)
        except OptionError as exc:
            source = member.get('config', 'its model config')
            raise OptionError(f'ensemble member {index} ({source}): {exc}'
                              ) from exc
        if not hasattr(model, 'new_stream'):
            raise TypeError(f'ensemble member {index}: {type(model).__name__}'
                            ' has no new_stream() (not a streaming VOS '
                            'model)')
        return model, member.get('checkpoint')

    def load_checkpoints(self) -> None:
        """Load every member's checkpoint (once)."""
        if self._checkpoints_loaded:
            return
        # the ensemble reads checkpoints itself, outside a runner: it makes
        # sure mmengine uses vosbench's weights_only loader and loads as
        # strictly as the runner (two leaf modules of the engine: the one
        # place that knows what a safe checkpoint may hold, and the one
        # that compares a checkpoint with a model)
        from vosbench.engine.checkpoint import install_safe_checkpoint_loader
        from vosbench.engine.strict_loading import load_checkpoint_checked
        install_safe_checkpoint_loader()
        logger = MMLogger.get_current_instance()
        for i, (member, path) in enumerate(zip(self.members,
                                               self.checkpoints)):
            if path is None:
                continue
            if not osp.isfile(osp.expanduser(path)):
                raise FileNotFoundError(
                    f'ensemble member {i}: checkpoint not found: {path}')
            load_checkpoint_checked(
                member, path, map_location='cpu', strict=self.load_strict,
                logger=logger, source=f'ensemble member {i}: {path}')
        self._checkpoints_loaded = True

    def init_weights(self) -> None:
        """Members without a checkpoint initialise as configured; the
        others load their checkpoint (their ``init_cfg``, e.g. ImageNet
        weights, would only be overwritten)."""
        for member, path in zip(self.members, self.checkpoints):
            if path is None and hasattr(member, 'init_weights'):
                member.init_weights()
        self.load_checkpoints()

    def new_stream(self, object_ids: Sequence[int], **overrides
                   ) -> AveragingStream:
        """An :class:`AveragingStream` over one stream per member (each with
        its member's ``test_cfg``, updated with ``overrides``, which are
        checked first)."""
        check_stream_overrides(overrides)
        self.load_checkpoints()
        return AveragingStream(
            [m.new_stream(object_ids, **overrides) for m in self.members],
            weights=self.weights)

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'VOSEnsemble only predicts (mode {mode!r}): '
                           'train its members separately')
