"""Fixtures shared by the backbone tests (plain helpers are in
``backbone_test_utils.py``)."""
import logging

import pytest
from backbone_test_utils import randomise, torchvision_like_checkpoint
from mmengine.logging import MMLogger

from vosbench.models.backbones import ResNet


@pytest.fixture
def logs():
    """Records (``logging.LogRecord``, INFO and above) reaching mmengine's
    current logger during the test, e.g. pretrained-loading reports sent by
    ``print_log(..., logger='current')``; see ``backbone_test_utils``'s
    ``messages`` and ``warnings_of``."""
    logger = MMLogger.get_current_instance()
    records = []

    class ListHandler(logging.Handler):

        def emit(self, record):
            records.append(record)

    handler = ListHandler(level=logging.INFO)
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)  # whatever earlier tests configured
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(scope='module')
def resnet50_checkpoint(tmp_path_factory):
    """A torchvision-named ResNet-50 checkpoint (with an ``fc``) and its
    source model (randomised, seed 1, std 0.1), as ``(path, source)``."""
    source = randomise(ResNet(depth=50), seed=1, std=0.1)
    path = torchvision_like_checkpoint(
        tmp_path_factory.mktemp('ckpt') / 'resnet50.pth', source)
    return path, source
