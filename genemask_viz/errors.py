"""The one error class for bad user input, and the package warning class.

Every message names where the problem is (file and line when there is one),
what was found, and how to fix it, so that the app and the command line can
show it as it is instead of a traceback.
"""

from __future__ import annotations


class GeneMaskInputError(ValueError):
    """Bad input from a user: a malformed file, an impossible parameter.

    Parameters
    ----------
    message : what is wrong, echoing the bad value.
    source : the file (or argument) it came from.
    line : 1-based line number in ``source``, when known.
    fix : one sentence on what to do instead.
    """

    def __init__(self, message: str, *, source: object | None = None,
                 line: int | None = None, fix: str | None = None):
        self.problem = message
        self.source = None if source is None else str(source)
        self.line = line
        self.fix = fix
        where = ""
        if self.source is not None:
            where = self.source + (f", line {line}" if line is not None else "") + ": "
        text = where + message
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class GeneMaskWarning(UserWarning):
    """Warnings from genemask_viz (filter them with ``warnings.simplefilter``)."""


def with_source(exc: GeneMaskInputError, source: object) -> GeneMaskInputError:
    """``exc`` itself when it names a file already, else the same error naming ``source``
    (for callers that know which input a deeper check was about)."""
    if exc.source is not None or source is None:
        return exc
    return GeneMaskInputError(exc.problem, source=source, line=exc.line, fix=exc.fix)
