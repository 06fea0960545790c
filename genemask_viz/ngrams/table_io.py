"""Reading and writing score tables: ours (CSV/Parquet) and the GeneMask release's ranking.

The release's ``hg38_chr1-3_6mer_npmi_ranking.csv`` has columns
``ngram, naive.pmi, true.pmi, dp.true.pmi, norm_dp_true_pmi, ngram_size, ...,
norm_dp_true_pmi_rank``. Since ``norm = dp * ln c / (ln c + ln 101)``, each
6-mer's count is recovered exactly as

    ln c = norm * ln 101 / (dp - norm)

and the table maps onto ours as: naive_pmi <- naive.pmi, pmi_n <- dp.true.pmi,
genemask_score <- norm_dp_true_pmi, rank <- norm_pmi_rank_rel (rank within n),
p = c / sum(c), npmi = pmi_n / -ln p.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import GeneMaskInputError
from ..sequences.fasta import sniff_first_line
from .scores import TABLE_COLUMNS, add_ranks

RELEASE_MIN_COUNT = 101
_RELEASE_COLUMNS = {"ngram", "naive.pmi", "dp.true.pmi", "norm_dp_true_pmi"}


def check_table_path(path: str | os.PathLike) -> Path:
    """An output table path must end in .csv or .parquet (checked before any long work)."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise GeneMaskInputError(f"unknown table format {path.suffix or '(none)'!r}.", source=path,
                                 fix="name the output .csv or .parquet.")
    return path


def save_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as CSV or Parquet (by extension), atomically (temp file + rename)."""
    path = check_table_path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".csv":  # pyarrow's writer: ~10x pandas' on a million rows
        import pyarrow.csv as pa_csv
        pa_csv.write_csv(pa.Table.from_pandas(table, preserve_index=False), tmp)
    else:
        table.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def import_release_ranking(path: str | os.PathLike) -> pd.DataFrame:
    """Read the GeneMask release's ranking CSV into our table shape (see module docstring)."""
    raw = pd.read_csv(path)
    missing = _RELEASE_COLUMNS - set(raw.columns)
    if missing:
        raise GeneMaskInputError(f"lacks the release columns {sorted(missing)}.", source=path,
                                 fix="give the release's *_npmi_ranking.csv or one of our tables.")
    dp = raw["dp.true.pmi"].to_numpy(float)
    norm = raw["norm_dp_true_pmi"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_c = norm * math.log(RELEASE_MIN_COUNT) / (dp - norm)
    count = np.rint(np.exp(log_c))
    ok = np.isfinite(count) & (count > 0)
    count_col = pd.array(np.where(ok, count, 0).astype(np.int64), dtype="Int64")
    count_col[~ok] = pd.NA
    total = np.nansum(np.where(ok, count, np.nan))
    p = np.where(ok, count / total, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        npmi = dp / -np.log(p)
    n = raw["ngram_size"] if "ngram_size" in raw else raw["ngram"].str.len()
    table = pd.DataFrame({
        "ngram": raw["ngram"].astype(str).str.upper(), "n": n.astype(np.int64), "count": count_col,
        "p": p, "naive_pmi": raw["naive.pmi"].astype(float), "pmi_n": dp, "npmi": npmi,
        "genemask_score": norm})
    # rank within n from the score; this equals the release's norm_pmi_rank_rel
    # (its norm_dp_true_pmi_rank counts over all n-gram lengths, not within n)
    table = add_ranks(table)
    table.attrs["source"] = f"GeneMask release ranking ({Path(path).name})"
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
            head = pd.read_csv(path, nrows=0).columns
            if _RELEASE_COLUMNS <= set(head):
                return import_release_ranking(path)
            table = pd.read_csv(path, dtype={"ngram": str})
    except (ValueError, OSError, pa.ArrowException) as exc:
        if isinstance(exc, GeneMaskInputError):
            raise
        raise GeneMaskInputError(f"cannot be read as a table ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:200]}).", source=path,
                                 fix="give a table written by `genemask npmi` (.csv or .parquet) "
                                     "or the release's ranking CSV.") from None
    missing = {"ngram", "n", "genemask_score"} - set(table.columns)
    if missing:
        raise GeneMaskInputError(f"is not a score table: columns {sorted(missing)} are missing.",
                                 source=path, fix=f"give a table written by `genemask npmi` "
                                                  f"(columns {', '.join(TABLE_COLUMNS)}) or the release CSV.")
    for col in TABLE_COLUMNS:
        if col not in table:
            table[col] = np.nan
    table["rank"] = pd.array(table["rank"], dtype="Int64")
    table.attrs["source"] = path.name
    return table[TABLE_COLUMNS]
