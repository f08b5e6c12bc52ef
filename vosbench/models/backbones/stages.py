"""What the ResNet-style backbones share: argument checks, norm layers, the
residual stages ``layer1`` .. ``layerN`` after a stem, and the channels and
strides of the feature maps they return."""
from typing import Callable, Dict, List, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from torch import Tensor

from .freezing import check_frozen_stages

__all__ = [
    'norm_layer', 'check_stage_args', 'check_pyramid_out_indices',
    'output_strides', 'ResidualStagesMixin'
]


def norm_layer(norm_cfg: dict, num_features: int) -> nn.Module:
    """Build a norm layer from ``norm_cfg``; the name mmcv suggests is
    dropped so that the caller can keep torchvision's attribute name."""
    return build_norm_layer(norm_cfg, num_features)[1]


def check_stage_args(name: str, depth: int, arch_settings: Dict[int, object],
                     num_stages: int, out_indices: Sequence[int],
                     frozen_stages: int) -> Tuple[int, ...]:
    """Check the arguments of a ResNet-style backbone named ``name``.

    Returns:
        tuple[int]: ``out_indices`` as a tuple.

    Raises:
        KeyError: ``depth`` is not a key of ``arch_settings``.
        ValueError: ``num_stages`` is not in [1, 4]; ``out_indices`` is
            empty or has an index outside ``[0, num_stages)``;
            ``frozen_stages`` is not in ``[-1, num_stages]``.
    """
    if depth not in arch_settings:
        raise KeyError(f'Invalid depth {depth} for {name}; choose one '
                       f'of {sorted(arch_settings)}.')
    if not 1 <= num_stages <= 4:
        raise ValueError(f'num_stages must be in [1, 4], got {num_stages}')
    out_indices = tuple(out_indices)
    if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
        raise ValueError(f'out_indices {out_indices} must be non-empty '
                         f'and each in [0, num_stages={num_stages}).')
    check_frozen_stages(frozen_stages, num_stages)
    return out_indices


def check_pyramid_out_indices(out_indices: Sequence[int]) -> Tuple[int, ...]:
    """``out_indices`` of a backbone that returns strides 4, 8 and 16 only
    (refined pyramids), as a tuple.

    Raises:
        ValueError: If it is empty or has an index outside (0, 1, 2).
    """
    out_indices = tuple(out_indices)
    if not out_indices or any(i not in (0, 1, 2) for i in out_indices):
        raise ValueError(f'out_indices {out_indices} must be non-empty '
                         'and each in (0, 1, 2) (strides 4, 8, 16).')
    return out_indices


def output_strides(out_indices: Sequence[int]) -> Tuple[int, ...]:
    """Stride of each returned feature map: stage ``i`` (0-based) has stride
    ``4 * 2**i``."""
    return tuple(4 * 2**i for i in out_indices)


class ResidualStagesMixin:
    """Residual stages ``layer1`` .. ``layerN`` after a stem (ResNet,
    ResNeSt).

    Stage ``i`` (0-based) has width ``base_channels * 2**i``, stride 1 for
    the first stage and 2 for the others. :meth:`_add_stages` sets:

    * ``res_layers``: the stage names, in order;
    * ``stage_channels``: the output channels of every stage;
    * ``out_channels`` / ``out_strides``: channels and stride of each
      returned feature map, in ``out_indices`` order.

    The backbone provides ``out_indices``, ``frozen_stages`` and
    :meth:`_stem_modules` (frozen with ``frozen_stages >= 0``).
    """

    def _add_stages(self, inplanes: int, base_channels: int,
                    stage_blocks: Sequence[int], expansion: int,
                    make_layer: Callable[..., nn.Module]) -> None:
        """Build the stages with ``make_layer(inplanes, planes, num_blocks,
        stride=...)``; each outputs ``planes * expansion`` channels."""
        self.res_layers: List[str] = []
        self.stage_channels: List[int] = []
        for i, num_blocks in enumerate(stage_blocks):
            planes = base_channels * 2**i
            layer = make_layer(
                inplanes, planes, num_blocks, stride=1 if i == 0 else 2)
            inplanes = planes * expansion
            name = f'layer{i + 1}'
            self.add_module(name, layer)
            self.res_layers.append(name)
            self.stage_channels.append(inplanes)
        self.out_channels = tuple(self.stage_channels[i]
                                  for i in self.out_indices)
        self.out_strides = output_strides(self.out_indices)

    def _forward_stages(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Run the stages on the stem's output; the outputs of the stages
        in ``out_indices``, in that order."""
        stage_outs = []
        for name in self.res_layers:
            x = getattr(self, name)(x)
            stage_outs.append(x)
        return tuple(stage_outs[i] for i in self.out_indices)

    def _stem_modules(self) -> List[nn.Module]:
        """The modules before ``layer1``."""
        raise NotImplementedError

    def _frozen_modules(self) -> List[nn.Module]:
        """The stem and ``layer1`` .. ``layer{frozen_stages}``."""
        if self.frozen_stages < 0:
            return []
        return self._stem_modules() + [
            getattr(self, f'layer{i}')
            for i in range(1, self.frozen_stages + 1)
        ]
