"""Planted-motif recovery curve (issue 16): best Tomtom q of each planted motif's own JASPAR
matrix against the number of sites planted per motif in the demo genome.

    python bench/motif_recovery.py [--sites 150,300,600,900,1200,1800,2400] [--seeds 0,1,2,3,4]
                                   [--group-n 8] [--top 100] [--out scratch/motif_recovery]

Writes ``recovery.csv`` (one row per sites x seed x motif) and ``recovery.png`` (the share
of genomes in which each motif is found at q < 0.05) under ``--out``, and prints the
shares and the median q. The demo
default is 600 sites per motif; see :mod:`genemask_viz.motifs.recovery` and docs/MOTIFS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def recovery_rates(df):
    """Per (sites, motif): genomes, share found (votes / extended), median q."""
    agg = {"genomes": ("seed", "size"), "found": ("found", "mean"), "median_q": ("q", "median"),
           "median_word_sites": ("word_sites", "median")}
    if "found_extended" in df:
        agg.update(found_extended=("found_extended", "mean"),
                   median_q_extended=("q_extended", "median"))
    return df.groupby(["sites_per_motif", "motif_name"], sort=False).agg(**agg).reset_index()


def plot(rates, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    panels = [("found", "k-mer votes")] + ([("found_extended", "extended from sites")]
                                           if "found_extended" in rates else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), sharey=True)
    axes = np.atleast_1d(axes)
    genomes = int(rates["genomes"].max())
    for ax, (col, title) in zip(axes, panels):
        for name, sub in rates.groupby("motif_name", sort=False):
            ax.plot(sub["sites_per_motif"], sub[col], marker="o", label=name)
        ax.axvline(600, ls="--", c="lightgrey")
        ax.set_xscale("log")
        ticks = sorted(rates["sites_per_motif"].unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("planted sites per motif (demo: 600)")
        ax.set_title(f"Tomtom, {title}")
    axes[0].set_ylabel(f"share of {genomes} genomes with q < 0.05\n(the motif's own JASPAR matrix)")
    axes[-1].legend(title="planted", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", default="150,300,600,900,1200,1800,2400")
    ap.add_argument("--seeds", default="0,1,2,3,4", help="demo genome seeds (0: the demo's)")
    ap.add_argument("--group-n", type=int, default=8)
    ap.add_argument("--top", type=int, default=100)
    ap.add_argument("--no-extend", action="store_true")
    ap.add_argument("--out", default="scratch/motif_recovery")
    args = ap.parse_args(argv)
    import pandas as pd

    from genemask_viz.motifs.recovery import planted_recovery
    sites = [int(s) for s in args.sites.split(",") if s.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    t0 = time.perf_counter()
    df = planted_recovery(sites, seeds=seeds, group_n=args.group_n, top=args.top,
                          extend=not args.no_extend,
                          progress=lambda i, n, k, seed: print(
                              f"genome {i + 1}/{n}: {k} sites per motif, seed {seed} "
                              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "recovery.csv", index=False)
    rates = recovery_rates(df)
    plot(rates, out / "recovery.png")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(rates.to_string(index=False, float_format=lambda v: f"{v:.2g}"))
    print(f"{time.perf_counter() - t0:.0f} s; wrote {out / 'recovery.csv'} and {out / 'recovery.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
