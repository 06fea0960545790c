"""Labelled sequence tables (benchmark TSV, GUE-style CSV) and plain sequence lists.

Layouts handled (all seen in GeneMask's few-shot files and in GUE):

- a header ``sequence<TAB>label``, quoted (``"sequence"\t"label"``) or not,
  in either column order, or no header at all (first column sequence);
- sequences as raw nucleotides or as space-separated overlapping k-mers
  (decoded back to nucleotides), quoted or not;
- comma-separated files (GUE: ``sequence,label``);
- labels as bare integers.

Everything comes back as a :class:`pandas.DataFrame` with columns
``sequence`` (upper-case nucleotides) and ``label`` (int), plus ``line``
(1-based line in the file) so later errors can point at the row.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from ..errors import GeneMaskInputError
from .fasta import PathLike, read_capped, read_fasta, sniff_first_line
from .kmertext import kmers_to_seq

_NUC = re.compile(r"^[ACGTNacgtnRYKMSWBDHVrykmswbdhv]+$")
_SEQ_NAMES = {"sequence", "seq", "sequences", "text", "dna"}
_LABEL_NAMES = {"label", "labels", "class", "y", "target"}


def _decode_seq(raw: str, path: PathLike, line: int) -> str:
    raw = raw.strip().strip('"').strip()
    if not raw:
        raise GeneMaskInputError("empty sequence.", source=path, line=line,
                                 fix="remove the row or fill in its sequence.")
    seq = kmers_to_seq(raw, source=path, line=line) if " " in raw else raw
    if not _NUC.fullmatch(seq):
        bad = next((c for c in seq if not _NUC.fullmatch(c)), seq[:1])
        raise GeneMaskInputError(f"sequence contains {bad!r}, which is not a nucleotide letter.",
                                 source=path, line=line,
                                 fix="sequences may hold only A, C, G, T (N and IUPAC codes become [UNK]).")
    return seq.upper()


_LABEL_MAX = 2 ** 31


def _parse_label(raw: str, path: PathLike, line: int) -> int:
    text = raw.strip().strip('"').strip()
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        value = int(number) if number.is_integer() else None
    if value is None or not -_LABEL_MAX < value < _LABEL_MAX:
        raise GeneMaskInputError(f"label {text[:40]!r} is not an integer class number.", source=path,
                                 line=line, fix="labels must be class numbers 0, 1, 2, ...")
    return value


def _text_lines(path: PathLike, max_bytes=None) -> list[str]:
    """The file's lines, split at ``\\n`` only (so line numbers are the editor's), without
    a BOM or ``\\r``; capped in size and line length (see :func:`~.fasta.read_capped`)."""
    text = read_capped(path, max_bytes=max_bytes).decode("utf-8", errors="replace")
    lines = text.removeprefix("\ufeff").split("\n")
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _first_content_line(lines: list[str], path: PathLike) -> int:
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise GeneMaskInputError("holds no text (only blank lines, a byte-order mark or "
                                 "Unicode spaces).", source=path,
                                 fix="give a file of 'sequence<TAB>label' rows.")
    return first


def _csv_rows(lines: list[str], delim: str, path: PathLike) -> list[list[str]]:
    """Rows of ``lines``, one per line (a quote left open does not swallow the next lines)."""
    rows = []
    for i, line in enumerate(lines):
        try:
            rows.append(next(csv.reader([line], delimiter=delim, quotechar='"'), []))
        except csv.Error as exc:
            raise GeneMaskInputError(f"cannot be split into columns ({exc}).", source=path,
                                     line=i + 1,
                                     fix="give one 'sequence<TAB>label' row per line; a field "
                                         "may hold at most 131,072 characters.") from None
    return rows


def read_labelled(path: PathLike, max_bytes=None) -> pd.DataFrame:
    """Read a labelled TSV/CSV file into ``sequence, label, line`` columns.

    Holds at most ``max_bytes`` of (decompressed) text; see :func:`~.fasta.input_limit`."""
    path = Path(path)
    sniff_first_line(path)  # empty / binary / missing file errors
    lines = _text_lines(path, max_bytes)
    first = _first_content_line(lines, path)
    delim = "\t" if "\t" in lines[first] else ","
    rows = _csv_rows(lines, delim, path)
    head = [c.strip().strip('"').lower() for c in rows[first]]
    seq_col, label_col, start = 0, 1, first
    if any(h in _SEQ_NAMES for h in head) or any(h in _LABEL_NAMES for h in head):
        seq_col = next((i for i, h in enumerate(head) if h in _SEQ_NAMES), None)
        label_col = next((i for i, h in enumerate(head) if h in _LABEL_NAMES), None)
        if seq_col is None or label_col is None:
            raise GeneMaskInputError(
                f"header {rows[first]!r} lacks a {'sequence' if seq_col is None else 'label'} column.",
                source=path, line=first + 1, fix="name the columns 'sequence' and 'label'.")
        start = first + 1
    seqs, labels, linenos = [], [], []
    for i in range(start, len(rows)):
        row = rows[i]
        if not row or not "".join(row).strip():
            continue
        if len(row) <= max(seq_col, label_col):
            raise GeneMaskInputError(
                f"row has {len(row)} column(s), expected a sequence and a label "
                f"separated by {'a tab' if delim == chr(9) else 'a comma'}.",
                source=path, line=i + 1, fix="give every row a sequence and an integer label.")
        seqs.append(_decode_seq(row[seq_col], path, i + 1))
        labels.append(_parse_label(row[label_col], path, i + 1))
        linenos.append(i + 1)
    if not seqs:
        raise GeneMaskInputError("has a header but no rows.", source=path,
                                 fix="add rows of 'sequence<TAB>label'.")
    return pd.DataFrame({"sequence": seqs, "label": pd.array(labels, dtype="int64"),
                         "line": linenos})


def read_sequences(path: PathLike, max_bytes=None) -> list[str]:
    """Read sequences from FASTA, a labelled table, or a plain list (one per line)."""
    _, first = sniff_first_line(path)
    if first.startswith(">"):
        return [r.sequence for r in read_fasta(path, max_bytes=max_bytes)]
    if "\t" in first or "," in first:
        return read_labelled(path, max_bytes=max_bytes)["sequence"].tolist()
    lines = _text_lines(path, max_bytes)
    return [_decode_seq(ln, path, i + 1) for i, ln in enumerate(lines) if ln.strip()]
