"""Strategy names (no heavy imports: the command line and the app read these cheaply)."""

STRATEGIES = ("random", "dnabert", "genemask", "genemask-released", "pmi-span")
#: strategies that need a PMI score table
TABLE_STRATEGIES = ("genemask", "genemask-released", "pmi-span")
