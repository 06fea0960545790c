"""Strongest attribution windows against a motif library (JASPAR) through the motifs module.

As tangermeme's ``annotate_seqlets``: the query is the window's own sequence, one-hot
with the motifs module's pseudocount (``genemask_viz.motifs.tomtom.PSEUDOCOUNT`` per cell,
then normalised), compared with every motif by Tomtom (memelite; p, E = p x motifs,
q = Benjamini-Hochberg over the motifs). The attribution chooses *where* to look; the
sequence there says *what* it is. :func:`window_logo` draws a window beside a match.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["as_motif_set", "window_matches", "window_logo"]


def as_motif_set(motifs):
    """A :class:`~genemask_viz.motifs.MotifSet` from one, a release name or a motif file."""
    from ..motifs import MotifSet, motif_set, resolve_motifs
    return motifs if isinstance(motifs, MotifSet) else motif_set(resolve_motifs(motifs))


def _window_probs(sequence: str, start: int, end: int) -> np.ndarray:
    from ..motifs.tomtom import counts_to_probs
    window = np.frombuffer(sequence[start:end].encode("ascii"), dtype=np.uint8)
    counts = (window[:, None] == np.frombuffer(b"ACGT", dtype=np.uint8)[None, :]).astype(float)
    return counts_to_probs(counts)


def window_matches(sequence: str, windows: pd.DataFrame, motifs, hits: int = 3) -> pd.DataFrame:
    """The ``hits`` best motifs (by Tomtom p-value) of each window (rows of
    :func:`~.attribution.strongest_windows`). Columns: window (row of ``windows``), start,
    end, site (the window's sequence), hit, motif_id, motif_name, p, E, q, tomtom_score,
    offset / strand (as :func:`~genemask_viz.motifs.logos.match_logo` takes them), motif_index."""
    from ..motifs.tomtom import best_hits, logo_offset, tomtom_matrix
    mset = as_motif_set(motifs)
    if not len(windows):
        return pd.DataFrame()
    queries = [_window_probs(sequence, int(s), int(e)) for s, e in zip(windows["start"], windows["end"])]
    table = best_hits(tomtom_matrix(queries, mset), mset, top=hits)
    w = windows.reset_index(drop=True)
    table.insert(0, "window", table.pop("query"))
    table.insert(1, "start", w["start"].to_numpy()[table["window"]])
    table.insert(2, "end", w["end"].to_numpy()[table["window"]])
    table.insert(3, "site", [sequence[s:e] for s, e in zip(table["start"], table["end"])])
    widths = mset.widths[table["motif_index"].to_numpy()]
    conv = [logo_offset(int(e - s), int(wd), int(o), 0 if st == "+" else 1)
            for s, e, wd, o, st in zip(table["start"], table["end"], widths, table["offset"],
                                       table["strand"])]
    table["offset"] = [c[0] for c in conv]
    table["strand"] = ["+" if c[1] == 1 else "-" for c in conv]
    return table


def window_logo(sequence: str, match: dict, motifs, figsize=(6.0, 3.0)):
    """Logo of one window (its sequence) above the matched motif, aligned (matplotlib figure)."""
    from ..motifs.logos import match_logo
    mset = as_motif_set(motifs)
    j = int(match["motif_index"])
    s, e = int(match["start"]), int(match["end"])
    return match_logo(_window_probs(sequence, s, e), mset.probs[j], int(match["offset"]),
                      1 if match["strand"] == "+" else -1,
                      query_label=f"window {s}-{e}: {sequence[s:e]}",
                      motif_label=f"{mset.ids[j]} {mset.names[j]} (Tomtom p={match['p']:.2g})",
                      figsize=figsize)
