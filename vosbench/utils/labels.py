"""Label conventions shared by datasets, models and evaluation.

DAVIS and YouTube-VOS label maps are ``(H, W)`` uint8 arrays: 0 is the
background, 255 the void label (ignored by training losses and by the
DAVIS protocol), every other value one object.
"""
from typing import Iterable, List

import numpy as np

#: Background label.
BACKGROUND_LABEL = 0
#: Void label: pixels that belong to no object and to no background.
VOID_LABEL = 255


def is_object_label(label: int) -> bool:
    """Whether ``label`` names an object (not background, not void)."""
    return label not in (BACKGROUND_LABEL, VOID_LABEL)


def object_ids(labels: np.ndarray, exclude: Iterable[int] = ()) -> List[int]:
    """Sorted object labels present in an ``(H, W)`` label map.

    Args:
        labels (np.ndarray): ``(H, W)`` integer labels.
        exclude (Iterable[int]): Labels to leave out as well (e.g. objects
            already tracked).

    Returns:
        list[int]: every label except background, void and ``exclude``.
    """
    skip = set(int(i) for i in exclude)
    return [int(i) for i in np.unique(labels)
            if is_object_label(int(i)) and int(i) not in skip]
