"""One masked sequence, laid out for drawing, and statistics over many draws.

Coordinates: a sequence of L nucleotides gives ``n = L - k + 1`` k-mer tokens;
token ``t`` (0-based, without ``[CLS]``) covers nucleotides ``t .. t+k-1``. The
library's batch layout (:mod:`genemask_viz.masking.hidden`) has ``[CLS]`` at
position 0 and nucleotide ``i`` at column ``i + 1``; :func:`mask_view` shifts
both by one so that everything here is in sequence coordinates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import GeneMaskInputError
from ..masking.names import TABLE_STRATEGIES

#: what the app calls the strategies it knows; any other name in
#: :data:`genemask_viz.masking.names.STRATEGIES` is offered under its own name
_KNOWN_LABELS = {
    "random": "random (BERT, 15% of tokens)",
    "dnabert": "dnabert (6-token spans)",
    "genemask": "genemask (paper: PMI-guided spans)",
    "genemask-released": "genemask-released (public code's bug, for replication)",
    "pmi-span": "pmi-span (PMI-Masking units)",
}
#: strategies without drawn centres (the "centres" metric reads n/a for them)
NO_CENTRES = ("random", "pmi-span")


def strategy_labels() -> dict[str, str]:
    """Every masking strategy the library offers (``masking.names.STRATEGIES``, in its
    order) -> its label in the app."""
    from ..masking.names import STRATEGIES
    return {s: _KNOWN_LABELS.get(s, s) for s in STRATEGIES}


#: strategy -> what the app calls it (read from the library's list at import)
STRATEGY_LABELS = strategy_labels()
#: longest sequence one model input holds: 510 k-mer tokens
MAX_TOKENS = 510


@functools.lru_cache(maxsize=4)
def _tokenizer(k: int):
    from ..tokens import KmerTokenizer
    return KmerTokenizer(k=k)


# keyed by the table object's id; the entry keeps the table alive, so an id is never reused
_SCORE_CACHE: dict = {}
_UNIT_CACHE: dict = {}


def _table_scores(table: pd.DataFrame, k: int) -> np.ndarray:
    """Per-token-id scores of a table, memoised by the table object (bounded)."""
    from ..masking import token_scores
    key = (id(table), len(table), k)
    if key not in _SCORE_CACHE:
        if len(_SCORE_CACHE) > 8:
            _SCORE_CACHE.clear()
        _SCORE_CACHE[key] = (table, token_scores(table, k))
    return _SCORE_CACHE[key][1]


def _table_units(table: pd.DataFrame):
    from ..masking import unit_vocabulary
    key = (id(table), len(table))
    if key not in _UNIT_CACHE:
        if len(_UNIT_CACHE) > 8:
            _UNIT_CACHE.clear()
        _UNIT_CACHE[key] = (table, unit_vocabulary(table))
    return _UNIT_CACHE[key][1]


def encode(sequences: list[str], k: int = 6):
    """Nucleotide strings -> ``(input_ids, attention_mask)`` tensors, at most 510 tokens each."""
    batch = _tokenizer(k).encode_batch([s.upper() for s in sequences], max_length=MAX_TOKENS + 2)
    return batch["input_ids"], batch["attention_mask"]


def run_strategy(input_ids, attention_mask, strategy: str, table: pd.DataFrame | None, k: int,
                 seed: int | None, generator=None, details: bool = True, **params):
    """``mask_batch`` with the table's scores or units filled in (and checked)."""
    from ..masking import mask_batch
    if strategy in TABLE_STRATEGIES:
        if table is None:
            raise GeneMaskInputError(f"the {strategy} strategy needs a PMI table.",
                                     fix="choose a PMI table (the demo genome's is the default).")
        if strategy == "pmi-span":
            params.setdefault("units", _table_units(table))
        else:
            scores = _table_scores(table, k)
            if not np.isfinite(scores[5:]).any():
                raise GeneMaskInputError(f"the PMI table scores no {k}-mer.",
                                         fix=f"use a table with n = {k} rows, or set k to a length it has.")
            params.setdefault("scores", scores)
    return mask_batch(input_ids, attention_mask, strategy, k=k, seed=seed, generator=generator,
                      details=details, **params)


@dataclass
class MaskView:
    """One masked sequence in sequence coordinates (see module docstring).

    token_mask : ``bool[n]`` masked tokens; hidden : ``bool[L]`` hidden nucleotides.
    centres : token indices of the drawn centres. spans : DataFrame ``first, last``
    (token indices, inclusive) and ``kind`` (centre / extended / unit). chosen :
    GeneMask only, one row per centre: ``centre, pos, kmer, score, extended``.
    units : pmi-span only, ``first, last`` nucleotide indices of drawn units.
    kmer_scores : ``float[n]``, the table's score of the k-mer at each token (NaN unscored).
    """

    sequence: str
    k: int
    strategy: str
    seed: int
    token_mask: np.ndarray
    hidden: np.ndarray
    centres: np.ndarray
    spans: pd.DataFrame
    chosen: pd.DataFrame
    units: pd.DataFrame
    kmer_scores: np.ndarray = field(repr=False)
    token_rate: float = 0.0
    hidden_rate: float = 0.0

    @property
    def n_tokens(self) -> int:
        return int(self.token_mask.size)

    @property
    def n_masked(self) -> int:
        return int(self.token_mask.sum())

    @property
    def n_hidden(self) -> int:
        return int(self.hidden.sum())

    def summary(self) -> dict:
        """The numbers the page shows."""
        return {"strategy": self.strategy, "seed": self.seed, "nucleotides": len(self.sequence),
                "tokens": self.n_tokens, "masked tokens": self.n_masked,
                "masked %": round(100 * self.token_rate, 2), "hidden nt": self.n_hidden,
                "hidden %": round(100 * self.hidden_rate, 2), "centres": int(self.centres.size),
                "spans": int(len(self.spans))}


def kmer_scores_along(sequence: str, table: pd.DataFrame | None, k: int = 6) -> np.ndarray:
    """Score of the k-mer starting at each position (``float[L-k+1]``, NaN where unscored)."""
    ids, _ = encode([sequence], k)
    ids = ids[0, 1:-1].numpy()
    if table is None:
        return np.full(ids.size, np.nan)
    s = _table_scores(table, k)[ids]
    return np.where(np.isfinite(s), s, np.nan)


def mask_view(sequence: str, strategy: str = "genemask", table: pd.DataFrame | None = None,
              k: int = 6, seed: int = 0, **params) -> MaskView:
    """Mask one sequence (its first 510 k-mers) with the library and lay it out for drawing."""
    from ..masking import SPAN_KINDS
    from ..tokens import id_to_kmer
    ids, att = encode([sequence], k)
    res = run_strategy(ids, att, strategy, table, k, seed, **params)
    n = int(att[0].sum()) - 2
    L = n + k - 1
    seq = sequence.upper()[:L]
    token_mask = res.token_mask[0, 1:n + 1].numpy().copy()
    hidden = res.hidden_nt[0, 1:L + 1].numpy().copy()
    centres = res.centres[0, 1:n + 1].nonzero()[:, 0].numpy() if strategy != "pmi-span" else np.empty(0, int)
    sp = res.row_spans(0)
    spans = pd.DataFrame({"first": sp[:, 0] - 1, "last": sp[:, 1] - 1,
                          "kind": [SPAN_KINDS[i] for i in sp[:, 2]]}) if len(sp) else \
        pd.DataFrame({"first": [], "last": [], "kind": []})
    chosen = pd.DataFrame(columns=["centre", "pos", "kmer", "score", "extended"])
    if res.chosen_pos is not None and res.centre_index.shape[0]:
        rows = res.centre_index[:, 0] == 0
        chosen = pd.DataFrame({
            "centre": (res.centre_index[rows, 1] - 1).numpy(),
            "pos": (res.chosen_pos[rows] - 1).numpy(),
            "kmer": [id_to_kmer(int(i), k) for i in res.chosen_id[rows]],
            "score": res.chosen_score[rows].numpy(),
            "extended": res.extended[rows].numpy()})
    units = pd.DataFrame(columns=["first", "last"])
    if res.units is not None and res.units.shape[0]:
        u = res.units[res.units[:, 0] == 0]
        units = pd.DataFrame({"first": (u[:, 1] - 1).numpy(), "last": (u[:, 2] - 1).numpy()})
    return MaskView(seq, k, strategy, seed, token_mask, hidden, centres, spans, chosen, units,
                    kmer_scores_along(seq, table, k), token_rate=res.token_rate,
                    hidden_rate=res.hidden_rate)


def span_lengths(mask: np.ndarray) -> np.ndarray:
    """Lengths of the runs of True in each row of a ``bool[B, W]`` array (one flat array)."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim == 1:
        m = m[None]
    padded = np.pad(m.astype(np.int8), ((0, 0), (1, 1)))
    d = np.diff(padded, axis=1)
    starts = np.nonzero(d == 1)
    ends = np.nonzero(d == -1)
    return (ends[1] - starts[1]).astype(np.int64)


def draw_statistics(sequence: str, strategies, table: pd.DataFrame | None = None, k: int = 6,
                    n_draws: int = 200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Many draws of each strategy on one sequence, batched (one call per strategy).

    Returns ``(rates, runs)``: ``rates`` one row per strategy and draw with
    ``token_rate`` and ``hidden_rate``; ``runs`` one row per run of consecutive
    masked tokens (``what = "masked tokens"``) or hidden nucleotides
    (``what = "hidden nucleotides"``) with its ``length``.
    """
    import torch
    if not 1 <= n_draws <= 5000:
        raise GeneMaskInputError(f"{n_draws} draws is outside 1..5000.", fix="use e.g. 200.")
    ids, att = encode([sequence], k)
    ids, att = ids.expand(n_draws, -1).contiguous(), att.expand(n_draws, -1).contiguous()
    rates, runs = [], []
    for strategy in strategies:
        gen = torch.Generator().manual_seed(int(seed))
        res = run_strategy(ids, att, strategy, table, k, None, generator=gen)
        maskable = res.maskable.sum(1).clamp(min=1).double()
        valid = res.nt_valid.sum(1).clamp(min=1).double()
        tr = (res.token_mask.sum(1) / maskable).numpy()
        hr = (res.hidden_nt.sum(1) / valid).numpy()
        rates.append(pd.DataFrame({"strategy": strategy, "draw": np.arange(n_draws),
                                   "token_rate": tr, "hidden_rate": hr}))
        for what, m in (("masked tokens", res.token_mask), ("hidden nucleotides", res.hidden_nt)):
            lengths = span_lengths(m.numpy())
            runs.append(pd.DataFrame({"strategy": strategy, "what": what, "length": lengths}))
    return pd.concat(rates, ignore_index=True), pd.concat(runs, ignore_index=True)


def summarise_draws(rates: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per strategy: mean and sd of the two rates, mean run lengths, share of draws hiding nothing."""
    g = rates.groupby("strategy", sort=False)
    out = pd.DataFrame({
        "masked tokens % (mean)": 100 * g["token_rate"].mean(),
        "masked tokens % (sd)": 100 * g["token_rate"].std(ddof=0),
        "hidden nt % (mean)": 100 * g["hidden_rate"].mean(),
        "hidden nt % (sd)": 100 * g["hidden_rate"].std(ddof=0),
        "draws hiding nothing %": 100 * g["hidden_rate"].apply(lambda x: float((x == 0).mean())),
    })
    for what, col in (("masked tokens", "mean masked run (tokens)"),
                      ("hidden nucleotides", "mean hidden run (nt)")):
        sub = runs[runs["what"] == what].groupby("strategy", sort=False)["length"].mean()
        out[col] = sub.reindex(out.index)
    return out.round(2).reset_index()


def compare_strategies(sequence: str, strategies, table: pd.DataFrame | None = None, k: int = 6,
                       seed: int = 0) -> list[MaskView]:
    """The same sequence and seed under each strategy (one :class:`MaskView` each)."""
    return [mask_view(sequence, s, table, k=k, seed=seed) for s in strategies]
