"""Rows of a table as CSV text: the lesson's runs table and the hyperparameter grid's table
download the same way."""
from __future__ import annotations

import csv
import io


def to_csv(rows: list[dict], columns=None) -> str:
    """Rows (dicts) as CSV text with a header; ``columns`` fixes their order (default: the first row's)."""
    out = io.StringIO()
    columns = list(columns or (rows[0].keys() if rows else ()))
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
