"""Reading and writing tables: CSV, TSV, JSONL, Parquet and XLSX.

Text formats are read with every cell as a string, so ids such as
``00123`` come back out exactly as they went in.  Output is written to a
temporary file beside the target and renamed into place only when complete.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import io as _io
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from .errors import InputError, LabelError
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
    "check_input_path",
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
_TEXT_HINTS = (
    "text",
    "note",
    "notes",
    "body",
    "comment",
    "reason",
    "description",
    "transcript",
    "message",
    "content",
    "email",
    "summary",
    "details",
)


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
            f"Cannot tell the format of {path} from its extension; name it .csv, .tsv, .jsonl, "
            ".parquet or .xlsx"
        )
    return _EXTENSIONS[ext]


class _CountingReader(_io.RawIOBase):
    """A binary stream that counts the bytes read through it.

    The count drives the progress bar.  When ``encoding`` is given, the
    bytes are also run through an incremental decoder as they pass, so the
    first undecodable byte is known by its offset in the whole file and its
    line (the decoder inside ``TextIOWrapper`` only knows its read block).
    """

    def __init__(self, raw, encoding=None):
        self.raw = raw
        self.count = 0
        self.newlines = 0
        self.bad = None
        self._decoder = codecs.getincrementaldecoder(encoding)("strict") if encoding else None

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.raw.readinto(buffer)
        if n and self._decoder is not None:
            self._check(bytes(memoryview(buffer)[:n]))
        self.count += n or 0
        return n

    def _check(self, data):
        try:
            self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            # exc.object is the decoder's held-back bytes followed by data.
            held = len(exc.object) - len(data)
            before = exc.object[: exc.start]
            self.bad = (
                self.count - held + exc.start,
                self.newlines + before.count(b"\n") + 1,
                exc.object[exc.start],
            )
            self._decoder = None
        else:
            self.newlines += data.count(b"\n")


def _sniff_binary(path, fmt, encoding="utf-8"):
    """Refuse files whose first bytes show they are not the format claimed."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a table") from None
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except PermissionError:
        raise InputError(f"{path} cannot be read (permission denied)") from None
    kinds = {
        b"%PDF": "a PDF",
        b"PK\x03\x04": "a ZIP archive (XLSX, DOCX or ZIP)",
        b"PAR1": "a Parquet file",
        b"\x89PNG": "a PNG image",
        b"\xff\xd8\xff": "a JPEG image",
        b"\x1f\x8b": "a gzip file",
        b"\xd0\xcf\x11\xe0": "an old Office file (XLS or DOC)",
        b"SQLite format 3": "a SQLite database",
    }
    if fmt in ("csv", "tsv", "jsonl"):
        for magic, kind in kinds.items():
            if head.startswith(magic) and not (magic == b"\x1f\x8b" and str(path).endswith(".gz")):
                hint = f"; name it {Path(str(path)).name}.gz" if magic == b"\x1f\x8b" else ""
                raise InputError(f"{path} looks like {kind}, not {fmt.upper()} text{hint}")
        wide = encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32", "utf16", "utf32"))
        control = sum(head.count(bytes([b])) for b in _CONTROL_BYTES)
        if not wide and not str(path).endswith(".gz") and control > max(len(head) // 20, 8):
            utf16 = (
                " (for UTF-16 text pass --encoding utf-16)" if head.count(b"\x00") > len(head) // 5 else ""
            )
            raise InputError(
                f"{path} looks binary, not {fmt.upper()} text: it is full of control bytes{utf16}"
            )
    elif fmt == "parquet" and head[:4] != b"PAR1":
        what = "it is empty" if not head else "it does not start with the Parquet magic bytes"
        raise InputError(f"{path} is not a Parquet file ({what})")
    elif fmt == "xlsx" and head[:4] != b"PK\x03\x04":
        what = "it is empty" if not head else "an XLSX file is a ZIP archive and this is not one"
        raise InputError(f"{path} is not an XLSX workbook ({what})")


#: Bytes that text almost never holds (tab, newlines and form feed are not here).
_CONTROL_BYTES = bytes([*range(0, 9), 11, *range(14, 27), *range(28, 32), 127])


def _decode_error(path, exc, encoding, counter):
    if counter.bad is not None:
        offset, line, byte = counter.bad
    else:
        # Only an incomplete sequence at the very end escapes the checker.
        offset = counter.count - len(exc.object) + exc.start
        line = counter.newlines + 1
        byte = exc.object[exc.start]
    return InputError(
        f"{_name(path)} is not valid {encoding}: byte 0x{byte:02x} at byte offset {offset} (line {line}) "
        "cannot be decoded; pass --encoding latin-1 (or the file's real encoding, e.g. cp1252)"
    )


def _name(path):
    return "standard input" if str(path) == "-" else str(path)


def _check_encoding(encoding):
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"Unknown encoding {encoding!r}; use e.g. utf-8, latin-1 or cp1252") from None


def iter_chunks(path, fmt=None, chunksize=5000, encoding="utf-8", on_bad_lines="error", stats=None):
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
        What to do with a CSV/TSV row whose number of fields differs from
        the header's or whose quotes do not balance, and with a JSONL line
        that is not a JSON object.  ``"skip"`` drops it and counts its
        lines in ``stats["bad_lines"]``.
    stats : dict, optional
        Filled as reading goes: ``bytes_read``, ``bytes_total``,
        ``rows_total`` (Parquet), ``bad_lines``.

    Yields
    ------
    pandas.DataFrame
        Chunks whose index counts rows from 0 across the whole file.  Every
        cell of a text format is a string.  A file with a header but no rows
        yields one empty chunk with the header's columns.

    Raises
    ------
    InputError
        The file is missing, binary or of another format, cannot be decoded
        (the byte offset and line are named), or is malformed (the line is
        named).

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = Path(folder.name) / "notes.csv"
    >>> _ = path.write_text('id,text\\n007,"Budget frozen, sorry"\\n008,no SSO\\n')
    >>> [chunk.values.tolist() for chunk in iter_chunks(path)]
    [[['007', 'Budget frozen, sorry'], ['008', 'no SSO']]]
    >>> folder.cleanup()
    """
    fmt = table_format(path, fmt)
    if on_bad_lines not in ("error", "skip"):
        raise InputError("--on-bad-lines must be 'error' or 'skip'")
    stats = stats if stats is not None else {}
    stats.setdefault("bad_lines", 0)
    stats.setdefault("bytes_read", 0)
    if fmt in ("csv", "tsv", "jsonl"):
        _check_encoding(encoding)
    if str(path) != "-":
        _sniff_binary(path, fmt, encoding)
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
        yield from _jsonl_chunks(path, chunksize, encoding, on_bad_lines, stats)
    elif fmt == "parquet":
        yield from _parquet_chunks(path, chunksize, stats)
    else:
        yield from _xlsx_chunks(path, chunksize, stats)


def _open_binary(path):
    if str(path) == "-":
        return sys.stdin.buffer
    if str(path).endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")
    return open(path, "rb")


def _unique_header(header):
    """Column names as pandas makes them: blanks named, repeats numbered."""
    names, seen = [], set()
    for i, name in enumerate(header):
        name = name or f"Unnamed: {i}"
        base, k = name, 0
        while name in seen:
            k += 1
            name = f"{base}.{k}"
        seen.add(name)
        names.append(name)
    return names


def _csv_chunks(path, fmt, chunksize, encoding, on_bad_lines, stats):
    # The csv module rather than pandas' parser: it reports the physical
    # line of every record, refuses text after a closing quote (the mark of
    # an unbalanced quote that swallowed rows) and lets short rows be
    # caught instead of silently padded with empty cells.
    name = _name(path)
    raw = _open_binary(path)
    counter = _CountingReader(raw, encoding)
    stream = _io.TextIOWrapper(
        _io.BufferedReader(counter, buffer_size=1 << 16), encoding=encoding, newline=""
    )
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)
    reader = csv.reader(stream, delimiter="\t" if fmt == "tsv" else ",", strict=True)
    skip = on_bad_lines == "skip"
    fix = "fix it, or pass --on-bad-lines skip to drop such rows (they are counted on stderr)"
    try:
        try:
            header = next((row for row in reader if row), None)
        except csv.Error as exc:
            raise InputError(
                f"{name} line {reader.line_num}: the header row cannot be read ({exc})"
            ) from None
        if header is None:
            return
        header[0] = header[0].lstrip("\ufeff")
        header = _unique_header(header)
        width = len(header)
        rows = []
        yielded = False
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                end = reader.line_num
                if "unexpected end of data" in str(exc):
                    if not skip or end > start:
                        raise InputError(
                            f"{name} line {start}: a quote opened on this line is never closed, so the "
                            f"rest of the file ({end - start + 1} lines) would be one cell; fix the quote"
                        ) from None
                elif not skip and "expected after" in str(exc):
                    raise InputError(
                        f"{name} line {end}: text follows a closing quote (an unbalanced '\"' "
                        f"{'from line ' + str(start) if end > start else 'on this line'}); {fix}"
                    ) from None
                elif not skip:
                    raise InputError(f"{name} line {start}: {exc}; {fix}") from None
                stats["bad_lines"] += end - start + 1
                continue
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line, as pandas skips them
                if not skip:
                    where = (
                        f"line {start}" if reader.line_num == start else f"lines {start}-{reader.line_num}"
                    )
                    raise InputError(
                        f"{name} {where}: expected {width} fields like the header, found {len(row)}; {fix}"
                    )
                stats["bad_lines"] += reader.line_num - start + 1
                continue
            rows.append(row)
            if len(rows) >= chunksize:
                stats["bytes_read"] = counter.count
                yield pd.DataFrame(rows, columns=header, dtype=str)
                yielded = True
                rows = []
        stats["bytes_read"] = counter.count
        if rows or not yielded:
            yield pd.DataFrame(rows, columns=header, dtype=str)
    except UnicodeDecodeError as exc:
        raise _decode_error(path, exc, encoding, counter) from None
    finally:
        if str(path) != "-":
            raw.close()


#: Largest CSV cell read (the csv module's default is 128 KiB).
_FIELD_LIMIT = 2**31 - 1


def _jsonl_chunks(path, chunksize, encoding, on_bad_lines, stats):
    import json

    name = _name(path)
    raw = _open_binary(path)
    counter = _CountingReader(raw, encoding)
    stream = _io.TextIOWrapper(_io.BufferedReader(counter, 1 << 16), encoding=encoding)
    rows = []
    columns = {}
    yielded = False

    def frame(records):
        chunk = pd.DataFrame.from_records(records)
        columns.update(dict.fromkeys(chunk.columns))
        # Keys first seen in earlier chunks keep their place, so every chunk
        # has the same columns in the same order.
        return chunk.reindex(columns=list(columns)) if list(chunk.columns) != list(columns) else chunk

    try:
        for lineno, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                record = exc
            if not isinstance(record, dict):
                if on_bad_lines == "skip":
                    stats["bad_lines"] += 1
                    continue
                if lineno == 1 and line.lstrip().startswith("["):
                    what = "a JSON array; JSON Lines holds one object per line, not one document"
                elif isinstance(record, ValueError):
                    what = (
                        f"not valid JSON ({record}); fix it, or pass --on-bad-lines skip to drop such lines"
                    )
                else:
                    what = "not a JSON object; JSON Lines holds one object per line"
                raise InputError(f"{name} line {lineno} is {what}")
            rows.append(record)
            if len(rows) >= chunksize:
                stats["bytes_read"] = counter.count
                yield frame(rows)
                yielded = True
                rows = []
        stats["bytes_read"] = counter.count
        if rows or (not yielded and columns):
            yield frame(rows)
    except UnicodeDecodeError as exc:
        raise _decode_error(path, exc, encoding, counter) from None
    finally:
        if str(path) != "-":
            raw.close()


def _first_sentence(exc):
    text = " ".join(str(exc).split())
    return text.split(". ")[0].rstrip(".") or type(exc).__name__


def _parquet_chunks(path, chunksize, stats):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(
            f"{path} cannot be read as Parquet: it is truncated or damaged ({_first_sentence(exc)})"
        ) from None
    stats["rows_total"] = pf.metadata.num_rows
    done = 0
    try:
        for batch in pf.iter_batches(batch_size=chunksize):
            done += batch.num_rows
            stats["rows_read"] = done
            yield batch.to_pandas()
        if done == 0:
            yield pf.schema_arrow.empty_table().to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path} is damaged after row {done} ({_first_sentence(exc)})") from None


def _xlsx_chunks(path, chunksize, stats):
    size = os.path.getsize(path)
    if size > XLSX_MAX_BYTES:
        raise InputError(
            f"{path} is {size / 2**20:.0f} MB; XLSX files are read whole into memory and "
            f"the limit is {XLSX_MAX_BYTES // 2**20} MB, so save it as CSV or Parquet to stream it"
        )
    try:
        frame = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl and zipfile raise many types for damaged files
        raise InputError(
            f"{path} cannot be read as an XLSX workbook: it is damaged or of another format "
            f"({_first_sentence(exc)})"
        ) from None
    stats["bytes_read"] = size
    for start in range(0, max(len(frame), 1), chunksize):
        yield frame.iloc[start : start + chunksize]


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
    if data.empty:
        raise InputError(f"{', '.join(map(str, paths))}: no labelled rows to read")
    labels, problems = [], {}
    for cell, src, row in zip(data[label_col], data["source"], data["_row"]):
        if cell is not None and not isinstance(cell, (str, list, tuple, float)):
            cell = str(cell)
        try:
            labels.append(parse_labels(cell))
        except LabelError as exc:
            problems.setdefault(str(exc), {}).setdefault(src, []).append(int(row))
    if problems:
        raise LabelError(_label_problem(problems, label_col))
    texts = [_cell_text(t) for t in data[text_col]]
    return texts, labels, data.drop(columns="_row")


def _cell_text(value):
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _label_problem(problems, label_col, show=5, kinds=3):
    """One sentence naming each bad label (up to ``kinds``) and the rows that hold it."""
    parts, suffix = [], ""
    for message, where in list(problems.items())[:kinds]:
        core, sep, rest = message.partition("; labels are ")
        if sep:
            suffix = f"; labels are {rest}"
        places = []
        for src, rows in where.items():
            listed = ", ".join(map(str, rows[:show]))
            if len(rows) > show:
                listed += f" and {len(rows) - show} more"
            places.append(f"{src} {'row' if len(rows) == 1 else 'rows'} {listed}")
        parts.append(f"{core} in {' and '.join(places)}")
    if len(problems) > kinds:
        parts.append(f"and {len(problems) - kinds} other problems")
    return (
        f"Bad labels in column {label_col!r} (rows counted from 1 after the header): "
        f"{'; '.join(parts)}{suffix}"
    )


def _same_file(a, b):
    if str(a) == "-" or str(b) == "-":
        return False
    try:
        return Path(a).resolve() == Path(b).resolve() or (
            Path(a).exists() and Path(b).exists() and os.path.samefile(a, b)
        )
    except OSError:
        return False


def _check_folder(output):
    """Fail unless a new file can really be created beside ``output``.

    A probe file is created and removed: ``os.access`` says yes to root on
    a read-only folder and knows nothing of read-only or virtual file
    systems.
    """
    parent = Path(output).parent if str(Path(output).parent) else Path(".")
    if not parent.exists():
        raise InputError(f"Cannot write {output}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise InputError(f"Cannot write {output}: {parent} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".objections-probe.", dir=parent)
    except OSError:
        raise InputError(f"Cannot write {output}: the folder {parent} is not writable") from None
    os.close(fd)
    os.unlink(probe)


def check_input_path(path, fmt=None, encoding="utf-8"):
    """Fail at once if ``path`` is missing, a folder, or plainly not the format claimed.

    Cheap (it reads the first 4 KiB), so a command can call it before
    loading a model.
    """
    if str(path) != "-" and Path(path).is_dir():
        raise InputError(f"{path} is a directory, not a table")
    if str(path) != "-" and not Path(path).exists():
        raise InputError(f"{path} does not exist")
    fmt = table_format(path, fmt)
    if str(path) != "-":
        _sniff_binary(path, fmt, encoding)
    return fmt


def check_model_output(output, inputs=()):
    """Fail before training if ``output`` cannot become a model directory.

    It must not be an input file, an existing file, or a non-empty folder
    that is not a model (a model directory is replaced), and its folder
    must exist and be writable.
    """
    out = Path(output)
    for inp in inputs:
        if _same_file(out, inp):
            raise InputError(f"The model directory {output} is one of the input files; choose another path")
    if out.is_file():
        raise InputError(f"{output} is a file; a model is saved as a directory, give a new directory name")
    if out.is_dir() and not (out / "metadata.json").exists():
        if any(p.name != "__init__.py" for p in out.iterdir()):
            raise InputError(
                f"{output} is a folder that holds other files, not a model; give a new directory name"
            )
    _check_folder(out)


def check_output_path(output, inputs=()):
    """Fail before any work if ``output`` cannot be written or would overwrite an input.

    Examples
    --------
    >>> check_output_path("notes.csv", ["notes.csv"])
    Traceback (most recent call last):
    ...
    objections.errors.InputError: The output notes.csv is the input file; write to a different path
    """
    if output is None or str(output) == "-":
        return
    out = Path(output)
    for inp in inputs:
        if _same_file(out, inp):
            raise InputError(f"The output {output} is the input file; write to a different path")
    if out.is_dir():
        raise InputError(f"The output {output} is a directory; give a file name")
    _check_folder(out)
    if out.exists() and not os.access(out, os.W_OK):
        raise InputError(f"Cannot write {output}: the file is read-only")


def _csv_quoting(frame):
    """Quote every text cell of a chunk holding a carriage return.

    The csv writer quotes a cell only for the characters of its line
    terminator (``\\n``), so a lone ``\\r`` in a note would go out bare and
    split the row for every reader.
    """
    texts = [str(c) for c in frame.columns]
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            texts.extend(v for v in column if isinstance(v, str) and "\r" in v)
            if len(texts) > len(frame.columns):
                break
    return csv.QUOTE_NONNUMERIC if any("\r" in t for t in texts) else csv.QUOTE_MINIMAL


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
        self._columns = None
        if str(path) == "-":
            self._handle = sys.stdout
        else:
            target = Path(path)
            fd, tmp = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tmp", dir=target.parent if str(target.parent) else "."
            )
            os.close(fd)
            self._tmp = tmp

    def write(self, frame):
        """Append a chunk.

        Later chunks are aligned to the first one's columns (a missing
        column is written empty).  A column the first chunk lacked can only
        go to JSONL, whose rows carry their own keys.
        """
        try:
            self._write(frame)
        except OSError as exc:
            raise self._write_error(exc) from exc

    def _write_error(self, exc):
        return InputError(
            f"Cannot write {self.path}: {exc.strerror or exc} (nothing was written under that name)"
        )

    def _write(self, frame):
        fmt = self.fmt
        frame = self._align(frame)
        if fmt in ("csv", "tsv"):
            if self._handle is None:
                self._handle = open(self._tmp, "w", encoding="utf-8", newline="")
            frame.to_csv(
                self._handle,
                sep="\t" if fmt == "tsv" else ",",
                index=False,
                header=not self._started,
                lineterminator="\n",
                quoting=_csv_quoting(frame),
            )
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

    def _align(self, frame):
        columns = list(frame.columns)
        if self._columns is None:
            self._columns = columns
            return frame
        if columns == self._columns:
            return frame
        extra = [c for c in columns if c not in self._columns]
        if extra and self.fmt != "jsonl":
            raise InputError(
                f"Rows {self.rows + 1}-{self.rows + len(frame)} of the output have the field(s) "
                f"{', '.join(map(repr, extra))} that the first rows lack, and a {self.fmt.upper()} "
                "file has one header; write JSONL output instead, or give every row the same fields"
            )
        frame = frame.copy()
        for name in self._columns:
            if name not in frame.columns:
                frame[name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        return frame[self._columns + extra]

    def commit(self):
        """Finish the file and move it into place."""
        try:
            self._commit()
        except OSError as exc:
            raise self._write_error(exc) from exc

    def _commit(self):
        if self.fmt == "parquet":
            if self._parquet is None:
                import pyarrow as pa
                import pyarrow.parquet as pq

                pq.write_table(pa.table({}), self._tmp)
            else:
                self._parquet.close()
        elif self.fmt == "xlsx":
            frame = pd.concat(self._xlsx_frames) if self._xlsx_frames else pd.DataFrame()
            # A file object, not the path: pandas refuses the temporary
            # file's ".tmp" extension for an Excel engine.
            with open(self._tmp, "wb") as f:
                frame.to_excel(f, index=False, engine="openpyxl")
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
        # The file is being thrown away: a failure to flush it (the disk
        # that just filled up) must not hide the error that caused the abort.
        for closer in (self._parquet, None if self._handle is sys.stdout else self._handle):
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer.close()
        if self._tmp is not None and os.path.exists(self._tmp):
            os.unlink(self._tmp)
        self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()
        return False
