"""``genemask npmi INPUT... --max-n N --min-count C --scoring exact|release --out TABLE.csv|.parquet``."""

from __future__ import annotations

import sys
import time


def register(sub) -> None:
    p = sub.add_parser("npmi", help="count n-grams and write the PMI / NPMI / GeneMask score table",
                       description="Count every n-gram n=1..N in FASTA file(s) (plain or .gz; "
                                   "'demo' for the built-in demo genome) and write the score table.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="FASTA / FASTA.gz files, or 'demo'")
    p.add_argument("--max-n", type=int, default=10, help="longest n-gram (default 10, as the paper)")
    p.add_argument("--min-count", type=int, default=101,
                   help="n-grams seen fewer times get no score (default 101, as the paper)")
    p.add_argument("--scoring", choices=("exact", "release"), default="exact",
                   help="exact: PMI_n (min over all segmentations) and the GeneMask score "
                        "(default); release: the GeneMask release's recipe (one normaliser for "
                        "every length, pieces of length <= 2), columns release_naive_pmi, "
                        "release_true_pmi, release_dp_pmi, release_score")
    p.add_argument("--out", required=True, help="output table, .csv or .parquet")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..ngrams import count_ngrams, ranking_column, ranking_name, save_table, score_table
    from ..ngrams.scores import check_min_count, check_scoring
    from ..ngrams.table_io import check_table_path
    from ..sequences import demo_fasta_path

    check_table_path(args.out)  # fail before counting a genome, not after
    check_min_count(args.min_count)
    scoring = check_scoring(getattr(args, "scoring", "exact"))

    inputs = [demo_fasta_path() if x == "demo" else x for x in args.inputs]
    t0 = time.perf_counter()
    counts = count_ngrams(inputs, max_n=args.max_n, progress=not args.quiet)
    t1 = time.perf_counter()
    table = score_table(counts, min_count=args.min_count, scoring=scoring)
    t2 = time.perf_counter()
    path = save_table(table, args.out)
    if not args.quiet:
        print(f"counted {counts.n_bases:,} bases in {counts.n_records:,} records "
              f"({t1 - t0:.2f} s, {counts.n_bases / 1e6 / max(t1 - t0, 1e-9):.1f} Mbp/s); "
              f"scored {int(table[ranking_column(table)].notna().sum()):,} n-grams "
              f"({ranking_name(table)}) in {t2 - t1:.2f} s; wrote {path}", file=sys.stderr)
    return 0
