"""Streaming FASTA / FASTA.gz reading as 2-bit nucleotide codes.

The genome never has to fit in memory: files are read in blocks of whole
lines, each block is turned into codes with one table look-up (numpy), and
the codes are yielded per record piece. Codes use DNABERT's alphabet order:

    A=0, T=1, C=2, G=3, INVALID=4  (N, IUPAC codes, '-', '*', '.')

Lower case (soft-masked repeats) is upper-cased; Windows line ends and other
whitespace inside sequence lines are ignored. Anything else (digits, control
bytes, punctuation) is an error that names the file and line.

Limits (hostile input must not exhaust memory): readers that hold a whole file
(:func:`read_fasta`, :func:`read_capped`, the table readers built on it) stop with a
clear error past ``GENEMASK_MAX_INPUT_BYTES`` decompressed bytes (default 256 MiB), and
no reader keeps a header or table line longer than ``GENEMASK_MAX_LINE_BYTES``
(default 1 MiB). Both accept ``K``/``M``/``G`` suffixes and can be passed as
arguments. :func:`stream_fasta` holds about one block whatever the file size.
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
from .limits import (DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_LINE_BYTES, MAX_INPUT_ENV,  # noqa: F401
                     MAX_LINE_ENV, input_limit, line_limit, long_line_error, too_big_error)

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
                                 fix="name a file inside it.")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rb")
        return open(path, "rb")
    except OSError as exc:
        raise GeneMaskInputError(f"cannot be opened ({exc.strerror or exc}).", source=path,
                                 fix="check the file's permissions, or copy it somewhere readable.") from None


_READ_ERRORS = (OSError, EOFError, zlib.error)


def _unreadable(path, exc) -> GeneMaskInputError:
    return GeneMaskInputError(f"cannot be read to its end ({type(exc).__name__}: {exc}).",
                              source=path, fix="the file is truncated or corrupt: compress it "
                                               "again or fetch a fresh copy.")


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
        except _READ_ERRORS as exc:
            raise GeneMaskInputError(f"cannot be read as gzip ({type(exc).__name__}: {exc}).",
                                     source=path,
                                     fix="re-compress it with gzip, or give the plain file.") from None
    _check_text(head, path)
    # lines as every reader here counts them: split at \n only; a BOM and any Unicode
    # white space (U+2028, U+00A0, ...) do not make a line non-blank
    for lineno, line in enumerate(head.split(b"\n"), start=1):
        text = line.decode("utf-8", errors="replace").replace("\ufeff", "").strip()
        if text:
            return lineno, text
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
            except _READ_ERRORS as exc:
                raise _unreadable(path, exc) from None
            if not data:
                return
            yield data


def read_capped(path: PathLike, max_bytes=None, max_line=None,
                block_bytes: int = 1 << 20) -> bytes:
    """The whole (decompressed) content of a plain or gzip file, within limits.

    Raises :class:`GeneMaskInputError` past ``max_bytes`` (see :func:`input_limit`) or
    when a line is longer than ``max_line`` (see :func:`line_limit`): a small gzip can
    hold gigabytes, and a reader that holds the text must not follow it there. A
    truncated or corrupt gzip is a clear error too.
    """
    limit, line_max = input_limit(max_bytes), line_limit(max_line)
    parts: list[bytes] = []
    total = 0
    carried = 0  # length of the line still open at the end of the previous block
    line = 1  # number of the first line that the block continues or starts
    for data in read_blocks(path, min(block_bytes, limit + 1)):
        total += len(data)
        if total > limit:
            raise too_big_error(path, limit)
        nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        # lengths of the block's lines (the first continues the carried one, the last is open)
        lengths = np.diff(np.concatenate(([-1], nl, [len(data)]))) - 1
        lengths[0] += carried
        over = np.flatnonzero(lengths > line_max)
        if over.size:
            raise long_line_error(path, line_max, line + int(over[0]))
        carried = int(lengths[-1])
        line += int(nl.size)
        parts.append(data)
    return b"".join(parts)


def stream_fasta(path: PathLike, block_bytes: int = BLOCK_BYTES,
                 max_line=None) -> Iterator[CodeChunk]:
    """Yield the records of a FASTA file as chunks of codes, streaming.

    Memory stays at about one block even for a chromosome written on a single
    line: only an unfinished *header* line is carried into the next block, and a
    header longer than ``max_line`` (see :func:`line_limit`) is an error.
    Raises :class:`GeneMaskInputError` for an empty or binary file, text
    before the first header, a bad character in a sequence line, a truncated
    gzip, or a file with no record.
    """
    line_max = line_limit(max_line)
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
                if len(tail) > line_max:  # never carried (and re-joined) without bound
                    raise long_line_error(path, line_max, line_base + buf.count(b"\n"),
                                          "a header line")
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


def read_fasta(path: PathLike, max_bytes=None) -> list[Record]:
    """Read a (small) FASTA or FASTA.gz file into whole records.

    Holds at most ``max_bytes`` nucleotides (see :func:`input_limit`; a clear error
    beyond). For genome-scale files use :func:`stream_fasta`, which never holds a record.
    """
    limit = input_limit(max_bytes)
    parts: dict[int, list[np.ndarray]] = {}
    names: dict[int, str] = {}
    held = 0
    for chunk in stream_fasta(path, block_bytes=min(BLOCK_BYTES, limit + 1)):
        held += chunk.codes.size + len(chunk.name)
        if held > limit:
            raise too_big_error(path, limit, "nucleotides, read whole")
        names[chunk.record] = chunk.name
        parts.setdefault(chunk.record, []).append(chunk.codes)
    return [Record(names[r], codes_to_str(np.concatenate(parts[r]))) for r in sorted(parts)]


def write_fasta(records, path: PathLike, width: int = 60) -> Path:
    """Write ``(name, sequence)`` pairs or :class:`Record` objects atomically."""
    path = Path(path)
    if path.is_dir():
        raise GeneMaskInputError("is a folder; the output must be a file.", source=path,
                                 fix="name a file such as genome.fa (or .fa.gz).")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(tmp, "wt") as fh:
            for rec in records:
                name, seq = (rec.name, rec.sequence) if isinstance(rec, Record) else rec
                fh.write(f">{name}\n")
                for i in range(0, len(seq), width):
                    fh.write(seq[i:i + width] + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk or an interrupt leaves no temp file
        raise
    return path
