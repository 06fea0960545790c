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

**Pretraining draws from the whole genome** (:func:`split_genome`,
:func:`sample_segments`; issue 10). The release cuts all of hg38 into ~7.6 M
segments and shuffles them; streaming the first N segments in file order instead
would train on the start of chr1 only. With a :class:`~.genome_index.GenomeIndex`
(random access, memory independent of genome size), segment ``i`` of a run is a
function of ``(seed, stream, i)`` alone:

- its length L: ``max_len`` with probability ``p_full``, else uniform in
  ``[min_len, max_len]`` (the spec's rule, as above);
- its start: a position drawn uniformly over all ACGT bases of the part (training or
  validation), so each record gets segments in proportion to its ACGT length; the
  segment is ``[start, start + L)`` cut at the end of its ACGT run (N runs excluded, as
  above); a piece shorter than ``min_len`` is drawn again. A uniform start replaces the
  paper's random offset in ``[0, 1000)``: both make every position equally likely to
  begin a segment; ours needs no pass over the genome and no list of all segments.

Segments are drawn in blocks of :data:`BLOCK` with one generator seeded by
``(seed, stream, block)``, so drawing more segments extends the list without changing
its start, and a resumed run or a dataloader worker sees the same segments.
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


#: segments drawn per generator (see the module docstring)
BLOCK = 4096
_MAX_REDRAWS = 1000


@dataclass(frozen=True)
class GenomeIntervals:
    """Disjoint ACGT stretches of a genome (global coordinates, half-open) and their records."""

    start: np.ndarray
    end: np.ndarray
    record: np.ndarray

    @property
    def bases(self) -> int:
        return int((self.end - self.start).sum())

    def per_record(self, n_records: int) -> np.ndarray:
        """ACGT bases of these intervals in each record."""
        return np.bincount(self.record, weights=self.end - self.start,
                           minlength=n_records).astype(np.int64)

    def overlaps(self, other: "GenomeIntervals") -> bool:
        """True when any base lies in both (sorted sweep, vectorised)."""
        if not len(self.start) or not len(other.start):
            return False
        order = np.argsort(other.start, kind="stable")
        s, e = other.start[order], np.maximum.accumulate(other.end[order])
        j = np.searchsorted(s, self.end, side="left") - 1  # last other interval starting before our end
        ok = j >= 0
        return bool(np.any(e[j[ok]] > self.start[ok]))


def _intervals(index, mask) -> GenomeIntervals:
    return GenomeIntervals(index.run_start[mask], index.run_end[mask], index.run_record[mask])


def split_genome(index, val_records=None, val_fraction: float | None = None,
                 split_seed: int = 0) -> tuple[GenomeIntervals, GenomeIntervals, dict]:
    """Training and validation parts of ``index`` (a GenomeIndex); they share no base.

    ``val_records``: names of whole records held out (e.g. ``["chr21", "chr22"]``).
    ``val_fraction``: that share of the ACGT bases held out as blocks of the genome:
    the ACGT bases, laid end to end, are cut into blocks of ``S`` = V/200 clipped to
    [1 kbp, 1 Mbp] (V: all ACGT bases), and ``round(fraction x blocks)`` (at least one)
    blocks chosen with ``split_seed`` are held out, so validation is spread over the
    genome, not one telomere. Training segments are cut at the edges of held-out blocks.
    A corpus too small to hold out about ``fraction`` (more than twice that share) is
    refused.
    Returns ``(train, val, description)``.
    """
    n_runs = len(index.run_start)
    if val_records:
        names = [val_records] if isinstance(val_records, str) else list(val_records)
        names = [n.strip() for name in names for n in str(name).split(",") if n.strip()]
        known = {name: i for i, name in enumerate(index.names)}
        unknown = [n for n in names if n not in known]
        if unknown:
            shown = ", ".join(index.names[:8]) + (", ..." if len(index.names) > 8 else "")
            raise GeneMaskInputError(f"validation record(s) {', '.join(unknown)} are not in the "
                                     f"corpus (its records: {shown}).", source=index.files[0],
                                     fix="name records exactly as in the FASTA headers.")
        held = np.isin(index.run_record, [known[n] for n in names])
        val, train = _intervals(index, held), _intervals(index, ~held)
        desc = {"mode": "records", "val_records": names}
    else:
        fraction = float(val_fraction if val_fraction is not None else 0.0)
        if not 0.0 < fraction < 1.0:
            raise GeneMaskInputError(f"val_fraction must be between 0 and 1, got {fraction}.",
                                     fix="e.g. --val-fraction 0.01, or --val-records chr21,chr22")
        lengths = index.run_end - index.run_start
        cum = np.concatenate(([0], np.cumsum(lengths)))
        total = int(cum[-1])
        size = int(np.clip(total // 200, 1_000, 1_000_000))
        n_blocks = -(-total // size)
        n_held = max(1, int(round(fraction * n_blocks)))
        if n_held >= n_blocks or n_held / n_blocks > 2 * fraction:
            raise GeneMaskInputError(
                f"the corpus has {total:,} ACGT bases ({n_blocks} block(s) of {size:,}): too "
                f"small to hold out {fraction:g} of it for validation (it would be "
                f"{n_held / n_blocks:.2g}) and train on the rest.",
                source=index.files[0], fix="give a larger corpus or use --val-records.")
        rng = np.random.default_rng([split_seed, 0x5A11D])
        held_blocks = np.sort(rng.choice(n_blocks, size=n_held, replace=False))
        # pieces between run edges and block edges, in the ACGT coordinate
        cuts = np.union1d(cum, np.arange(0, total, size))
        a, b = cuts[:-1], cuts[1:]
        run = np.searchsorted(cum, a, side="right") - 1
        label = np.isin(a // size, held_blocks)
        start = index.run_start[run] + (a - cum[run])
        end = start + (b - a)
        # merge neighbouring pieces of one run with the same label
        new = np.concatenate(([True], (run[1:] != run[:-1]) | (label[1:] != label[:-1])))
        first = np.flatnonzero(new)
        last = np.concatenate((first[1:], [len(a)])) - 1
        g_start, g_end, g_label = start[first], end[last], label[first]
        g_rec = index.run_record[run[first]]
        val = GenomeIntervals(g_start[g_label], g_end[g_label], g_rec[g_label])
        train = GenomeIntervals(g_start[~g_label], g_end[~g_label], g_rec[~g_label])
        desc = {"mode": "fraction", "val_fraction": fraction, "block_bases": size,
                "held_out_blocks": int(n_held), "blocks": int(n_blocks), "split_seed": split_seed}
    if n_runs == 0 or train.bases == 0:
        raise GeneMaskInputError("no ACGT bases are left for training after holding out the "
                                 "validation part.", source=index.files[0],
                                 fix="hold out fewer records or a smaller fraction.")
    if val.bases == 0:
        raise GeneMaskInputError("the validation part holds no ACGT base.", source=index.files[0],
                                 fix="choose other validation records.")
    desc["val_bases"], desc["train_bases"] = val.bases, train.bases
    return train, val, desc


def _draw_block(cum, usable: GenomeIntervals, spec: SegmentSpec, rng, size: int):
    """``size`` segments: (start, length, interval index) arrays (see the module docstring)."""
    total = int(cum[-1])
    start = np.empty(size, dtype=np.int64)
    length = np.empty(size, dtype=np.int64)
    which = np.empty(size, dtype=np.int64)
    todo = np.arange(size)
    for _ in range(_MAX_REDRAWS):
        n = todo.size
        want = np.where(rng.random(n) < spec.p_full, spec.max_len,
                        rng.integers(spec.min_len, spec.max_len + 1, size=n))
        u = rng.integers(0, total, size=n)
        j = np.searchsorted(cum, u, side="right") - 1
        s = usable.start[j] + (u - cum[j])
        got = np.minimum(s + want, usable.end[j]) - s
        start[todo], length[todo], which[todo] = s, got, j
        todo = todo[got < spec.min_len]  # cut short by a run end: draw again
        if not todo.size:
            return start, length, which
    raise GeneMaskInputError("could not draw segments: almost every ACGT run is shorter than "
                             f"{spec.min_len} nt.", fix="give a corpus with longer ACGT stretches.")


def sample_segments(intervals: GenomeIntervals, n: int, seed: int = 0, stream: int = 0,
                    spec: SegmentSpec | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` segments drawn from ``intervals``: global starts, lengths and record indices.

    Segment ``i`` depends on ``(seed, stream, i)`` only (module docstring); memory is
    O(n), independent of the genome's size. ``stream`` separates independent draws
    from one seed (training 0, validation 1).
    """
    spec = spec or SegmentSpec()
    keep = (intervals.end - intervals.start) >= spec.min_len
    usable = GenomeIntervals(intervals.start[keep], intervals.end[keep], intervals.record[keep])
    if n > 0 and not keep.any():
        raise GeneMaskInputError(f"no ACGT stretch of at least {spec.min_len} nt to cut segments "
                                 "from.", fix="give a corpus with longer ACGT stretches.")
    cum = np.concatenate(([0], np.cumsum(usable.end - usable.start)))
    starts, lengths, records = [], [], []
    for block in range(-(-n // BLOCK)):
        rng = np.random.default_rng([seed & 0xFFFFFFFF, stream, block])
        s, length, j = _draw_block(cum, usable, spec, rng, BLOCK)
        take = min(BLOCK, n - block * BLOCK)
        starts.append(s[:take])
        lengths.append(length[:take])
        records.append(usable.record[j[:take]])
    if not starts:
        return (np.empty(0, dtype=np.int64),) * 3
    return np.concatenate(starts), np.concatenate(lengths), np.concatenate(records)
