"""A student's own CSV as a table to learn: ``read_csv_table`` / ``csv_table`` give a numeric
target, numeric and categorical (one-hot) features, limits on bytes, rows and columns, and a
sentence for every file that cannot be used (``TableError``). No Gradio here.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...i18n import Text
from .table import Table, TableError, make_table

# ----------------------------------------------------------------------------- the student's CSV
MAX_CSV_BYTES = 5 * 1024 * 1024    # 5 MB: a big spreadsheet, far below the app's 10 MB upload limit
MAX_ROWS = 20_000                  # rows of data (training takes a few seconds at most)
MAX_COLUMNS = 50                   # columns in the file
MAX_CATEGORIES = 30                # different values a text column may have to be one-hot encoded
MAX_ENCODED = 200                  # feature columns after one-hot encoding
MIN_ROWS = 20                      # fewer cannot be split into training and test rows
TEST_SHARE = 0.2                   # a fifth of the rows are kept for the test
MAX_CSV_MB = MAX_CSV_BYTES // (1024 * 1024)
LIMITS_TEXT = Text("weather.csv_limits", mb=MAX_CSV_MB, min_rows=MIN_ROWS, max_rows=MAX_ROWS, columns=MAX_COLUMNS,
                   categories=MAX_CATEGORIES)


@dataclass
class Column:
    name: str
    kind: str                      # "number" | "category" | "unusable"
    missing: int                   # empty cells
    values: int                    # different values
    why: Text | str = ""           # for "unusable": why it cannot be a feature (a Text)


@dataclass
class CsvTable:
    frame: pd.DataFrame
    columns: list[Column]
    separator: str

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise TableError(Text("weather.no_column", name=name))

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "number"]


def _decode(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        raise TableError(Text("weather.zipped"))
    if b"\x00" in data[:8192]:
        raise TableError(Text("weather.binary"))
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError(Text("weather.undecodable"))


def _separator(text: str) -> str:
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_csv_table(source: str | Path | bytes) -> CsvTable:
    """A student's CSV, checked against the limits; every column typed. Raises TableError."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError:
            raise TableError(Text("weather.unreadable")) from None
        if size > MAX_CSV_BYTES:
            raise TableError(Text("weather.too_big", size=size / 1024 / 1024, mb=MAX_CSV_MB, max_rows=MAX_ROWS))
        data = path.read_bytes()
    if len(data) > MAX_CSV_BYTES:
        raise TableError(Text("weather.over_limit", mb=MAX_CSV_MB, max_rows=MAX_ROWS))
    text = _decode(data)
    if not text.strip():
        raise TableError(Text("weather.empty"))
    sep = _separator(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, nrows=MAX_ROWS + 1, skipinitialspace=True,
                            decimal="," if sep == ";" else ".",      # European spreadsheets: 12,5;3,1
                            on_bad_lines="error", engine="c", low_memory=False)
    except pd.errors.EmptyDataError:
        raise TableError(Text("weather.empty")) from None
    except (pd.errors.ParserError, ValueError) as err:
        line = _line_of(str(err))
        raise TableError(Text("weather.ragged_at", line=line) if line else Text("weather.ragged")) from None
    if len(frame) > MAX_ROWS:
        raise TableError(Text("weather.too_many_rows", max_rows=MAX_ROWS))
    if frame.shape[1] > MAX_COLUMNS:
        raise TableError(Text("weather.too_many_columns", columns=frame.shape[1], most=MAX_COLUMNS))
    if frame.shape[1] < 2:
        raise TableError(Text("weather.one_column"))
    if len(frame) < MIN_ROWS:
        raise TableError(Text("weather.too_few_rows", rows=len(frame), least=MIN_ROWS))
    frame.columns = [str(c).strip() for c in frame.columns]
    if any(c.startswith("Unnamed: ") for c in frame.columns) or frame.columns.duplicated().any():
        raise TableError(Text("weather.unnamed"))
    columns = [_column(frame, name) for name in frame.columns]
    for c in columns:
        if c.kind == "number":
            frame[c.name] = pd.to_numeric(frame[c.name], errors="coerce")
    if not any(c.kind == "number" for c in columns):
        raise TableError(Text("weather.no_numbers"))
    return CsvTable(frame, columns, sep)


def _line_of(message: str) -> int | None:
    import re
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def _column(frame: pd.DataFrame, name: str) -> Column:
    raw = frame[name]
    missing = int(raw.isna().sum())
    present = raw.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    values = int(present.nunique())
    if len(present) and numbers.notna().all():
        return Column(name, "number", missing, values)
    if len(present) == 0:
        return Column(name, "unusable", missing, 0, Text("weather.why_empty"))
    if numbers.notna().mean() >= 0.8:
        bad = present[numbers.isna()].iloc[0]
        return Column(name, "unusable", missing, values, Text("weather.why_mixed", sample=str(bad)[:20]))
    if values > MAX_CATEGORIES:
        return Column(name, "unusable", missing, values, Text("weather.why_ids", values=values, most=MAX_CATEGORIES))
    return Column(name, "category", missing, values)


def csv_table(table: CsvTable, target: str, features: list[str], drop_missing: bool = False,
              split: str = "random", seed: int = 0) -> Table:
    """The student's table, ready to learn: numbers standardised, texts one-hot encoded (with the
    categories seen in the training rows), ``split`` "random" (a random fifth for the test) or
    "last" (the last fifth: for rows in time order)."""
    col = table.column(target)
    if col.kind != "number":
        raise TableError(Text("weather.target_text" if col.kind == "category" else "weather.target_unusable",
                              target=target))
    features = [f for f in features if f != target]
    if not features:
        raise TableError(Text("weather.no_features"))
    chosen = [table.column(f) for f in features]
    unusable = [c for c in chosen if c.kind == "unusable"]
    if unusable:
        c = unusable[0]
        raise TableError(Text("weather.feature_unusable", name=c.name, why=c.why))
    frame = table.frame[[target] + features]
    notes = []
    gaps = {c: int(n) for c, n in frame.isna().sum().items() if n}
    if gaps:
        if not drop_missing:
            first = next(iter(gaps))
            rows = (frame.index[frame[first].isna()][:3] + 2).tolist()       # file lines (header is line 1)
            listed = ", ".join(f"'{c}' ({n})" for c, n in list(gaps.items())[:4])
            raise TableError(Text("weather.empty_cells", listed=listed, first=first, lines=", ".join(map(str, rows))))
        before = len(frame)
        frame = frame.dropna()
        notes.append(Text("weather.dropped", rows=before - len(frame)))
        if len(frame) < MIN_ROWS:
            raise TableError(Text("weather.too_few_full_rows", rows=len(frame), least=MIN_ROWS))
    y = frame[target].to_numpy(float)
    if np.nanstd(y) == 0:
        raise TableError(Text("weather.constant_target", target=target))
    n = len(frame)
    n_test = max(1, round(n * TEST_SHARE))
    if split == "last":
        test_idx = np.arange(n - n_test, n)
    else:
        test_idx = np.sort(np.random.default_rng(seed).permutation(n)[:n_test])
    is_test = np.zeros(n, bool)
    is_test[test_idx] = True
    train_f, test_f = frame[~is_test], frame[is_test]
    names, train_cols, test_cols = [], [], []
    for c in chosen:
        if c.kind == "number":
            names.append(c.name)
            train_cols.append(train_f[c.name].to_numpy(float)[:, None])
            test_cols.append(test_f[c.name].to_numpy(float)[:, None])
        else:
            cats = sorted(train_f[c.name].astype(str).unique())
            names += [f"{c.name}={v}" for v in cats]
            train_cols.append((train_f[c.name].astype(str).to_numpy()[:, None] == np.array(cats)).astype(float))
            test_cols.append((test_f[c.name].astype(str).to_numpy()[:, None] == np.array(cats)).astype(float))
    if len(names) > MAX_ENCODED:
        raise TableError(Text("weather.too_many_features", features=len(names), most=MAX_ENCODED))
    line = pd.Series(frame.index.to_numpy() + 2)               # the file's line numbers, for plots
    return make_table("your table", target, "", names, np.hstack(train_cols), train_f[target],
                      np.hstack(test_cols), test_f[target], line[~is_test], line[is_test], notes=notes)
