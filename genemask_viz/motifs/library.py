"""Motif libraries: JASPAR offline through pyjaspar, and JASPAR / MEME files.

Every motif becomes a Biopython ``Bio.motifs.Motif`` with ``matrix_id`` and
``name`` set, and a :class:`MotifSet` packs a list of them into arrays for
vectorised scoring.

Log-odds (``MotifSet.pssms``), in bits, with JASPAR's pseudocount recipe
(Biopython's ``Bio.motifs.jaspar.calculate_pseudocounts``: ``sqrt(N) * b_x``
for N sites and background ``b``)::

    p_j(x)   = (c_j(x) + sqrt(N) b_x) / (N + sqrt(N))
    s_j(x)   = log2(p_j(x) / b_x)
    IC_j     = 2 + sum_x p_j(x) log2 p_j(x)          (uniform background)

Repeat-derived motifs: many JASPAR zinc-finger motifs were learnt from
KRAB zinc-finger proteins (KZFPs) whose binding sites lie on transposable
elements (Imbeault, Helleboid & Trono 2017). We flag as repeat-derived the
C2H2 zinc-finger motifs of KZFP-style names (ZNF*, ZFP*, ZSCAN*, ZKSCAN*,
ZIM*, ZIK*, PRDM9); SP/KLF, EGR, CTCF, YY1 and other classic C2H2 factors are kept.
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from Bio import motifs as bio_motifs
from Bio.motifs import jaspar as bio_jaspar

from ..errors import GeneMaskInputError

ALPHABET = "ACGT"
DEFAULT_RELEASE = "JASPAR2024"
DEFAULT_COLLECTION = "CORE"
DEFAULT_TAX_GROUP = "vertebrates"
REPEAT_NAME_PATTERN = re.compile(r"^(ZNF|ZFP|ZSCAN|ZKSCAN|ZIM|ZIK|PRDM9)", re.IGNORECASE)


def available_releases() -> list[str]:
    """JASPAR releases that pyjaspar ships (offline sqlite files)."""
    from pyjaspar import jaspardb
    return list(jaspardb().get_releases())


@functools.lru_cache(maxsize=8)
def _fetch_jaspar(release: str, collection: str, tax_group: str | None) -> tuple:
    from pyjaspar import jaspardb
    releases = available_releases()
    if release not in releases:
        raise GeneMaskInputError(f"unknown JASPAR release {release!r}.", source="--jaspar",
                                 fix=f"use one of {', '.join(releases)}.")
    db = jaspardb(release=release)
    kwargs = {"collection": collection}
    if tax_group:
        kwargs["tax_group"] = [tax_group]
    found = db.fetch_motifs(**kwargs)
    if not found:
        raise GeneMaskInputError(
            f"JASPAR {release} has no motifs in collection {collection!r}, tax group {tax_group!r}.",
            source="--jaspar", fix="use collection CORE and a tax group such as vertebrates.")
    return tuple(found)


def load_jaspar(release: str = DEFAULT_RELEASE, collection: str = DEFAULT_COLLECTION,
                tax_group: str | None = DEFAULT_TAX_GROUP) -> list:
    """The latest version of every motif of a JASPAR release (cached per process).

    JASPAR2024 CORE vertebrates holds 879 motifs. Returns a new list of
    Biopython motifs (shared objects: do not modify them).
    """
    return list(_fetch_jaspar(release, collection, tax_group))


def _motif_from_counts(counts: dict[str, list[float]], matrix_id: str, name: str):
    motif = bio_motifs.Motif(alphabet=ALPHABET, counts={b: list(map(float, counts[b])) for b in ALPHABET})
    motif.matrix_id = matrix_id
    motif.name = name
    return motif


def _bad(path, line, message, fix):
    return GeneMaskInputError(message, source=path, line=line, fix=fix)


_JASPAR_ROW = re.compile(r"^\s*([ACGTacgt])?\s*\[?\s*([^\]]*?)\s*\]?\s*$")


def _parse_jaspar(path: Path, lines: list[str]) -> list:
    fix = ("each motif is a '>ID NAME' line followed by four rows 'A [ counts ]', "
           "'C [ ... ]', 'G [ ... ]', 'T [ ... ]' of equal length.")
    found, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        if not lines[i].startswith(">"):
            raise _bad(path, i + 1, f"expected a '>ID NAME' header, found {lines[i][:40]!r}.", fix)
        head = lines[i][1:].split()
        if not head:
            raise _bad(path, i + 1, "empty motif header.", fix)
        matrix_id, name = head[0], (" ".join(head[1:]) or head[0])
        rows = {}
        for j, base in enumerate(ALPHABET):
            ln = i + 1 + j
            if ln >= len(lines):
                raise _bad(path, ln + 1, f"motif {matrix_id} ends before its {base} row.", fix)
            m = _JASPAR_ROW.match(lines[ln])
            label = (m.group(1) or base).upper() if m else None
            if not m or label != base:
                raise _bad(path, ln + 1, f"expected the {base} row of {matrix_id}, "
                                         f"found {lines[ln][:40]!r}.", fix)
            try:
                rows[base] = [float(v) for v in m.group(2).split()]
            except ValueError:
                raise _bad(path, ln + 1, f"non-numeric count in row {base} of {matrix_id}: "
                                         f"{m.group(2)[:40]!r}.", fix) from None
        widths = {len(v) for v in rows.values()}
        if len(widths) != 1 or 0 in widths:
            raise _bad(path, i + 2, f"motif {matrix_id} rows have lengths "
                                    f"{[len(rows[b]) for b in ALPHABET]}.", fix)
        if any(v < 0 or not math.isfinite(v) for r in rows.values() for v in r):
            raise _bad(path, i + 2, f"motif {matrix_id} has a negative or non-finite count.", fix)
        found.append(_motif_from_counts(rows, matrix_id, name))
        i += 5
    return found


def _parse_meme(path: Path, lines: list[str]) -> list:
    fix = ("MEME minimal format: 'MOTIF ID NAME', then 'letter-probability matrix: "
           "alength= 4 w= W nsites= N' and W rows of 4 probabilities (A C G T).")
    alphabet_ok = any(l.startswith("ALPHABET") and "ACGT" in l.replace(" ", "") for l in lines) \
        or not any(l.startswith("ALPHABET") for l in lines)
    if not alphabet_ok:
        raise _bad(path, None, "only the DNA alphabet ACGT is supported.", fix)
    found, i, motif_id, motif_name = [], 0, None, None
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("MOTIF"):
            parts = line.split()
            if len(parts) < 2:
                raise _bad(path, i + 1, "MOTIF line without an identifier.", fix)
            motif_id, motif_name = parts[1], (parts[2] if len(parts) > 2 else parts[1])
        elif line.startswith("letter-probability matrix"):
            if motif_id is None:
                raise _bad(path, i + 1, "matrix before any MOTIF line.", fix)
            w = re.search(r"w=\s*(\d+)", line)
            nsites = re.search(r"nsites=\s*([\d.eE+]+)", line)
            width = int(w.group(1)) if w else None
            n = float(nsites.group(1)) if nsites else 20.0
            rows, j = [], i + 1
            while j < len(lines) and (width is None or len(rows) < width):
                text = lines[j].strip()
                if not text or text.startswith(("MOTIF", "URL")):
                    break
                try:
                    vals = [float(v) for v in text.split()]
                except ValueError:
                    raise _bad(path, j + 1, f"non-numeric row in motif {motif_id}: {text[:40]!r}.",
                               fix) from None
                if len(vals) != 4 or any(v < 0 for v in vals) or abs(sum(vals) - 1) > 0.02:
                    raise _bad(path, j + 1, f"row of motif {motif_id} is not 4 probabilities "
                                            f"summing to 1: {text[:40]!r}.", fix)
                rows.append(vals)
                j += 1
            if not rows or (width is not None and len(rows) != width):
                raise _bad(path, i + 1, f"motif {motif_id} declares w= {width} but has "
                                        f"{len(rows)} rows.", fix)
            probs = np.array(rows)
            counts = {b: list(probs[:, k] * n) for k, b in enumerate(ALPHABET)}
            found.append(_motif_from_counts(counts, motif_id, motif_name))
            motif_id, i = None, j
            continue
        i += 1
    return found


def read_motifs(path: str | os.PathLike, fmt: str | None = None) -> list:
    """Motifs from a JASPAR (``.jaspar``/``.pfm``, bracketed or plain rows) or MEME file.

    ``fmt`` is ``"jaspar"`` or ``"meme"``; guessed from the content when None.
    A malformed file raises :class:`GeneMaskInputError` naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise GeneMaskInputError("motif file not found.", source=path,
                                 fix="give the path of a JASPAR or MEME motif file.")
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError:
        raise GeneMaskInputError("motif file is not text.", source=path,
                                 fix="give a JASPAR or MEME text file.") from None
    if fmt is None:
        fmt = "meme" if any(l.startswith("MEME version") or l.startswith("MOTIF") for l in lines) \
            else "jaspar"
    if fmt not in ("jaspar", "meme"):
        raise GeneMaskInputError(f"unknown motif format {fmt!r}.", source=path,
                                 fix="use 'jaspar' or 'meme'.")
    found = _parse_jaspar(path, lines) if fmt == "jaspar" else _parse_meme(path, lines)
    if not found:
        raise GeneMaskInputError(f"no motifs found in this {fmt.upper()} file.", source=path,
                                 fix="check the file format.")
    return found


def resolve_motifs(spec: str | os.PathLike | list) -> list:
    """A motif list from a release name (``JASPAR2024``), a file path, or a list of motifs."""
    if isinstance(spec, (list, tuple)):
        return list(spec)
    text = str(spec)
    if re.fullmatch(r"JASPAR\d{4}", text, re.IGNORECASE):
        return load_jaspar(text.upper())
    return read_motifs(text)


def is_repeat_derived(motif) -> bool:
    """True for KZFP-style zinc-finger motifs (see the module docstring)."""
    return bool(REPEAT_NAME_PATTERN.match(str(getattr(motif, "name", "") or "")))


def _counts_array(motif) -> np.ndarray:
    return np.array([[motif.counts[b][i] for b in ALPHABET] for i in range(motif.length)], float)


@dataclass
class MotifSet:
    """Motifs packed for scoring. Arrays are per motif, columns in A, C, G, T order.

    ``pssms[m]`` has shape (L_m, 4), log2-odds; ``probs[m]`` (L_m, 4);
    ``ic[m]`` (L_m,) bits per column (uniform background).
    """

    ids: list[str]
    names: list[str]
    probs: list[np.ndarray]
    pssms: list[np.ndarray]
    ic: list[np.ndarray]
    repeat_derived: np.ndarray
    families: list[str] = field(default_factory=list)
    motifs: list = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def widths(self) -> np.ndarray:
        return np.array([len(p) for p in self.pssms])


def motif_set(motifs: list, background: dict | None = None) -> MotifSet:
    """Pack Biopython motifs into a :class:`MotifSet` (JASPAR pseudocounts, see module doc)."""
    if not motifs:
        raise GeneMaskInputError("no motifs to score against.", fix="load a JASPAR release or a motif file.")
    bg = np.array([(background or {}).get(b, 0.25) for b in ALPHABET], float)
    bg = bg / bg.sum()
    ids, names, probs, pssms, ics, fams = [], [], [], [], [], []
    for m in motifs:
        c = _counts_array(m)
        n_sites = c.sum(axis=1).mean()
        pseudo = math.sqrt(n_sites) * bg if n_sites > 0 else bg
        p = (c + pseudo) / (c.sum(axis=1, keepdims=True) + pseudo.sum())
        ids.append(str(getattr(m, "matrix_id", None) or m.name))
        names.append(str(m.name))
        probs.append(p)
        pssms.append(np.log2(p / bg))
        ics.append(2.0 + (p * np.log2(p)).sum(axis=1))
        fam = getattr(m, "tf_family", None)
        fams.append("; ".join(fam) if isinstance(fam, list) else str(fam or ""))
    rep = np.array([is_repeat_derived(m) for m in motifs])
    return MotifSet(ids, names, probs, pssms, ics, rep, fams, list(motifs))


def biopython_pssm(motif, background: dict | None = None):
    """Biopython's own PSSM with the same pseudocounts as :func:`motif_set` (for checks)."""
    m = bio_motifs.Motif(alphabet=ALPHABET, counts={b: list(motif.counts[b]) for b in ALPHABET})
    m.background = background or {b: 0.25 for b in ALPHABET}
    m.pseudocounts = bio_jaspar.calculate_pseudocounts(m)
    return m.pssm
