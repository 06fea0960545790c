"""Byte limits for readers that hold what they read (hostile input must not exhaust memory).

``GENEMASK_MAX_INPUT_BYTES`` caps the decompressed bytes a reader that holds a whole file
may take (default 256 MiB: a 9 MB gzip can hold 2 GB); ``GENEMASK_MAX_LINE_BYTES`` caps
any line a reader keeps (FASTA headers, table rows; default 1 MiB). Both accept
``K``/``M``/``G`` suffixes; every reader also takes them as arguments. Streaming readers
(FASTA sequence lines, n-gram counting) are not capped: their memory does not grow.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import GeneMaskInputError

__all__ = ["MAX_INPUT_ENV", "MAX_LINE_ENV", "DEFAULT_MAX_INPUT_BYTES", "DEFAULT_MAX_LINE_BYTES",
           "input_limit", "line_limit", "too_big_error", "long_line_error"]

MAX_INPUT_ENV = "GENEMASK_MAX_INPUT_BYTES"
MAX_LINE_ENV = "GENEMASK_MAX_LINE_BYTES"
#: decompressed bytes a reader that holds the whole input may take (streaming readers: no limit)
DEFAULT_MAX_INPUT_BYTES = 256 << 20
#: longest header line (FASTA) or table line any reader keeps
DEFAULT_MAX_LINE_BYTES = 1 << 20
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
          "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30}


def _size_setting(value, env: str, default: int) -> int:
    """A byte limit: ``value`` (int or text like '64M'), else ``$env``, else ``default``."""
    source = None
    if value is None:
        value, source = os.environ.get(env), env
        if value is None or not str(value).strip():
            return default
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        number = int(value)
    else:
        text = str(value).strip().upper()
        digits = text.rstrip("KMGIB")
        try:
            number = int(float(digits) * _UNITS[text[len(digits):]])
        except (ValueError, KeyError, OverflowError):
            number = 0
    if number < 1:
        raise GeneMaskInputError(f"byte limit {value!r} is not a positive size.",
                                 source=source or "limit",
                                 fix="give a size such as 512M, 2G or a number of bytes.")
    return number


def input_limit(max_bytes=None) -> int:
    """The decompressed-size limit: ``max_bytes``, else ``$GENEMASK_MAX_INPUT_BYTES``, else 256 MiB."""
    return _size_setting(max_bytes, MAX_INPUT_ENV, DEFAULT_MAX_INPUT_BYTES)


def line_limit(max_line=None) -> int:
    """The line-length limit: ``max_line``, else ``$GENEMASK_MAX_LINE_BYTES``, else 1 MiB."""
    return _size_setting(max_line, MAX_LINE_ENV, DEFAULT_MAX_LINE_BYTES)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def too_big_error(path, limit: int, what: str = "decompressed") -> GeneMaskInputError:
    return GeneMaskInputError(
        f"holds more than {_mb(limit)} ({what}), the limit for a file read whole.", source=path,
        fix=f"give a smaller file, or raise the limit (e.g. {MAX_INPUT_ENV}=2G) if the machine "
            "has the memory for it.")


def long_line_error(path, limit: int, line: int | None, what: str = "a line") -> GeneMaskInputError:
    return GeneMaskInputError(
        f"{what} is longer than {_mb(limit)}, the line-length limit.", source=path, line=line,
        fix=f"check that the file is what you meant (a FASTA header or a table row is short); "
            f"raise the limit with {MAX_LINE_ENV}=... if it really is so long.")
