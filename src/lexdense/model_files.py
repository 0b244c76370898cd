"""A lexdense model on disk: where models are, the format's checks, the files beside the weights."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lexdense.text.featurizer import Featurizer

from lexdense.errors import LexDenseError

FORMAT = "lexdense"
FORMAT_VERSION = 1
SHIPPED_MODELS_DIR = Path(__file__).parent / "models"


class ModelFileError(LexDenseError, ValueError):
    """A model directory is missing, corrupt or not a lexdense model."""


def resolve_model_path(name_or_path: str | os.PathLike) -> Path:
    """A local directory, or the name of a model shipped inside the package."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    shipped = SHIPPED_MODELS_DIR / str(name_or_path)
    if "/" not in str(name_or_path) and shipped.is_dir():
        return shipped
    known = sorted(p.name for p in SHIPPED_MODELS_DIR.iterdir()) if SHIPPED_MODELS_DIR.is_dir() else []
    raise ModelFileError(
        f"no model directory at '{name_or_path}' (shipped models: {', '.join(known) or 'none'})"
    )


ST_MODULE = "lexdense.integrations.sentence_transformers.LexDenseModule"


def write_st_files(directory: Path, config: dict) -> None:
    """modules.json (and, for a model with prompts, config_sentence_transformers.json): what
    ``SentenceTransformer(directory)`` reads to load a lexdense model. The module lives in the
    directory's root and reads the lexdense files themselves."""
    modules = [{"idx": 0, "name": "0", "path": "", "type": ST_MODULE}]
    (directory / "modules.json").write_text(json.dumps(modules, indent=2) + "\n", encoding="utf-8")
    if isinstance(config.get("prompts"), dict) and config["prompts"]:
        st_config = {"model_type": "SentenceTransformer", "prompts": config["prompts"],
                     "default_prompt_name": config.get("default_prompt_name"), "similarity_fn_name": "cosine"}
        (directory / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2) + "\n",
                                                                      encoding="utf-8")


def is_model_directory(path: Path) -> bool:
    """A lexdense model written before output markers existed (its config names the format)."""
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def read_safetensors(file: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{file}: corrupt or not safetensors ({exc})") from None


def check_shapes(path: Path, weights: dict[str, np.ndarray], config: dict, n_vocab: int) -> None:
    try:
        d_embed, d_hidden, d_out = int(config["d_embed"]), int(config["d_hidden"]), int(config["d_out"])
        n_buckets = int(config["n_buckets"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path / 'config.json'}: missing or bad setting {exc}") from None
    expected = {
        "token_rows": (n_vocab, d_embed),
        "char_rows": (n_buckets, d_embed),
        "hidden.weight": (d_hidden, d_embed),
        "hidden.bias": (d_hidden,),
        "back.weight": (d_embed, d_hidden),
        "out.weight": (d_out, d_embed),
        "out.bias": (d_out,),
        "int8_ranges": (2, d_out),
    }
    for name, shape in expected.items():
        if name not in weights:
            raise ModelFileError(f"{path / 'model.safetensors'}: missing tensor '{name}'")
        if tuple(weights[name].shape) != shape:
            raise ModelFileError(
                f"{path / 'model.safetensors'}: tensor '{name}' has shape "
                f"{tuple(weights[name].shape)}, config says {shape}"
            )
        if not np.all(np.isfinite(weights[name])):
            raise ModelFileError(f"{path / 'model.safetensors'}: tensor '{name}' has NaN or inf")


def default_card(config: dict) -> str:
    return f"# {config.get('name', 'lexdense model')}\n\nA lexdense model.\n\n```json\n{json.dumps(config, indent=2)}\n```\n"

def read_model(path: Path) -> tuple[Featurizer, dict[str, np.ndarray], dict]:
    """The featurizer, weights and config of the model directory ``path``, every file checked:
    a missing, corrupt or foreign file is a :class:`ModelFileError` naming it."""
    from lexdense.errors import InputError
    from lexdense.text.featurizer import Featurizer

    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (path / name).is_file():
            raise ModelFileError(f"{path}: missing {name} (not a lexdense model directory?)")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path / 'config.json'}: not valid JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFileError(f"{path / 'config.json'}: not a lexdense config (format != '{FORMAT}')")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path / 'config.json'}: format_version {config.get('format_version')!r}, "
            f"this lexdense reads {FORMAT_VERSION}"
        )
    try:
        vocabulary = Featurizer.vocabulary_from_tokenizer_json(path / "tokenizer.json")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path / 'tokenizer.json'}: unreadable vocabulary ({exc})") from None
    weights = read_safetensors(path / "model.safetensors")
    check_shapes(path, weights, config, len(vocabulary))
    try:
        ngram_range = config["ngram_range"]
        if not (isinstance(ngram_range, list) and len(ngram_range) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) for n in ngram_range)):
            raise InputError(f"ngram_range must be a list of two integers, got {ngram_range!r}")
        featurizer = Featurizer(
            vocabulary,
            n_buckets=int(config["n_buckets"]),
            ngram_range=tuple(ngram_range),
            use_bigrams=bool(config["use_bigrams"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelFileError(f"{path / 'config.json'}: bad featurizer settings ({detail})") from None
    return featurizer, weights, config
