"""Backbones: feature extractors giving STM its stride 4/8/16 features."""
from .resnet import ResNet

__all__ = ['ResNet']
