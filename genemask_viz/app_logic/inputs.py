"""Where the app's sequences come from: the demo genome, pasted text, uploads, benchmark files.

Every reader validates and caps what it accepts and raises
:class:`~genemask_viz.errors.GeneMaskInputError` with a message that says what to
do, which the pages show as it is (never a traceback). The app reads only what the
user uploads or names: :func:`shared_data_dir` and a folder typed by the user.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import GeneMaskInputError

#: largest upload the pages accept (also capped by server.maxUploadSize in .streamlit/config.toml)
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: longest pasted sequence (a DNABERT input holds 515 nt for k=6; the rest is cut)
MAX_PASTE_NT = 100_000
#: table files listed per benchmark folder, and folders walked at most
MAX_LISTED_FILES = 200
_TABLE_SUFFIXES = (".tsv", ".csv", ".txt", ".tsv.gz", ".csv.gz")
_NUCLEOTIDES = set("ACGTNRYKMSWBDHVacgtnrykmswbdhv")


def _located(kind: str):
    """The first registered data set of ``kind`` found by :mod:`genemask_viz.data`, or None."""
    from ..data import DATASETS, locate
    for ds in DATASETS.values():
        if ds.kind == kind and (found := locate(ds.name)) is not None:
            return found
    return None


def shared_data_dir() -> Path | None:
    """The data root (``$GENEMASK_DATA``, the user cache or ``../shared/data``) holding the real data.

    The root of the first few-shot benchmark found (else of the hg38 ranking); None when
    ``genemask data fetch`` has not been run and no development copy is present.
    """
    found = _located("fewshot") or _located("ranking")
    return None if found is None else found.root


def hg38_ranking_path() -> Path | None:
    """The GeneMask release's hg38 6-mer ranking (data set ``hg38-ranking``), None if absent."""
    found = _located("ranking")
    return None if found is None else found.path


def fewshot_root() -> Path | None:
    """The few-shot benchmarks folder (one sub-folder per data set) of :func:`shared_data_dir`."""
    found = _located("fewshot")
    return None if found is None else found.path.parent


@dataclass(frozen=True)
class DemoWindow:
    """A window of the demo genome: its sequence (upper case), where it lies, what is planted in it.

    motifs : planted motif instances inside the window, with ``start``/``end``
        relative to the window (0-based, half-open).
    """

    sequence: str
    record: str
    start: int
    end: int
    motifs: pd.DataFrame = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.record}:{self.start + 1:,}-{self.end:,}"


def demo_window(genome, record: int = 0, window: int = 0, length: int = 515) -> DemoWindow:
    """Window number ``window`` of demo record ``record``: ``length`` nt around a planted motif.

    Windows are centred on the planted motif sites of the record in order (so each
    one shows at least one known transcription-factor site); they may contain a
    soft-masked repeat (shown upper-cased) or, rarely, N (an ``[UNK]`` k-mer).
    """
    if not 6 <= length <= 100_000:
        raise GeneMaskInputError(f"window length {length} is outside 6..100000 nt.",
                                 fix="choose a length between 6 and 515 nt (one DNABERT input).")
    records = genome.records
    if not 0 <= record < len(records):
        raise GeneMaskInputError(f"record {record} does not exist; the demo genome has "
                                 f"{len(records)} records.", fix="pick record 0..%d." % (len(records) - 1))
    rec = records[record]
    sites = genome.motifs[genome.motifs["record"] == rec.name].reset_index(drop=True)
    if len(sites) == 0:
        start = 0
    else:
        site = sites.iloc[window % len(sites)]
        centre = (int(site["start"]) + int(site["end"])) // 2
        start = max(0, min(centre - length // 2, len(rec.sequence) - length))
    end = min(len(rec.sequence), start + length)
    inside = genome.motifs[(genome.motifs["record"] == rec.name) & (genome.motifs["start"] >= start)
                           & (genome.motifs["end"] <= end)].copy()
    inside["start"] -= start
    inside["end"] -= start
    return DemoWindow(rec.sequence[start:end].upper(), rec.name, start, end,
                      inside.reset_index(drop=True))


@dataclass(frozen=True)
class PastedInput:
    """Pasted text read as records: ``records`` ``[(name, sequence)]`` (upper case) and
    ``notes``, plain sentences on what was changed (e.g. RNA ``U`` read as ``T``)."""

    records: list
    notes: list


def _pasted_sequence(lines: list[str]) -> str:
    tokens = " ".join(lines).split()
    if len(tokens) > 1 and len({len(t) for t in tokens}) == 1 and 3 <= len(tokens[0]) <= 6:
        from ..sequences import kmers_to_seq  # space-separated overlapping k-mers
        try:
            return kmers_to_seq(" ".join(tokens))
        except GeneMaskInputError:
            return "".join(tokens)
    return "".join(c for c in "".join(tokens) if not c.isdigit())


def parse_pasted_records(text: str, max_nt: int = MAX_PASTE_NT) -> PastedInput:
    """Pasted nucleotides (raw, FASTA with one or more records, or space-separated k-mers).

    Whitespace and digits (as in GenBank listings) are dropped. RNA is read as DNA:
    ``U`` becomes ``T``, and a note says so. Every record must hold at least 6 nt of
    nucleotide letters; the whole paste at most ``max_nt``.
    """
    lines = [ln.strip() for ln in (text or "").splitlines()]
    lines = [ln for ln in lines if ln]
    chunks: list[tuple[str, list[str]]] = []
    if lines and lines[0].startswith(">"):
        for ln in lines:
            if ln.startswith(">"):
                chunks.append((ln[1:].strip() or f"record {len(chunks) + 1}", []))
            else:
                chunks[-1][1].append(ln)
    else:
        chunks = [("pasted sequence", lines)]
    records, notes, n_u, total = [], [], 0, 0
    for name, body in chunks:
        seq = _pasted_sequence(body)
        n_u += sum(seq.count(c) for c in "Uu")
        seq = seq.replace("U", "T").replace("u", "t")
        total += len(seq)
        if not seq:
            continue
        bad = sorted({c for c in seq if c not in _NUCLEOTIDES})
        if bad:
            raise GeneMaskInputError(f"the pasted text contains {', '.join(repr(c) for c in bad[:5])}, "
                                     f"which are not nucleotide letters.", source=name if len(chunks) > 1 else None,
                                     fix="paste DNA only: A, C, G, T (N and IUPAC codes become [UNK]).")
        records.append((name, seq.upper()))
    if not records:
        raise GeneMaskInputError("the pasted text holds no sequence.",
                                 fix="paste nucleotides (A, C, G, T), e.g. ACGTTGCA...")
    if total > max_nt:
        raise GeneMaskInputError(f"the pasted sequence has {total:,} nt, more than {max_nt:,}.",
                                 fix="paste a shorter stretch, or upload a FASTA file.")
    short = [n for n, s in records if len(s) < 6]
    if len(short) == len(records):
        raise GeneMaskInputError(f"the pasted sequence has {len(records[0][1])} nt; a 6-mer needs "
                                 "at least 6.", fix="paste a longer sequence.")
    if short:
        notes.append(f"{len(short)} record(s) shorter than 6 nt were left out: {', '.join(short[:3])}.")
        records = [(n, s) for n, s in records if len(s) >= 6]
    if n_u:
        notes.append(f"Read as RNA: {n_u:,} U were read as T.")
    return PastedInput(records, notes)


def parse_pasted(text: str, max_nt: int = MAX_PASTE_NT) -> str:
    """The first record of :func:`parse_pasted_records` (the app lets the user pick one)."""
    return parse_pasted_records(text, max_nt).records[0][1]


def window_starts(length: int, window: int) -> int:
    """Largest start position of a ``window``-nt window on a ``length``-nt sequence."""
    return max(0, int(length) - int(window))


def read_upload(name: str, data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> list[tuple[str, str]]:
    """An uploaded FASTA (or labelled TSV/CSV, or one sequence per line) -> ``[(name, sequence)]``.

    The bytes are written to a private temporary file and read by the library's
    validating readers (gzip is detected); the temporary file is removed.
    """
    if len(data) > max_bytes:
        raise GeneMaskInputError(f"the file is {len(data) / 2**20:.1f} MB, over the "
                                 f"{max_bytes / 2**20:.0f} MB limit.", source=name,
                                 fix="upload a smaller FASTA (e.g. one chromosome region).")
    if not data.strip():
        raise GeneMaskInputError("the file is empty.", source=name, fix="upload a FASTA file.")
    from ..sequences import read_fasta, read_sequences
    suffix = "".join(Path(name).suffixes[-2:]) or ".fa"
    with tempfile.TemporaryDirectory(prefix="genemask_upload_") as tmp:
        path = Path(tmp) / ("upload" + suffix)
        path.write_bytes(data)
        try:
            head = data[:2]
            is_fasta = head == b"\x1f\x8b" or data.lstrip()[:1] == b">"
            if is_fasta:
                out = [(r.name, r.sequence.upper()) for r in read_fasta(path)]
            else:
                out = [(f"sequence {i + 1}", s) for i, s in enumerate(read_sequences(path))]
        except GeneMaskInputError as exc:
            raise GeneMaskInputError(exc.problem, source=name, line=exc.line,
                                     fix=exc.fix or "upload a FASTA file (lines starting with '>').") from None
        except UnicodeDecodeError:
            raise GeneMaskInputError("the file is not text.", source=name,
                                     fix="upload a FASTA file (plain or gzip).") from None
    out = [(n, s) for n, s in out if len(s) >= 6]
    if not out:
        raise GeneMaskInputError("no sequence of at least 6 nt was found.", source=name,
                                 fix="upload a FASTA file with DNA sequences.")
    return out


def benchmark_datasets(folder: str | os.PathLike | None = None) -> dict[str, list[Path]]:
    """Labelled table files under ``folder`` (default: the shared few-shot benchmarks), by dataset.

    Returns ``{dataset name (first sub-folder): [files]}``; empty when the folder is missing.
    """
    if folder is None:
        folder = fewshot_root()
    if folder is None:
        return {}
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise GeneMaskInputError("folder not found.", source=folder,
                                 fix="type the path of a folder holding .tsv/.csv files.")
    out: dict[str, list[Path]] = {}
    for n, path in enumerate(sorted(folder.rglob("*"))):
        if n > 20 * MAX_LISTED_FILES:
            break
        if path.is_file() and path.name.lower().endswith(_TABLE_SUFFIXES):
            rel = path.relative_to(folder)
            key = rel.parts[0] if len(rel.parts) > 1 else folder.name
            out.setdefault(key, [])
            if len(out[key]) < MAX_LISTED_FILES:
                out[key].append(path)
    return out


def list_benchmark_files(folder: str | os.PathLike | None = None) -> list[Path]:
    """All labelled table files of :func:`benchmark_datasets`, flattened."""
    return [p for files in benchmark_datasets(folder).values() for p in files]


def load_benchmark_rows(path: str | os.PathLike, max_rows: int = 5000) -> pd.DataFrame:
    """The first ``max_rows`` rows (``sequence, label, line``) of a benchmark TSV/CSV."""
    from ..sequences import read_labelled
    table = read_labelled(path)
    return table.head(max_rows).reset_index(drop=True)
