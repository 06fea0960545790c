"""genemask_viz: see, test and extend GeneMask-style masking of DNA language models.

Modules (arrows point down): ``sequences`` (files in, demo genome) -> ``tokens``
(k-mer tokenizer) and ``ngrams`` (counts, PMI tables) -> ``masking`` (strategies,
collator) and ``motifs`` (JASPAR comparison) -> ``training`` (pretraining, few-shot,
run registry) -> ``cli``. Importing this package is cheap: sub-modules load on use.
"""

from .errors import GeneMaskInputError, GeneMaskWarning

__version__ = "0.1.0"
__all__ = ["GeneMaskInputError", "GeneMaskWarning", "__version__"]
