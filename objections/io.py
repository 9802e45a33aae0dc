"""Reading and writing tables: CSV, TSV, JSONL, Parquet and XLSX.

Text formats are read with every cell as a string, so ids such as
``00123`` come back out exactly as they went in.  Output is written to a
temporary file beside the target and renamed into place only when complete.
"""

from __future__ import annotations

import difflib
import io as _io
import os
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from .errors import InputError
from .labels import parse_labels

__all__ = [
    "FORMATS",
    "table_format",
    "iter_chunks",
    "read_table",
    "read_labelled",
    "resolve_text_column",
    "TableWriter",
    "check_output_path",
    "check_model_output",
    "XLSX_MAX_BYTES",
]

FORMATS = ("csv", "tsv", "jsonl", "parquet", "xlsx")
_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
}
#: XLSX is read whole into memory; larger files must be converted first.
XLSX_MAX_BYTES = 50 * 1024 * 1024
_TEXT_HINTS = ("text", "note", "notes", "body", "comment", "reason", "description",
               "transcript", "message", "content", "email", "summary", "details")


def table_format(path, fmt=None):
    """The format of a path from its extension (``-`` is CSV)."""
    if fmt:
        if fmt not in FORMATS:
            raise InputError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt
    if str(path) == "-":
        return "csv"
    suffixes = Path(str(path)).suffixes
    ext = suffixes[-1].lower() if suffixes else ""
    if ext == ".gz" and len(suffixes) > 1:
        ext = suffixes[-2].lower()
    if ext not in _EXTENSIONS:
        raise InputError(
            f"Cannot tell the format of {path} from its extension; use .csv, .tsv, .jsonl, "
            ".parquet or .xlsx (or pass --format)"
        )
    return _EXTENSIONS[ext]


class _CountingReader(_io.RawIOBase):
    """A binary stream that counts the bytes read through it (for progress)."""

    def __init__(self, raw):
        self.raw = raw
        self.count = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n


def _sniff_binary(path, fmt):
    """Refuse files whose first bytes show they are not the text format claimed."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a table") from None
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except PermissionError:
        raise InputError(f"{path} cannot be read (permission denied)") from None
    kinds = {b"%PDF": "a PDF", b"PK\x03\x04": "a ZIP/XLSX/DOCX file", b"PAR1": "a Parquet file",
             b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"\x1f\x8b": "gzip-compressed"}
    if fmt in ("csv", "tsv", "jsonl"):
        for magic, kind in kinds.items():
            if head.startswith(magic) and not str(path).endswith(".gz"):
                raise InputError(f"{path} looks like {kind}, not {fmt.upper()} text")
        if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InputError(
                f"{path} contains NUL bytes: it looks binary, not {fmt.upper()} text "
                "(for UTF-16 files pass --encoding utf-16)"
            )
    elif fmt == "parquet" and head[:4] != b"PAR1":
        raise InputError(f"{path} is not a Parquet file (it does not start with the Parquet magic bytes)")
    elif fmt == "xlsx" and head[:4] != b"PK\x03\x04":
        raise InputError(f"{path} is not an XLSX workbook")


def _decode_error(path, exc, encoding):
    return InputError(
        f"{path} is not valid {encoding}: byte 0x{exc.object[exc.start]:02x} at offset "
        f"{exc.start} of a read block cannot be decoded. Pass --encoding latin-1 (or the "
        "file's real encoding, e.g. cp1252)."
    )


def iter_chunks(path, fmt=None, chunksize=5000, encoding="utf-8", on_bad_lines="error",
                stats=None):
    """Read a table in chunks of rows.

    Parameters
    ----------
    path : str or Path
        The file, or ``"-"`` for CSV on standard input.
    fmt : str, optional
        One of :data:`FORMATS`; taken from the extension when omitted.
    chunksize : int
        Rows per chunk (Parquet yields row groups split to this size).
    encoding : str
        Encoding of text formats.
    on_bad_lines : {"error", "skip"}
        What to do with CSV/TSV rows with the wrong number of fields.
    stats : dict, optional
        Filled as reading goes: ``bytes_read``, ``bytes_total``,
        ``rows_total`` (Parquet), ``bad_lines``.

    Yields
    ------
    pandas.DataFrame
        Chunks whose index counts rows from 0 across the whole file.
    """
    fmt = table_format(path, fmt)
    stats = stats if stats is not None else {}
    stats.setdefault("bad_lines", 0)
    stats.setdefault("bytes_read", 0)
    if str(path) != "-":
        _sniff_binary(path, fmt)
        stats["bytes_total"] = os.path.getsize(path)
    offset = 0
    for chunk in _raw_chunks(path, fmt, chunksize, encoding, on_bad_lines, stats):
        chunk.index = pd.RangeIndex(offset, offset + len(chunk))
        offset += len(chunk)
        yield chunk


def _raw_chunks(path, fmt, chunksize, encoding, on_bad_lines, stats):
    if fmt in ("csv", "tsv"):
        yield from _csv_chunks(path, fmt, chunksize, encoding, on_bad_lines, stats)
    elif fmt == "jsonl":
        yield from _jsonl_chunks(path, chunksize, encoding, stats)
    elif fmt == "parquet":
        yield from _parquet_chunks(path, chunksize, stats)
    else:
        size = os.path.getsize(path)
        if size > XLSX_MAX_BYTES:
            raise InputError(
                f"{path} is {size / 2**20:.0f} MB; XLSX files are read whole into memory and "
                f"the limit is {XLSX_MAX_BYTES // 2**20} MB. Save it as CSV or Parquet to stream it."
            )
        try:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        except Exception as exc:
            raise InputError(f"{path} cannot be read as an XLSX workbook: {exc}") from exc
        stats["bytes_read"] = size
        for start in range(0, max(len(frame), 1), chunksize):
            yield frame.iloc[start : start + chunksize]
        if frame.empty:
            return


def _open_binary(path):
    if str(path) == "-":
        return sys.stdin.buffer
    if str(path).endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")
    return open(path, "rb")


def _csv_chunks(path, fmt, chunksize, encoding, on_bad_lines, stats):
    if on_bad_lines not in ("error", "skip"):
        raise InputError("--on-bad-lines must be 'error' or 'skip'")
    raw = _open_binary(path)
    counter = _CountingReader(raw)
    buffered = _io.BufferedReader(counter, buffer_size=1 << 16)
    stream = _io.TextIOWrapper(buffered, encoding=encoding, newline="")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            reader = pd.read_csv(
                stream,
                sep="\t" if fmt == "tsv" else ",",
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                chunksize=chunksize,
                on_bad_lines="warn" if on_bad_lines == "skip" else "error",
                engine="c",
            )
            try:
                for chunk in reader:
                    stats["bytes_read"] = counter.count
                    stats["bad_lines"] = _count_skipped(caught)
                    yield chunk
            except pd.errors.EmptyDataError:
                return
            stats["bad_lines"] = _count_skipped(caught)
            stats["bytes_read"] = counter.count
    except pd.errors.EmptyDataError:
        return
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{path} is not well-formed {fmt.upper()}: {_parser_message(exc)}. Fix the row, or pass "
            "--on-bad-lines skip to drop such rows (they are counted on stderr)."
        ) from exc
    except UnicodeDecodeError as exc:
        raise _decode_error(path, exc, encoding) from exc
    finally:
        if str(path) != "-":
            raw.close()


def _count_skipped(caught):
    total = 0
    for w in caught:
        if issubclass(w.category, pd.errors.ParserWarning):
            total += max(str(w.message).count("Skipping line"), 1)
    return total


def _parser_message(exc):
    text = str(exc).strip()
    return text.replace("Error tokenizing data. C error: ", "").rstrip(".")


def _jsonl_chunks(path, chunksize, encoding, stats):
    import json

    raw = _open_binary(path)
    counter = _CountingReader(raw)
    stream = _io.TextIOWrapper(_io.BufferedReader(counter, 1 << 16), encoding=encoding)
    rows = []
    try:
        for lineno, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InputError(f"{path} line {lineno} is not valid JSON: {exc}") from exc
            if not isinstance(record, dict):
                raise InputError(f"{path} line {lineno} is not a JSON object")
            rows.append(record)
            if len(rows) >= chunksize:
                stats["bytes_read"] = counter.count
                yield pd.DataFrame.from_records(rows)
                rows = []
        stats["bytes_read"] = counter.count
        if rows:
            yield pd.DataFrame.from_records(rows)
    except UnicodeDecodeError as exc:
        raise _decode_error(path, exc, encoding) from exc
    finally:
        if str(path) != "-":
            raw.close()


def _parquet_chunks(path, chunksize, stats):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path} is not a readable Parquet file: {exc}") from exc
    stats["rows_total"] = pf.metadata.num_rows
    done = 0
    try:
        for batch in pf.iter_batches(batch_size=chunksize):
            done += batch.num_rows
            stats["rows_read"] = done
            yield batch.to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path} is damaged after row {done}: {exc}") from exc


def read_table(path, fmt=None, encoding="utf-8", on_bad_lines="error", stats=None):
    """Read a whole table into a DataFrame (see :func:`iter_chunks`)."""
    chunks = list(iter_chunks(path, fmt, 50_000, encoding, on_bad_lines, stats))
    if not chunks:
        return pd.DataFrame()
    return pd.concat(chunks) if len(chunks) > 1 else chunks[0]


def resolve_text_column(columns, text_col, path, what="text"):
    """Check ``text_col`` exists; otherwise fail with the columns and a guess."""
    columns = [str(c) for c in columns]
    if text_col in columns:
        return text_col
    if not columns:
        raise InputError(f"{path} has no columns (is it empty?)")
    lowered = {c.lower(): c for c in columns}
    guess = lowered.get(str(text_col).lower())
    if guess is None:
        close = difflib.get_close_matches(str(text_col), columns, n=1, cutoff=0.6)
        guess = close[0] if close else None
    if guess is None and what == "text":
        guess = next((c for c in columns if any(h in c.lower() for h in _TEXT_HINTS)), None)
    hint = f" Did you mean --{what}-col {guess!r}?" if guess else ""
    raise InputError(
        f"{path} has no column {text_col!r}; its columns are: {', '.join(map(repr, columns))}.{hint}"
    )


def read_labelled(paths, text_col="text", label_col="labels", encoding="utf-8"):
    """Read labelled tables and check every label.

    Parameters
    ----------
    paths : str, Path or list of them
    text_col, label_col : str
        Column names.

    Returns
    -------
    texts : list of str
    labels : list of tuple of str
        Primary first.
    frame : pandas.DataFrame
        All rows, with a ``source`` column naming the file.

    Raises
    ------
    InputError
        Missing columns; LabelError naming the file, row and label for an
        unknown or empty label.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    frames = []
    for path in paths:
        frame = read_table(path, encoding=encoding)
        resolve_text_column(frame.columns, text_col, path, "text")
        resolve_text_column(frame.columns, label_col, path, "label")
        frame = frame.copy()
        frame["source"] = str(path)
        frame["_row"] = range(1, len(frame) + 1)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    labels = [
        parse_labels(cell, row=f"{src} row {row} (column {label_col!r})")
        for cell, src, row in zip(data[label_col], data["source"], data["_row"])
    ]
    texts = ["" if isinstance(t, float) else str(t) for t in data[text_col]]
    return texts, labels, data.drop(columns="_row")


def check_model_output(output, inputs=()):
    """Fail before training if ``output`` is an input file or an unrelated file."""
    out = Path(output)
    for inp in inputs:
        if str(inp) != "-" and Path(inp).exists() and out.exists() and out.resolve() == Path(inp).resolve():
            raise InputError(f"The model directory {output} is one of the input files; choose another path")
    if out.is_file():
        raise InputError(f"{output} is a file; a model is saved as a directory, give a new directory name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists():
        raise InputError(f"Cannot write {output}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"Cannot write {output}: the folder {parent} is not writable")


def check_output_path(output, inputs=()):
    """Fail before any work if ``output`` cannot be written or would overwrite an input."""
    if output is None or str(output) == "-":
        return
    out = Path(output)
    for inp in inputs:
        if str(inp) != "-" and Path(inp).exists() and out.exists() and out.resolve() == Path(inp).resolve():
            raise InputError(f"The output {output} is the input file; write to a different path")
        if str(inp) != "-" and out.resolve() == Path(inp).resolve():
            raise InputError(f"The output {output} is the input file; write to a different path")
    if out.is_dir():
        raise InputError(f"The output {output} is a directory; give a file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.exists():
        raise InputError(f"Cannot write {output}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"Cannot write {output}: the folder {parent} is not writable")
    if out.exists() and not os.access(out, os.W_OK):
        raise InputError(f"Cannot write {output}: the file is read-only")


class TableWriter:
    """Write a table chunk by chunk, atomically.

    Rows go to a hidden temporary file beside ``path``; :meth:`commit`
    renames it into place, :meth:`abort` removes it.  Used as a context
    manager it commits on success and aborts on any exception, including
    ``KeyboardInterrupt``.

    Parameters
    ----------
    path : str or Path
        The output, or ``"-"`` for CSV on standard output.
    fmt : str, optional
        Taken from the extension when omitted.
    """

    def __init__(self, path, fmt=None):
        self.path = path
        self.fmt = table_format(path, fmt)
        self.rows = 0
        self._tmp = None
        self._handle = None
        self._parquet = None
        self._schema = None
        self._xlsx_frames = []
        self._started = False
        if str(path) == "-":
            self._handle = sys.stdout
        else:
            target = Path(path)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                       dir=target.parent if str(target.parent) else ".")
            os.close(fd)
            self._tmp = tmp

    def write(self, frame):
        """Append a chunk (all chunks must have the same columns)."""
        fmt = self.fmt
        if fmt in ("csv", "tsv"):
            if self._handle is None:
                self._handle = open(self._tmp, "w", encoding="utf-8", newline="")
            frame.to_csv(self._handle, sep="\t" if fmt == "tsv" else ",", index=False,
                         header=not self._started)
        elif fmt == "jsonl":
            if self._handle is None:
                self._handle = open(self._tmp, "w", encoding="utf-8")
            if len(frame):
                text = frame.to_json(orient="records", lines=True, force_ascii=False)
                self._handle.write(text if text.endswith("\n") else text + "\n")
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._parquet is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                self._schema = table.schema
                self._parquet = pq.ParquetWriter(self._tmp, self._schema)
            else:
                try:
                    table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
                except (pa.ArrowException, ValueError, TypeError) as exc:
                    raise InputError(
                        f"Rows {self.rows + 1}-{self.rows + len(frame)} have column types that differ "
                        f"from the first rows ({exc}); write CSV or JSONL instead"
                    ) from exc
            self._parquet.write_table(table)
        else:
            self._xlsx_frames.append(frame)
            if self.rows + len(frame) > 1_048_575:
                raise InputError("XLSX holds at most 1,048,575 rows; write CSV or Parquet instead")
        self._started = True
        self.rows += len(frame)

    def commit(self):
        """Finish the file and move it into place."""
        if self.fmt == "parquet":
            if self._parquet is None:
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.table({}), self._tmp)
            else:
                self._parquet.close()
        elif self.fmt == "xlsx":
            frame = pd.concat(self._xlsx_frames) if self._xlsx_frames else pd.DataFrame()
            frame.to_excel(self._tmp, index=False, engine="openpyxl")
        elif self._handle is not None:
            self._handle.flush()
            if self._handle is not sys.stdout:
                os.fsync(self._handle.fileno())
                self._handle.close()
        elif self._tmp is not None:
            Path(self._tmp).write_text("")
        if self._tmp is not None:
            os.replace(self._tmp, self.path)
            self._tmp = None

    def abort(self):
        """Remove the temporary file; nothing appears under the final name."""
        try:
            if self._parquet is not None:
                self._parquet.close()
            if self._handle is not None and self._handle is not sys.stdout:
                self._handle.close()
        finally:
            if self._tmp is not None and os.path.exists(self._tmp):
                os.unlink(self._tmp)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False
