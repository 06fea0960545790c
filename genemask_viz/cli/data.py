"""``genemask data fetch [NAME...] | ls | verify [NAME...] | path NAME``: the GeneMask release's data.

The data sets (hg38-ranking, Prom-core, Splice-40, Cohn-enh) are public files of
the GeneMask release (GPL-3.0), downloaded into the user cache (or ``$GENEMASK_DATA``)
and checked against SHA-256 checksums; see :mod:`genemask_viz.data`.
"""

from __future__ import annotations

import sys

from ..errors import GeneMaskInputError


def register(sub) -> None:
    p = sub.add_parser("data", help="fetch, list, verify and locate the GeneMask release's data sets",
                       description="Real data: the GeneMask release's hg38 6-mer ranking and few-shot "
                                   "benchmarks (GPL-3.0), downloaded once with checksums. Looked up in "
                                   "$GENEMASK_DATA, the user cache, then ../shared/data. "
                                   "$GENEMASK_DATA_URL replaces the download address (a mirror).")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    fetch = verbs.add_parser("fetch", help="download the missing data sets (default: all); resumes")
    fetch.add_argument("names", nargs="*", metavar="NAME")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    verbs.add_parser("ls", help="one line per data set: present or not, where, size, license")
    verify = verbs.add_parser("verify", help="check every file's SHA-256 (exit 1 if one differs)")
    verify.add_argument("names", nargs="*", metavar="NAME")
    path = verbs.add_parser("path", help="print the file or folder of a data set (for scripts)")
    path.add_argument("name", metavar="NAME")
    p.set_defaults(func=run)


def run(args) -> int:
    from .. import data
    try:
        return _VERBS[args.verb](args, data)
    except data.DataError as exc:
        raise GeneMaskInputError(exc.problem, source=exc.source, fix=exc.fix) from None


def _fetch(args, data) -> int:
    for row in data.fetch(args.names or None, show_progress=not args.quiet):
        how = f"present ({row['where']})" if row["action"] == "present" else "downloaded"
        print(f"{row['name']}: {how}: {row['path']}")
    print(f"License: {data.LICENSE}.", file=sys.stderr)
    return 0


def _ls(args, data) -> int:
    for row in data.status():
        state = f"present ({row['where']})" if row["present"] else "missing"
        print(f"{row['name']:<13} {row['kind']:<8} {row['size_mb']:>6.2f} MB  {state:<28} "
              f"{row['path'] or '-'}")
    print(f"download folder: {data.download_root()}  (GENEMASK_DATA replaces it)")
    print(f"source: {data.base_url()}  (GENEMASK_DATA_URL replaces it)")
    print(f"license: {data.LICENSE}")
    return 0


def _verify(args, data) -> int:
    bad = 0
    for row in data.verify(args.names or None):
        bad += not row["ok"]
        print(f"{'ok ' if row['ok'] else 'BAD'} {row['dataset']:<13} {row['file']}"
              + ("" if row["ok"] else f"  ({row['detail']})"))
    if bad:
        print(f"{bad} file(s) missing or altered. Fix: `genemask data fetch` downloads them again.",
              file=sys.stderr)
    return 1 if bad else 0


def _path(args, data) -> int:
    print(data.dataset_path(args.name))
    return 0


_VERBS = {"fetch": _fetch, "ls": _ls, "verify": _verify, "path": _path}
