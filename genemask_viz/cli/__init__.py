"""The ``genemask`` command: one sub-command per module in this package.

Each sub-command module has ``register(subparsers)``, which adds its parser
and sets ``func`` to a function taking the parsed arguments and returning an
exit code. Bad input is reported as one line on stderr (exit 2), never as a
traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

from ..errors import GeneMaskInputError

SUBCOMMANDS = ["npmi", "demo", "mask", "motifs", "pretrain", "fewshot", "runs", "data", "study", "reconstruct", "attribute"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genemask", description="GeneMask toolkit: k-mer tokens, PMI tables, masking, "
                                     "pretraining, few-shot runs and motif comparison.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


#: what to do about an operating-system error, by errno (output paths, a full disk)
_OS_FIXES = {
    errno.EACCES: "check the permissions of the file or folder, or write somewhere else.",
    errno.EPERM: "check the permissions of the file or folder, or write somewhere else.",
    errno.EROFS: "the file system is read-only: write somewhere else.",
    errno.EEXIST: "a file stands where a folder is needed: choose another path.",
    errno.ENOTDIR: "a file stands where a folder is needed: choose another path.",
    errno.EISDIR: "a folder stands where a file is needed: name a file.",
    errno.ENOSPC: "the disk is full: free some space or write to another disk.",
    errno.EDQUOT: "the disk quota is used up: free some space or write elsewhere.",
    errno.ENAMETOOLONG: "choose a shorter path.",
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split("\n")).replace("\r", " ")


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a full disk or closed pipe shows here, not at interpreter exit
        return code
    except GeneMaskInputError as exc:
        if args.debug:
            raise
        print(f"genemask {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a locked folder, a file in the way, a full disk: one line, exit 2
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else "output: "
        fix = _OS_FIXES.get(exc.errno, "check the path and try again.")
        print(f"genemask {args.command}: error: {_one_line(where + (exc.strerror or str(exc)))}. "
              f"Fix: {fix}", file=sys.stderr)
        if not exc.filename:
            _quiet_stdout()
        return 2
    except MemoryError:
        if args.debug:
            raise
        print(f"genemask {args.command}: error: out of memory. Fix: give a smaller input, or "
              "lower GENEMASK_MAX_INPUT_BYTES so that oversized inputs are refused early.",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genemask {args.command}: interrupted; partial outputs were not written.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
