"""The ``genemask`` command: one sub-command per module in this package.

Each sub-command module has ``register(subparsers)``, which adds its parser
and sets ``func`` to a function taking the parsed arguments and returning an
exit code. Bad input is reported as one line on stderr (exit 2), never as a
traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import GeneMaskInputError

SUBCOMMANDS = ["npmi", "demo", "mask", "motifs", "pretrain", "fewshot", "runs"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genemask", description="GeneMask toolkit: k-mer tokens, PMI tables, masking, "
                                     "pretraining, few-shot runs and motif comparison.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GeneMaskInputError as exc:
        if args.debug:
            raise
        print(f"genemask {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"genemask {args.command}: interrupted; partial outputs were not written.",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
