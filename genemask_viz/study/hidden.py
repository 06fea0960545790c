"""Hidden-nucleotide reconstruction accuracy of an MLM under one common masking.

Strategies cannot be compared on their own validation losses: each run's loss is measured
under its own masking (a span strategy hides whole stretches, random masking hides almost
nothing, since the unmasked neighbours of a 6-mer give its bases away). This scores every
model on the same task: mask the same sequences with the same strategy and seed, and ask
how well the model recovers the nucleotides that no unmasked token shows.

For a masked batch (token mask M, true ids x) the model gives, at each masked position t,
probabilities P_t(v) over the 4^k k-mers. The probability that base o of that k-mer is b is

    q_{t,o}(b) = sum_v P_t(v) [base_o(v) = b]

A hidden nucleotide at column p is covered by the masked tokens t = p - o (o = 0..k-1);
its predicted base is argmax_b sum_{o: t = p - o masked} q_{t,o}(b) (the votes of every
masked k-mer covering it, summed). Accuracy = share of hidden nucleotides predicted right;
chance is about 0.25 (the most common base's share). Also returned: the masked-token
accuracy and the MLM loss (mean cross-entropy over masked tokens) under this masking.

(Kept small and self-contained so that it can move to ``genemask_viz.interpret``.)
"""

from __future__ import annotations

import math
import os


__all__ = ["hidden_nucleotide_accuracy", "base_matrices"]


def base_matrices(k: int):
    """``[k, 4^k, 4]`` float: entry (o, v, b) = 1 when base o of k-mer v (vocabulary order,
    A=0, T=1, C=2, G=3) is b."""
    import torch
    v = torch.arange(4 ** k)
    shifts = 2 * (k - 1 - torch.arange(k))
    bases = (v[None, :] >> shifts[:, None]) & 3                       # [k, 4^k]
    return torch.nn.functional.one_hot(bases, 4).float()


def hidden_nucleotide_accuracy(model_dir: str | os.PathLike, sequences,
                               strategy: str = "dnabert", seed: int = 0, table=None,
                               max_length: int = 512, batch_size: int = 16) -> dict:
    """Score the MLM in ``model_dir`` (a run or checkpoint folder) on ``sequences`` (strings,
    or a token dataset such as a pretraining corpus's ``val``) masked
    by ``strategy`` (seeded: every model sees the same masks). Returns ``hidden_accuracy``,
    ``n_hidden``, ``masked_token_accuracy``, ``n_masked``, ``mlm_loss``, ``hidden_rate``."""
    import torch

    from ..tokens import N_SPECIAL
    from ..masking.hidden import hidden_nucleotides, nucleotide_codes
    from ..training.corpus import BatchCollator, SequenceDataset, make_collator
    from ..training.models import build_mlm, load_tokenizer, resolve_model

    source = resolve_model(model_dir)
    k = source.k
    tokenizer = load_tokenizer(source)
    model = build_mlm(source).eval()
    data = (sequences if isinstance(sequences, torch.utils.data.Dataset)
            else SequenceDataset(list(sequences), k=k, max_length=max_length))
    collate = BatchCollator(make_collator(strategy, tokenizer, table=table, seed=seed), seed=seed)
    basis = base_matrices(k)                                          # [k, V', 4]
    right = total = tok_right = tok_total = 0
    loss_sum, valid_sum = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = collate([data[i] for i in range(start, min(start + batch_size, len(data)))])
            labels, inputs = batch["labels"], batch["input_ids"]
            masked = labels != -100                                   # [B, T]
            truth = torch.where(masked, labels, inputs)               # the unmasked ids
            logits = model(input_ids=inputs, attention_mask=batch["attention_mask"]).logits
            logp = torch.log_softmax(logits.float(), dim=-1)          # [B, T, V]
            loss_sum += float(-logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0][masked].sum())
            tok_right += int((logits.argmax(-1) == labels)[masked].sum())
            tok_total += int(masked.sum())
            probs = logp[..., N_SPECIAL:].exp() * masked[..., None]   # [B, T, 4^k], 0 if unmasked
            B, T = truth.shape
            votes = torch.zeros(B, T + k - 1, 4)
            for o in range(k):  # column p = t + o gets base o of the k-mer at t
                votes[:, o:o + T] += probs @ basis[o]
            hidden, _ = hidden_nucleotides(truth, masked, k, batch["attention_mask"])
            codes = nucleotide_codes(truth, k)
            keep = hidden & (codes < 4)
            right += int((votes.argmax(-1) == codes)[keep].sum())
            total += int(keep.sum())
            valid_sum += int((codes < 4).sum())
    return {"hidden_accuracy": right / total if total else math.nan, "n_hidden": total,
            "masked_token_accuracy": tok_right / tok_total if tok_total else math.nan,
            "n_masked": tok_total, "mlm_loss": loss_sum / tok_total if tok_total else math.nan,
            "hidden_rate": total / valid_sum if valid_sum else math.nan, "strategy": strategy,
            "seed": seed, "n_sequences": len(data)}


def common_validation(pretrain: dict, n: int, seed: int = 0):
    """The study's common evaluation set: ``n`` segments of the corpus's held-out validation
    part (the part no pretraining run of the study trains on), drawn with ``seed``."""
    from ..training.corpus import pretraining_corpus
    corpus = pretraining_corpus(pretrain.get("corpus", "demo"), n_train=1, n_val=int(n), seed=seed,
                                k=int(pretrain.get("k", 6)),
                                max_length=int(pretrain.get("max_length", 512)),
                                val_records=pretrain.get("val_records"),
                                val_fraction=pretrain.get("val_fraction"),
                                split_seed=int(pretrain.get("split_seed", 0)))
    return corpus.val
