"""``genemask demo-genome --out demo.fa``: write the built-in demo genome and its ground truth."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo-genome", help="write the synthetic demo genome (FASTA) and its motif sites",
                       description="Write the seeded synthetic demo genome and, beside it, "
                                   "<out>.motifs.csv (planted JASPAR sites) and <out>.repeats.csv.")
    p.add_argument("--out", required=True, help="output FASTA (.fa or .fa.gz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--records", type=int, default=4, help="number of chromosomes (default 4)")
    p.add_argument("--length", type=int, default=500_000, help="bases per chromosome (default 500000)")
    p.add_argument("--sites", type=int, default=600, help="planted sites per motif (default 600)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..sequences import demo_genome

    genome = demo_genome(seed=args.seed, n_records=args.records, record_length=args.length,
                         sites_per_motif=args.sites)
    out = genome.write_fasta(args.out)
    stem = Path(str(out).removesuffix(".gz")).with_suffix("")
    genome.motifs.to_csv(f"{stem}.motifs.csv", index=False)
    genome.repeats.to_csv(f"{stem}.repeats.csv", index=False)
    print(f"wrote {out} ({genome.total_length:,} bp, {len(genome.records)} records), "
          f"{stem}.motifs.csv ({len(genome.motifs)} sites), {stem}.repeats.csv", file=sys.stderr)
    return 0
