"""Backbones: feature extractors giving STM its stride 4/8/16 features."""
from .multilevel_resnet import MultiLevelResNet
from .refine_resnet import RefineResNet
from .resnest import ResNeSt
from .resnet import ResNet

__all__ = ['ResNet', 'ResNeSt', 'RefineResNet', 'MultiLevelResNet']
