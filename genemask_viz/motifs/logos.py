"""Sequence logos (logomaker): a k-mer or counts matrix beside the JASPAR motif it matches.

Letter heights are information content (bits): for column probabilities p,
``height(x) = p(x) * (2 + sum_y p(y) log2 p(y))``. The query is drawn as read;
when it matches the motif's minus strand the motif is drawn reverse
complemented, so both panels read in the same direction and line up column by
column at the best offset. Functions return matplotlib figures; save them with
``fig.savefig("x.png")`` or ``.svg``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import logomaker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .scoring import encode_kmers  # noqa: E402

COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}


def information_matrix(probs: np.ndarray, start: int = 0) -> pd.DataFrame:
    """(L, 4) probabilities -> logomaker DataFrame of letter heights in bits."""
    p = np.clip(np.asarray(probs, float), 1e-12, None)
    p = p / p.sum(axis=1, keepdims=True)
    ic = 2.0 + (p * np.log2(p)).sum(axis=1)
    return pd.DataFrame(p * ic[:, None], columns=list("ACGT"),
                        index=pd.RangeIndex(start, start + len(p)))


def kmer_probs(kmer: str) -> np.ndarray:
    """One-hot (n, 4) probability matrix of a k-mer."""
    codes = encode_kmers([kmer])[0]
    out = np.zeros((len(codes), 4))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def aligned_starts(n: int, width: int, offset: int, strand: int) -> tuple[int, int]:
    """Display columns where the query (n) and the drawn motif (width) start.

    ``offset``/``strand`` as in :mod:`genemask_viz.motifs.scoring` (strand -1:
    revcomp(query) lies on motif columns offset..offset+n-1, so on the
    reverse-complemented motif the query as read starts at width - offset - n).
    """
    q = offset if strand == 1 else width - offset - n
    shift = -min(q, 0)
    return q + shift, shift


def match_logo(query, motif_probs: np.ndarray, offset: int, strand: int,
               query_label: str | None = None, motif_label: str = "motif",
               figsize=(6.0, 3.2)):
    """Two stacked logos: the query (k-mer string or (n, 4) counts/probabilities) and
    the motif, aligned at ``offset`` on ``strand``. Returns the matplotlib figure."""
    if isinstance(query, str):
        qp, label = kmer_probs(query), query_label or query
    else:
        q = np.asarray(query, float)
        qp, label = q / q.sum(axis=1, keepdims=True), query_label or "query"
    mp = np.asarray(motif_probs, float)
    if strand == -1:
        mp = mp[::-1, ::-1]
    q0, m0 = aligned_starts(len(qp), len(mp), offset, strand)
    right = max(q0 + len(qp), m0 + len(mp))
    fig, axes = plt.subplots(2, 1, figsize=figsize, sharex=True)
    for ax, probs, start, title in ((axes[0], qp, q0, label),
                                    (axes[1], mp, m0, motif_label + (" (reverse complement)"
                                                                     if strand == -1 else ""))):
        logomaker.Logo(information_matrix(probs, start), ax=ax, color_scheme=COLORS)
        ax.set_xlim(-0.5, right - 0.5)
        ax.set_ylim(0, 2)
        ax.set_ylabel("bits")
        ax.set_title(title, fontsize=9, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
    axes[1].set_xticks(range(right))
    fig.tight_layout()
    return fig


def ranking_figure(ranking_scores: dict[str, np.ndarray], match_score: np.ndarray,
                   label: str = "best JASPAR match (core window, fraction of max)",
                   bins: int = 20, figsize=(6.0, 3.5)):
    """Mean match score per ranking bin (top first), one line per ranking."""
    fig, ax = plt.subplots(figsize=figsize)
    match_score = np.asarray(match_score, float)
    for name, score in ranking_scores.items():
        order = np.argsort(-np.asarray(score, float), kind="stable")
        chunks = np.array_split(match_score[order], bins)
        ax.plot(np.arange(1, bins + 1), [c.mean() for c in chunks], marker="o", ms=3, label=name)
    ax.set_xlabel(f"ranking bin (1 = top {100 / bins:.0f}%)")
    ax.set_ylabel(label, fontsize=8)
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def motif_logo(probs: np.ndarray, title: str = "", figsize=(4.0, 1.8)):
    """One motif's logo (letter height = information in bits)."""
    fig, ax = plt.subplots(figsize=figsize)
    logomaker.Logo(information_matrix(probs), ax=ax, color_scheme=COLORS)
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits")
    ax.set_title(title, fontsize=9, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
