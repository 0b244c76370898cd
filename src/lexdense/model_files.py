"""A lexdense model on disk: where models are, the format's checks, the files beside the weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

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

