"""Reading and writing score tables: ours (CSV/Parquet) and the GeneMask release's ranking.

The release's ``hg38_chr1-3_6mer_npmi_ranking.csv`` has columns
``ngram, naive.pmi, true.pmi, dp.true.pmi, norm_dp_true_pmi, ngram_size, ...,
norm_dp_true_pmi_rank``. Since ``norm = dp * ln c / (ln c + ln 101)``, each
6-mer's count is recovered exactly as

    ln c = norm * ln 101 / (dp - norm)

Its scores are not PMI_n (spec section 2; :mod:`.release` reproduces them),
so they keep the release's meaning: release_naive_pmi <- naive.pmi,
release_true_pmi <- true.pmi, release_dp_pmi <- dp.true.pmi, release_score <-
norm_dp_true_pmi, rank <- rank by release_score within n (= its
norm_pmi_rank_rel), p = c / sum(c); ``attrs["scoring"] = "release"``. When the
file lists all 4^6 6-mers, the exact columns (naive_pmi, pmi_n, npmi,
genemask_score) are added, computed from the recovered counts (shorter counts
by marginalising; :func:`.release.counts_from_release_6mers`), so one file
gives both rankings, each under its own name.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import GeneMaskInputError
from ..sequences.fasta import read_capped, sniff_first_line
from .release import RELEASE_TABLE_COLUMNS, counts_from_release_6mers, recover_release_counts
from .scores import (RANKING_COLUMNS, TABLE_COLUMNS, add_ranks, ranking_column,  # noqa: F401
                     ranking_name, score_table, table_scoring)

RELEASE_MIN_COUNT = 101
_RELEASE_COLUMNS = {"ngram", "naive.pmi", "dp.true.pmi", "norm_dp_true_pmi"}


def check_table_path(path: str | os.PathLike) -> Path:
    """An output table path must end in .csv or .parquet (checked before any long work)."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise GeneMaskInputError(f"unknown table format {path.suffix or '(none)'!r}.", source=path,
                                 fix="name the output .csv or .parquet.")
    if path.is_dir():
        raise GeneMaskInputError("is a folder; the output table must be a file.", source=path,
                                 fix="name a file, e.g. scores.csv.")
    return path


def save_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as CSV or Parquet (by extension), atomically (temp file + rename)."""
    path = check_table_path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if suffix == ".csv":  # pyarrow's writer: ~10x pandas' on a million rows
            import pyarrow.csv as pa_csv
            pa_csv.write_csv(pa.Table.from_pandas(table, preserve_index=False), tmp)
        else:
            table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # no temp file left (full disk, folder in the way, ^C)
        raise
    return path


def import_release_ranking(path: str | os.PathLike, data: bytes | None = None,
                           exact: bool = True) -> pd.DataFrame:
    """Read the GeneMask release's ranking CSV (see module docstring); ``data``: its bytes,
    already read (``path`` then only names it). ``exact``: add the exact PMI_n columns
    from the recovered counts when the file lists every 6-mer."""
    raw = pd.read_csv(path if data is None else io.BytesIO(data), dtype={"ngram": str})
    missing = _RELEASE_COLUMNS - set(raw.columns)
    if missing:
        raise GeneMaskInputError(f"lacks the release columns {sorted(missing)}.", source=path,
                                 fix="give the release's *_npmi_ranking.csv or one of our tables.")
    dp = raw["dp.true.pmi"].to_numpy(float)
    norm = raw["norm_dp_true_pmi"].to_numpy(float)
    count, ok = recover_release_counts(dp, norm, RELEASE_MIN_COUNT)
    count_col = pd.array(count, dtype="Int64")
    count_col[~ok] = pd.NA
    total = count[ok].sum()
    p = np.where(ok, count / max(total, 1), np.nan)
    n = raw["ngram_size"] if "ngram_size" in raw else raw["ngram"].str.len()
    ngram = raw["ngram"].astype(str).str.upper()
    true = raw["true.pmi"].astype(float) if "true.pmi" in raw else np.full(len(raw), np.nan)
    table = pd.DataFrame({
        "ngram": ngram, "n": n.astype(np.int64), "count": count_col, "p": p,
        "release_naive_pmi": raw["naive.pmi"].astype(float), "release_true_pmi": true,
        "release_dp_pmi": dp, "release_score": norm})
    if exact and len(raw) == 4 ** 6 and ok.all() and (table["n"] == 6).all():
        counts = counts_from_release_6mers(ngram, count, source=Path(path).name)
        ex = score_table(counts, min_count=RELEASE_MIN_COUNT, ns=[6], scoring="exact")
        cols = ["naive_pmi", "pmi_n", "npmi", "genemask_score"]
        table = table.join(ex.set_index("ngram")[cols], on="ngram")
    name = Path(path).name
    where = "hg38 chr1-3" if "hg38_chr1-3" in name else name
    table.attrs.update(scoring="release", ranking_names={
        "release": f"GeneMask release score (dp.true.pmi, {where})",
        "exact": f"exact PMI_n GeneMask score ({where}, counts recovered from the release ranking)"})
    # rank within n from release_score; this equals the release's norm_pmi_rank_rel
    # (its norm_dp_true_pmi_rank counts over all n-gram lengths, not within n)
    table = add_ranks(table)
    table.attrs["source"] = f"GeneMask release ranking ({name})"
    return table


def load_table(path: str | os.PathLike) -> pd.DataFrame:
    """Load a score table: ours (CSV or Parquet) or the release's ranking CSV."""
    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            if not path.exists():
                raise GeneMaskInputError("file not found.", source=path, fix="check the path.")
            table = pd.read_parquet(path)
        else:
            sniff_first_line(path)
            data = read_capped(path)  # bounded: a gzip bomb or a 1 GB line is refused
            head = pd.read_csv(io.BytesIO(data), nrows=0).columns
            if _RELEASE_COLUMNS <= set(head):
                return import_release_ranking(path, data=data)
            table = pd.read_csv(io.BytesIO(data), dtype={"ngram": str})
            del data
    except (ValueError, OSError, EOFError, TypeError, pa.ArrowException) as exc:
        if isinstance(exc, GeneMaskInputError):
            raise
        raise GeneMaskInputError(f"cannot be read as a table ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:200]}).", source=path,
                                 fix="give a table written by `genemask npmi` (.csv or .parquet) "
                                     "or the release's ranking CSV.") from None
    missing = {"ngram", "n"} - set(table.columns)
    if missing or not set(RANKING_COLUMNS.values()) & set(table.columns):
        need = sorted(missing) or ["genemask_score (or release_score)"]
        raise GeneMaskInputError(f"is not a score table: columns {need} are missing.",
                                 source=path, fix=f"give a table written by `genemask npmi` "
                                                  f"(columns {', '.join(TABLE_COLUMNS)}) or the release CSV.")
    scoring = table_scoring(table)  # from the columns: a CSV keeps no attributes
    # the declared scoring's columns first; the other scoring's, when present, after them
    own, other = ((TABLE_COLUMNS, RELEASE_TABLE_COLUMNS) if scoring == "exact"
                  else (RELEASE_TABLE_COLUMNS, TABLE_COLUMNS))
    columns = own[:-1] + [c for c in other[4:-1] if c in table] + ["rank"]
    for col in columns:
        if col not in table:
            table[col] = np.nan
    table["n"] = _checked_whole(table["n"], path, "n", required=True)
    table["rank"] = _checked_whole(table["rank"], path, "rank")
    for col in set(RANKING_COLUMNS.values()) & set(table.columns):
        table[col] = _checked_number(table[col], path, col)
    table = table[columns]
    table.attrs.update(source=path.name, scoring=scoring)
    return table


def _as_floats(raw: pd.Series) -> np.ndarray:
    try:
        return pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        return np.full(len(raw), np.nan)


def _bad_value(raw: pd.Series, i: int, path: Path, name: str, what: str, fix: str):
    csv = path.suffix.lower() not in (".parquet", ".pq")
    value = raw.iloc[i]
    shown = "(empty)" if pd.isna(value) else repr(value.item() if hasattr(value, "item") else value)
    return GeneMaskInputError(f"{name} {shown} is not {what}.", source=path,
                              line=i + 2 if csv else None, fix=fix)  # CSV line = row + 2


def _checked_whole(raw: pd.Series, path: Path, name: str, required: bool = False):
    """A column of whole numbers (``n``, ``rank``) as Int64; anything else (1.5, inf, text,
    and for ``required`` columns an empty cell) is an error naming the row."""
    values = _as_floats(raw)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (np.mod(values, 1) == 0) & (np.abs(values) < 2 ** 53)
    bad = np.flatnonzero(~ok & (True if required else raw.notna().to_numpy()))
    if bad.size:
        raise _bad_value(raw, int(bad[0]), path, name, "a whole number",
                         "n is the n-gram length; ranks are 1, 2, 3, ... (or empty for unscored "
                         "rows; leave the column out to have it computed from the scores).")
    out = pd.array(np.where(ok, values, 0).astype(np.int64), dtype="Int64")
    out[~ok] = pd.NA
    return out


def _checked_number(raw: pd.Series, path: Path, name: str) -> np.ndarray:
    """A score column as float64; text that is not a number is an error naming the row
    (empty cells are unscored n-grams: NaN)."""
    values = _as_floats(raw)
    bad = np.flatnonzero(np.isnan(values) & raw.notna().to_numpy()
                         & ~raw.astype(str).str.strip().str.lower().isin(["nan", ""]).to_numpy())
    if bad.size:
        raise _bad_value(raw, int(bad[0]), path, name, "a number",
                         "scores are numbers (empty for unscored n-grams).")
    return values
