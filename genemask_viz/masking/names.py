"""Strategy names (no heavy imports: the command line and the app read these cheaply)."""

STRATEGIES = ("random", "dnabert", "genemask", "genemask-released", "pmi-span",
              "genemask-random-anchor", "dnabert-matched")
#: strategies that need a PMI score table
TABLE_STRATEGIES = ("genemask", "genemask-released", "pmi-span")
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
}
