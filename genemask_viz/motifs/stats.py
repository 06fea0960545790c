"""Statistics of a k-mer ranking against motif match scores, with the controls.

Conventions: a *ranking* is a score per k-mer, higher = better (PMI, count,
naive PMI, a random permutation). A *match score* is a per-k-mer number,
higher = better match (best over the motifs in use), and a *match definition*
is a boolean per k-mer.

- Spearman: ``rho = spearman(ranking score, match score)``; positive rho means
  the top of the ranking matches motifs better. Two-sided p from scipy.
- Partial Spearman given covariates Z (GC fraction, CpG count): rank-transform
  x, y and every z, regress the ranks of x and of y on [1, Z] by least
  squares, and correlate the residuals (Pearson); p from
  ``t = r sqrt(df / (1 - r^2))``, ``df = n - 2 - k`` for k covariates.
- Enrichment of a match definition among the top N: with K matches among all
  M k-mers and x among the top N, ``p = P(X >= x)`` for
  ``X ~ Hypergeom(M, K, N)`` (one-sided), fold = (x / N) / (K / M).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from .scoring import KmerScores, revcomp

MATCH_SCORES = ("best_rel", "core_rel", "ic", "score", "n_motifs_p")
DEFAULT_CORE_REL = 0.9
DEFAULT_NAIVE_REL = 0.9
DEFAULT_IC_BITS_PER_BASE = 1.5


def spearman(x, y) -> tuple[float, float]:
    res = sps.spearmanr(np.asarray(x, float), np.asarray(y, float))
    return float(res.statistic), float(res.pvalue)


def partial_spearman(x, y, covariates) -> tuple[float, float]:
    """Spearman correlation of x and y with the covariates partialled out (see module doc)."""
    x = sps.rankdata(np.asarray(x, float))
    y = sps.rankdata(np.asarray(y, float))
    z = np.column_stack([sps.rankdata(np.asarray(c, float)) for c in covariates])
    design = np.column_stack([np.ones(len(x)), z])
    rx = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    ry = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r = float(np.corrcoef(rx, ry)[0, 1])
    df = len(x) - 2 - z.shape[1]
    t = r * np.sqrt(df / max(1.0 - r * r, 1e-300))
    return r, float(2 * sps.t.sf(abs(t), df))


def enrichment(is_top, is_match) -> dict:
    """Hypergeometric enrichment of matches among the top set (see module doc)."""
    is_top = np.asarray(is_top, bool)
    is_match = np.asarray(is_match, bool)
    M, K, N = len(is_top), int(is_match.sum()), int(is_top.sum())
    x = int((is_top & is_match).sum())
    base = K / M if M else float("nan")
    rate = x / N if N else float("nan")
    return {"top_n": N, "top_matches": x, "top_rate": rate, "all_matches": K, "base_rate": base,
            "fold": rate / base if base > 0 else float("nan"),
            "p": float(sps.hypergeom.sf(x - 1, M, K, N))}


def gc_fraction(kmers) -> np.ndarray:
    return np.array([(k.count("G") + k.count("C")) / len(k) for k in kmers])


def cpg_count(kmers) -> np.ndarray:
    return np.array([k.count("CG") for k in kmers], float)


def canonical(kmers) -> np.ndarray:
    """The lexicographically smaller of each k-mer and its reverse complement."""
    return np.array([min(k, revcomp(k)) for k in kmers])


def match_table(scores: KmerScores, motif_mask=None, core_rel: float = DEFAULT_CORE_REL,
                naive_rel: float = DEFAULT_NAIVE_REL,
                ic_bits_per_base: float = DEFAULT_IC_BITS_PER_BASE) -> pd.DataFrame:
    """Per k-mer: best match scores over the motifs in ``motif_mask`` and the match definitions.

    Best hits: ``best_motif`` has the highest log-odds score (offset, strand of
    that placement); ``core_motif`` is the motif whose most informative window
    the k-mer matches best (highest ``core_rel`` rounded to 0.01, ties broken by log-odds), the
    hit used for recall on the demo genome (a 6-mer can only speak for a core).

    Definitions (booleans; their base rates are what a reader must see):
    ``naive`` best window-normalised score >= naive_rel on any window of any motif
    (saturates: the spec's first idea); ``core`` the same on each motif's most
    informative window only; ``ic`` IC-weighted letter height >= ic_bits_per_base
    * n bits; ``pvalue`` the k-mer reaches some motif's Bonferroni p-value threshold
    (per-motif false-positive rate ``scores.fpr``; nearly saturated with ~900 motifs);
    ``pvalue_all`` the same at per-motif rate ``scores.fpr_all = fpr / M`` (Bonferroni
    across all M motifs of the library, whatever ``motif_mask`` selects), so that a random
    k-mer passes any motif with probability <= ``fpr``.
    """
    mask = np.ones(len(scores.motif_ids), bool) if motif_mask is None else np.asarray(motif_mask)
    n = len(scores.kmers[0])
    best = scores.score[:, mask]
    arg = np.argmax(best, axis=1)
    idx = np.flatnonzero(mask)[arg]
    rows = np.arange(len(scores.kmers))
    out = pd.DataFrame({
        "kmer": scores.kmers,
        "best_motif": np.asarray(scores.motif_ids)[idx],
        "best_motif_name": np.asarray(scores.motif_names)[idx],
        "score": best[rows, arg],
        "offset": scores.offset[rows, idx],
        "strand": scores.strand[rows, idx],
        "best_rel": scores.best_rel[:, mask].max(axis=1),
        "core_rel": scores.core_rel[:, mask].max(axis=1),
        "ic": scores.ic[:, mask].max(axis=1),
    })
    # best hit on the motifs' cores: highest core_rel (to 0.01), ties broken by log-odds
    key = np.round(scores.core_rel[:, mask], 2) * 1e4 + scores.score[:, mask]
    core_idx = np.flatnonzero(mask)[np.argmax(key, axis=1)]
    out["core_motif"] = np.asarray(scores.motif_ids)[core_idx]
    out["core_motif_name"] = np.asarray(scores.motif_names)[core_idx]
    out["naive"] = out["best_rel"] >= naive_rel
    out["core"] = out["core_rel"] >= core_rel
    out["ic_match"] = out["ic"] >= ic_bits_per_base * n
    if scores.pass_p is not None:
        out["n_motifs_p"] = scores.pass_p[:, mask].sum(axis=1)
        out["pvalue"] = out["n_motifs_p"] > 0
    if getattr(scores, "pass_p_all", None) is not None:
        out["pvalue_all"] = scores.pass_p_all[:, mask].any(axis=1)
    return out


def definitions(matches: pd.DataFrame) -> list[str]:
    return [d for d in ("naive", "core", "ic_match", "pvalue", "pvalue_all") if d in matches]


def _merge_rc(kmers, ranking: np.ndarray, matches: pd.DataFrame):
    """One row per reverse-complement pair: mean ranking score; match columns are
    strand-symmetric (both strands are scored), so the first member's are kept."""
    df = matches.assign(_key=canonical(kmers), _rank=ranking)
    g = df.groupby("_key", sort=False)
    merged = g.first()
    merged["_rank"] = g["_rank"].mean()
    return merged["_rank"].to_numpy(), merged.reset_index(drop=True)


def ranking_statistics(kmers, ranking, matches: pd.DataFrame, top: int = 100) -> dict:
    """All statistics of one ranking: Spearman and partial Spearman per match score,
    enrichment of the top ``top`` per match definition."""
    kmers = np.asarray(kmers)
    ranking = np.asarray(ranking, float)
    ok = np.isfinite(ranking)
    kmers, ranking, matches = kmers[ok], ranking[ok], matches[ok].reset_index(drop=True)
    cov = [gc_fraction(kmers), cpg_count(kmers)]
    out = {"n_kmers": int(len(kmers)), "spearman": {}, "partial_spearman_gc_cpg": {},
           "enrichment": {}}
    for col in [c for c in MATCH_SCORES if c in matches]:
        rho, p = spearman(ranking, matches[col])
        out["spearman"][col] = {"rho": rho, "p": p}
        rho, p = partial_spearman(ranking, matches[col], cov)
        out["partial_spearman_gc_cpg"][col] = {"rho": rho, "p": p}
    order = np.argsort(-ranking, kind="stable")
    is_top = np.zeros(len(kmers), bool)
    is_top[order[:top]] = True
    for d in definitions(matches):
        out["enrichment"][d] = enrichment(is_top, matches[d].to_numpy())
    return out


def compare_rankings(kmers, rankings: dict[str, np.ndarray], matches: pd.DataFrame,
                     top: int = 100) -> dict:
    """``ranking_statistics`` for every ranking, on all k-mers and on reverse-complement pairs."""
    result = {}
    for name, score in rankings.items():
        score = np.asarray(score, float)
        rc_score, rc_matches = _merge_rc(kmers, score, matches)
        rc_kmers = rc_matches["kmer"].to_numpy()
        result[name] = {
            "kmers": ranking_statistics(kmers, score, matches, top),
            "rc_merged": ranking_statistics(rc_kmers, rc_score, rc_matches, max(1, top // 2)),
        }
    return result


def flatten(stats: dict) -> pd.DataFrame:
    """Nested statistics (motif set -> ranking -> k-mer set -> ...) as one tidy table."""
    rows = []
    for motifs, by_rank in stats.items():
        for ranking, by_set in by_rank.items():
            for kset, st in by_set.items():
                for measure in ("spearman", "partial_spearman_gc_cpg"):
                    for col, v in st[measure].items():
                        rows.append({"motifs": motifs, "ranking": ranking, "kmer_set": kset,
                                     "measure": measure, "on": col, "value": v["rho"], "p": v["p"]})
                for d, v in st["enrichment"].items():
                    rows.append({"motifs": motifs, "ranking": ranking, "kmer_set": kset,
                                 "measure": "enrichment_fold", "on": d, "value": v["fold"],
                                 "p": v["p"], "top_matches": v["top_matches"], "top_n": v["top_n"],
                                 "base_rate": v["base_rate"]})
    return pd.DataFrame(rows)
