"""What the app builds once per server process, and its warm-up in the background.

The demo genome (~2 MB of sequence), its PMI table and the compiled masking kernels
take seconds to build on a loaded 2-core machine. They are built once per process
(:func:`demo_genome`, :func:`demo_table`; every session and page shares the same
objects, so per-table caches keyed by object identity stay warm) and
:func:`start_warmup` builds them in a background thread as soon as the server runs
``app.py``, so that by the time a user opens the Mask Explorer they are ready.

A caller that asks while the warm-up is still building simply waits for it (one lock
per asset): nothing is ever built twice. The pages wrap these in ``st.cache_resource``
only for Streamlit's spinner; the objects are the same.
"""

from __future__ import annotations

import threading
import time

_LOCKS = {"genome": threading.Lock(), "table": threading.Lock(), "kernels": threading.Lock()}
_CACHE: dict = {}
_WARM = {"thread": None, "timings": {}}
_START = threading.Lock()


def _once(name: str, build):
    if name in _CACHE:
        return _CACHE[name]
    with _LOCKS[name]:
        if name not in _CACHE:
            t0 = time.perf_counter()
            _CACHE[name] = build()
            _WARM["timings"][name] = time.perf_counter() - t0
    return _CACHE[name]


def demo_genome():
    """The demo genome (seed 0), built once per process."""
    def build():
        from ..sequences import demo_genome as make
        return make(seed=0)
    return _once("genome", build)


def demo_table():
    """The demo genome's n-gram table (n <= 10, count >= 101), built once per process."""
    def build():
        from ..ngrams import compute_table
        return compute_table(demo_genome().records, max_n=10, min_count=101)
    return _once("table", build)


def compile_kernels() -> bool:
    """Mask a short sequence with every strategy once, so numba's kernels are compiled (or
    loaded from their on-disk cache) and the per-table scores are memoised."""
    def build():
        from ..masking.names import STRATEGIES
        from .explorer import mask_view
        seq = demo_genome().records[0].sequence[10_000:10_515].upper()
        for strategy in STRATEGIES:
            try:
                mask_view(seq, strategy, demo_table(), seed=0)
            except Exception:  # a strategy that needs other inputs: the page reports it itself
                continue
        return True
    return _once("kernels", build)


def warm_all() -> dict:
    """Build everything (what the background thread runs); returns seconds per asset."""
    demo_genome()
    demo_table()
    compile_kernels()
    return dict(_WARM["timings"])


def start_warmup() -> threading.Thread:
    """Start :func:`warm_all` in a daemon thread, once per process; returns the thread."""
    with _START:
        if _WARM["thread"] is None:
            def run():
                try:
                    warm_all()
                except Exception as exc:  # the page that needs it will show the error itself
                    _WARM["error"] = f"{type(exc).__name__}: {exc}"
            _WARM["thread"] = threading.Thread(target=run, name="genemask-warmup", daemon=True)
            _WARM["thread"].start()
    return _WARM["thread"]


def warm_state() -> dict:
    """``{"ready": [assets built], "timings": {asset: seconds}, "running": bool, "error"}``."""
    thread = _WARM["thread"]
    return {"ready": sorted(_CACHE), "timings": dict(_WARM["timings"]),
            "running": bool(thread is not None and thread.is_alive()), "error": _WARM.get("error")}
