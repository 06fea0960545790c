"""``mask_batch``: run any strategy of :data:`~genemask_viz.masking.names.STRATEGIES` by name.

The top of the package's layering (it imports every strategy module, none
imports it), so the strategy modules never import each other in a circle.
"""

from __future__ import annotations

import inspect

from ..errors import GeneMaskInputError
from .controls import mask_dnabert_matched, mask_genemask_random_anchor
from .global_pmi import GLOBAL_PMI_FUNCTIONS
from .names import CURRICULA, STRATEGIES
from .pmi_span import mask_pmi_span
from .result import MaskResult
from .scores import token_scores, unit_vocabulary
from .strategies import mask_dnabert, mask_genemask, mask_genemask_released, mask_random

__all__ = ["mask_batch"]

_CENTRE = {"random": mask_random, "dnabert": mask_dnabert, "dnabert-matched": mask_dnabert_matched,
           "genemask-random-anchor": mask_genemask_random_anchor}


def mask_batch(input_ids, attention_mask=None, strategy: str = "genemask", *, k: int = 6,
               scores=None, units=None, table=None, **params) -> MaskResult:
    """Run one of :data:`STRATEGIES` on a batch.

    ``table`` (a PMI table DataFrame) is turned into ``scores`` / ``units`` when
    those are not given (by the table's declared ranking column, see
    :func:`genemask_viz.ngrams.ranking_column`). Other keyword arguments go to
    the strategy function. The two controls need no table and ignore one.
    A curriculum (:data:`~genemask_viz.masking.names.CURRICULA`, e.g. ``cm-gems``) masks
    with its stage ``stage=`` (default 0), passing only the keyword arguments that stage takes.
    """
    if strategy not in STRATEGIES:
        raise GeneMaskInputError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    if strategy in CURRICULA:
        stages = CURRICULA[strategy]
        stage = params.pop("stage", 0)
        if stage not in range(len(stages)):
            raise GeneMaskInputError(f"{strategy} has stages 0..{len(stages) - 1}, not {stage!r}.")
        name = stages[stage]
        fn = GLOBAL_PMI_FUNCTIONS.get(name) or {"genemask": mask_genemask}.get(name)
        accepted = inspect.signature(fn).parameters
        params = {key: v for key, v in params.items() if key in accepted}
        return mask_batch(input_ids, attention_mask, name, k=k, scores=scores, table=table, **params)
    if strategy in GLOBAL_PMI_FUNCTIONS:
        if scores is None and table is not None:
            scores = token_scores(table, k)
        return GLOBAL_PMI_FUNCTIONS[strategy](input_ids, attention_mask, scores=scores, k=k, **params)
    if strategy in ("genemask", "genemask-released"):
        if scores is None and table is not None:
            scores = token_scores(table, k)
        fn = mask_genemask if strategy == "genemask" else mask_genemask_released
        return fn(input_ids, attention_mask, scores=scores, k=k, **params)
    if strategy == "pmi-span":
        if units is None and table is not None:
            units = unit_vocabulary(table)
        return mask_pmi_span(input_ids, attention_mask, units=units, k=k, **params)
    return _CENTRE[strategy](input_ids, attention_mask, k=k, **params)
