"""Streaming FASTA / FASTA.gz reading as 2-bit nucleotide codes.

The genome never has to fit in memory: files are read in blocks of whole
lines, each block is turned into codes with one table look-up (numpy), and
the codes are yielded per record piece. Codes use DNABERT's alphabet order:

    A=0, T=1, C=2, G=3, INVALID=4  (N, IUPAC codes, '-', '*', '.')

Lower case (soft-masked repeats) is upper-cased; Windows line ends and other
whitespace inside sequence lines are ignored. Anything else (digits, control
bytes, punctuation) is an error that names the file and line.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import GeneMaskInputError

ALPHABET = "ATCG"  # DNABERT vocabulary order; code(b) = ALPHABET.index(b)
INVALID = 4
_SKIP = 5  # whitespace inside sequence lines
_BAD = 6  # not allowed in a sequence line

CODE_TABLE = np.full(256, _BAD, dtype=np.uint8)
for _i, _b in enumerate(ALPHABET):
    CODE_TABLE[ord(_b)] = _i
    CODE_TABLE[ord(_b.lower())] = _i
for _c in "BDHKMNRSVWYUXbdhkmnrsvwyuxEFIJLOPQZefijlopqz-*.":
    CODE_TABLE[ord(_c)] = INVALID
for _c in " \t\r\n\v\f":
    CODE_TABLE[ord(_c)] = _SKIP

#: codes -> upper-case letters (INVALID -> N)
LETTERS = np.frombuffer(b"ATCGN", dtype=np.uint8)

PathLike = str | os.PathLike

BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class CodeChunk:
    """A piece of one FASTA record as codes.

    record : 0-based index of the record in the file.
    name : the record's identifier (header up to the first whitespace).
    codes : uint8 array of codes 0..4 (see module docstring).
    first : True for the record's first chunk (its runs start fresh).
    """

    record: int
    name: str
    codes: np.ndarray
    first: bool


def open_binary(path: PathLike) -> io.BufferedIOBase:
    """Open a plain or gzip-compressed file for binary reading (gzip found by magic bytes)."""
    path = Path(path)
    if not path.exists():
        raise GeneMaskInputError("file not found.", source=path,
                                 fix="check the path, or use 'demo' for the built-in demo genome.")
    if path.is_dir():
        raise GeneMaskInputError("is a folder, not a file.", source=path,
                                 fix="name a FASTA file inside it.")
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _check_text(block: bytes, path: PathLike) -> None:
    if b"\x00" in block:
        raise GeneMaskInputError(
            "looks like binary data (it contains NUL bytes), not FASTA text.",
            source=path, line=block[: block.index(b"\x00")].count(b"\n") + 1,
            fix="give a plain-text FASTA (.fa, .fasta) or a gzip-compressed one (.fa.gz).")


def sniff_first_line(path: PathLike) -> tuple[int, str]:
    """Return (line number, text) of the first non-blank line; errors on empty or binary files."""
    with open_binary(path) as fh:
        try:
            head = fh.read(1 << 16)
        except (OSError, EOFError) as exc:
            raise GeneMaskInputError(f"cannot be read as gzip ({exc}).", source=path,
                                     fix="re-compress it with gzip, or give the plain file.") from None
    _check_text(head, path)
    for lineno, line in enumerate(head.splitlines(), start=1):
        if line.strip():
            return lineno, line.decode("utf-8", errors="replace").strip()
    raise GeneMaskInputError("is empty (no sequence in it).", source=path,
                             fix="give a file with at least one sequence.")


def check_fasta_start(path: PathLike) -> None:
    """Raise unless the first non-blank line of ``path`` is a FASTA header (also: empty, binary)."""
    lineno, first = sniff_first_line(path)
    if not first.startswith(">"):
        raise GeneMaskInputError(
            f"is not FASTA: the first line is {first[:40]!r}, expected a header starting with '>'.",
            source=path, line=lineno,
            fix="add a '>name' line before each sequence, or pass a plain list of sequences "
                "(one per line) with read_sequences().")


def read_blocks(path: PathLike, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The bytes of a plain or gzip file in blocks; a truncated or corrupt gzip is a clear error."""
    with open_binary(path) as fh:
        while True:
            try:
                data = fh.read(block_bytes)
            except (OSError, EOFError, zlib.error) as exc:
                raise GeneMaskInputError(f"cannot be read to its end ({exc}).", source=path,
                                         fix="the file is truncated or corrupt: compress it again "
                                             "or fetch a fresh copy.") from None
            if not data:
                return
            yield data


def stream_fasta(path: PathLike, block_bytes: int = BLOCK_BYTES) -> Iterator[CodeChunk]:
    """Yield the records of a FASTA file as chunks of codes, streaming.

    Memory stays at about one block even for a chromosome written on a single
    line: only an unfinished *header* line is carried into the next block.
    Raises :class:`GeneMaskInputError` for an empty or binary file, text
    before the first header, a bad character in a sequence line, a truncated
    gzip, or a file with no record.
    """
    check_fasta_start(path)
    record = -1
    name = ""
    first_chunk = False
    line_base = 1  # line number of the first line in the current block
    line_start = True  # the block's first byte begins a line
    tail = b""
    for data in itertools.chain(read_blocks(path, block_bytes), [b""]):
        eof = not data
        buf, tail = tail + data, b""
        if not eof:
            last_nl = buf.rfind(b"\n")
            begin = last_nl + 1 if last_nl >= 0 else (0 if line_start else -1)
            if begin >= 0 and buf[begin:begin + 1] == b">":  # an unfinished header line
                buf, tail = buf[:begin], buf[begin:]
        if not buf:
            if eof:
                break
            continue
        _check_text(buf, path)
        arr = np.frombuffer(buf, dtype=np.uint8)
        # header lines: '>' at a line start
        starts = np.flatnonzero(arr == 10) + 1
        if line_start:
            starts = np.concatenate(([0], starts))
        starts = starts[starts < arr.size]
        heads = starts[arr[starts] == ord(">")]
        pos = 0
        for h in list(heads) + [arr.size]:
            if h > pos:
                for chunk in _codes_of(arr[pos:h], buf, pos, path, line_base):
                    yield CodeChunk(record, name, chunk, first_chunk)
                    first_chunk = False
            if h == arr.size:
                break
            end = buf.find(b"\n", h)
            end = arr.size if end < 0 else end
            record += 1
            name = buf[h + 1:end].decode("utf-8", errors="replace").strip()
            name = name.split()[0] if name.split() else f"record{record + 1}"
            # an empty record still marks a record boundary for counting
            yield CodeChunk(record, name, np.empty(0, dtype=np.uint8), True)
            first_chunk = False
            pos = end + 1
        line_base += buf.count(b"\n")
        line_start = buf.endswith(b"\n")
        if eof:
            break
    if record < 0:
        raise GeneMaskInputError("has no FASTA record.", source=path,
                                 fix="add a '>name' header line followed by sequence lines.")


def _codes_of(seg: np.ndarray, buf: bytes, offset: int, path: PathLike, line_base: int):
    codes = CODE_TABLE[seg]
    bad = np.flatnonzero(codes == _BAD)
    if bad.size:
        where = offset + int(bad[0])
        line = line_base + buf.count(b"\n", 0, where)
        char = chr(buf[where])
        raise GeneMaskInputError(
            f"unexpected character {char!r} in a sequence line.", source=path, line=line,
            fix="sequence lines may hold only nucleotide letters (ACGT, N and IUPAC codes); "
                "check that the file is FASTA and not a table.")
    codes = codes[codes != _SKIP]
    if codes.size:
        yield codes


@dataclass(frozen=True)
class Record:
    """A whole sequence record: upper-case letters, anything not ACGT as N."""

    name: str
    sequence: str

    def __len__(self) -> int:
        return len(self.sequence)


_SEQUENCE_LETTERS = frozenset("ACGTNRYKMSWBDHVUacgtnrykmswbdhvu")


def looks_like_sequence(text: str) -> bool:
    """True for a string of nucleotide letters (a sequence given inline, not a path); '' too."""
    return not (set(text) - _SEQUENCE_LETTERS)


def split_inputs(source) -> list[tuple[str, object]]:
    """Normalise an input spec into ``("fasta", path)`` and ``("sequence", str)`` items.

    ``source``: a path, a :class:`Record`, a sequence string, or an iterable
    mixing them. A string made only of nucleotide letters is a sequence; any
    other string is a path.
    """
    items = [source] if isinstance(source, (str, os.PathLike, Record)) else list(source)
    out: list[tuple[str, object]] = []
    for item in items:
        if isinstance(item, Record):
            out.append(("sequence", item.sequence))
        elif isinstance(item, os.PathLike) or (isinstance(item, str) and not looks_like_sequence(item)):
            out.append(("fasta", item))
        elif isinstance(item, str):
            out.append(("sequence", item))
        else:
            raise GeneMaskInputError(f"cannot read sequences from a {type(item).__name__}.",
                                     fix="give FASTA paths, Records or sequence strings.")
    return out


def codes_to_str(codes: np.ndarray) -> str:
    """Codes 0..4 -> upper-case string (4 -> 'N')."""
    return LETTERS[np.asarray(codes, dtype=np.uint8)].tobytes().decode("ascii")


def str_to_codes(seq: str) -> np.ndarray:
    """A nucleotide string -> codes 0..4 (anything not ACGT -> 4; whitespace dropped)."""
    raw = np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)
    codes = CODE_TABLE[raw]
    codes = codes[codes != _SKIP]
    codes[codes == _BAD] = INVALID
    return codes


def read_fasta(path: PathLike) -> list[Record]:
    """Read a (small) FASTA or FASTA.gz file into whole records.

    For genome-scale files use :func:`stream_fasta`, which never holds a record.
    """
    parts: dict[int, list[np.ndarray]] = {}
    names: dict[int, str] = {}
    for chunk in stream_fasta(path):
        names[chunk.record] = chunk.name
        parts.setdefault(chunk.record, []).append(chunk.codes)
    return [Record(names[r], codes_to_str(np.concatenate(parts[r]))) for r in sorted(parts)]


def write_fasta(records, path: PathLike, width: int = 60) -> Path:
    """Write ``(name, sequence)`` pairs or :class:`Record` objects atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(tmp, "wt") as fh:
        for rec in records:
            name, seq = (rec.name, rec.sequence) if isinstance(rec, Record) else rec
            fh.write(f">{name}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i:i + width] + "\n")
    os.replace(tmp, path)
    return path
