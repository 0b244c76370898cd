"""A folder of documents (or a glob pattern) as a corpus.

Every file under the folder, subfolders included and sorted by path, is read:

- a text file (any file that is not .jsonl/.ndjson/.csv/.tsv/.parquet: .txt, .md, .html, ...)
  is ONE document; its path relative to the folder is its ``id``. With ``lines=True``,
  .txt/.text files are read as a single .txt file is, one document a line (their records get
  ``path`` and ``record`` as below);
- a record file (.jsonl, .ndjson, .csv, .tsv, .parquet) keeps its rule, one document a record,
  its columns kept, plus ``path`` (the file, relative to the folder) and ``record`` (the
  record's number in that file, from 0); where the file has a column of that name already,
  ours is ``lexdense_path`` / ``lexdense_record`` (a user's column is never replaced);
- a binary file (a NUL byte in its first 8 KiB: images, PDFs, archives, UTF-16 text) is
  skipped, as are hidden files and folders (a name starting with "."), unreadable files, and
  a folder reached a second time (a symlink loop); :meth:`FolderCorpus.summary` counts each.

Invalid UTF-8 becomes U+FFFD, as in :class:`~lexdense.io.readers.Reader`. ``row`` counts the
documents of the whole folder from 0, so batches are the same on every run over the same files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import pyarrow as pa

from lexdense.io.readers import FORMATS, CorpusError, Reader, decode_utf8
from lexdense.messages import one_line, shown

RECORD_FORMATS = {suffix for suffix, kind in FORMATS.items() if kind != "txt"}
LINE_FORMATS = {suffix for suffix, kind in FORMATS.items() if kind == "txt"}
_SNIFF_BYTES = 8192
_MAGIC = set("*?[")


def is_pattern(path: str | os.PathLike) -> bool:
    """True for a glob pattern that names no existing file (a literal name with '[' is a file)."""
    return not os.path.lexists(path) and bool(_MAGIC & set(str(path)))


def open_corpus(path: str | os.PathLike, text_field: str = "text", batch_rows: int = 4096,
                batch_bytes: int = 32 << 20, lines: bool = False) -> Reader | FolderCorpus:
    """A reader of ``path``: :class:`Reader` for a file, :class:`FolderCorpus` for a folder or a
    glob pattern ("docs/**/*.md"; quote it, so the shell leaves it to lexdense)."""
    if Path(path).is_dir() or is_pattern(path):
        return FolderCorpus(path, text_field=text_field, batch_rows=batch_rows, batch_bytes=batch_bytes, lines=lines)
    return Reader(path, text_field=text_field, batch_rows=batch_rows, batch_bytes=batch_bytes)


class FolderCorpus:
    """Iterate over the documents of a folder (or glob pattern) in batches, as :class:`Reader` does.

    Parameters
    ----------
    source
        a folder, or a glob pattern (``**`` matches subfolders).
    text_field
        column or key holding the text in record files.
    lines
        read .txt files one document a line (as a single .txt file) instead of one
        document a file.
    """

    def __init__(self, source: str | os.PathLike, text_field: str = "text", batch_rows: int = 4096,
                 batch_bytes: int = 32 << 20, lines: bool = False):
        if not isinstance(batch_rows, int) or batch_rows < 1:
            raise CorpusError(f"batch_rows must be a positive int, got {batch_rows!r}")
        self.source = str(source)
        self.text_field, self.batch_rows, self.batch_bytes, self.lines = text_field, batch_rows, batch_bytes, lines
        self.replaced_bytes = 0
        # Skipped while listing (unreadable folders; hidden names; folders reached again) and
        # while reading (binary or unreadable files).
        self.unlisted: list[str] = []
        self.unlisted_kinds: dict[str, list[str]] = {"hidden": [], "symlink loop": []}
        self.skipped: dict[str, list[str]] = {"binary": [], "unreadable": []}
        self.documents = 0
        if is_pattern(source):
            # Walked by lexdense, not by glob (whose ** follows a symlink loop until paths get too long).
            self.root = _pattern_root(self.source)
            segments = Path(self.source).parts[len(self.root.parts) if self.root != Path(".") else 0:]
            self.files = [path for path in self._walk(self.root, set()) if self.root.is_dir()
                          and _matches(Path(self._relative(path)).parts, segments)]
        else:
            self.root = Path(source)
            if not self.root.is_dir():
                raise CorpusError(f"{shown(self.root)}: no such folder")
            self.files = list(self._walk(self.root, set()))
        if not self.files:
            hidden = f" ({len(self.unlisted_kinds['hidden'])} hidden skipped)" if self.unlisted_kinds["hidden"] else ""
            raise CorpusError(f"{shown(self.source)}: no files to read{hidden}"
                              + (": the pattern matches nothing" if is_pattern(source) else ": an empty folder"))

    def _walk(self, folder: Path, seen: set) -> Iterator[Path]:
        """The files under ``folder``, sorted; a folder reached twice (a symlink loop) is skipped."""
        try:
            identity = (folder.stat().st_dev, folder.stat().st_ino)
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            self.unlisted.append(f"{self._relative(folder)} ({exc.strerror or one_line(exc)})")
            return
        if identity in seen:
            self.unlisted_kinds["symlink loop"].append(self._relative(folder))
            return
        seen.add(identity)
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                self.unlisted_kinds["hidden"].append(self._relative(path))
            elif path.is_dir():
                yield from self._walk(path, seen)
            elif path.is_file() or not path.exists():  # a broken symlink is unreadable, said below
                yield path
            else:  # a FIFO, socket or device: reading it could block forever
                self.unlisted.append(f"{self._relative(path)} (not a regular file)")

    def _relative(self, path: Path) -> str:
        """``path`` relative to the folder, as text (a file name that is not UTF-8 gets U+FFFD)."""
        try:
            name = path.relative_to(self.root).as_posix()
        except ValueError:
            name = path.as_posix()
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    @property
    def size_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.files if path.exists())

    def fingerprint(self) -> dict:
        """Names, sizes and modification times of the files: a resumed job checks the folder
        is the one its finished parts were made from."""
        digest = hashlib.blake2b(digest_size=16)
        for path in self.files:
            stat = path.stat() if path.exists() else None
            digest.update(f"{self._relative(path)}\0{stat and stat.st_size}\0{stat and stat.st_mtime_ns}\n".encode(
                "utf-8", "surrogateescape"))
        return {"files": len(self.files), "listing_blake2b": digest.hexdigest()}

    def summary(self) -> str:
        """One line: what was read and what was skipped (naming the first unreadable file)."""
        unreadable = self.skipped["unreadable"] + self.unlisted
        counts = {"binary": self.skipped["binary"], "unreadable": unreadable, **self.unlisted_kinds}
        parts = [f"{len(names):,} {kind} skipped" + (f" (first: {shown(names[0])})" if kind == "unreadable" else "")
                 for kind, names in counts.items() if names]  # shown(): a name with a line break stays one line
        return f"read {len(self.files):,} files under {shown(self.root)}: {self.documents:,} documents" + \
            "".join(f", {part}" for part in parts)

    def __iter__(self) -> Iterator[pa.Table]:
        self.documents = 0
        self.skipped = {"binary": [], "unreadable": []}
        row = 0
        pending: list[dict] = []
        size = 0
        for path in self.files:
            if path.suffix.lower() in RECORD_FORMATS or (self.lines and path.suffix.lower() in LINE_FORMATS):
                if pending:
                    yield self._text_table(pending, row - len(pending))
                    pending, size = [], 0
                for table in self._records(path, row):
                    row += table.num_rows
                    self.documents += table.num_rows
                    yield table
                continue
            text = self._text_of(path)
            if text is None:
                continue
            pending.append({"id": self._relative(path), "text": text})
            size += len(text)
            row += 1
            self.documents += 1
            if len(pending) >= self.batch_rows or size >= self.batch_bytes:
                yield self._text_table(pending, row - len(pending))
                pending, size = [], 0
        if pending:
            yield self._text_table(pending, row - len(pending))
        if not self.documents:
            raise CorpusError(f"{shown(self.source)}: no documents ({self.summary()})")

    def _text_table(self, records: list[dict], first_row: int) -> pa.Table:
        return pa.table({"row": pa.array(range(first_row, first_row + len(records)), pa.int64()),
                         "id": pa.array([r["id"] for r in records], pa.string()),
                         "text": pa.array([r["text"] for r in records], pa.string())})

    def _text_of(self, path: Path) -> str | None:
        """The file's text (one document), or None when it is binary or unreadable (counted)."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.skipped["unreadable"].append(f"{self._relative(path)} ({exc.strerror or one_line(exc)})")
            return None
        if b"\0" in raw[:_SNIFF_BYTES]:
            self.skipped["binary"].append(self._relative(path))
            return None
        if raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark is not data
            raw = raw[3:]
        text, replaced = decode_utf8(raw)
        self.replaced_bytes += replaced
        return text

    def _records(self, path: Path, first_row: int) -> Iterator[pa.Table]:
        """The batches of a record file with the folder's ``row``, and ``path``/``record`` columns."""
        reader = Reader(path, text_field=self.text_field, batch_rows=self.batch_rows, batch_bytes=self.batch_bytes)
        relative = self._relative(path)
        row = first_row
        for table in reader:
            names = table.column_names
            path_name = "path" if "path" not in names else "lexdense_path"
            record_name = "record" if "record" not in names else "lexdense_record"
            n = table.num_rows
            table = table.set_column(0, record_name, table.column("row"))
            table = table.add_column(0, "row", pa.array(range(row, row + n), pa.int64()))
            table = table.add_column(1, path_name, pa.array([relative] * n, pa.string()))
            row += n
            yield table
        self.replaced_bytes += reader.replaced_bytes


def _pattern_root(pattern: str) -> Path:
    """The folder a glob pattern starts from: its parts before the first with a wildcard."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if _MAGIC & set(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _matches(parts: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    """True when the path ``parts``, or a folder above it, matches the glob ``segments``
    (``**`` is any number of folders)."""
    def match(parts, segments) -> bool:
        if not segments:
            return not parts
        if segments[0] == "**":
            return any(match(parts[i:], segments[1:]) for i in range(len(parts) + 1))
        return bool(parts) and fnmatchcase(parts[0], segments[0]) and match(parts[1:], segments[1:])
    return any(match(parts[:k], segments) for k in range(1, len(parts) + 1))
