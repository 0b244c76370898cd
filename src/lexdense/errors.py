"""The project's error base: every error lexdense raises on purpose derives from it.

The command line turns a :class:`LexDenseError` into one line on stderr; anything else is a
bug and keeps its traceback. Each subclass also derives from the built-in class that says
what went wrong (``ValueError`` for bad input or a bad file, ``ImportError`` for a missing
extra), so ``except ValueError`` in users' code keeps working.
"""

from __future__ import annotations


class LexDenseError(Exception):
    """Base class of the errors lexdense raises for bad input, bad files and missing extras."""


class NotFittedError(LexDenseError, ValueError, AttributeError):
    """A workflow object was used before ``fit`` (or ``load``)."""


class InputError(LexDenseError, ValueError):
    """Bad input: an empty or malformed argument, an option out of range, data of the wrong shape."""


class InputTypeError(LexDenseError, TypeError):
    """An argument of the wrong type (a number where texts are expected, ...)."""
