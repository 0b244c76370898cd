"""Error messages as one line: what the CLI prints and what the library's errors say.

A field name may hold a newline or a NUL (a CSV header can), and a library's message may span
lines; both are written here so that an error stays one line on a terminal.
"""

from __future__ import annotations


def shown(name) -> str:
    """A field name or path as it goes into a one-line message: control characters (a
    newline in a CSV header, a NUL) and lone surrogates are escaped, the rest kept."""
    name = str(name)
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in name)


def one_line(message) -> str:
    """A message (an exception or text), which may span lines or hold control bytes, as one line."""
    return shown(" ".join(str(message).split()))
