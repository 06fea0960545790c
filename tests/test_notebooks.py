"""The teaching notebooks: committed as built by notebooks/_build.py, and run top to bottom.

Each notebook is executed with nbclient on the ``python3`` kernel, in ``notebooks/`` (as a user
opens it), with a timeout per cell; any error in any cell fails the test. Budget: all three
together in about a minute on 2 cores (measured 7 s, 11 s and 38 s on a shared machine).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_kmers_and_masks", "02_pmi_and_motifs", "03_pretrain_and_fewshot"]
CELL_TIMEOUT_S = 300
HG38 = NOTEBOOKS_DIR.parent.parent / "shared" / "data" / "genemask" / "hg38_chr1-3_6mer_npmi_ranking.csv"

# What each notebook must print (values that come out of the library, not text it echoes)
EXPECTED_TEXT = {
    "01_kmers_and_masks": ["masked tokens: 1, hidden nucleotides: 0",   # one token hides nothing
                           "hidden nucleotide columns: [",              # one DNABERT span ...
                           "random:   1"],                              # ~15% tokens masked
    "02_pmi_and_motifs": ["planted motif sites cover 1.", "Spearman rho with the core-window match"],
    "03_pretrain_and_fewshot": ["validation loss", "AUROC genemask - random per seed"],
}
# figures: matplotlib images and plotly figures (genemask_viz.plots)
MIN_FIGURES = {"01_kmers_and_masks": 7, "02_pmi_and_motifs": 9, "03_pretrain_and_fewshot": 2}
PLOTLY = "application/vnd.plotly.v1+json"


def _load_builder():
    spec = importlib.util.spec_from_file_location("_build", NOTEBOOKS_DIR / "_build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["_build"] = module
    spec.loader.exec_module(module)
    return module


def _text_outputs(nb) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                out.append(o.text)
            elif o.output_type in ("execute_result", "display_data"):
                out.append(o.data.get("text/plain", ""))
    return "\n".join(out)


def test_committed_notebooks_are_built_from_their_sources_and_stripped():
    builder = _load_builder()
    assert list(builder.NOTEBOOKS) == NAMES
    assert builder.main(["--check"]) == 0, "run: python notebooks/_build.py"
    for name in NAMES:
        path = NOTEBOOKS_DIR / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        assert code_cells[0].metadata.get("tags") == ["parameters"], name
        assert all(c.outputs == [] and c.execution_count is None for c in code_cells), name
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
        assert path.stat().st_size < 60_000, f"{path.name} should stay small (no outputs)"
        # no library logic in cells: every notebook imports from genemask_viz
        assert "from genemask_viz" in "".join(c.source for c in code_cells)


def test_builder_is_deterministic_and_reports_stale_files(monkeypatch):
    builder = _load_builder()
    first = builder.render(NAMES[0])
    assert first == builder.render(NAMES[0])
    assert json.loads(first)["cells"][1]["id"] == "01-01"
    monkeypatch.setattr(builder, "render", lambda name: "{}\n")  # sources changed since the build
    assert builder.main(["--check", NAMES[0]]) == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))          # notebook 3's runs folder goes here
    monkeypatch.setenv("GENEMASK_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("MPLBACKEND", raising=False)      # the kernel's inline backend draws figures
    nb = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     allow_errors=False,
                                     resources={"metadata": {"path": str(NOTEBOOKS_DIR)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells)
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    text = _text_outputs(nb)
    for expected in EXPECTED_TEXT[name]:
        assert expected in text, f"{name}: {expected!r} not in the outputs"
    figures = sum("image/png" in o.get("data", {}) or PLOTLY in o.get("data", {})
                  for c in code_cells for o in c.outputs)
    assert figures >= MIN_FIGURES[name] + (1 if name.startswith("02") and HG38.exists() else 0)
    if name.startswith("02"):
        hg38_ran = "6-mers from GeneMask release ranking" in text
        assert hg38_ran == HG38.exists(), "the hg38 part runs exactly when the release file is there"
        assert ("Skipping the hg38 part" in text) == (not HG38.exists())
