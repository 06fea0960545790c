"""Streaming counts of every nucleotide n-gram, n = 1..n_max (spec section 2).

Counting runs once, for n_max only: one rolling 2-bit code per valid run
(a stretch of A/C/G/T inside one record), updated per base by a compiled
kernel (numba) and added to a dense array of 4^n_max counters. Shorter
n-grams are derived by marginalising the last base away,

    c_n(w) = sum_b c_{n+1}(w b) + e_n(w),

where the edge correction e_n(w) counts the runs whose *last* n bases are w
(the one n-gram of a run that has no (n+1)-gram extending it to the right).
The kernel records e_n at every run end (record boundary, N or other
non-ACGT character, end of file), so c_n is exact for every n with no second
pass. n-grams never cross a record boundary or a non-ACGT character.

Codes follow DNABERT's order A=0, T=1, C=2, G=3; an n-gram's index into its
count array is ``sum_i code(w_i) * 4^(n-1-i)`` (so ``index(w b) = 4*index(w)+b``).
Memory: 8 * (4^n_max + 4^(n_max-1) + ...) bytes; 11 MB for n_max=10,
whatever the genome size.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import GeneMaskInputError
from ..sequences.fasta import (ALPHABET, CODE_TABLE, INVALID, check_fasta_start, read_blocks,
                               split_inputs, str_to_codes)
from ._kernels import _count_fasta_kernel, _count_kernel, _flush_run, _tail_state

MAX_N_LIMIT = 12  # dense counters: 4^12 * 8 B = 134 MB
MAX_THREADS = 4
MERGE_BYTES = 1 << 31  # uint32 work counters are added to the int64 totals after this much input


@dataclass
class NgramCounts:
    """Counts of every n-gram n = 1..max_n.

    ``counts[n]`` is a dense int64 array of length 4^n indexed as in the module
    docstring (``counts[0]`` is unused). ``total(n)`` = N_n, the number of
    counted n-gram positions.
    """

    max_n: int
    counts: list[np.ndarray]
    n_records: int = 0
    n_bases: int = 0  # A/C/G/T bases seen
    n_invalid: int = 0  # other characters (N, IUPAC)
    sources: list[str] = field(default_factory=list)

    def total(self, n: int) -> int:
        return int(self.counts[n].sum())

    def count(self, ngram: str) -> int:
        """Count of one n-gram string (0 if it contains anything but ACGT)."""
        codes = str_to_codes(ngram)
        if (codes == INVALID).any() or not 1 <= len(codes) <= self.max_n:
            return 0
        return int(self.counts[len(codes)][index_of(codes)])


def index_of(codes: np.ndarray) -> int:
    """Index of an n-gram (codes 0..3) in its count array."""
    idx = 0
    for c in codes:
        idx = idx * 4 + int(c)
    return idx


def ngram_strings(n: int, indices: np.ndarray) -> np.ndarray:
    """Count-array indices -> n-gram strings (vectorised over indices)."""
    indices = np.asarray(indices, dtype=np.int64)
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
    shifts = 2 * np.arange(n - 1, -1, -1)
    digits = (indices[:, None] >> shifts) & 3
    raw = letters[digits].astype(np.uint8)
    return raw.view(f"S{n}").ravel().astype(str) if indices.size else np.empty(0, dtype=str)


class NgramCounter:
    """Accumulates n-gram counts over streamed chunks of codes.

    >>> counter = NgramCounter(max_n=3)
    >>> counter.add_sequence("ACGTNACG")
    >>> result = counter.finish()
    """

    def __init__(self, max_n: int = 10):
        if not isinstance(max_n, int) or not 1 <= max_n <= MAX_N_LIMIT:
            raise GeneMaskInputError(f"max_n must be an integer from 1 to {MAX_N_LIMIT}, got {max_n!r}.",
                                     fix="the paper uses 10; larger n needs sparse counting.")
        self.max_n = max_n
        self._counts = np.zeros(4 ** max_n, dtype=np.int64)
        self._offsets = np.zeros(max_n + 1, dtype=np.int64)
        for n in range(2, max_n + 1):
            self._offsets[n] = self._offsets[n - 1] + 4 ** (n - 1)
        self._ends = np.zeros(int(self._offsets[max_n]) + 1, dtype=np.int64)
        self._state = np.zeros(2, dtype=np.int64)
        self.n_records = 0
        self.n_bases = 0
        self.n_invalid = 0
        self.sources: list[str] = []

    def end_record(self) -> None:
        """Close the current run (a record boundary)."""
        if self._state[1] > 0:
            _flush_run(self._state[0], self._state[1], self.max_n, self._ends, self._offsets)
        self._state[:] = 0

    def add_codes(self, codes: np.ndarray) -> None:
        """Continue the current record with more codes (0..3 bases, 4 = break)."""
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        _count_kernel(codes, self.max_n, self._counts, self._ends, self._offsets, self._state)
        invalid = int(np.count_nonzero(codes >= INVALID))
        self.n_invalid += invalid
        self.n_bases += codes.size - invalid

    def add_sequence(self, seq: str) -> None:
        """Count one whole record given as a string."""
        self.end_record()
        self.n_records += 1
        self.add_codes(str_to_codes(seq))
        self.end_record()

    def add_fasta(self, path, progress=None, block_bytes: int = 8 << 20,
                  threads: int | None = None) -> None:
        """Stream a FASTA/FASTA.gz file; ``progress(n_bytes)`` is called per block.

        Parsing and counting are one compiled pass over the raw bytes; the
        checks of :func:`~genemask_viz.sequences.fasta.stream_fasta` apply
        (empty, binary, not FASTA, bad character with its line number).
        Blocks are counted by ``threads`` threads (default: the cores, at most
        4); each starts from the state that the previous block's tail implies
        (:func:`_tail_state`), so the result equals a sequential scan.
        """
        check_fasta_start(path)
        self.sources.append(str(path))
        self.end_record()
        threads = max(1, min(threads or os.cpu_count() or 1, MAX_THREADS))
        # per-thread uint32 counters: half the memory traffic of int64 (the kernel is bound by
        # random increments into 4^n_max counters); added into the int64 totals before any
        # could overflow (a counter grows by at most one per byte read)
        counts = [np.zeros(self._counts.size, dtype=np.uint32) for _ in range(threads)]
        ends = [np.zeros(self._ends.size, dtype=np.uint32) for _ in range(threads)]
        unmerged = 0

        def merge():
            for c, e in zip(counts, ends):
                self._counts += c
                self._ends += e
                c[:] = 0
                e[:] = 0
        carry = np.zeros(6, dtype=np.int64)  # exact state after everything before the group
        lines = 0
        records = 0

        def kernel(j, data, state):
            buf = np.frombuffer(data, dtype=np.uint8)
            bad = _count_fasta_kernel(buf, CODE_TABLE, self.max_n, counts[j], ends[j], self._offsets,
                                      state)
            return bad, state

        blocks = read_blocks(path, block_bytes)
        with ThreadPoolExecutor(threads) as pool:
            while True:
                group = list(itertools.islice(blocks, threads))
                if not group:
                    break
                for j, data in enumerate(group):
                    if b"\x00" in data:
                        before = lines + sum(g.count(b"\n") for g in group[:j])
                        raise GeneMaskInputError(
                            "contains binary data (NUL bytes).", source=path,
                            line=before + data[: data.index(b"\x00")].count(b"\n") + 1,
                            fix="give a plain-text or gzip-compressed FASTA.")
                # each block starts from the state its predecessor's tail implies
                starts: list[np.ndarray | None] = [carry.copy()]
                for j in range(1, len(group)):
                    tail = _tail_state(np.frombuffer(group[j - 1], dtype=np.uint8), CODE_TABLE,
                                       self.max_n)
                    starts.append(np.array([tail[0], tail[1], tail[2], 0, 0, 0], dtype=np.int64)
                                  if tail[3] else None)
                futures = [pool.submit(kernel, j, d, st) if st is not None else None
                           for j, (d, st) in enumerate(zip(group, starts))]
                results = []
                for j, data in enumerate(group):
                    if futures[j] is None:  # undecided tail: continue sequentially
                        prev = results[-1][1]
                        st = np.array([prev[0], prev[1], prev[2], 0, 0, 0], dtype=np.int64)
                        results.append(kernel(j, data, st))
                    else:
                        results.append(futures[j].result())
                for j, (data, (bad, state)) in enumerate(zip(group, results)):
                    if bad >= 0:
                        raise GeneMaskInputError(
                            f"unexpected character {chr(data[bad])!r} in a sequence line.",
                            source=path, line=lines + data[:bad].count(b"\n") + 1,
                            fix="sequence lines may hold only nucleotide letters (ACGT, N and IUPAC codes).")
                    lines += data.count(b"\n")
                    records += int(state[3])
                    self.n_bases += int(state[4])
                    self.n_invalid += int(state[5])
                    if progress is not None:
                        progress(len(data))
                last = results[-1][1]
                carry = np.array([last[0], last[1], last[2], 0, 0, 0], dtype=np.int64)
                unmerged += sum(map(len, group))
                if unmerged > MERGE_BYTES:
                    merge()
                    unmerged = 0
        merge()
        if carry[1] > 0:
            _flush_run(carry[0], carry[1], self.max_n, self._ends, self._offsets)
        if records == 0:
            raise GeneMaskInputError("has no FASTA record.", source=path,
                                     fix="add a '>name' header line followed by sequence lines.")
        self.n_records += records

    def finish(self) -> NgramCounts:
        self.end_record()
        counts: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * (self.max_n + 1)
        counts[self.max_n] = self._counts.copy()
        for n in range(self.max_n - 1, 0, -1):
            ends = self._ends[self._offsets[n]: self._offsets[n] + 4 ** n]
            counts[n] = counts[n + 1].reshape(-1, 4).sum(axis=1) + ends
        return NgramCounts(self.max_n, counts, self.n_records, self.n_bases, self.n_invalid,
                           list(self.sources))


def count_ngrams(source, max_n: int = 10, progress: bool = False) -> NgramCounts:
    """Count every n-gram n = 1..max_n in FASTA file(s) and/or sequences.

    ``source``: a path, a sequence string, a :class:`Record`, or an iterable
    mixing them (paths are streamed; Records and strings made only of
    nucleotide letters are whole records; any other string is a path).
    """
    counter = NgramCounter(max_n)
    items = split_inputs(source)
    if not items:
        raise GeneMaskInputError("no input to count.", fix="give a FASTA file or a list of sequences.")
    bar = None
    if progress:
        from tqdm.auto import tqdm
        paths = [p for kind, p in items if kind == "fasta"]
        # plain files: bytes ~ bases; a gzip's size says nothing about its bases
        total = None if any(str(p).endswith(".gz") for p in paths) else \
            sum(os.path.getsize(p) for p in paths if Path(p).is_file())
        bar = tqdm(total=total or None, unit="B", unit_scale=True, desc="counting n-grams",
                   file=None, leave=False)
    for kind, item in items:
        if kind == "fasta":
            counter.add_fasta(item, progress=bar.update if bar is not None else None)
        else:
            counter.add_sequence(item)
    if bar is not None:
        bar.close()
    result = counter.finish()
    if result.n_bases == 0:
        raise GeneMaskInputError("the input holds no A/C/G/T bases.",
                                 source=", ".join(result.sources) or None,
                                 fix="check that the sequences are DNA.")
    return result
