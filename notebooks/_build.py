"""Write the teaching notebooks from the cell sources below (the .ipynb files are what users open).

    python notebooks/_build.py           # (re)write notebooks/*.ipynb, without outputs
    python notebooks/_build.py --check   # exit 1 when a committed notebook differs from this file

Edit the notebooks here, not in Jupyter, so that the committed JSON stays small,
free of outputs and reviewable. Cell ids are fixed (``<notebook>-<index>``), so a
rebuild of unchanged sources gives byte-identical files. The cell sources live in
``_nb01.py``, ``_nb02.py`` and ``_nb03.py`` (one list of cells per notebook).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from textwrap import dedent

import nbformat

HERE = Path(__file__).resolve().parent
NOTEBOOKS = {
    "01_kmers_and_masks": "_nb01.py",
    "02_pmi_and_motifs": "_nb02.py",
    "03_pretrain_and_fewshot": "_nb03.py",
}
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def md(text: str) -> tuple[str, str, list]:
    return ("markdown", text, [])


def code(text: str, tags: list[str] | None = None) -> tuple[str, str, list]:
    return ("code", text, list(tags or []))


def _load_cells(module_file: str) -> list[tuple[str, str, list]]:
    spec = importlib.util.spec_from_file_location(module_file[:-3], HERE / module_file)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_build", sys.modules[__name__])
    spec.loader.exec_module(module)
    return module.CELLS


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (no outputs, fixed cell ids)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC),
                   "language_info": {"name": "python", "pygments_lexer": "ipython3"}}
    for i, (kind, text, tags) in enumerate(_load_cells(NOTEBOOKS[name])):
        source = dedent(text).strip("\n")
        cell = (nbformat.v4.new_markdown_cell(source) if kind == "markdown"
                else nbformat.v4.new_code_cell(source))
        cell.id = f"{name[:2]}-{i:02d}"
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    return nbformat.writes(build(name)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare the committed notebooks with their sources")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"notebooks to build (default: all of {', '.join(NOTEBOOKS)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebook(s) {', '.join(unknown)}; choose from {', '.join(NOTEBOOKS)}")
    stale = []
    for name in args.names or NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        text = render(name)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python notebooks/_build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
