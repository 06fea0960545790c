"""Slow, obviously-right loop references for every strategy (tests and benchmark anchor).

One Python loop per sequence, per centre and per nucleotide, written to read
like the spec (section 3) and like the release's ``mask_tokens``, never like
the batched code. They take the draws explicitly (``centres`` / ``priorities``
/ ``tie_break``) so the tests can feed both with identical randomness, and
return a :class:`~genemask_viz.masking.result.MaskResult` with the same fields.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..tokens import N_SPECIAL, UNK_ID
from .result import MaskResult, dnabert_span_offsets
from .scores import UnitVocabulary
from .strategies import GENEMASK_EXTEND_ALL_BELOW, GENEMASK_TOP_FRACTION

__all__ = ["reference_mask", "reference_hidden"]


def _row_info(ids: list[int], att: list[int] | None, special: list[int] | None):
    maskable = [ids[t] >= N_SPECIAL and (att is None or att[t] == 1) and
                (special is None or not special[t]) for t in range(len(ids))]
    kmer = [(ids[t] >= N_SPECIAL or ids[t] == UNK_ID) and (att is None or att[t] == 1)
            for t in range(len(ids))]
    where = [t for t in range(len(ids)) if maskable[t]]
    first, last = (where[0], where[-1]) if where else (len(ids), -1)
    return maskable, kmer, first, last


def reference_hidden(ids: list[int], mask: list[bool], kmer: list[bool], k: int):
    """(hidden, valid) lists over the T+k-1 nucleotide columns of one row, by definition."""
    T = len(ids)
    hidden, valid = [], []
    for p in range(T + k - 1):
        covering = [t for t in range(p - k + 1, p + 1) if 0 <= t < T and kmer[t]]
        valid.append(bool(covering))
        hidden.append(bool(covering) and all(mask[t] for t in covering))
    return hidden, valid


def _pack(strategy, k, rows, spans, extra=None) -> MaskResult:
    def t(key, dtype=torch.bool):
        return torch.tensor([r[key] for r in rows], dtype=dtype)
    span_t = torch.tensor([s[:3] for s in spans], dtype=torch.long).reshape(-1, 3)
    kind_t = torch.tensor([s[3] for s in spans], dtype=torch.long)
    centres = t("centres")
    out = MaskResult(strategy=strategy, k=k, token_mask=t("mask"), maskable=t("maskable"),
                     centres=centres, spans=span_t, span_kind=kind_t,
                     centre_index=centres.nonzero(), hidden_nt=t("hidden"), nt_valid=t("valid"))
    for key, values in (extra or {}).items():
        setattr(out, key, values)
    return out


def reference_mask(strategy: str, input_ids, centres=None, *, k: int = 6, attention_mask=None,
                   special_tokens_mask=None, scores=None, units: UnitVocabulary | None = None,
                   span_offsets=None, top_fraction: float = GENEMASK_TOP_FRACTION,
                   extend_all_below: int = GENEMASK_EXTEND_ALL_BELOW, extend_half_width=None,
                   target_rate: float = 0.15, priorities=None, tie_break=None,
                   anchor_keys=None, extend_keys=None, top_k=None) -> MaskResult:
    """Loop reference of ``strategy`` with injected draws (``centres`` [B, T] bool, or
    ``priorities`` / ``tie_break`` [B, T+k-1] for pmi-span; ``genemask-random-anchor``
    also ``anchor_keys`` / ``extend_keys`` [B, T] uniforms; ``global-pmi`` only
    ``tie_break`` [B, T] uniforms)."""
    ids_all = torch.as_tensor(input_ids).tolist()
    att_all = None if attention_mask is None else torch.as_tensor(attention_mask).tolist()
    sp_all = None if special_tokens_mask is None else torch.as_tensor(special_tokens_mask).tolist()
    if strategy in ("global-pmi", "cm-gems-released-global-pmi", "cm-gems-released-genemask"):
        return _cm_gems_reference(strategy, ids_all, att_all, sp_all, centres, k, scores,
                                  span_offsets, top_fraction, extend_all_below,
                                  k - 1 if extend_half_width is None else extend_half_width,
                                  target_rate, tie_break, top_k)
    lo, hi = dnabert_span_offsets(k) if span_offsets is None else span_offsets
    if strategy == "random":
        lo = hi = 0
    E = k - 1 if extend_half_width is None else extend_half_width
    score_list = None if scores is None else [float(x) for x in np.asarray(scores, dtype=float)]
    rows, spans = [], []
    chosen = {"chosen_pos": [], "chosen_id": [], "chosen_score": [], "extended": []}
    for b, ids in enumerate(ids_all):
        att = att_all[b] if att_all else None
        sp = sp_all[b] if sp_all else None
        maskable, kmer, first, last = _row_info(ids, att, sp)
        T = len(ids)
        if strategy == "pmi-span":
            mask, row_units = _pmi_span_row(ids, maskable, kmer, k, units, target_rate,
                                            torch.as_tensor(priorities)[b].tolist(),
                                            torch.as_tensor(tie_break)[b].tolist())
            hidden, valid = reference_hidden(ids, mask, kmer, k)
            rows.append(dict(mask=mask, maskable=maskable, centres=[False] * T, hidden=hidden,
                             valid=valid))
            for f, l in row_units:
                a, z = max(f - k + 1, first), min(l, last)
                if a <= z:
                    spans.append((b, a, z, 2))
            chosen.setdefault("units", []).extend((b, f, l) for f, l in row_units)
            continue
        cen = [bool(c) and maskable[t] for t, c in enumerate(torch.as_tensor(centres)[b].tolist())]
        masked = set()
        row_spans, best = [], []
        for c in [t for t in range(T) if cen[t]]:
            for t in range(c + lo, c + hi + 1):
                if first <= t <= last and maskable[t]:
                    masked.add(t)
            row_spans.append((b, max(c + lo, first), min(c + hi, last), 0))
            if strategy == "genemask-random-anchor":
                # uniform among the maskable candidates c+lo .. c+hi, left to right
                valid = [j for j in range(c + lo, c + hi + 1) if 0 <= j < T and maskable[j]]
                u = float(torch.as_tensor(anchor_keys)[b, c])
                anchor = valid[min(int(u * len(valid)), len(valid) - 1)]
                # the extension order: smallest extend key first (ties: leftmost centre)
                best.append((-float(torch.as_tensor(extend_keys)[b, c]), c, anchor))
            if strategy in ("genemask", "genemask-released"):
                best_j, best_s = c, -math.inf
                for j in [c] + [c + o for o in range(lo, hi + 1) if o != 0]:
                    if not (0 <= j < T and maskable[j]):
                        continue
                    key = ids[j] if strategy == "genemask" else j
                    s = score_list[key] if key < len(score_list) else -math.inf
                    s = -math.inf if math.isnan(s) else s
                    if s > best_s:
                        best_j, best_s = j, s
                best.append((best_s, c, best_j))
        if best:
            m = len(best)
            n_top = math.ceil(m * top_fraction)
            top = best if n_top < extend_all_below else sorted(best, key=lambda x: -x[0])[:n_top]
            top_centres = {c for _, c, _ in top}
            for s, c, j in best:
                chosen["chosen_pos"].append(j)
                chosen["chosen_id"].append(ids[j])
                chosen["chosen_score"].append(math.nan if strategy == "genemask-random-anchor"
                                              else s)
                chosen["extended"].append(c in top_centres)
            for s, c, j in best:
                if c in top_centres:
                    for t in range(j - E, j + E + 1):
                        if first <= t <= last and maskable[t]:
                            masked.add(t)
                    row_spans.append((b, max(j - E, first), min(j + E, last), 1))
        mask = [t in masked for t in range(T)]
        hidden, valid = reference_hidden(ids, mask, kmer, k)
        rows.append(dict(mask=mask, maskable=maskable, centres=cen, hidden=hidden, valid=valid))
        spans.extend(row_spans)
    extra = {}
    if strategy in ("genemask", "genemask-released", "genemask-random-anchor"):
        extra = {"chosen_pos": torch.tensor(chosen["chosen_pos"], dtype=torch.long),
                 "chosen_id": torch.tensor(chosen["chosen_id"], dtype=torch.long),
                 "chosen_score": torch.tensor(chosen["chosen_score"], dtype=torch.float64),
                 "extended": torch.tensor(chosen["extended"], dtype=torch.bool)}
    if strategy == "pmi-span":
        extra = {"units": torch.tensor(chosen.get("units", []), dtype=torch.long).reshape(-1, 3)}
    return _pack(strategy, k, rows, spans, extra)


def _pmi_span_row(ids, maskable, kmer, k, units, target_rate, priorities, tie_break):
    """One row of pmi-span, by the definition: segment, then draw units one at a time."""
    T = len(ids)
    W = T + k - 1
    bases = [None] * W  # the base at each nucleotide column, from any k-mer covering it
    for t in range(T):
        if kmer[t] and ids[t] >= N_SPECIAL:
            code = ids[t] - N_SPECIAL
            for o in range(k):
                bases[t + o] = "ATCG"[(code >> (2 * (k - 1 - o))) & 3]
    vocab = {n: set(units.strings(n)) for n in units.lengths}
    covered = [False] * W
    unit_spans = []
    for n in units.lengths:  # longest first
        cands = [s for s in range(W - n + 1)
                 if all(bases[s + i] is not None for i in range(n))
                 and "".join(bases[s:s + n]) in vocab[n] and not any(covered[s:s + n])]
        for s in sorted(cands, key=lambda s: (-tie_break[s], s)):  # random tie-break
            if not any(covered[s:s + n]):
                for i in range(n):
                    covered[s + i] = True
                unit_spans.append((s, s + n - 1))
    unit_spans += [(p, p) for p in range(W) if bases[p] is not None and not covered[p]]
    unit_spans.sort(key=lambda u: (priorities[u[0]], u[0]))
    budget = target_rate * sum(b is not None for b in bases)
    mask = [False] * T
    drawn = []
    hidden_now = 0
    for f, l in unit_spans:
        if hidden_now >= budget:
            break
        drawn.append((f, l))
        for p in range(f, l + 1):
            for t in range(p - k + 1, p + 1):
                if 0 <= t < T and maskable[t]:
                    mask[t] = True
        hidden_now = sum(reference_hidden(ids, mask, kmer, k)[0])
    drawn.sort()
    return mask, drawn


def _cm_gems_reference(strategy, ids_all, att_all, sp_all, centres, k, scores, span_offsets,
                       top_fraction, extend_all_below, E, target_rate, tie_break, top_k):
    """The CM-GEMS stages (:mod:`genemask_viz.masking.global_pmi`), one row at a time, written
    like the release's ``mask_tokens``: sets of positions, sorted lists, a loop per window."""
    score_list = [float(x) for x in np.asarray(scores, dtype=float)]
    score_list = [-math.inf if math.isnan(x) else x for x in score_list]
    lo, hi = dnabert_span_offsets(k) if span_offsets is None else span_offsets
    if top_k is None:
        top_ids = {i for i, x in enumerate(score_list) if math.isfinite(x)}
    else:
        best = sorted(range(len(score_list)), key=lambda i: (-score_list[i], i))[:top_k]
        top_ids = {i for i in best if math.isfinite(score_list[i])}

    def by_position(t):
        return score_list[t] if t < len(score_list) else -math.inf

    rows, spans = [], []
    chosen = {"chosen_pos": [], "chosen_id": [], "chosen_score": [], "extended": []}
    for b, ids in enumerate(ids_all):
        maskable, kmer, first, last = _row_info(ids, att_all[b] if att_all else None,
                                                sp_all[b] if sp_all else None)
        T = len(ids)
        masked, row_spans, row_chosen = set(), [], []

        def window(j, kind, centre_span=False):
            a, z = (j + lo, j + hi) if centre_span else (j - E, j + E)
            for t in range(a, z + 1):
                if first <= t <= last and maskable[t]:
                    masked.add(t)
            row_spans.append((b, max(a, first), min(z, last), kind, j))

        drawn = [] if centres is None else [t for t in range(T) if bool(centres[b][t]) and maskable[t]]
        cen = [False] * T
        if strategy == "global-pmi":
            cands = [j for j in range(T) if maskable[j] and ids[j] in top_ids]
            cands.sort(key=lambda j: (-score_list[ids[j]], -float(tie_break[b][j]), j))
            goal = math.ceil(sum(maskable) * target_rate - 1e-9)
            for j in cands:
                if len(masked) >= goal:
                    break
                window(j, 1)
                row_chosen.append((j, score_list[ids[j]], True))
        elif strategy == "cm-gems-released-global-pmi":
            order = sorted((t for t in range(T) if maskable[t]), key=lambda t: (-by_position(t), t))
            for j in order[:len(drawn)]:        # as many windows as drawn centres
                window(j, 1)
                row_chosen.append((j, by_position(j), True))
        else:  # cm-gems-released-genemask
            best = []
            for c in drawn:
                cen[c] = True
                window(c, 0, centre_span=True)
                best_j, best_s = c, -math.inf
                for j in [c] + [c + o for o in range(lo, hi + 1) if o != 0]:
                    if 0 <= j < T and maskable[j] and by_position(j) > best_s:
                        best_j, best_s = j, by_position(j)
                best.append((c, best_j, best_s))
            n_top = math.ceil(len(best) * top_fraction)
            top = best if n_top < extend_all_below else best[:n_top]   # before any sorting
            for c, j, sc in best:
                row_chosen.append((j, sc, (c, j, sc) in top))
            for c, j, sc in top:
                window(j, 1)
        if strategy != "cm-gems-released-genemask":
            row_chosen.sort()
            for j, _, _ in row_chosen:
                cen[j] = True
            row_spans.sort(key=lambda x: x[4])   # the batched code lists anchors left to right
        for j, sc, ext in row_chosen:
            chosen["chosen_pos"].append(j)
            chosen["chosen_id"].append(ids[j])
            chosen["chosen_score"].append(sc)
            chosen["extended"].append(ext)
        mask = [t in masked for t in range(T)]
        hidden, valid = reference_hidden(ids, mask, kmer, k)
        rows.append(dict(mask=mask, maskable=maskable, centres=cen, hidden=hidden, valid=valid))
        spans.extend(row_spans)
    extra = {"chosen_pos": torch.tensor(chosen["chosen_pos"], dtype=torch.long),
             "chosen_id": torch.tensor(chosen["chosen_id"], dtype=torch.long),
             "chosen_score": torch.tensor(chosen["chosen_score"], dtype=torch.float64),
             "extended": torch.tensor(chosen["extended"], dtype=torch.bool)}
    return _pack(strategy, k, rows, spans, extra)
