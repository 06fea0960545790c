"""What a pretrained model guesses under the mask: per-nucleotide probabilities at hidden bases.

The model input: every token the strategy chose is replaced by ``[MASK]`` (no 80/10/10
replacement: a token kept as it is would show its bases, so nothing under it would be
hidden). At a masked position t the model gives logits over the vocabulary; we keep the
4^k k-mer entries and renormalise them (the prediction given that it is a k-mer):

    P_t(v) = softmax over the k-mers v of logit_t(v)

**Marginals.** Base o (0..k-1) of the k-mer at t lies on nucleotide column p = t + o:

    q_{t,o}(b) = sum_{v : base_o(v) = b} P_t(v)

**Rule (product of experts).** A hidden nucleotide at column p is covered only by masked
k-mer tokens t = p - o; each gives an independent opinion q_{t,o}, and we combine them as
the renormalised product of the marginals:

    P(x_p = b) = prod_{o: t = p-o masked} q_{t,o}(b)  /  sum_{b'} prod_o q_{t,o}(b')

computed in log space (log q from a log-sum-exp over the k-mers), one scatter-add over
(token, offset) pairs: no loop over nucleotides. A base that one covering k-mer rules
out gets probability 0 however sure the others are (the product's sharpness; a
base that all rule out gets the highest product nonetheless, never NaN).

**Scores at hidden nucleotides** (true base x_p): accuracy = mean [argmax_b P(x_p = b) = x_p];
mean log-likelihood = mean ln P(x_p = x_p) in nats (chance: ln 1/4 = -1.386).
Columns are in A, C, G, T order (as logomaker and the motifs module).

:func:`reconstruct` does one sequence under one masking draw (the same draw the Mask
Explorer shows for that strategy, table and seed); :func:`reconstruction_score` is the
pretraining metric of a run: the same held-out sequences, the same masks for every model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import GeneMaskInputError

__all__ = ["ACGT_FROM_VOCAB", "kmer_base_logmarginals", "nucleotide_logprobs",
           "nucleotide_probabilities", "Reconstruction", "reconstruct", "reconstruction_score",
           "mask_sequences"]

#: vocabulary base codes are A=0, T=1, C=2, G=3; this index puts them in A, C, G, T order
ACGT_FROM_VOCAB = [0, 2, 3, 1]
_FLOOR = -1e4  # log-probability standing in for log 0 (keeps sums finite)


def kmer_base_logmarginals(logits, k: int):
    """``[M, V]`` logits of M masked positions -> ``[M, k, 4]`` log q_{t,o}(b), bases A,T,C,G.

    The 5 special tokens are dropped and the k-mer distribution renormalised. The k-mer
    id's digits are its bases (first base most significant), so viewing the 4^k k-mer
    axis as k axes of 4 and log-sum-exp'ing all but axis o gives base o's marginal.
    """
    import torch
    from ..tokens import N_SPECIAL
    logp = torch.log_softmax(logits[..., N_SPECIAL:].float(), dim=-1)      # [M, 4^k]
    cube = logp.reshape(-1, *([4] * k))
    out = [torch.logsumexp(cube, dim=[d + 1 for d in range(k) if d != o]) for o in range(k)]
    return torch.stack(out, dim=1).clamp(min=_FLOOR)                        # [M, k, 4]


def nucleotide_logprobs(logits, token_mask, k: int):
    """Per-nucleotide log-probabilities from the predictions at masked tokens (module doc).

    ``logits`` ``[B, T, V]`` (or only the masked rows, ``[M, V]``, in ``token_mask``'s
    row-major order), ``token_mask`` ``[B, T]`` bool. Returns ``[B, T+k-1, 4]`` log P in
    A, C, G, T order and ``covered`` ``[B, T+k-1]`` bool (some masked token covers the
    column). Uncovered columns hold ln 1/4.
    """
    import torch
    mask = torch.as_tensor(token_mask).bool()
    B, T = mask.shape
    rows, cols = mask.nonzero(as_tuple=True)                                # M masked tokens
    masked_logits = logits if logits.dim() == 2 else logits[rows, cols]
    lq = kmer_base_logmarginals(masked_logits, k)                          # [M, k, 4]
    W = T + k - 1
    total = torch.zeros(B * W, 4, dtype=lq.dtype, device=lq.device)
    count = torch.zeros(B * W, dtype=torch.long, device=lq.device)
    offsets = torch.arange(k, device=lq.device)
    where = (rows[:, None] * W + cols[:, None] + offsets[None, :]).reshape(-1)   # column t + o
    total.index_add_(0, where, lq.reshape(-1, 4))
    count.index_add_(0, where, torch.ones_like(where))
    logprob = torch.log_softmax(total, dim=-1)[:, ACGT_FROM_VOCAB]
    return logprob.reshape(B, W, 4), (count > 0).reshape(B, W)


def nucleotide_probabilities(logits, token_mask, k: int):
    """:func:`nucleotide_logprobs` exponentiated: ``[B, T+k-1, 4]`` (rows sum to 1), ``covered``."""
    logprob, covered = nucleotide_logprobs(logits, token_mask, k)
    return logprob.exp(), covered


def _scores(logprob, hidden, codes) -> dict:
    """Accuracy and mean log-likelihood of the true base over hidden, known columns."""
    import torch
    acgt = torch.tensor([0, 3, 1, 2])[codes.clamp(max=3)]                  # vocab code -> ACGT index
    keep = hidden & (codes < 4)
    n = int(keep.sum())
    right = int((logprob.argmax(-1) == acgt)[keep].sum())
    ll = float(logprob.gather(-1, acgt[..., None])[..., 0][keep].double().sum())
    return {"n_hidden": n, "right": right, "loglik_sum": ll}


@dataclass
class Reconstruction:
    """One sequence under one mask, in sequence coordinates (nucleotide i = base i of ``sequence``).

    probs ``[L, 4]`` P(A, C, G, T) (NaN where not hidden); hidden ``bool[L]``; token_mask
    ``bool[n]`` (token t covers nucleotides t..t+k-1); predicted: the argmax letter at hidden
    bases, "." elsewhere.
    """

    sequence: str
    k: int
    strategy: str
    seed: int
    token_mask: np.ndarray
    hidden: np.ndarray
    probs: np.ndarray
    accuracy: float
    mean_loglik: float
    n_hidden: int
    model: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def predicted(self) -> str:
        best = np.array(list("ACGT"))[np.nan_to_num(self.probs).argmax(1)]
        return "".join(np.where(self.hidden, best, "."))

    def to_dict(self) -> dict:
        hidden = np.flatnonzero(self.hidden)
        return {"model": self.model, "strategy": self.strategy, "seed": self.seed, "k": self.k,
                "sequence": self.sequence, "n_hidden": self.n_hidden, "accuracy": self.accuracy,
                "mean_loglik": self.mean_loglik,
                "token_mask": self.token_mask.astype(int).tolist(),
                "hidden": [{"pos": int(i), "true": self.sequence[i],
                            "predicted": self.predicted[i],
                            **{b: round(float(p), 6) for b, p in zip("ACGT", self.probs[i])}}
                           for i in hidden]}


def _masker_params(strategy: str, table, k: int) -> dict:
    from ..masking.names import TABLE_STRATEGIES
    if strategy not in TABLE_STRATEGIES:
        return {}
    if table is None:
        raise GeneMaskInputError(f"the {strategy} strategy needs a PMI table.",
                                 fix="give a PMI table (genemask npmi), or use a strategy without "
                                     "one (dnabert, random, the controls).")
    from ..masking import token_scores, unit_vocabulary
    return {"units": unit_vocabulary(table)} if strategy == "pmi-span" else \
        {"scores": token_scores(table, k)}


def mask_sequences(input_ids, attention_mask, strategy: str, seed: int, k: int, table=None,
                   per_row_seeds: bool = False, params: dict | None = None, row_offset: int = 0):
    """Token mask ``[B, T]`` from :func:`genemask_viz.masking.mask_batch`.

    ``per_row_seeds``: row i is masked on its own with seed ``(seed, row_offset + i)``, so that its mask
    does not depend on the batch it is in (the reconstruction score); otherwise the whole
    batch is masked with ``seed`` (a one-row batch: the Mask Explorer's draw).
    """
    import torch

    from ..masking import mask_batch
    params = _masker_params(strategy, table, k) if params is None else params
    if not per_row_seeds:
        return mask_batch(input_ids, attention_mask, strategy, k=k, seed=seed, details=False,
                          **params).token_mask
    out = torch.zeros(input_ids.shape, dtype=torch.bool)
    for i in range(input_ids.shape[0]):  # one call per sequence (not per nucleotide)
        n = int(attention_mask[i].sum())
        row_seed = int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, row_offset + i]).generate_state(1)[0])
        out[i, :n] = mask_batch(input_ids[i:i + 1, :n], attention_mask[i:i + 1, :n], strategy, k=k,
                                seed=row_seed, details=False, **params).token_mask[0]
    return out


def _forward(model, ids, attention, mask):
    import torch
    from ..tokens import MASK_ID
    inputs = ids.masked_fill(mask, MASK_ID)
    with torch.inference_mode():
        return model(input_ids=inputs, attention_mask=attention).logits


def reconstruct(model, sequence: str, strategy: str = "dnabert", seed: int = 0, table=None,
                token_mask=None) -> Reconstruction:
    """Mask ``sequence`` (its first 510 k-mers) and read the model's guesses at hidden bases.

    ``model``: what :func:`~.models.load_mlm` takes. ``token_mask`` (``bool[n]`` over the
    sequence's k-mers) overrides the draw, e.g. to show two models the same mask.
    """
    import torch

    from ..masking import hidden_nucleotides, nucleotide_codes
    from ..tokens import KmerTokenizer
    from .models import load_mlm, model_k
    label = str(model) if not isinstance(model, torch.nn.Module) else type(model).__name__
    net = load_mlm(model)
    k = model_k(net)
    seq = str(sequence).strip().upper()
    batch = KmerTokenizer(k=k).encode_batch([seq], max_length=512)
    ids, att = batch["input_ids"], batch["attention_mask"]
    n = int(att[0].sum()) - 2
    if token_mask is None:
        mask = mask_sequences(ids, att, strategy, seed, k, table)
    else:
        tm = np.asarray(token_mask, dtype=bool)
        if tm.shape != (n,):
            raise GeneMaskInputError(f"token_mask has {tm.size} entries; the sequence has {n} "
                                     f"{k}-mers.", fix="pass one flag per k-mer of the sequence.")
        mask = torch.zeros(ids.shape, dtype=torch.bool)
        mask[0, 1:n + 1] = torch.from_numpy(tm) & (ids[0, 1:n + 1] >= 5)
    logprob, _ = nucleotide_logprobs(_forward(net, ids, att, mask), mask, k)
    hidden, _ = hidden_nucleotides(ids, mask, k, att)
    s = _scores(logprob, hidden, nucleotide_codes(ids, k))
    L = n + k - 1
    probs = logprob[0, 1:L + 1].exp().numpy().astype(float)
    hid = hidden[0, 1:L + 1].numpy().copy()
    probs[~hid] = np.nan
    return Reconstruction(seq[:L], k, strategy, seed, mask[0, 1:n + 1].numpy().copy(), hid, probs,
                          s["right"] / s["n_hidden"] if s["n_hidden"] else math.nan,
                          s["loglik_sum"] / s["n_hidden"] if s["n_hidden"] else math.nan,
                          s["n_hidden"], model=label)


def reconstruction_score(model, sequences, strategy: str = "dnabert", seed: int = 0, table=None,
                         max_length: int = 512, batch_size: int = 16) -> dict:
    """The reconstruction score of a pretrained model on held-out ``sequences`` (the
    pretraining metric: every model gets the same sequences and the same masks).

    Sequence i is masked with ``strategy`` on its own, seeded by ``(seed, i)`` (see
    :func:`mask_sequences`), so masks do not depend on ``batch_size``. ``sequences``:
    strings, or a token dataset (e.g. a pretraining corpus's ``val``; its items'
    ``input_ids``). Returns ``hidden_accuracy`` and ``hidden_loglik`` (mean ln P of the
    true base, nats) over ``n_hidden`` hidden nucleotides, ``hidden_rate`` (hidden / real
    nucleotides), ``masked_token_accuracy`` and ``mlm_loss`` (mean cross-entropy over the
    vocabulary at the ``n_masked`` masked tokens), and what was scored.
    """
    import torch

    from ..masking import hidden_nucleotides, nucleotide_codes
    from ..tokens import KmerTokenizer, PAD_ID
    from .models import load_mlm, model_k
    net = load_mlm(model)
    k = model_k(net)
    if isinstance(sequences, torch.utils.data.Dataset):
        rows = [np.asarray(sequences[i]["input_ids"], dtype=np.int64) for i in range(len(sequences))]
    else:
        seqs = [str(s).strip().upper() for s in sequences]
        enc = KmerTokenizer(k=k).encode_batch(seqs, max_length=max_length, return_tensors=None)
        rows = [r[:int(a.sum())] for r, a in zip(enc["input_ids"], enc["attention_mask"])]
    if not rows:
        raise GeneMaskInputError("no sequences to score.", fix="give at least one held-out sequence.")
    params = _masker_params(strategy, table, k)
    tot = {"n_hidden": 0, "right": 0, "loglik_sum": 0.0}
    n_masked = tok_right = n_valid = 0
    loss_sum = 0.0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        width = max(len(r) for r in chunk)
        ids = torch.full((len(chunk), width), PAD_ID, dtype=torch.long)
        for i, r in enumerate(chunk):
            ids[i, :len(r)] = torch.from_numpy(r)
        att = (ids != PAD_ID).long()
        mask = mask_sequences(ids, att, strategy, seed, k, params=params, per_row_seeds=True,
                              row_offset=start)
        logits = _forward(net, ids, att, mask)
        masked_logits = logits[mask]                                         # [M, V]
        logprob, _ = nucleotide_logprobs(masked_logits, mask, k)
        hidden, valid = hidden_nucleotides(ids, mask, k, att)
        codes = nucleotide_codes(ids, k)
        s = _scores(logprob, hidden, codes)
        tot = {key: tot[key] + s[key] for key in tot}
        truth = ids[mask]
        loss_sum += float(torch.nn.functional.cross_entropy(masked_logits.float(), truth,
                                                            reduction="sum"))
        tok_right += int((masked_logits.argmax(-1) == truth).sum())
        n_masked += int(mask.sum())
        n_valid += int((valid & (codes < 4)).sum())
    n = tot["n_hidden"]
    return {"hidden_accuracy": tot["right"] / n if n else math.nan,
            "hidden_loglik": tot["loglik_sum"] / n if n else math.nan, "n_hidden": n,
            "hidden_rate": n / n_valid if n_valid else math.nan,
            "masked_token_accuracy": tok_right / n_masked if n_masked else math.nan,
            "mlm_loss": loss_sum / n_masked if n_masked else math.nan, "n_masked": n_masked,
            "strategy": strategy, "seed": seed, "n_sequences": len(rows), "k": k}

