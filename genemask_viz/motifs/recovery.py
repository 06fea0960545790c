"""Planted-motif recovery: how many planted sites the k-mer -> group -> Tomtom path needs.

A simulation power curve, the usual check of a motif-discovery method. The demo genome
(:func:`~genemask_viz.sequences.demo_genome`) is generated once per value of
``sites_per_motif``, everything else as the built-in demo (seed, background, repeats).
Each genome's n-gram table is counted (``n <= group_n``, the paper's min count 101). Its top
``top`` ``group_n``-mers by the table's ranking are grouped and compared with JASPAR by
Tomtom (:func:`~genemask_viz.motifs.report.tomtom_groups`), as k-mer votes and, with
``extend``, as matrices extended from their sites (:mod:`.extend`). For each planted motif
the result gives the best q of *its own* JASPAR matrix over all groups.

Beside it stands what decides whether a motif can be found at all: its commonest
``group_n``-mer among the planted sites, counted with reverse complements merged. For that
word the result gives how many planted sites hold it, and its genome-wide count on each
strand. The table scores a word only if it occurs at least min count times on one strand.

``python bench/motif_recovery.py`` runs the curve of ``docs/MOTIFS.md``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ..ngrams.scores import DEFAULT_MIN_COUNT
from .extend import encode, kmer_codes, word_code
from .library import DEFAULT_RELEASE
from .scoring import revcomp

__all__ = ["planted_recovery", "commonest_site_word", "genome_count", "DEFAULT_SITES"]

#: the curve of docs/MOTIFS.md: a quarter of the demo's 600 sites per motif to four times it
DEFAULT_SITES = (150, 300, 600, 900, 1200, 1800, 2400)

def commonest_site_word(sites, n: int) -> tuple[str, int]:
    """The ``n``-mer (reverse complements merged) held by most of ``sites``, and how many.

    Each site counts once per canonical word; ties go to the alphabetically first word.
    """
    held = Counter()
    for site in sites:
        s = str(site).upper()
        held.update({min(w, revcomp(w)) for w in (s[i:i + n] for i in range(len(s) - n + 1))})
    if not held:
        return "", 0
    best = max(held.items(), key=lambda kv: (kv[1], [-ord(c) for c in kv[0]]))
    return best[0], int(best[1])


def genome_count(records, word: str, kcodes=None) -> int:
    """Occurrences of ``word`` (overlapping, + strand, N-free windows) in ``records``.

    ``kcodes``: :func:`~.extend.kmer_codes` of every record for ``len(word)``, when already
    computed (several words of one genome)."""
    code = word_code(word) if word else -1
    if code < 0:  # empty, or not all A/C/G/T: no N-free window holds it
        return 0
    if kcodes is None:
        kcodes = [kmer_codes(encode(record), len(word)) for record in records]
    return sum(int(np.count_nonzero(codes == code)) for codes in kcodes)


def planted_recovery(sites=DEFAULT_SITES, seeds=(0,), group_n: int = 8, top: int = 100,
                     extend: bool = True, flank: int = 8, motifs=DEFAULT_RELEASE,
                     min_count: int = DEFAULT_MIN_COUNT, genome_kwargs: dict | None = None,
                     progress=None) -> pd.DataFrame:
    """One row per (sites per motif, genome seed, planted motif): its best Tomtom q and why.

    See the module docstring. ``seeds``: one demo genome per seed and number of sites (seed 0
    is the built-in demo's). ``genome_kwargs`` go to :func:`demo_genome` (e.g.
    ``n_records``, ``record_length``, ``motif_ids``). ``progress(i, n_genomes, n_sites,
    seed)`` is called before each genome. A motif narrower than ``group_n`` (TBP's 7 columns
    for 8-mers) has no commonest word: ``""``, held by 0 sites.
    """
    from ..ngrams import compute_table
    from ..sequences import demo_genome
    from ..sequences.demo import DEMO_MOTIFS
    from .library import motif_set, resolve_motifs
    from .rankings import ranking_column
    from .report import tomtom_groups
    from .tomtom import counts_to_probs, tomtom_matrix

    mset = motif_set(resolve_motifs(motifs))
    ids = list(mset.ids)
    rows = []
    runs = [(int(n), int(seed)) for n in sites for seed in seeds]
    for i, (n_sites, seed) in enumerate(runs):
        if progress is not None:
            progress(i, len(runs), n_sites, seed)
        genome = demo_genome(seed=seed, sites_per_motif=n_sites, **(genome_kwargs or {}))
        table = compute_table(genome.records, max_n=group_n, min_count=min_count)
        col = ranking_column(table)
        scored = table[(table["n"] == group_n) & table[col].notna()]
        ranked = scored.sort_values([col, "ngram"], ascending=[False, True], kind="stable")
        kmers = ranked["ngram"].astype(str).str.upper().head(top).to_numpy()
        rank_of_word = {w: r for r, w in enumerate(ranked["ngram"].astype(str).str.upper(), start=1)}
        kcodes = [kmer_codes(encode(record), group_n) for record in genome.records]
        _, _, groups = tomtom_groups(kmers, mset, group_n)
        q = tomtom_matrix([counts_to_probs(g.counts) for g in groups], mset)["q"]
        q_ext = None
        if extend:
            from .extend import extend_groups
            ext = extend_groups(groups, genome.records, flank=flank)
            q_ext = tomtom_matrix([counts_to_probs(e.counts) for e in ext], mset)["q"]
        for mid in genome.params["motif_ids"]:
            j = ids.index(mid)
            planted = genome.motifs.loc[genome.motifs["motif_id"] == mid, "site"]
            word, held = commonest_site_word(planted, group_n)
            rc = revcomp(word)
            ranks = [rank_of_word[w] for w in (word, rc) if w in rank_of_word]
            best = int(np.argmin(q[:, j]))
            row = {"sites_per_motif": n_sites, "seed": seed, "motif_id": mid,
                   "motif_name": DEMO_MOTIFS.get(mid, mid),
                   "q": float(q[best, j]), "found": bool(q[best, j] < 0.05),
                   "best_group": groups[best].consensus,
                   "commonest_word": word, "word_sites": held,
                   "word_count": genome_count(genome.records, word, kcodes),
                   "word_rc_count": genome_count(genome.records, rc, kcodes),
                   "word_rank": min(ranks) if ranks else np.nan,
                   "min_count": int(min_count), "n_groups": len(groups)}
            if q_ext is not None:
                best_e = int(np.argmin(q_ext[:, j]))
                row.update(q_extended=float(q_ext[best_e, j]),
                           found_extended=bool(q_ext[best_e, j] < 0.05))
            rows.append(row)
    return pd.DataFrame(rows)
