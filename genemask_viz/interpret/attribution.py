"""Which bases a fine-tuned classifier relies on: in-silico saturation mutagenesis (ISM).

For a sequence x of L nucleotides and a target class c, the model's score is the log-odds

    f(x) = logit_c(x) - logsumexp_{c' != c} logit_{c'}(x)      (binary: logit_1 - logit_0)

Every position i is changed to each of the other three bases, and the **effect matrix**

    E[i, b] = f(x with base b at i) - f(x)          (L x 4, columns A, C, G, T; E[i, x_i] = 0)

comes from batched forward passes of the 3L mutants (exact: no gradient, no baseline).
The **importance** of the observed base is the mean-centred effect (Majdandzic et al.
2023; tangermeme's and logomaker's convention for ISM logos):

    A[i, b] = E[i, b] - mean_{b'} E[i, b'];     importance_i = A[i, x_i] = -mean_{b'} E[i, b']

positive where the observed base supports class c (mutating it lowers f). The logo draws
``importance_i`` on the observed letter (negative: below the axis).

**Speed.** The classifier reads only the ``[CLS]`` vector of the last layer, so the last
layer computes keys and values for all tokens but its query, attention output and
feed-forward for ``[CLS]`` alone (:func:`class_logits`; equal to the full forward, tested).
A position with a non-ACGT letter gets all four bases as mutants and no reference row.

Integrated Gradients (captum) was not used: ISM is exact for single substitutions and
cheap at these lengths, while gradients would be taken on k-mer embeddings (each base is
in k tokens, and a straight path between two k-mer embeddings passes through no real
sequence), so they would only approximate what ISM measures directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import GeneMaskInputError

__all__ = ["class_logits", "score_from_logits", "mutants", "saturation_mutagenesis",
           "Attribution", "attribute", "strongest_windows"]

_ACGT = np.frombuffer(b"ACGT", dtype=np.uint8)


def score_from_logits(logits, target: int):
    """Log-odds of class ``target``: ``logit_c - logsumexp(other logits)`` (``[N, C]`` -> ``[N]``)."""
    import torch
    others = torch.cat([logits[:, :target], logits[:, target + 1:]], dim=1)
    return logits[:, target] - torch.logsumexp(others, dim=1)


def _cls_fast_ok(model) -> bool:
    cfg = model.config
    return (not model.training and hasattr(model, "bert") and hasattr(model, "classifier")
            and getattr(cfg, "position_embedding_type", "absolute") == "absolute"
            and not cfg.is_decoder and not getattr(cfg, "add_cross_attention", False)
            and not getattr(cfg, "chunk_size_feed_forward", 0)
            and model.bert.pooler is not None)


def class_logits(model, input_ids, fast: bool = True):
    """Classifier logits ``[N, C]`` of unpadded rows of equal length (all positions attended).

    ``fast``: the last layer runs its query, attention output and feed-forward for the
    ``[CLS]`` position only (all the classification head reads); falls back to the full
    forward for models it does not recognise.
    """
    import torch
    import torch.nn.functional as F
    with torch.inference_mode():
        if not (fast and _cls_fast_ok(model)):
            return model(input_ids=input_ids).logits
        bert = model.bert
        h = bert.embeddings(input_ids=input_ids)                            # [N, T, D]
        layers = bert.encoder.layer
        for layer in layers[:-1]:
            out = layer(h)
            h = out[0] if isinstance(out, tuple) else out
        last = layers[-1]
        sa = last.attention.self
        N, T, D = h.shape
        heads, d = sa.num_attention_heads, sa.attention_head_size
        q = sa.query(h[:, :1]).view(N, 1, heads, d).transpose(1, 2)         # [N, H, 1, d]
        kk = sa.key(h).view(N, T, heads, d).transpose(1, 2)                 # [N, H, T, d]
        v = sa.value(h).view(N, T, heads, d).transpose(1, 2)
        ctx = F.scaled_dot_product_attention(q, kk, v, scale=sa.scaling)    # [N, H, 1, d]
        ctx = ctx.transpose(1, 2).reshape(N, 1, heads * d)
        a = last.attention.output(ctx, h[:, :1])
        cls = last.output(last.intermediate(a), a)                          # [N, 1, D]
        return model.classifier(model.dropout(bert.pooler(cls)))


def mutants(sequence: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All single-base substitutions of ``sequence``: ``(codes [N, L] uint8 ASCII, pos [N],
    base [N])`` with base in 0..3 (A, C, G, T); the reference base itself is skipped."""
    seq = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)
    L = seq.size
    need = seq[:, None] != _ACGT[None, :]                                   # [L, 4]
    pos, base = np.nonzero(need)
    out = np.repeat(seq[None, :], pos.size, axis=0)
    out[np.arange(pos.size), pos] = _ACGT[base]
    return out, pos, base


def _ids(rows: np.ndarray, k: int):
    """ASCII rows ``[N, L]`` -> token ids ``[N, L-k+2]`` with [CLS] and [SEP] (vectorised)."""
    import torch

    from ..sequences.fasta import str_to_codes
    from ..tokens import CLS_ID, SEP_ID, kmer_ids_from_codes
    codes = str_to_codes(rows.tobytes().decode("ascii")).reshape(rows.shape)
    body = kmer_ids_from_codes(codes, k)
    n = body.shape[0]
    return torch.from_numpy(np.concatenate([np.full((n, 1), CLS_ID), body,
                                            np.full((n, 1), SEP_ID)], axis=1))


def saturation_mutagenesis(model, sequence: str, target: int | None = None,
                           batch_size: int = 256, fast: bool = True):
    """Effect matrix ``E`` (``[L, 4]``, A, C, G, T) of every substitution on the log-odds of
    ``target`` (None: the class the model predicts for ``sequence``); see the module doc.

    Returns ``(E, reference_score, target, reference_probabilities)``. ``sequence`` must fit
    one model input (at most 510 k-mers).
    """
    import torch

    from .models import model_k
    k = model_k(model)
    seq = str(sequence).strip().upper()
    L = len(seq)
    if L < k:
        raise GeneMaskInputError(f"sequence of {L} nt is shorter than k={k}.",
                                 fix=f"give at least {k} nucleotides.")
    limit = model.config.max_position_embeddings - 2 + k - 1
    if L > limit:
        raise GeneMaskInputError(f"sequence of {L} nt is longer than one model input ({limit} nt).",
                                 fix=f"attribute a window of at most {limit} nt.")
    if not seq.isascii():
        raise GeneMaskInputError("sequence holds non-ASCII letters.", fix="give A, C, G, T (N allowed).")
    rows, pos, base = mutants(seq)
    ref_ids = _ids(np.frombuffer(seq.encode("ascii"), dtype=np.uint8)[None, :], k)
    ref_logits = class_logits(model, ref_ids, fast=False).float()
    n_classes = ref_logits.shape[1]
    target = int(ref_logits.argmax(1)[0]) if target is None else int(target)
    if not 0 <= target < n_classes:
        raise GeneMaskInputError(f"target class {target} does not exist; the model has "
                                 f"{n_classes} classes (0..{n_classes - 1}).", fix="pick one of them.")
    ref = float(score_from_logits(ref_logits, target)[0])
    scores = np.empty(len(rows), dtype=np.float64)
    for s in range(0, len(rows), batch_size):
        ids = _ids(rows[s:s + batch_size], k)
        scores[s:s + len(ids)] = score_from_logits(class_logits(model, ids, fast=fast).float(),
                                                   target).numpy()
    effect = np.zeros((L, 4))
    effect[pos, base] = scores - ref
    return effect, ref, target, torch.softmax(ref_logits, 1)[0].numpy()


@dataclass
class Attribution:
    """ISM of one sequence: ``effect`` ``[L, 4]`` (A, C, G, T), ``importance`` ``[L]`` (see the
    module doc), the target class, the reference log-odds and class probabilities."""

    sequence: str
    effect: np.ndarray
    target: int
    reference_score: float
    probabilities: np.ndarray
    model: str = ""
    windows: object = None       # DataFrame of the strongest windows (attribute(windows=...))
    matches: object = None       # DataFrame of their JASPAR matches
    extra: dict = field(default_factory=dict)

    @property
    def centred(self) -> np.ndarray:
        """``E - mean_b E`` per position ``[L, 4]``."""
        return self.effect - self.effect.mean(axis=1, keepdims=True)

    @property
    def importance(self) -> np.ndarray:
        """Mean-centred effect of the observed base ``[L]`` (0 at non-ACGT letters)."""
        seq = np.frombuffer(self.sequence.encode("ascii"), dtype=np.uint8)
        known = (seq[:, None] == _ACGT[None, :])
        return (self.centred * known).sum(axis=1)

    def logo_matrix(self) -> np.ndarray:
        """``[L, 4]`` with the importance on the observed letter and 0 elsewhere (the ISM logo)."""
        seq = np.frombuffer(self.sequence.encode("ascii"), dtype=np.uint8)
        return self.centred * (seq[:, None] == _ACGT[None, :])

    def to_dict(self) -> dict:
        out = {"model": self.model, "sequence": self.sequence, "target": self.target,
               "reference_log_odds": self.reference_score,
               "probabilities": [float(p) for p in self.probabilities],
               "importance": np.round(self.importance, 6).tolist(),
               "effect": {b: np.round(self.effect[:, j], 6).tolist() for j, b in enumerate("ACGT")}}
        if self.windows is not None:
            out["windows"] = self.windows.to_dict(orient="records")
        if self.matches is not None:
            out["matches"] = self.matches.to_dict(orient="records")
        return out


def strongest_windows(importance: np.ndarray, width: int = 12, n: int = 3) -> "pd.DataFrame":
    """The ``n`` non-overlapping ``width``-nt windows of largest summed positive importance.

    Greedy: the best window by a cumulative sum, then the next best among windows that
    overlap none chosen (one pass per window, not per position). Columns: start, end
    (half-open), score (summed positive importance), share (of all positive importance).
    """
    import pandas as pd
    imp = np.clip(np.nan_to_num(np.asarray(importance, float)), 0, None)
    width = min(int(width), imp.size)
    cs = np.concatenate(([0.0], np.cumsum(imp)))
    sums = cs[width:] - cs[:-width]                                           # [L-width+1]
    taken = np.zeros(sums.size, dtype=bool)
    total = float(imp.sum()) or 1.0
    rows = []
    for _ in range(int(n)):
        cand = np.where(taken, -np.inf, sums)
        best = int(np.argmax(cand))
        if not np.isfinite(cand[best]) or cand[best] <= 0:
            break
        rows.append({"start": best, "end": best + width, "score": float(sums[best]),
                     "share": float(sums[best]) / total})
        taken[max(0, best - width + 1):best + width] = True
    return pd.DataFrame(rows, columns=["start", "end", "score", "share"])


def attribute(model, sequence: str, target: int | None = None, windows: int = 3,
              width: int = 12, motifs=None, hits: int = 3, batch_size: int = 256) -> Attribution:
    """ISM of ``sequence`` with the model (what :func:`~.models.load_classifier` takes), its
    strongest windows and, when ``motifs`` (a :class:`~genemask_viz.motifs.MotifSet`, a
    release name such as ``"JASPAR2024"`` or a motif file) is given, their best matches
    (:func:`~.motifmatch.window_matches`)."""
    import torch

    from .models import load_classifier
    label = str(model) if not isinstance(model, torch.nn.Module) else type(model).__name__
    net = load_classifier(model)
    seq = str(sequence).strip().upper()
    effect, ref, target, probs = saturation_mutagenesis(net, seq, target, batch_size=batch_size)
    out = Attribution(seq, effect, target, ref, probs, model=label)
    if windows:
        out.windows = strongest_windows(out.importance, width=width, n=windows)
        if motifs is not None and len(out.windows):
            from .motifmatch import window_matches
            out.matches = window_matches(seq, out.windows, motifs, hits=hits)
    return out
