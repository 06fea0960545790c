import json
import math

import numpy as np

from genemask_viz.jsonsafe import json_safe


def test_non_finite_floats_become_null():
    data = {"a": math.nan, "b": [1.5, -math.inf, np.float64("nan"), np.int64(3)], "c": (math.inf,)}
    out = json_safe(data)
    assert out == {"a": None, "b": [1.5, None, None, 3], "c": [None]}
    json.dumps(out, allow_nan=False)  # strict JSON
    assert data["a"] != data["a"]  # the input is not modified
