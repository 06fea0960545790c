"""``genemask motifs --table TABLE [--jaspar JASPAR2024] [--top 100] --out DIR``."""

from __future__ import annotations

import sys
import time


def register(sub) -> None:
    p = sub.add_parser("motifs", help="compare top PMI k-mers with JASPAR motifs (with controls)",
                       description="Score every k-mer of a PMI table against a motif library on "
                                   "both strands; write matches.csv, summary.json (Spearman rho "
                                   "and p, enrichment and p, for PMI and each control) and logos.")
    p.add_argument("--table", required=True,
                   help="PMI table: ours (.csv/.parquet) or the release's hg38 ranking CSV")
    p.add_argument("--jaspar", default="JASPAR2024",
                   help="JASPAR release (CORE vertebrates, e.g. JASPAR2024) or a JASPAR/MEME file")
    p.add_argument("--top", type=int, default=100, help="size of the top set (default 100)")
    p.add_argument("--n", type=int, default=None, help="n-gram length compared (default: 6, the GeneMask token length, "
                        "when the table has scored 6-mers, else the scored length with the most rows)")
    p.add_argument("--fpr", type=float, default=0.01,
                   help="per-motif false-positive rate of the p-value match (default 0.01)")
    p.add_argument("--logos", type=int, default=10, help="logo PNGs for this many top k-mers")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-ranking control")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import GeneMaskInputError
    from ..motifs.report import compare_table, summary, write_report
    from ..ngrams import load_table

    if args.top < 1:
        raise GeneMaskInputError(f"--top must be at least 1, got {args.top}.", source="--top",
                                 fix="use e.g. --top 100.")
    if not 0 < args.fpr < 1:
        raise GeneMaskInputError(f"--fpr must be in (0, 1), got {args.fpr}.", source="--fpr",
                                 fix="use e.g. --fpr 0.01.")
    t0 = time.perf_counter()
    table = load_table(args.table)
    result = compare_table(table, motifs=args.jaspar, top=args.top, n=args.n, fpr=args.fpr,
                           seed=args.seed, source=str(args.table))
    out = write_report(result, args.out, logos=args.logos)
    s = summary(result)
    pmi = s["statistics"]["all"]["pmi"]["kmers"]
    rho = pmi["spearman"]["core_rel"]
    core = pmi["enrichment"]["core"]
    beats = [c for c, b in s["pmi_beats"].items() if b]
    print(f"{s['n_kmers']:,} k-mers x {s['n_motifs']} motifs in {time.perf_counter() - t0:.1f} s; "
          f"PMI Spearman rho {rho['rho']:.3f} (p {rho['p']:.2g}); core-window matches in top "
          f"{args.top}: {core['top_matches']} (base rate {core['base_rate']:.1%}, fold "
          f"{core['fold']:.2f}, p {core['p']:.2g}); PMI beats: {', '.join(beats) or 'none'}; "
          f"wrote {out}", file=sys.stderr)
    return 0
