"""The study's common evaluation set for the reconstruction score of each pretrained model.

Strategies cannot be compared on their own validation losses: each run's loss is measured
under its own masking. The study scores every model on the same held-out segments under one
common masking with :func:`genemask_viz.interpret.reconstruction_score` (the library's one
implementation of hidden-nucleotide accuracy; its docstring gives the rule).
"""

from __future__ import annotations

__all__ = ["common_validation"]


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
