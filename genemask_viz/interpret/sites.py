"""Where the demo genome's planted motif sites lie in given sequences (ground truth for the
attribution of the demo task, whose positive windows each hold one whole planted site)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["demo_site_spans", "find_sites"]


def _window_ids(codes: np.ndarray, w: int) -> np.ndarray:
    """Integer id of every length-``w`` window of ``[N, L]`` base codes (-1 with a non-ACGT base)."""
    n = codes.shape[1] - w + 1
    ids = np.zeros((codes.shape[0], max(n, 0)), dtype=np.int64)
    bad = np.zeros(ids.shape, dtype=bool)
    for i in range(w):  # w vectorised passes
        win = codes[:, i:i + n].astype(np.int64)
        ids = ids * 4 + (win & 3)
        bad |= win > 3
    ids[bad] = -1
    return ids


def find_sites(sequences, sites) -> pd.DataFrame:
    """Every exact occurrence of any of ``sites`` (strings of at most 31 nt) in ``sequences``
    (equal-length strings). Columns: sequence (row), start, end (half-open), site."""
    from ..sequences.fasta import str_to_codes
    seqs = [str(s).upper() for s in sequences]
    if not seqs:
        return pd.DataFrame(columns=["sequence", "start", "end", "site"])
    L = len(seqs[0])
    codes = str_to_codes("".join(seqs)).reshape(len(seqs), L)
    rows = []
    by_width: dict[int, list[str]] = {}
    for s in {str(x).upper() for x in sites}:
        by_width.setdefault(len(s), []).append(s)
    for w, group in sorted(by_width.items()):
        if w > L or w > 31:
            continue
        wanted = _window_ids(str_to_codes("".join(group)).reshape(len(group), w), w)[:, 0]
        r, c = np.nonzero(np.isin(_window_ids(codes, w), wanted))
        rows += [(int(i), int(j), int(j) + w, seqs[i][j:j + w]) for i, j in zip(r, c)]
    return pd.DataFrame(rows, columns=["sequence", "start", "end", "site"]).sort_values(
        ["sequence", "start"], ignore_index=True)


def demo_site_spans(sequences) -> pd.DataFrame:
    """:func:`find_sites` with the planted sites of the default demo genome. The short sites
    (TBP 7 nt, YY1 8, SP1 9) also occur by chance in background: an exact copy is not
    necessarily a planted one."""
    from ..sequences import demo_genome
    return find_sites(sequences, demo_genome().motifs["site"])
