"""``genemask motifs --table TABLE|demo [--jaspar JASPAR2024] [--top 100] [--tasks DIR] --out DIR``."""

from __future__ import annotations

import sys
import time

DEMO_MAX_N = 8  # the demo table: 6-mers (the GeneMask tokens) and 8-mers (Tomtom groups)


def register(sub) -> None:
    p = sub.add_parser("motifs", help="compare top PMI k-mers with JASPAR motifs (with controls)",
                       description="Score every k-mer of a PMI table against a motif library on "
                                   "both strands; write summary.json and CSVs: Spearman rho with "
                                   "bootstrap intervals over reverse-complement pairs for PMI and "
                                   "each control, Benjamini-Hochberg adjusted p-values, Tomtom p/E/q of the "
                                   "grouped top k-mers, the task enrichment test, and logos.")
    p.add_argument("--table", required=True,
                   help="PMI table: ours (.csv/.parquet), the release's hg38 ranking CSV, or "
                        "'demo' (the demo genome's table, computed here)")
    p.add_argument("--jaspar", default="JASPAR2024",
                   help="JASPAR release (CORE vertebrates, e.g. JASPAR2024) or a JASPAR/MEME file")
    p.add_argument("--top", type=int, default=100, help="size of the top set (default 100)")
    p.add_argument("--n", type=int, default=None, help="n-gram length compared (default: 6, the GeneMask token length, "
                        "when the table has scored 6-mers, else the scored length with the most rows)")
    p.add_argument("--group-n", type=int, default=None,
                   help="length of the top n-grams grouped and compared by Tomtom (default: --n)")
    p.add_argument("--sequences", nargs="+", default=None, metavar="FASTA",
                   help="the sequences the table was counted from (with --table demo: the demo "
                        "genome's, used by default): each Tomtom group is also extended from its "
                        "sites with --flank bases either side and compared by Tomtom (ext_* columns)")
    p.add_argument("--flank", type=int, default=8,
                   help="bases read either side of a group's sites before trimming (default 8)")
    p.add_argument("--extend-support", type=int, default=1,
                   help="member k-mers that must place a site (1: every seed occurrence, "
                        "default; 2: sites of a contig of two overlapping top k-mers)")
    p.add_argument("--fpr", type=float, default=0.01,
                   help="per-motif false-positive rate of the p-value match (default 0.01)")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap replicates over reverse-complement pairs (default 1000)")
    p.add_argument("--tasks", default=None, metavar="DIR",
                   help="few-shot data folder holding task folders (e.g. ../shared/data/genemask/"
                        "fewshot): run the discriminative motif test on --task-names")
    p.add_argument("--task-names", default="Prom-core,Cohn-enh",
                   help="comma-separated task folders under --tasks (default Prom-core,Cohn-enh)")
    p.add_argument("--fimo-p", type=float, default=1e-4,
                   help="FIMO p-value threshold of a motif hit in the task scan (default 1e-4)")
    p.add_argument("--logos", type=int, default=10, help="logo PNGs for this many top k-mers and groups")
    p.add_argument("--seed", type=int, default=0, help="seed of the random ranking and the bootstrap")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def _tasks(args) -> dict:
    from pathlib import Path
    from ..errors import GeneMaskInputError
    if not args.tasks:
        return {}
    root = Path(args.tasks)
    out = {}
    for name in [t.strip() for t in args.task_names.split(",") if t.strip()]:
        folder = root / name
        if not folder.is_dir():
            raise GeneMaskInputError(f"task folder {name!r} not found.", source=folder,
                                     fix="give --tasks the few-shot folder that holds it, or "
                                         "change --task-names.")
        out[name] = folder
    return out


def load_demo_or_table(spec: str):
    """The table named by ``--table``: 'demo' computes the demo genome's (n <= 8, min count 101)."""
    if str(spec) == "demo":
        from ..ngrams import compute_table
        from ..sequences import demo_genome
        table = compute_table(demo_genome(seed=0).records, max_n=DEMO_MAX_N)
        table.attrs["source"] = "demo genome (seed 0)"
        return table
    from ..ngrams import load_table
    return load_table(spec)


def load_sequences(args):
    """Records for seed extension: --sequences, else the demo genome's with --table demo."""
    if args.sequences:
        from ..sequences.fasta import read_fasta
        return [r for path in args.sequences for r in read_fasta(path)]
    if str(args.table) == "demo":
        from ..sequences import demo_genome
        return demo_genome(seed=0).records
    return None


def run(args) -> int:
    from ..errors import GeneMaskInputError, with_source
    from ..motifs.report import compare_table, summary, write_report

    if args.top < 1:
        raise GeneMaskInputError(f"--top must be at least 1, got {args.top}.", source="--top",
                                 fix="use e.g. --top 100.")
    if not 0 < args.fpr < 1:
        raise GeneMaskInputError(f"--fpr must be in (0, 1), got {args.fpr}.", source="--fpr",
                                 fix="use e.g. --fpr 0.01.")
    if args.bootstrap < 10:
        raise GeneMaskInputError(f"--bootstrap must be at least 10, got {args.bootstrap}.",
                                 source="--bootstrap", fix="use e.g. --bootstrap 1000.")
    if not 0 < args.fimo_p < 1:
        raise GeneMaskInputError(f"--fimo-p must be in (0, 1), got {args.fimo_p}.",
                                 source="--fimo-p", fix="use e.g. --fimo-p 1e-4.")
    if args.flank < 0 or args.extend_support < 1:
        raise GeneMaskInputError(f"--flank must be >= 0 and --extend-support >= 1, got "
                                 f"{args.flank} and {args.extend_support}.", source="--flank",
                                 fix="use e.g. --flank 8 --extend-support 1.")
    tasks = _tasks(args)
    t0 = time.perf_counter()
    table = load_demo_or_table(args.table)
    sequences = load_sequences(args)
    print("scoring k-mers, bootstrap and Tomtom (the first run also compiles memelite's kernels, "
          "about a minute)...", file=sys.stderr)
    try:
        result = compare_table(table, motifs=args.jaspar, top=args.top, n=args.n, fpr=args.fpr,
                               seed=args.seed, source=str(args.table), reps=args.bootstrap,
                               tasks=tasks, fimo_threshold=args.fimo_p, group_n=args.group_n,
                               sequences=sequences, flank=args.flank,
                               min_support=args.extend_support)
    except GeneMaskInputError as exc:  # a problem found deep in the table: name the file
        raise with_source(exc, args.table) from None
    out = write_report(result, args.out, logos=args.logos)
    s = summary(result)
    h = s["headline"]
    rho = h["rho"]["pmi"]
    diffs = "; ".join(f"{k} {v['difference']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}]"
                      for k, v in h["differences"].items() if k.startswith("pmi -"))
    print(f"{s['n_kmers']:,} k-mers x {s['n_motifs']} motifs in {time.perf_counter() - t0:.1f} s; "
          f"PMI Spearman rho (best window, RC pairs) {rho['rho']:.3f} [{rho['lo']:.3f}, "
          f"{rho['hi']:.3f}]; {diffs}; Tomtom groups with q < 0.05: "
          f"{s['tomtom']['significant_q05']} of {s['tomtom']['n_groups']}"
          + (f" (extended from sites: {s['tomtom']['extended']['significant_q05']})"
             if s["tomtom"]["extended"] else "") + f"; wrote {out}",
          file=sys.stderr)
    return 0
