"""Reading the data samples a metric's ``process`` is given (dicts, or data
elements with attributes)."""
from typing import Any

import numpy as np

__all__ = ['sample_field', 'labels_to_numpy']

_REQUIRED = object()


def sample_field(sample: Any, key: str, metric: str,
                 default: Any = _REQUIRED) -> Any:
    """``sample[key]`` for dicts, ``sample.key`` for data elements.

    Args:
        sample: A dict or a data element.
        key (str): The field.
        metric (str): The metric's name, for the error message.
        default: Returned when the field is missing; without it a missing
            field raises.

    Raises:
        KeyError: A required field is missing; the message names the metric
            and the field (and, for a dict, the fields it has).
    """
    if isinstance(sample, dict):
        if key in sample:
            return sample[key]
    elif hasattr(sample, key):
        return getattr(sample, key)
    if default is not _REQUIRED:
        return default
    has = f'; it has {sorted(sample)}' if isinstance(sample, dict) else ''
    raise KeyError(f'{metric}: data sample has no {key!r}{has}')


def labels_to_numpy(labels: Any) -> np.ndarray:
    """A label array (numpy array or torch tensor) as a numpy array."""
    if hasattr(labels, 'detach'):
        labels = labels.detach().cpu().numpy()
    return np.asarray(labels)
