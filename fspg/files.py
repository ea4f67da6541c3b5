"""Files in and out for the CLI: Parquet, CSV and JSON Lines as batch sources, results
to Parquet or CSV.

Parquet is the fast path (typed, streamed). CSV is read with every column as text, so a
value that does not parse quarantines its row instead of failing the file; JSON Lines
keeps JSON's own types.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from fspg.arrow import BatchSource
from fspg.errors import UserError

READ_CHUNK = 65_536


def detect_format(path: Path) -> str:
    """parquet, csv or jsonl, from the file name."""
    name = path.name.lower()
    for suffix, fmt in ((".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv"), (".csv.gz", "csv"),
                        (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl")):
        if name.endswith(suffix):
            return fmt
    raise UserError(f"{path}: unknown file type", hint="use .parquet, .csv or .jsonl")


def open_source(path: str | Path) -> tuple[BatchSource, int | None]:
    """A re-readable BatchSource over a file, and its row count when the format tells it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    fmt = detect_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(path)
            return BatchSource(meta.schema_arrow, lambda: pq.ParquetFile(path).iter_batches(batch_size=READ_CHUNK),
                               rewindable=True), meta.metadata.num_rows
        if fmt == "csv":
            import pyarrow.csv as csv

            names = csv.open_csv(path).schema.names
            options = csv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
            first = csv.open_csv(path, convert_options=options)
            return BatchSource(first.schema, lambda: _csv_batches(path, options), rewindable=True), None
        import pyarrow.json as pj

        table = pj.read_json(path)
        return BatchSource(table.schema, lambda: iter(table.to_batches(max_chunksize=READ_CHUNK)),
                           rewindable=True, table=table), table.num_rows
    except (pa.ArrowInvalid, OSError) as err:
        raise UserError(f"{path}: cannot read as {fmt}: {err}") from err


def _csv_batches(path: Path, options):
    """The batches of a CSV file; a ragged row anywhere refuses the file with its line
    (the batch is one transaction, so nothing of it lands)."""
    import pyarrow.csv as csv

    ragged = []

    def on_invalid(row) -> str:
        ragged.append(row)
        return "error"

    reader = csv.open_csv(path, convert_options=options, parse_options=csv.ParseOptions(invalid_row_handler=on_invalid))
    try:
        yield from reader
    except pa.ArrowInvalid as err:
        if not ragged:
            raise UserError(f"{path}: cannot read as csv: {err}") from err
        row = ragged[0]
        where = f"line {row.number}" if row.number is not None else f"the row {row.text[:60]!r}"
        raise UserError(f"{path}: {where} has {row.actual_columns} fields, the header {row.expected_columns}",
                        hint="fix the file; nothing of it was written") from err


def write_table(table: pa.Table, path: str | Path) -> None:
    """Write a result to .parquet or .csv."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif fmt == "csv":
        import pyarrow.csv as csv

        csv.write_csv(table, path)
    else:
        import json

        with path.open("w") as fh:
            for row in table.to_pylist():
                fh.write(json.dumps(row, default=str) + "\n")


def content_key(path: str, timestamp: str | None = None) -> str:
    """The batch key of a file: its content's SHA-256 (and the timestamp given for its rows,
    which is part of what lands), so the same file ingested twice lands once."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}" + (f"@{timestamp}" if timestamp else "")
