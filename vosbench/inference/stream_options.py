"""The memory protocol's options, their defaults and allowed values, in one
place.

A model's ``test_cfg`` sets them for every video stream it opens
(:meth:`STM.new_stream`); keyword overrides win over the config. The
defaults are those of STM (Oh et al., ICCV 2019): every 5th frame is kept
in memory, the previous frame is read as well, no cap on memory frames,
frames padded to a multiple of 16.

:data:`STREAM_OPTIONS` is the table (default and check of each option, see
:mod:`vosbench.utils.option_checks`): a new option is one line there. STM
checks its ``test_cfg`` against it when it is built, and
:func:`stream_options` checks the overrides of every ``new_stream`` call, so
a typo (``mem_evry``) or a wrong value (``mem_every=2.5``,
``keep_previous='maybe'``) is an error naming the key.
"""
from typing import Mapping, Optional

from vosbench.utils.option_checks import (Option, boolean, check_options,
                                          defaults, int_at_least, optional,
                                          positive_int)

#: Option -> (default, allowed values).
#:
#: - ``mem_every``: keep every ``mem_every``-th frame in memory.
#: - ``keep_previous``: read the previous frame too (temporary memory).
#: - ``max_memory_frames``: cap on kept frames per memory group (the first
#:   frame is never dropped); None keeps all, so memory and time per frame
#:   grow with the video's length.
#: - ``pad_divisor``: frames are padded to a multiple of this.
#: - ``aggregation_channels``: softmax width of the original STM (11
#:   reproduces its probabilities exactly); None uses the real channels.
#: - ``max_size``: frames whose shorter side is larger are processed at
#:   that shorter side, the probabilities resized back before the argmax;
#:   None processes every frame at its size.
#: - ``object_chunk_size``: objects encoded and decoded at once; peak
#:   memory stops growing with the number of objects. None: all at once.
STREAM_OPTIONS = dict(
    mem_every=Option(5, positive_int),
    keep_previous=Option(True, boolean),
    max_memory_frames=Option(None, optional(positive_int)),
    pad_divisor=Option(16, positive_int),
    aggregation_channels=Option(None, optional(int_at_least(2))),
    max_size=Option(None, optional(positive_int)),
    object_chunk_size=Option(None, optional(positive_int)),
)

#: Option -> default.
STREAM_DEFAULTS = defaults(STREAM_OPTIONS)


def check_test_cfg(test_cfg: Optional[Mapping],
                   model_options: Optional[Mapping[str, Option]] = None,
                   where: str = 'model.test_cfg') -> None:
    """Check a model's ``test_cfg``: every key a stream option or one of
    the model's own test options (``model_options``, e.g. STM's
    :data:`~vosbench.models.vos.stm.TEST_OPTIONS`), with an allowed value.

    Raises:
        OptionError: naming the key (``model.test_cfg.mem_evry``) and the
            accepted ones, or the key and the wrong value.
    """
    check_options(test_cfg, {**STREAM_OPTIONS, **(model_options or {})},
                  where)


def check_stream_overrides(overrides: Optional[Mapping],
                           where: str = 'new_stream()') -> None:
    """Check the keyword overrides of a ``new_stream`` call (an
    :class:`~vosbench.utils.option_checks.OptionError`, also a
    ``TypeError``, for an unknown or wrong one)."""
    check_options(overrides, STREAM_OPTIONS, where)


def stream_options(test_cfg: Optional[Mapping] = None,
                   overrides: Optional[Mapping] = None) -> dict:
    """The stream options of a model: defaults, then the ``test_cfg`` keys
    that are stream options, then ``overrides``.

    Raises:
        OptionError: when ``overrides`` names an unknown option, or a value
            (of ``test_cfg`` or ``overrides``) is not allowed.
    """
    from_cfg = {k: v for k, v in (test_cfg or {}).items()
                if k in STREAM_OPTIONS}
    check_options(from_cfg, STREAM_OPTIONS, 'model.test_cfg')
    check_stream_overrides(overrides)
    options = dict(STREAM_DEFAULTS)
    options.update(from_cfg)
    options.update(overrides or {})
    return options
