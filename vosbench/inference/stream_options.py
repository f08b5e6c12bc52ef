"""The memory protocol's options and their defaults, in one place.

A model's ``test_cfg`` sets them for every video stream it opens
(:meth:`STM.new_stream`); keyword overrides win over the config. The
defaults are those of STM (Oh et al., ICCV 2019): every 5th frame is kept
in memory, the previous frame is read as well, no cap on memory frames,
frames padded to a multiple of 16.
"""
from typing import Mapping, Optional

#: Option -> default.
#:
#: - ``mem_every``: keep every ``mem_every``-th frame in memory.
#: - ``keep_previous``: read the previous frame too (temporary memory).
#: - ``max_memory_frames``: cap on kept frames per memory group (the first
#:   frame is never dropped); None keeps all, so memory and time per frame
#:   grow with the video's length.
#: - ``pad_divisor``: frames are padded to a multiple of this.
#: - ``aggregation_channels``: softmax width of the original STM (11
#:   reproduces its probabilities exactly); None uses the real channels.
STREAM_DEFAULTS = dict(
    mem_every=5,
    keep_previous=True,
    max_memory_frames=None,
    pad_divisor=16,
    aggregation_channels=None)


def stream_options(test_cfg: Optional[Mapping] = None,
                   overrides: Optional[Mapping] = None) -> dict:
    """The stream options of a model: defaults, then the ``test_cfg`` keys
    that are stream options, then ``overrides``.

    Raises:
        TypeError: when ``overrides`` names an unknown option.
    """
    options = dict(STREAM_DEFAULTS)
    options.update({k: v for k, v in (test_cfg or {}).items()
                    if k in STREAM_DEFAULTS})
    unknown = sorted(set(overrides or {}) - set(STREAM_DEFAULTS))
    if unknown:
        raise TypeError(f'unknown video stream options {unknown}; the '
                        f'options are {sorted(STREAM_DEFAULTS)}')
    options.update(overrides or {})
    return options
