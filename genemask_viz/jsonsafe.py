"""Strict JSON out: NaN and infinities become null (Python's json writes bare NaN, which
JavaScript's JSON.parse and most other readers reject)."""

from __future__ import annotations

import math

import numpy as np


def json_safe(value):
    """A copy of ``value`` (dicts, lists, tuples, numbers, numpy scalars) with non-finite floats as None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_line(value, stream=None) -> None:
    """``value`` as one line of strict JSON (``json_safe``) on ``stream`` (default stdout)."""
    import json
    import sys
    stream = sys.stdout if stream is None else stream
    json.dump(json_safe(value), stream, allow_nan=False)
    stream.write("\n")
