"""Pretraining segments cut from a genome, streaming (spec section 4).

As in the GeneMask/DNABERT pretraining data: each record is read from a
random offset in ``[0, max_offset)``; then consecutive segments are cut,
each of length ``max_len`` (511 nt) with probability ``p_full`` (0.5), else
uniform in ``[min_len, max_len]`` (6..511 nt).

N runs are removed: a segment never contains a non-ACGT base. Where a run of
ACGT ends (at an N, at a record end) before the drawn length is reached, the
piece cut so far is emitted if it holds at least ``min_len`` nt, else
dropped, and cutting starts afresh after the gap (our reading of "N runs
removed"; it keeps every segment a real contiguous stretch of the genome).
Soft-masked (lower-case) bases are upper-cased. Records stream in blocks,
so a whole chromosome is never held.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import GeneMaskInputError
from .fasta import INVALID, codes_to_str, split_inputs, str_to_codes, stream_fasta


@dataclass(frozen=True)
class SegmentSpec:
    """Length rule of pretraining segments (defaults: the paper's)."""

    max_len: int = 511
    min_len: int = 6
    p_full: float = 0.5
    max_offset: int = 1000

    def __post_init__(self):
        if not 1 <= self.min_len <= self.max_len:
            raise GeneMaskInputError(
                f"segment lengths need 1 <= min_len <= max_len, got {self.min_len}, {self.max_len}.",
                fix="use min_len=6, max_len=511 (the paper's).")
        if not 0.0 <= self.p_full <= 1.0:
            raise GeneMaskInputError(f"p_full must be a probability, got {self.p_full}.")


def _record_code_stream(source) -> Iterator[tuple[int, np.ndarray]]:
    """(record index, codes) pieces from paths, Records or strings, in order."""
    base = 0
    for kind, item in split_inputs(source):
        if kind == "sequence":
            yield base, str_to_codes(item)
            base += 1
            continue
        last = -1
        for chunk in stream_fasta(item):
            last = chunk.record
            yield base + chunk.record, chunk.codes
        base += last + 1


class _RunCutter:
    """Cuts the current ACGT run into segments of drawn lengths."""

    def __init__(self, spec: SegmentSpec, rng: np.random.Generator):
        self.spec, self.rng = spec, rng
        self.pending: list[np.ndarray] = []  # the current run's uncut bases
        self.pending_len = 0
        self.target = self.draw()

    def draw(self) -> int:
        if self.rng.random() < self.spec.p_full:
            return self.spec.max_len
        return int(self.rng.integers(self.spec.min_len, self.spec.max_len + 1))

    def _emit(self) -> str:
        out = codes_to_str(np.concatenate(self.pending))
        self.pending, self.pending_len = [], 0
        self.target = self.draw()
        return out

    def feed(self, run: np.ndarray) -> Iterator[str]:
        """More bases of the current run; yields every segment completed."""
        while run.size:
            piece, run = run[: self.target - self.pending_len], run[self.target - self.pending_len:]
            self.pending.append(piece)
            self.pending_len += piece.size
            if self.pending_len == self.target:
                yield self._emit()

    def end_run(self) -> Iterator[str]:
        """The run ended (N gap, record end): its last piece if long enough."""
        if self.pending_len >= self.spec.min_len:
            yield self._emit()
        self.pending, self.pending_len = [], 0


def iter_segments(source, seed: int = 0, spec: SegmentSpec | None = None,
                  limit: int | None = None) -> Iterator[str]:
    """Yield pretraining segments (upper-case ACGT strings) from ``source``.

    ``source``: a FASTA path (streamed), a :class:`Record`, a sequence string,
    or an iterable of them. ``limit`` stops after that many segments. The same
    seed and source give the same segments.
    """
    spec = spec or SegmentSpec()
    return itertools.islice(_cut_segments(source, spec, np.random.default_rng(seed)), limit)


def _cut_segments(source, spec: SegmentSpec, rng: np.random.Generator) -> Iterator[str]:
    cutter = _RunCutter(spec, rng)
    record, skip = -1, 0
    for rec, codes in _record_code_stream(source):
        if rec != record:  # a new record: close the open run, draw a new offset
            yield from cutter.end_run()
            record = rec
            skip = int(rng.integers(0, spec.max_offset)) if spec.max_offset > 0 else 0
        if skip:
            take = min(skip, codes.size)
            codes, skip = codes[take:], skip - take
        if codes.size == 0:
            continue
        # the chunk's runs of valid codes, as (start, end) pairs (vectorised boundaries)
        bad = codes >= INVALID
        edges = np.flatnonzero(np.diff(np.concatenate(([True], bad, [True])).astype(np.int8)))
        cursor = 0
        for start, end in zip(edges[0::2], edges[1::2]):
            if start > cursor:  # an N gap before this run
                yield from cutter.end_run()
            yield from cutter.feed(codes[start:end])
            cursor = end
        if cursor < codes.size:  # the chunk ends inside an N gap
            yield from cutter.end_run()
    yield from cutter.end_run()


def take_segments(source, n: int, seed: int = 0, spec: SegmentSpec | None = None) -> list[str]:
    """The first ``n`` segments of :func:`iter_segments` as a list."""
    out = list(iter_segments(source, seed=seed, spec=spec, limit=n))
    if not out:
        raise GeneMaskInputError("no segment could be cut: the input has no ACGT stretch of "
                                 f"at least {(spec or SegmentSpec()).min_len} nt.",
                                 fix="give a longer genome or lower min_len.")
    return out
