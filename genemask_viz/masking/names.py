"""Strategy names (no heavy imports: the command line and the app read these cheaply)."""

STRATEGIES = ("random", "dnabert", "genemask", "genemask-released", "pmi-span",
              "genemask-random-anchor", "dnabert-matched", "global-pmi", "cm-gems",
              "cm-gems-released", "cm-gems-released-genemask", "cm-gems-released-global-pmi")
#: CM-GEMS (issue 18): curriculum name -> its stages, in order (training switches stages,
#: see genemask_viz.training.curriculum; masking a batch by the curriculum's name uses stage 0
#: unless ``stage=`` says otherwise)
CURRICULA = {"cm-gems": ("genemask", "global-pmi"),
             "cm-gems-released": ("cm-gems-released-genemask", "cm-gems-released-global-pmi")}
#: strategies that look k-mer scores up per token id (``scores=token_scores(table, k)``)
SCORE_STRATEGIES = ("genemask", "genemask-released", "global-pmi", "cm-gems", "cm-gems-released",
                    "cm-gems-released-genemask", "cm-gems-released-global-pmi")
#: strategies that need a PMI score table
TABLE_STRATEGIES = SCORE_STRATEGIES + ("pmi-span",)
#: the controls of issue 10: GeneMask's hidden rate without PMI choosing the spans
CONTROL_STRATEGIES = ("genemask-random-anchor", "dnabert-matched")
#: one line per strategy, for menus and help texts
STRATEGY_DESCRIPTIONS = {
    "random": "random (BERT, 15% of tokens)",
    "dnabert": "dnabert (6-token spans)",
    "genemask": "genemask (paper: PMI-guided spans)",
    "genemask-released": "genemask-released (public code's bug, for replication)",
    "pmi-span": "pmi-span (PMI-Masking units)",
    "genemask-random-anchor": "genemask-random-anchor (control: GeneMask spans, random anchors)",
    "dnabert-matched": "dnabert-matched (control: DNABERT spans at GeneMask's hidden rate)",
    "global-pmi": "global-pmi (CM-GEMS stage 2: top-ranked k-mers, 11-token windows)",
    "cm-gems": "cm-gems (curriculum: genemask, then global-pmi when perplexity stalls)",
    "cm-gems-released": "cm-gems-released (follow-up's code with its 3 bugs, for replication)",
    "cm-gems-released-genemask": "cm-gems-released-genemask (released stage 1: 2 bugs)",
    "cm-gems-released-global-pmi": "cm-gems-released-global-pmi (released stage 2: same "
                                   "positions in every sequence)",
}
