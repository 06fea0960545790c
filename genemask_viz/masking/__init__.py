"""Masking strategies, hidden-nucleotide analysis and the Hugging Face collator (spec section 3).

>>> from genemask_viz.masking import mask_batch, token_scores, GeneMaskCollator
>>> result = mask_batch(batch["input_ids"], batch["attention_mask"], "genemask",
...                     scores=token_scores(table, k=6), seed=0)        # doctest: +SKIP
>>> result.token_mask, result.hidden_nt, result.spans, result.chosen_pos  # doctest: +SKIP
"""

import importlib

from .names import STRATEGIES, TABLE_STRATEGIES

# sub-module of each public name: loaded on first use, so that `genemask --help` and
# light users do not pay for importing torch and transformers
_EXPORTS = {
    "GeneMaskCollator": "collator",
    "hidden_nucleotides": "hidden",
    "kmer_positions": "hidden",
    "maskable_positions": "hidden",
    "nucleotide_codes": "hidden",
    "nucleotides_to_tokens": "hidden",
    "tokens_to_nucleotides": "hidden",
    "window_any": "hidden",
    "PMI_SPAN_TARGET_RATE": "pmi_span",
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
    "mask_batch": "strategies",
    "mask_dnabert": "strategies",
    "mask_genemask": "strategies",
    "mask_genemask_released": "strategies",
    "mask_random": "strategies",
}


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["STRATEGIES", "TABLE_STRATEGIES", *_EXPORTS]
