"""Tables of a model's options (``test_cfg``, ``train_cfg``) and their checks.

A table maps each option to its default and to what its value may be::

    STREAM_OPTIONS = dict(
        mem_every=Option(5, positive_int),
        keep_previous=Option(True, boolean),
        max_memory_frames=Option(None, optional(positive_int)),
    )

so that adding an option is one line. :func:`check_options` checks a dict
against a table: an unknown key is an error naming it (with the config key it
was given under, e.g. ``model.test_cfg.mem_evry``) and listing the accepted
ones; a value of the wrong type or out of range is an error naming the key,
the value and what it should be. Nothing is converted: ``2.5`` is not an
integer and ``'maybe'`` is not a boolean.
"""
import difflib
import numbers
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Optional


class OptionError(ValueError, TypeError):
    """An option is unknown or has a wrong value (a ``ValueError`` and, for
    the callers that expect one for an unknown keyword, a ``TypeError``)."""


class Check(NamedTuple):
    """What an option's value may be: ``test(value)`` is True when it is
    allowed; ``expected`` says it in words (``'a positive integer'``)."""
    test: Callable[[Any], bool]
    expected: str


class Option(NamedTuple):
    """An option: its default and the :class:`Check` of its values."""
    default: Any
    check: Check


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def int_at_least(minimum: int) -> Check:
    """An integer ``>= minimum`` (bools and floats such as 5.0 are not)."""
    return Check(lambda v: _is_int(v) and v >= minimum,
                 f'an integer >= {minimum}')


#: An integer >= 1.
positive_int = Check(lambda v: _is_int(v) and v >= 1, 'a positive integer')
#: True or False (not 0/1, not a string).
boolean = Check(lambda v: isinstance(v, bool), 'True or False')


def one_of(*choices) -> Check:
    """One of ``choices``."""
    return Check(lambda v: any(type(v) is type(c) and v == c
                               for c in choices),
                 'one of ' + ', '.join(repr(c) for c in choices))


def optional(check: Check) -> Check:
    """None or what ``check`` allows."""
    return Check(lambda v: v is None or check.test(v),
                 f'None or {check.expected}')


def defaults(options: Mapping[str, Option]) -> dict:
    """Option -> default of a table."""
    return {name: option.default for name, option in options.items()}


def _accepted(options: Iterable[str]) -> str:
    return ', '.join(sorted(options))


def check_option(key: str, value: Any, option: Option) -> None:
    """Raise :class:`OptionError` naming ``key`` when ``value`` is not
    allowed."""
    if not option.check.test(value):
        raise OptionError(f'{key} must be {option.check.expected}, got '
                          f'{value!r} ({type(value).__name__})')


def check_options(values: Optional[Mapping], options: Mapping[str, Option],
                  where: str, ignore: Iterable[str] = ()) -> None:
    """Check every key of ``values`` against the table ``options``.

    Args:
        values (Mapping, optional): The options given (a ``test_cfg``, the
            keyword overrides of a call); None checks nothing.
        options (Mapping[str, Option]): The table.
        where (str): What ``values`` is, used as the prefix of the keys in
            messages, e.g. ``'model.test_cfg'``.
        ignore (Iterable[str]): Keys accepted without a check (options of
            another table that share the dict).

    Raises:
        OptionError: for the first unknown key (listing the accepted ones)
            or the first value that is not allowed.
    """
    if not values:
        return
    ignore = set(ignore)
    for key, value in values.items():
        if key in ignore:
            continue
        if key not in options:
            accepted = set(options) | ignore
            close = difflib.get_close_matches(str(key), sorted(accepted), 1)
            hint = f' (did you mean {close[0]}?)' if close else ''
            raise OptionError(
                f'unknown key {where}.{key}{hint}; {where} accepts: '
                f'{_accepted(accepted)}')
        check_option(f'{where}.{key}', value, options[key])
