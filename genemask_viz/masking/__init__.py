"""Masking strategies, hidden-nucleotide analysis and the Hugging Face collator (spec section 3).

>>> from genemask_viz.masking import mask_batch, token_scores, GeneMaskCollator
>>> result = mask_batch(batch["input_ids"], batch["attention_mask"], "genemask",
...                     scores=token_scores(table, k=6), seed=0)        # doctest: +SKIP
>>> result.token_mask, result.hidden_nt, result.spans, result.chosen_pos  # doctest: +SKIP
"""

from .collator import GeneMaskCollator
from .hidden import (hidden_nucleotides, kmer_positions, maskable_positions, nucleotide_codes,
                     nucleotides_to_tokens, tokens_to_nucleotides, window_any)
from .pmi_span import PMI_SPAN_TARGET_RATE, mask_pmi_span, segment_units
from .reference import reference_hidden, reference_mask
from .result import SPAN_KINDS, MaskResult, dnabert_span_offsets
from .scores import (DEFAULT_UNIT_N_MAX, DEFAULT_UNIT_TOP_FRACTION, UnitVocabulary, token_scores,
                     unit_vocabulary)
from .strategies import (DNABERT_CENTRE_PROB, GENEMASK_CENTRE_PROB, GENEMASK_EXTEND_ALL_BELOW,
                         GENEMASK_TOP_FRACTION, RANDOM_RATE, STRATEGIES, apply_bert_rule,
                         mask_batch, mask_dnabert, mask_genemask, mask_genemask_released,
                         mask_random)

__all__ = ["GeneMaskCollator", "MaskResult", "SPAN_KINDS", "STRATEGIES", "UnitVocabulary",
           "apply_bert_rule", "dnabert_span_offsets", "hidden_nucleotides", "kmer_positions",
           "mask_batch", "mask_dnabert", "mask_genemask", "mask_genemask_released",
           "mask_pmi_span", "mask_random", "maskable_positions", "nucleotide_codes",
           "nucleotides_to_tokens", "reference_hidden", "reference_mask", "segment_units",
           "token_scores", "tokens_to_nucleotides", "unit_vocabulary", "window_any",
           "RANDOM_RATE", "DNABERT_CENTRE_PROB", "GENEMASK_CENTRE_PROB", "GENEMASK_TOP_FRACTION",
           "GENEMASK_EXTEND_ALL_BELOW", "PMI_SPAN_TARGET_RATE", "DEFAULT_UNIT_TOP_FRACTION",
           "DEFAULT_UNIT_N_MAX"]
