"""The PMI page's logic: counting with progress, filtering a table, a k-mer's motif hits.

Plain-language summaries of the motif statistics live here too, so the page can
say what the correlation shows and what it does not.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError

SCORE_COLUMNS = {"genemask_score": "GeneMask score (PMI_n discounted for rare n-grams)",
                 "npmi": "NPMI (normalised PMI, -1..1)", "pmi_n": "PMI_n (min over segmentations)",
                 "naive_pmi": "naive PMI (vs single letters)", "count": "count"}


def upload_key(name: str, data: bytes, *settings) -> str:
    """A cache key for an uploaded file: its name, a SHA-1 of its bytes and any settings, so
    two different files with the same name and size never share a table or a comparison."""
    import hashlib
    from pathlib import Path
    parts = [Path(str(name)).name, "sha1:" + hashlib.sha1(data).hexdigest()]
    return " ".join(parts + [str(x) for x in settings])


def count_with_progress(records, max_n: int = 10, min_count: int = 101,
                        progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """The score table of ``records`` (``Record`` objects or ``(name, sequence)``), reporting
    ``progress(fraction, text)`` after each record (counting) and before scoring."""
    from ..ngrams.counting import NgramCounter
    from ..ngrams.scores import score_table
    items = [(r.name, r.sequence) if hasattr(r, "sequence") else tuple(r) for r in records]
    if not items:
        raise GeneMaskInputError("no sequences to count.", fix="upload a FASTA file with sequences.")
    total = sum(len(s) for _, s in items) or 1
    counter, done = NgramCounter(int(max_n)), 0
    for name, seq in items:
        counter.add_sequence(seq)
        done += len(seq)
        if progress:
            progress(0.9 * done / total, f"counted {name} ({done:,} of {total:,} nt)")
    counts = counter.finish()
    if counts.n_bases == 0:
        raise GeneMaskInputError("the sequences hold no A/C/G/T bases.", fix="upload DNA sequences.")
    if progress:
        progress(0.92, "scoring n-grams (PMI, NPMI, GeneMask score)")
    table = score_table(counts, min_count=int(min_count))
    if progress:
        progress(1.0, f"done: {len(table):,} n-grams")
    return table


def scored_lengths(table: pd.DataFrame, column: str = "genemask_score") -> list[int]:
    """n-gram lengths that have at least one scored row."""
    sub = table[table[column].notna()]
    return sorted(int(n) for n in sub["n"].unique())


def filter_table(table: pd.DataFrame, n: int | None = None, min_count: int = 0,
                 min_score: float | None = None, top: int = 100,
                 column: str = "genemask_score") -> pd.DataFrame:
    """The ``top`` scored rows of length ``n`` with ``count >= min_count`` and
    ``column >= min_score``, best first."""
    if column not in table:
        raise GeneMaskInputError(f"the table has no column {column!r}.",
                                 fix=f"choose one of {', '.join(c for c in SCORE_COLUMNS if c in table)}.")
    sub = table[table[column].notna()]
    if n is not None:
        sub = sub[sub["n"] == int(n)]
    if min_count and sub["count"].notna().any():
        sub = sub[sub["count"].fillna(0) >= int(min_count)]
    if min_score is not None:
        sub = sub[sub[column] >= float(min_score)]
    return sub.sort_values(column, ascending=False, kind="stable").head(int(top)).reset_index(drop=True)


def kmer_hits(result, kmer: str, top: int = 3) -> pd.DataFrame:
    """Best ``top`` motifs of one k-mer of a :class:`~genemask_viz.motifs.MotifComparison`."""
    kmers = list(result.scores.kmers)
    if kmer not in kmers:
        raise GeneMaskInputError(f"{kmer!r} is not among the compared k-mers.",
                                 fix="pick a k-mer from the table.")
    r = kmers.index(kmer)
    s = result.scores
    best = np.argsort(-s.score[r], kind="stable")[:top]
    return pd.DataFrame({"motif_id": [s.motif_ids[m] for m in best],
                         "motif_name": [s.motif_names[m] for m in best],
                         "score_bits": s.score[r, best].astype(float),
                         "fraction_of_max": s.rel[r, best].astype(float),
                         "offset": s.offset[r, best].astype(int),
                         "strand": np.where(s.strand[r, best] == 1, "+", "-"),
                         "strand_sign": s.strand[r, best].astype(int),
                         "motif_index": best})


def headline(result, on: str = "core_rel", enrich_on: str = "core") -> dict:
    """The key numbers of a comparison, and one sentence that reads them."""
    t = result.tidy
    t = t[(t["motifs"] == "all") & (t["kmer_set"] == "kmers")]
    rho = t[(t["measure"] == "spearman") & (t["on"] == on)].set_index("ranking")
    part = t[(t["measure"] == "partial_spearman_gc_cpg") & (t["on"] == on)].set_index("ranking")
    enr = t[(t["measure"] == "enrichment_fold") & (t["on"] == enrich_on)].set_index("ranking")
    out = {"rho": float(rho.loc["pmi", "value"]), "rho_p": float(rho.loc["pmi", "p"]),
           "partial_rho": float(part.loc["pmi", "value"]) if "pmi" in part.index else float("nan"),
           "fold": float(enr.loc["pmi", "value"]), "fold_p": float(enr.loc["pmi", "p"]),
           "controls": {r: float(rho.loc[r, "value"]) for r in rho.index if r != "pmi"}}
    beaten = [r for r, v in out["controls"].items() if out["rho"] > v]
    out["sentence"] = (
        f"Across {len(result.matches):,} k-mers, the PMI ranking correlates with the best motif "
        f"match at Spearman rho = {out['rho']:.2f} (p = {out['rho_p']:.1g}); after removing the "
        f"effect of GC and CpG content rho = {out['partial_rho']:.2f}. The top {result.top} k-mers "
        f"match a motif {out['fold']:.2f} times as often as all k-mers (p = {out['fold_p']:.1g}). "
        f"PMI beats {len(beaten)} of {len(out['controls'])} control rankings "
        f"({', '.join(beaten) or 'none'}) on this correlation.")
    return out
