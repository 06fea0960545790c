"""``GeneMaskCollator``: the strategies as a ``transformers`` MLM data collator.

A :class:`transformers.DataCollatorForLanguageModeling` subclass that
overrides only ``torch_mask_tokens`` (same signature), so padding, seeding
(``seed=``, one generator per process / DataLoader worker) and the
``Trainer`` integration are the parent's. The chosen tokens get BERT's
80/10/10 rule (``mask_replace_prob`` / ``random_replace_prob``; the random
tokens are k-mers, never special tokens) and labels are -100 elsewhere.
Input features are never modified: the batch is copied before replacement.

>>> tok = KmerTokenizer(k=6)
>>> collator = GeneMaskCollator(tok, strategy="genemask", table=table, seed=0)  # doctest: +SKIP
>>> Trainer(model=model, args=args, train_dataset=ds, data_collator=collator)   # doctest: +SKIP

The token ids must use DNABERT's vocabulary layout (``KmerTokenizer`` or a
DNABERT ``vocab.txt``): 5 special tokens, then the 4^k k-mers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from transformers import DataCollatorForLanguageModeling

from ..errors import GeneMaskInputError
from ..tokens import MASK_ID, N_SPECIAL
from .dispatch import mask_batch
from .names import CURRICULA, SCORE_STRATEGIES, STRATEGIES, TABLE_STRATEGIES
from .scores import UnitVocabulary, token_scores, unit_vocabulary
from .strategies import _check_scores, apply_bert_rule

__all__ = ["GeneMaskCollator"]


@dataclass
class GeneMaskCollator(DataCollatorForLanguageModeling):
    """MLM collator with a GeneMask-family masking strategy.

    Parameters (besides the parent's ``tokenizer``, ``mlm_probability``,
    ``mask_replace_prob``, ``random_replace_prob``, ``pad_to_multiple_of``, ``seed``)
    ----------
    strategy : one of :data:`~genemask_viz.masking.names.STRATEGIES` (``random``,
        ``dnabert``, ``genemask``, ``genemask-released``, ``pmi-span`` and the
        controls ``genemask-random-anchor``, ``dnabert-matched``, which need no
        table). ``random`` masks at ``mlm_probability`` (BERT, as the parent).
    table : a PMI table (DataFrame, or a path for ``genemask_viz.ngrams.load_table``),
        needed by the genemask and pmi-span strategies.
    scores : per-token-id scores instead of ``table`` (genemask strategies).
    units : a :class:`UnitVocabulary` instead of ``table`` (pmi-span).
    k : k-mer size; default the tokenizer's ``k`` (or inferred from its vocabulary size).
    strategy_params : keyword arguments for the strategy (e.g. ``centre_prob``).
    stage : for a curriculum (``cm-gems``, ``cm-gems-released``), which of its stages masks
        now (0 first); training switches it (:mod:`genemask_viz.training.curriculum`).

    After construction, ``ranking`` names the table's ranking the strategy uses
    (:func:`genemask_viz.ngrams.ranking_name`; None without a table), for run records.
    """

    strategy: str = "genemask"
    table: Any = None
    scores: Any = None
    units: UnitVocabulary | None = None
    k: int | None = None
    strategy_params: dict = field(default_factory=dict)
    ranking: str | None = None
    stage: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.strategy not in STRATEGIES:
            raise GeneMaskInputError(f"unknown strategy {self.strategy!r}; choose one of "
                                     f"{', '.join(STRATEGIES)}.")
        if not self.mlm or self.whole_word_mask:
            raise GeneMaskInputError("GeneMaskCollator masks for MLM: mlm must be True and "
                                     "whole_word_mask False.",
                                     fix="use DataCollatorForLanguageModeling for other modes.")
        if self.return_tensors != "pt":
            raise GeneMaskInputError(f"return_tensors={self.return_tensors!r}: the strategies are "
                                     "torch operations.", fix="use return_tensors='pt'.")
        if self.k is None:
            self.k = getattr(self.tokenizer, "k", None) or _k_from_vocab(len(self.tokenizer))
        if len(self.tokenizer) != N_SPECIAL + 4 ** self.k or self.tokenizer.mask_token_id != MASK_ID:
            raise GeneMaskInputError(
                f"the tokenizer has {len(self.tokenizer)} tokens and [MASK]={self.tokenizer.mask_token_id}; "
                f"k={self.k} needs DNABERT's layout ({N_SPECIAL + 4 ** self.k} tokens, [MASK]={MASK_ID}).",
                fix="use genemask_viz.tokens.KmerTokenizer or a DNABERT vocab.txt with the same k.")
        table = self.table
        if isinstance(table, (str, bytes)) or hasattr(table, "__fspath__"):
            from ..ngrams import load_table
            table = load_table(table)
        if self.strategy in SCORE_STRATEGIES and self.scores is None:
            if table is None:
                raise GeneMaskInputError(f"strategy {self.strategy!r} needs a PMI table.",
                                         fix="pass table= (DataFrame or path) or scores=.")
            self.scores = token_scores(table, self.k)
        if self.strategy == "pmi-span" and self.units is None:
            if table is None:
                raise GeneMaskInputError("strategy 'pmi-span' needs a PMI table.",
                                         fix="pass table= (DataFrame or path) or units=.")
            self.units = unit_vocabulary(table)
        if isinstance(table, pd.DataFrame) and self.strategy in TABLE_STRATEGIES:
            from ..ngrams import ranking_name
            self.ranking = ranking_name(table)
        if isinstance(table, pd.DataFrame):
            self.table = None  # keep only what the strategy needs (workers pickle the collator)
        if self.scores is not None and self.strategy in SCORE_STRATEGIES:
            self.scores = _check_scores(self.scores, self.k)

    def _strategy_kwargs(self) -> dict:
        params = dict(self.strategy_params)
        if self.strategy == "random":
            params.setdefault("rate", self.mlm_probability)
        elif self.strategy == "pmi-span":
            params["units"] = self.units
        elif self.strategy in SCORE_STRATEGIES:
            params["scores"] = self.scores
        if self.strategy in CURRICULA:
            params["stage"] = self.stage
        return params

    def torch_mask_tokens(self, inputs: Any, special_tokens_mask: Any | None = None,
                          offset_mapping: Any | None = None) -> tuple[Any, Any]:
        """Mask with ``self.strategy``, then the 80/10/10 rule -> ``(inputs, labels)``.

        Padding and special tokens are recognised from the ids (DNABERT layout);
        a given ``special_tokens_mask`` excludes more positions. ``inputs`` is
        not modified; ``offset_mapping`` is unused (k-mers have no words).
        """
        ids = torch.as_tensor(inputs)
        special = None if special_tokens_mask is None else torch.as_tensor(special_tokens_mask).bool()
        result = mask_batch(ids, None, self.strategy, k=self.k, generator=self.generator,
                            special_tokens_mask=special, details=False, **self._strategy_kwargs())
        return apply_bert_rule(ids, result.token_mask, self.k, self.mask_replace_prob,
                               self.random_replace_prob, self.generator)


def _k_from_vocab(size: int) -> int:
    k = round(math.log(max(size - N_SPECIAL, 1), 4))
    if N_SPECIAL + 4 ** k != size:
        raise GeneMaskInputError(f"a vocabulary of {size} tokens is not a DNABERT k-mer vocabulary.",
                                 fix="pass k= or use genemask_viz.tokens.KmerTokenizer.")
    return k
