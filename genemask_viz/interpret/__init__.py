"""The model's view (issue 17): reconstruction under the mask, attribution of a classifier.

- :func:`reconstruct`: one sequence, one masking draw -> P(A, C, G, T) at every hidden
  nucleotide (the renormalised product of the covering k-mer predictions' marginals),
  accuracy and mean log-likelihood of the true base.
- :func:`reconstruction_score`: the pretraining metric of a run: hidden-nucleotide accuracy
  and log-likelihood on held-out sequences under one common, seeded masking.
- :func:`attribute` / :func:`saturation_mutagenesis`: in-silico saturation mutagenesis of a
  fine-tuned classifier (L x 4 effect matrix), its importance logo, the strongest windows
  and their JASPAR matches (:func:`window_matches`, Tomtom through :mod:`genemask_viz.motifs`).
- :func:`load_mlm`, :func:`load_classifier`, :func:`finetuned_models`, :func:`list_models`.
- Figures: :func:`reconstruction_figure`, :func:`attribution_figure`, :func:`window_logo`.

Sub-modules load on first use (importing this package does not import torch).
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "models": ["load_mlm", "load_classifier", "finetuned_models", "list_models", "model_k",
               "run_test_set"],
    "reconstruction": ["Reconstruction", "reconstruct", "reconstruction_score", "nucleotide_probabilities",
                    "nucleotide_logprobs", "kmer_base_logmarginals", "mask_sequences"],
    "attribution": ["Attribution", "attribute", "saturation_mutagenesis", "class_logits",
                    "strongest_windows", "mutants", "score_from_logits"],
    "motifmatch": ["window_matches", "window_logo", "as_motif_set"],
    "plots": ["reconstruction_figure", "attribution_figure", "focus_range"],
    "sites": ["demo_site_spans", "find_sites"],
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
