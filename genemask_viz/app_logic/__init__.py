"""Non-UI logic behind the Streamlit app (``app.py``, ``pages/``), importable and tested.

The pages only draw widgets and figures; everything they compute comes from here
or from the rest of :mod:`genemask_viz`. Nothing here imports Streamlit.

- :mod:`.inputs`: the demo window, pasted and uploaded sequences (size-capped,
  validated), benchmark datasets in ``../shared/data`` or a folder the user names.
- :mod:`.explorer`: one masked sequence as a :class:`MaskView` for the sequence
  track, statistics over many draws, strategy comparisons.
- :mod:`.labs`: background runs through the registry (paths resolved and models
  checked at submission, launch with a concurrency limit, progress, history) and the
  training device.
- :mod:`.estimates`: expected run times from measured step rates; whether a result is
  distinguishable from chance.
- :mod:`.warm`: the demo genome, its PMI table and the compiled kernels, built once per
  server process and warmed in the background; :mod:`.corpus_view`: a run's corpus.json.
"""

from .explorer import (MaskView, STRATEGY_LABELS, compare_strategies, draw_statistics,
                       mask_view, span_lengths)
from .inputs import (MAX_PASTE_NT, MAX_UPLOAD_BYTES, DemoWindow, benchmark_datasets,
                     demo_window, list_benchmark_files, load_benchmark_rows, parse_pasted,
                     read_upload, shared_data_dir)
from .labs import (MAX_CONCURRENT_RUNS, device_summary, launch_run, run_overview, runs_folder)

__all__ = ["MaskView", "STRATEGY_LABELS", "compare_strategies", "draw_statistics", "mask_view",
           "span_lengths", "MAX_PASTE_NT", "MAX_UPLOAD_BYTES", "DemoWindow", "benchmark_datasets",
           "demo_window", "list_benchmark_files", "load_benchmark_rows", "parse_pasted",
           "read_upload", "shared_data_dir", "MAX_CONCURRENT_RUNS", "device_summary",
           "launch_run", "run_overview", "runs_folder"]
