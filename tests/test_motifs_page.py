"""The PMI page's motif logic: results kept per setting (issue 13, item 7)."""

from __future__ import annotations

from genemask_viz.app_logic.pmi import want_comparison


def test_results_are_kept_per_top_set_size():
    done: list = []
    a, b = ("demo", 6, 100), ("demo", 6, 50)
    assert not want_comparison(done, a, pressed=False)          # nothing compared yet
    assert want_comparison(done, a, pressed=True)
    assert not want_comparison(done, b, pressed=False)          # a new size asks for the button
    assert want_comparison(done, b, pressed=True)
    assert want_comparison(done, a, pressed=False)              # back to 100: kept, no button
    assert want_comparison(done, b, pressed=False)
    assert done == [a, b]                                       # most recent last
    assert not want_comparison(done, ("other table", 6, 100), pressed=False)
    for top in range(10):                                       # at most `limit` kept
        want_comparison(done, ("demo", 6, top), pressed=True, limit=4)
    assert len(done) == 4 and done[-1] == ("demo", 6, 9) and a not in done
