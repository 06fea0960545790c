"""The built-in demo genome: synthetic, seeded, a few Mbp, with known planted motifs.

Nothing is downloaded: the background is a first-order Markov chain with
human-like dinucleotide statistics (AT-rich, CpG depleted about five-fold),
with soft-masked (lower-case) tandem repeats, short N gaps, and instances of
real JASPAR motifs (read offline through pyjaspar) sampled column by column
from their position frequency matrices at recorded positions and strands.

>>> genome = demo_genome()                  # doctest: +SKIP
>>> genome.records[0].name, genome.motifs.head()
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

from ..errors import GeneMaskInputError
from .fasta import ALPHABET, LETTERS, Record, write_fasta

#: JASPAR2024 CORE vertebrate motifs planted by default (well-known, varied GC)
DEMO_MOTIFS = {"MA0139.2": "CTCF", "MA0079.5": "SP1", "MA0108.3": "TBP", "MA0506.3": "NRF1",
               "MA0095.4": "YY1"}

# Background transition matrix P(next | current), rows/columns in A, T, C, G order.
# Close to human genome dinucleotide frequencies: p(A)=p(T)~0.29, CpG ~1/5 of expectation.
_TRANSITIONS = np.array([
    # A     T     C     G       (next)
    [0.33, 0.26, 0.17, 0.24],  # from A
    [0.22, 0.32, 0.21, 0.25],  # from T
    [0.35, 0.34, 0.26, 0.05],  # from C  (C->G depleted: CpG)
    [0.29, 0.24, 0.21, 0.26],  # from G
])

#: bump when the generator's output changes (invalidates cached demo FASTA files)
GENERATOR_VERSION = 1

#: tandem repeats planted (unit, copies range), soft-masked like RepeatMasker output
_REPEATS = [("CA", (10, 30)), ("A", (15, 40)), ("GGAA", (6, 15)), ("TTAGGG", (4, 10))]


@dataclass(frozen=True)
class DemoGenome:
    """Records plus ground truth.

    records : the chromosomes (upper-case, soft-masked repeats in lower case).
    motifs : one row per planted motif instance: record, start, end (0-based,
        half-open), strand, motif_id, motif_name, site (the planted sequence
        on the + strand).
    repeats : one row per tandem repeat: record, start, end, unit.
    params : what generated it (seed, sizes, motif ids) as JSON-able values.
    """

    records: list[Record]
    motifs: pd.DataFrame
    repeats: pd.DataFrame
    params: dict = field(default_factory=dict)

    @property
    def total_length(self) -> int:
        return sum(len(r) for r in self.records)

    def write_fasta(self, path) -> Path:
        return write_fasta(self.records, path)


@njit(cache=True)
def _markov_chain(first, uniforms, cumulative):
    out = np.empty(uniforms.size, dtype=np.uint8)
    state = first
    for i in range(uniforms.size):
        u = uniforms[i]
        nxt = 3
        for b in range(3):
            if u < cumulative[state, b]:
                nxt = b
                break
        out[i] = nxt
        state = nxt
    return out


@functools.lru_cache(maxsize=8)
def jaspar_pfm(matrix_id: str, release: str = "JASPAR2024") -> np.ndarray:
    """Position frequency matrix (length x 4, columns A, T, C, G, rows sum to 1) from pyjaspar."""
    from pyjaspar import jaspardb

    motif = jaspardb(release=release).fetch_motif_by_id(matrix_id)
    counts = np.array([motif.counts[b] for b in ALPHABET], dtype=float).T
    return counts / counts.sum(axis=1, keepdims=True)


def _sample_sites(pfm: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n sites (n x width codes) drawn column by column from a PFM (vectorised)."""
    cum = np.cumsum(pfm, axis=1)  # width x 4
    u = rng.random((n, pfm.shape[0]))
    return (u[:, :, None] > cum[None, :, :]).sum(axis=2).clip(0, 3).astype(np.uint8)


_COMPLEMENT = np.array([1, 0, 3, 2, 4], dtype=np.uint8)  # A<->T, C<->G in ATCG codes


def demo_genome(seed: int = 0, n_records: int = 4, record_length: int = 500_000,
                motif_ids: tuple[str, ...] = tuple(DEMO_MOTIFS), sites_per_motif: int = 600,
                repeats_per_record: int = 150, gaps_per_record: int = 3) -> DemoGenome:
    """Generate the demo genome (deterministic for a given seed and parameters).

    Defaults: 4 records x 500 kbp = 2 Mbp, 600 sites of each of 5 JASPAR
    motifs (half on each strand), 150 tandem repeats and 3 N gaps per record.
    """
    for name, value, low in (("n_records", n_records, 1), ("record_length", record_length, 1000),
                             ("sites_per_motif", sites_per_motif, 0),
                             ("repeats_per_record", repeats_per_record, 0),
                             ("gaps_per_record", gaps_per_record, 0)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise GeneMaskInputError(f"{name} must be an integer >= {low}, got {value!r}.",
                                     fix="use the defaults: 4 records of 500,000 bp, 600 sites per motif.")
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(_TRANSITIONS, axis=1)
    pfms = {mid: jaspar_pfm(mid) for mid in motif_ids}
    names = {mid: DEMO_MOTIFS.get(mid, mid) for mid in motif_ids}
    seqs, lower = [], []
    for _ in range(n_records):
        seqs.append(_markov_chain(int(rng.integers(4)), rng.random(record_length), cumulative))
        lower.append(np.zeros(record_length, dtype=bool))
    occupied = [np.zeros(record_length, dtype=bool) for _ in range(n_records)]

    def place(width: int, record: int | None = None) -> tuple[int, int]:
        # a random free stretch (rejection sampling; the genome is mostly free)
        for _ in range(1000):
            r = int(rng.integers(n_records)) if record is None else record
            s = int(rng.integers(10, record_length - width - 10))
            if not occupied[r][s - 5:s + width + 5].any():
                occupied[r][s:s + width] = True
                return r, s
        raise GeneMaskInputError(
            f"{n_records} x {record_length:,} bp is too small for {len(motif_ids)} x "
            f"{sites_per_motif} motif sites, the repeats and the gaps.",
            fix="raise record_length or lower sites_per_motif.")

    motif_rows = []
    for mid in motif_ids:
        sites = _sample_sites(pfms[mid], sites_per_motif, rng)
        strands = np.where(rng.random(sites_per_motif) < 0.5, "+", "-")
        for site, strand in zip(sites, strands):
            planted = site if strand == "+" else _COMPLEMENT[site[::-1]]
            r, s = place(site.size)
            seqs[r][s:s + site.size] = planted
            motif_rows.append((f"chr{r + 1}", s, s + site.size, strand, mid, names[mid],
                               LETTERS[planted].tobytes().decode()))
    repeat_rows = []
    for r in range(n_records):
        for _ in range(repeats_per_record):
            unit, (lo, hi) = _REPEATS[int(rng.integers(len(_REPEATS)))]
            copies = int(rng.integers(lo, hi + 1))
            codes = np.tile(np.array([ALPHABET.index(c) for c in unit], np.uint8), copies)
            _, s = place(codes.size, r)
            seqs[r][s:s + codes.size] = codes
            lower[r][s:s + codes.size] = True
            repeat_rows.append((f"chr{r + 1}", s, s + codes.size, unit))
        for _ in range(gaps_per_record):
            length = int(rng.integers(50, 500))
            _, s = place(length, r)
            seqs[r][s:s + length] = 4
    records = []
    for r in range(n_records):
        letters = LETTERS[seqs[r]].copy()
        letters[lower[r]] += 32  # soft-mask: to lower case
        records.append(Record(f"chr{r + 1}", letters.tobytes().decode("ascii")))
    motifs = pd.DataFrame(motif_rows, columns=["record", "start", "end", "strand", "motif_id",
                                               "motif_name", "site"])
    motifs = motifs.sort_values(["record", "start"], ignore_index=True)
    repeats = pd.DataFrame(repeat_rows, columns=["record", "start", "end", "unit"])
    params = dict(seed=seed, n_records=n_records, record_length=record_length,
                  motif_ids=list(motif_ids), sites_per_motif=sites_per_motif,
                  repeats_per_record=repeats_per_record, gaps_per_record=gaps_per_record)
    return DemoGenome(records, motifs, repeats.sort_values(["record", "start"], ignore_index=True),
                      params)


def demo_fasta_path(cache_dir: str | os.PathLike | None = None, **params) -> Path:
    """The demo genome written once as FASTA in a cache folder; returns its path.

    The file name carries a hash of the parameters and of
    :data:`GENERATOR_VERSION`, so different settings or a changed generator
    never reuse an old file. Default folder: ``$GENEMASK_CACHE`` or ``~/.cache/genemask_viz``.
    """
    cache = Path(cache_dir or os.environ.get("GENEMASK_CACHE")
                 or Path.home() / ".cache" / "genemask_viz")
    keyed = dict(params, generator_version=GENERATOR_VERSION)
    key = hashlib.sha1(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:10]
    path = cache / f"demo_genome_{key}.fa"
    if not path.exists():
        genome = demo_genome(**params)
        genome.write_fasta(path)
        genome.motifs.to_csv(path.with_suffix(".motifs.csv"), index=False)
    return path
