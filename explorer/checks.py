"""The one check of a whole-number parameter, worded the same wherever the library takes one.

A whole number is an ``int`` that is not a ``bool`` (``True`` is an int to
Python, never a count to a reader). Parameters of the library raise
``ValueError``; where the number comes from what a visitor typed, the caller
passes ``error=ExpressionError`` so that it is refused like any other input.

>>> whole_number(3, "repeat", least=1, most=100)
3
>>> whole_number(0, "repeat", least=1, most=100)
Traceback (most recent call last):
...
ValueError: repeat must be a whole number from 1 to 100, not 0
>>> whole_number(None, "depth", least=0, none=True) is None
True
"""
from __future__ import annotations

from typing import Any


def is_whole(value: Any) -> bool:
    """Whether ``value`` is a whole number: an ``int``, not a ``bool``.

    >>> is_whole(2), is_whole(2.0), is_whole(True)
    (True, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool)


def whole_number(value: Any, name: str, *, least: int | None = None, most: int | None = None,
                 none: bool = False, error: type[ValueError] = ValueError) -> Any:
    """``value`` if it is a whole number in ``[least, most]`` (or ``None`` where ``none``), else ``error``.

    The message names the parameter and the range: ``"epochs must be a whole
    number from 1 to 1,000,000, not 0"``.

    >>> whole_number(2.5, "the one-hot index", least=0)
    Traceback (most recent call last):
    ...
    ValueError: the one-hot index must be a whole number >= 0, not 2.5
    """
    if value is None and none:
        return None
    if is_whole(value) and (least is None or value >= least) and (most is None or value <= most):
        return value
    if least is not None and most is not None:
        bounds = f" from {least:,} to {most:,}"
    elif least is not None:
        bounds = f" >= {least:,}"
    elif most is not None:
        bounds = f" <= {most:,}"
    else:
        bounds = ""
    raise error(f"{name} must be a whole number{bounds}{' (or None)' if none else ''}, not {value!r}")


__all__ = ["is_whole", "whole_number"]
