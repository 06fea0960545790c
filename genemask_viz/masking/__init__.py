"""Masking strategies, hidden-nucleotide analysis and the Hugging Face collator (spec section 3).

Strategies (:data:`STRATEGIES`; hidden-nucleotide rate at 510 tokens, demo genome,
``python3 bench/control_rates.py``):

=========================  ==================================================  =======
``random``                 BERT: i.i.d. tokens at 0.15                          0.07%
``dnabert``                centres ~ Bernoulli(0.025), spans c-2..c+3            3.44%
``genemask``               centres ~ Bernoulli(0.0176), best-PMI k-mer of        7.86%
                           c-2..c+3 extended to 11 tokens (top half of centres)
``genemask-released``      the release's bug: scores looked up by position       7.83%
``pmi-span``               PMI-Masking units until 15% of nucleotides hidden    >=15%
``genemask-random-anchor`` control: genemask's centres, random anchors and a     7.95%
                           random extended subset (no table)
``dnabert-matched``        control: DNABERT spans at centre probability 0.0482   7.86%
                           (GeneMask's hidden rate, closed form)
``global-pmi``             CM-GEMS stage 2: 11-token windows hiding occurrences  9.59%
                           of top-ranked k-mers, until 15% of tokens
``cm-gems``                curriculum: genemask, then global-pmi when the         -
                           smoothed training perplexity stops falling
``cm-gems-released``       the follow-up's code as released (three bugs, see      7.77% /
                           ``global_pmi``), replication only                    8.92%
=========================  ==================================================  =======

Modules, each importing only those above it: ``names``, ``_kernels``, ``result``,
``hidden``, ``scores``, ``strategies``, ``controls``, ``pmi_span``, ``global_pmi``, ``dispatch``
(:func:`mask_batch`), ``collator``, ``reference`` (loop references of all of them).

>>> from genemask_viz.masking import mask_batch, token_scores, GeneMaskCollator
>>> result = mask_batch(batch["input_ids"], batch["attention_mask"], "genemask",
...                     scores=token_scores(table, k=6), seed=0)        # doctest: +SKIP
>>> result.token_mask, result.hidden_nt, result.spans, result.chosen_pos  # doctest: +SKIP
"""

import importlib

from .names import CONTROL_STRATEGIES, STRATEGIES, STRATEGY_DESCRIPTIONS, TABLE_STRATEGIES

# sub-module of each public name: loaded on first use, so that `genemask --help` and
# light users do not pay for importing torch and transformers
_EXPORTS = {
    "GeneMaskCollator": "collator",
    "DNABERT_MATCHED_CENTRE_PROB": "controls",
    "GENEMASK_HIDDEN_RATE_510": "controls",
    "dnabert_hidden_rate": "controls",
    "mask_dnabert_matched": "controls",
    "mask_genemask_random_anchor": "controls",
    "matched_centre_prob": "controls",
    "mask_batch": "dispatch",
    "hidden_nucleotides": "hidden",
    "kmer_positions": "hidden",
    "maskable_positions": "hidden",
    "nucleotide_codes": "hidden",
    "nucleotides_to_tokens": "hidden",
    "tokens_to_nucleotides": "hidden",
    "window_any": "hidden",
    "PMI_SPAN_TARGET_RATE": "pmi_span",
    "GLOBAL_PMI_TARGET_RATE": "global_pmi",
    "mask_global_pmi": "global_pmi",
    "mask_cm_gems_released_genemask": "global_pmi",
    "mask_cm_gems_released_global_pmi": "global_pmi",
    "mask_pmi_span": "pmi_span",
    "segment_units": "pmi_span",
    "reference_hidden": "reference",
    "reference_mask": "reference",
    "SPAN_KINDS": "result",
    "MaskResult": "result",
    "dnabert_span_offsets": "result",
    "DEFAULT_UNIT_N_MAX": "scores",
    "DEFAULT_UNIT_TOP_FRACTION": "scores",
    "UnitVocabulary": "scores",
    "token_scores": "scores",
    "unit_vocabulary": "scores",
    "DNABERT_CENTRE_PROB": "strategies",
    "GENEMASK_CENTRE_PROB": "strategies",
    "GENEMASK_EXTEND_ALL_BELOW": "strategies",
    "GENEMASK_TOP_FRACTION": "strategies",
    "RANDOM_RATE": "strategies",
    "apply_bert_rule": "strategies",
    "extension_count": "strategies",
    "mask_dnabert": "strategies",
    "mask_genemask": "strategies",
    "mask_genemask_released": "strategies",
    "mask_random": "strategies",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["STRATEGIES", "TABLE_STRATEGIES", "CONTROL_STRATEGIES", "STRATEGY_DESCRIPTIONS", *_EXPORTS]
