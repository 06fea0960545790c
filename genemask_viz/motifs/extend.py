"""Seed extension: a k-mer group's occurrences in the sequences, stacked with flanks, as a matrix.

A group of top PMI k-mers (:func:`~genemask_viz.motifs.similarity.group_kmers`) votes one
letter per member and column, so its matrix is never wider than the seeds' span and its
columns carry no information about the flanks of real sites. Motif finders that start from
k-mer seeds (DREME, STREME, HOMER) build the motif they report from the seed's *sites*
instead. This module does that step, once, without iterative refinement:

1. **Sites.** Every exact occurrence of a member k-mer (as oriented in the group) on either
   strand of the sequences the table was counted from. An occurrence of member ``m`` at group
   column ``o`` (columns counted from the group's leftmost member) places a site of the
   group's width ``W`` on the + strand at ``p - o``; an occurrence of ``revcomp(m)`` at ``p``
   places a minus-strand site whose + strand window starts at ``p - (W - o - n)``. Sites are
   de-duplicated by (record, start, strand): two members found at consistent offsets of one
   site count once; ``support`` is how many member words placed it. A palindromic member
   yields a site on each strand (both are counted, as in a both-strand scan). With
   ``min_support`` = 2 only sites placed by at least two overlapping members are kept: the
   occurrences of a contig assembled from two overlapping top k-mers (default 1: every seed
   occurrence).
2. **Counts.** Each site's window of ``flank`` bases either side is read (reverse
   complemented for minus-strand sites) and counted column by column; letters other than
   A/C/G/T and positions beyond a record's end add nothing to their column.
3. **Trim.** Edge columns whose information content relative to the sequences' base
   composition, ``IC_j = sum_b p_jb log2(p_jb / bg_b)`` (``p`` with a 0.25 pseudocount per
   cell), is below ``min_ic`` bits are removed from both ends (the first and last columns at
   or above it are kept, with everything between). ``min_ic`` = 0.25 bits is universalmotif's
   ``trim_motifs`` default (Bioconductor); it was fixed before any result was seen.

**Dilution.** Exact seed occurrences include chance ones in the background, which dilute every
column (the seed's own columns too, less so). Each group reports ``n_hits`` (k-mer hits:
positions where a member or its reverse complement occurs, per distinct word), ``expected_hits``
(the same under an order-1 Markov model of the sequences themselves) and
``background_fraction = min(1, expected_hits / n_hits)``: the estimated share of hits that
chance alone would give. For the demo genome (whose background is an order-1 Markov chain)
this estimate can be checked against the planted sites.

Memory: one record at a time, about 10 bytes per base of the longest record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError
from .scoring import revcomp
from .similarity import KmerGroup

DEFAULT_FLANK = 8
MIN_IC = 0.25        # bits; universalmotif's trim_motifs default
PSEUDOCOUNT = 0.25   # per cell, for the information content of the trim only
_LUT = np.full(256, 4, np.uint8)
for _i, _b in enumerate("ACGT"):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i
_COMP = np.array([3, 2, 1, 0, 4], np.uint8)   # complement in A, C, G, T, N codes


@dataclass
class ExtendedGroup:
    """A group's sites, their full-window counts and the trimmed matrix (A, C, G, T columns)."""

    full_counts: np.ndarray     # (W + 2 * flank, 4)
    keep: tuple[int, int]       # trimmed columns [lo, hi) of full_counts
    flank: int
    seed_width: int
    sites: pd.DataFrame         # record, start, end (+ strand coordinates, half-open), strand
    n_hits: int
    expected_hits: float
    ic: np.ndarray = field(repr=False)   # per full column, bits vs background

    @property
    def counts(self) -> np.ndarray:
        return self.full_counts[self.keep[0]:self.keep[1]]

    @property
    def n_sites(self) -> int:
        return int(len(self.sites))

    @property
    def background_fraction(self) -> float:
        return float(min(1.0, self.expected_hits / self.n_hits)) if self.n_hits else float("nan")

    @property
    def consensus(self) -> str:
        return "".join("ACGT"[i] for i in self.counts.argmax(axis=1)) if self.n_sites else ""

    @property
    def seed_columns(self) -> tuple[int, int]:
        """The seed's columns [lo, hi) in the trimmed matrix (may extend past its edges)."""
        return self.flank - self.keep[0], self.flank - self.keep[0] + self.seed_width


def encode(sequence) -> np.ndarray:
    """A sequence (str or Record) -> uint8 codes A=0, C=1, G=2, T=3, anything else 4
    (an array of such codes is returned as is)."""
    if isinstance(sequence, np.ndarray):
        return sequence
    text = getattr(sequence, "sequence", sequence)
    return _LUT[np.frombuffer(str(text).encode("ascii", errors="replace"), np.uint8)]


def kmer_codes(codes: np.ndarray, n: int) -> np.ndarray:
    """Integer code (base 4, first letter most significant) of the n-mer at every start;
    -1 where the window holds a letter other than A/C/G/T. Length ``len(codes) - n + 1``."""
    m = len(codes) - n + 1
    if m <= 0:
        return np.zeros(0, np.int64)
    out = np.zeros(m, np.int64)
    for i in range(n):                       # n passes over the array, vectorised
        out = out * 4 + np.minimum(codes[i:i + m], 3)
    bad = np.concatenate([[0], np.cumsum(codes == 4)])
    out[(bad[n:] - bad[:m]) > 0] = -1
    return out


def word_code(word: str) -> int:
    return int(kmer_codes(encode(word), len(word))[0])


def markov1(records) -> tuple[np.ndarray, np.ndarray]:
    """Order-1 Markov model of the sequences: (p0 (4,), transitions (4, 4)), counted over
    valid (A/C/G/T) letters and adjacent pairs, +1 per cell."""
    mono = np.ones(4)
    di = np.ones(16)
    for r in records:
        c = encode(r)
        mono += np.bincount(c[c < 4], minlength=4)[:4]
        a, b = c[:-1], c[1:]
        ok = (a < 4) & (b < 4)
        di += np.bincount(a[ok].astype(np.int64) * 4 + b[ok], minlength=16)
    di = di.reshape(4, 4)
    return mono / mono.sum(), di / di.sum(axis=1, keepdims=True)


def expected_count(word: str, n_windows: int, p0: np.ndarray, trans: np.ndarray) -> float:
    """Expected occurrences of ``word`` in ``n_windows`` windows under the order-1 model."""
    c = encode(word)
    return float(n_windows * p0[c[0]] * np.prod(trans[c[:-1], c[1:]]))


def _entries(group: KmerGroup) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(code, shift, strand) per searched word: the site's + strand start is hit - shift."""
    n = len(group.oriented[0])
    lo = min(group.offsets)
    width = max(group.offsets) - lo + n
    codes, shifts, strands, words = [], [], [], []
    for word, off in zip(group.oriented, group.offsets):
        o = off - lo
        for w, shift, s in ((word, o, 1), (revcomp(word), width - o - n, -1)):
            codes.append(word_code(w))
            shifts.append(shift)
            strands.append(s)
            words.append(w)
    return np.array(codes), np.array(shifts), np.array(strands), words


def find_sites(group: KmerGroup, records, kcodes=None) -> tuple[pd.DataFrame, int, set]:
    """Sites of ``group`` in ``records`` (module doc, step 1): the site table, the number of
    k-mer hits (per position and distinct word) and the distinct words searched.
    ``kcodes``: :func:`kmer_codes` of every record for the group's k (computed if not given)."""
    n = len(group.oriented[0])
    width = len(group.counts)
    codes_e, shifts, strands, words = _entries(group)
    distinct = np.unique(codes_e)
    frames, n_hits = [], 0
    for ri, r in enumerate(records):
        kc = kmer_codes(encode(r), n) if kcodes is None else kcodes[ri]
        cand = np.flatnonzero(np.isin(kc, distinct))
        n_hits += len(cand)
        cc = kc[cand]
        starts, sts = [], []
        for code, shift, s in zip(codes_e, shifts, strands):   # one pass per searched word
            pos = cand[cc == code]
            starts.append(pos - shift)
            sts.append(np.full(len(pos), s, np.int8))
        start = np.concatenate(starts)
        strand = np.concatenate(sts)
        key, support = np.unique(start.astype(np.int64) * 2 + (strand > 0), return_counts=True)
        start, plus = key // 2, (key % 2).astype(bool)
        frames.append(pd.DataFrame({"record": ri, "start": start, "end": start + width,
                                    "strand": np.where(plus, "+", "-"), "support": support}))
    sites = pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=["record", "start", "end", "strand", "support"])
    return sites, n_hits, set(words)


def window_counts(records, sites: pd.DataFrame, width: int, flank: int) -> np.ndarray:
    """(width + 2 * flank, 4) counts of the sites' windows (module doc, step 2)."""
    total = width + 2 * flank
    out = np.zeros((total, 4), np.int64)
    for ri, r in enumerate(records):
        s = sites[sites["record"] == ri]
        if not len(s):
            continue
        c = encode(r)
        padded = np.concatenate([np.full(total, 4, np.uint8), c, np.full(total, 4, np.uint8)])
        idx = s["start"].to_numpy(np.int64)[:, None] - flank + total + np.arange(total)[None, :]
        win = padded[idx]
        minus = (s["strand"] == "-").to_numpy()
        win[minus] = _COMP[win[minus][:, ::-1]]
        for b in range(4):
            out[:, b] += (win == b).sum(axis=0)
    return out


def information(counts: np.ndarray, background: np.ndarray,
                pseudocount: float = PSEUDOCOUNT) -> np.ndarray:
    """Per-column relative entropy (bits) of counts (+ pseudocount) against ``background``."""
    p = np.asarray(counts, float) + pseudocount
    p = p / p.sum(axis=1, keepdims=True)
    return (p * np.log2(p / np.asarray(background, float)[None, :])).sum(axis=1)


def trim_bounds(ic: np.ndarray, min_ic: float = MIN_IC) -> tuple[int, int]:
    """[lo, hi): from the first to the last column with ``ic >= min_ic`` (all if none is)."""
    ok = np.flatnonzero(np.asarray(ic) >= min_ic)
    if not len(ok):
        return 0, len(ic)
    return int(ok[0]), int(ok[-1]) + 1


def extend_group(group: KmerGroup, records, flank: int = DEFAULT_FLANK, min_ic: float = MIN_IC,
                 model=None, min_support: int = 1, kcodes=None) -> ExtendedGroup:
    """The extended matrix of one group (module doc). ``model``: :func:`markov1` of
    ``records`` (computed when not given); ``kcodes`` as in :func:`find_sites`."""
    records = list(records)
    if flank < 0:
        raise GeneMaskInputError(f"flank must be >= 0, got {flank}.", fix="use e.g. 8.")
    if min_support < 1:
        raise GeneMaskInputError(f"min_support must be >= 1, got {min_support}.",
                                 fix="use 1 (every seed occurrence) or 2 (two overlapping seeds).")
    if not records:
        raise GeneMaskInputError("no sequences to collect sites from.",
                                 fix="give the sequences the table was counted from.")
    p0, trans = markov1(records) if model is None else model
    n = len(group.oriented[0])
    width = len(group.counts)
    sites, n_hits, words = find_sites(group, records, kcodes)
    sites = sites[sites["support"] >= min_support].reset_index(drop=True)
    counts = window_counts(records, sites, width, flank)
    n_windows = sum(max(0, len(encode(r)) - n + 1) for r in records)
    expected = sum(expected_count(w, n_windows, p0, trans) for w in words)
    ic = information(counts, p0)
    keep = trim_bounds(ic, min_ic) if len(sites) else (flank, flank + width)
    return ExtendedGroup(counts, keep, flank, width, sites, int(n_hits), float(expected), ic)


def extend_groups(groups, records, flank: int = DEFAULT_FLANK, min_ic: float = MIN_IC,
                  min_support: int = 1) -> list[ExtendedGroup]:
    """:func:`extend_group` of every group, sharing one background model."""
    records = [encode(r) for r in records]          # encoded once, shared by every group
    model = markov1(records)
    kcodes = {}
    out = []
    for g in groups:
        n = len(g.oriented[0])
        if n not in kcodes:
            kcodes[n] = [kmer_codes(c, n) for c in records]
        out.append(extend_group(g, records, flank, min_ic, model, min_support, kcodes[n]))
    return out


def extended_tomtom(groups, records, mset, flank: int = DEFAULT_FLANK, min_ic: float = MIN_IC,
                    min_support: int = 1, hits: int = 3):
    """Extend every group and compare the extended matrices with ``mset`` by Tomtom.

    Returns (per-group columns ``ext_*``, the best ``hits`` per group, the extended groups).
    A group without sites gets NaN p/q (nothing to compare)."""
    from .tomtom import best_hits, counts_to_probs, tomtom_matrix
    ext = extend_groups(groups, records, flank, min_ic, min_support)
    have = [i for i, e in enumerate(ext) if e.n_sites]
    rows = [{"ext_width": len(e.counts) if e.n_sites else 0, "ext_consensus": e.consensus,
             "ext_sites": e.n_sites, "ext_hits": e.n_hits, "ext_expected_hits": e.expected_hits,
             "ext_background_fraction": e.background_fraction,
             "ext_best_motif_id": None, "ext_best_motif_name": None, "ext_p": np.nan,
             "ext_E": np.nan, "ext_q": np.nan, "ext_significant_q05": False} for e in ext]
    hit = pd.DataFrame()
    if have:
        res = tomtom_matrix([counts_to_probs(ext[i].counts) for i in have], mset)
        hit = best_hits(res, mset, top=hits)
        hit.insert(0, "group", np.asarray(have)[hit.pop("query").to_numpy()] + 1)
        for r in hit[hit.hit == 1].itertuples():
            rows[r.group - 1].update(ext_best_motif_id=r.motif_id, ext_best_motif_name=r.motif_name,
                                     ext_p=r.p, ext_E=r.E, ext_q=r.q, ext_significant_q05=bool(r.q < 0.05))
    return pd.DataFrame(rows), hit, ext
