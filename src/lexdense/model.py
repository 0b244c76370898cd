"""LexDense: load, save and encode with a lexical-dense embedding model."""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lexdense.errors import InputError, InputTypeError, LexDenseError
from lexdense.io.atomic import atomic_directory
from lexdense.text.featurizer import Featurizer, check_texts

FORMAT = "lexdense"
FORMAT_VERSION = 1
PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
SHIPPED_MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "lexdense-base"  # the shipped model every command and estimator uses unless told


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


def unit_rows(x, dtype=np.float32) -> np.ndarray:
    """``x`` (a vector or rows of vectors) scaled to unit length; zero rows stay zero."""
    x = np.asarray(x, dtype=dtype)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def as_encoder(model):
    """A model name or directory loaded as :class:`LexDense`; anything else (an object with
    ``encode``, or None) is returned as it is."""
    if isinstance(model, (str, os.PathLike)):
        return LexDense.load(model)
    return model


class _OneBlasThread:
    """Hold BLAS to one thread while ``encode`` runs, if numba's kernel uses several.

    OpenBLAS's idle threads spin after each call and take the cores from the numba kernel
    of the next batch: on 2 cores, long texts went from 10.5k to 17.8k docs/s with one BLAS
    thread (short texts lose about 6%). Reference-counted, so overlapping calls from several
    threads give the caller's setting back exactly once, when the last one leaves. The BLAS
    libraries are found once, at the first ``encode`` (a threadpoolctl scan costs about 1 ms,
    as much as encoding a sentence; numpy's, the one the dense layers use, is loaded by then);
    setting their thread count is then a plain C call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._libraries = None
        self._saved: list[tuple[Any, int]] = []  # (threadpoolctl library controller, threads)

    def __enter__(self):
        import numba

        with self._lock:
            if self._depth == 0 and numba.get_num_threads() > 1:
                if self._libraries is None:
                    from threadpoolctl import ThreadpoolController

                    self._libraries = ThreadpoolController().select(user_api="blas").lib_controllers
                self._saved = [(lib, lib.num_threads) for lib in self._libraries]
                for lib, threads in self._saved:
                    if threads != 1:
                        lib.set_num_threads(1)
            self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for lib, threads in self._saved:
                    if threads != 1:
                        lib.set_num_threads(threads)
                self._saved = []


_ONE_BLAS_THREAD = _OneBlasThread()


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return x / norms


_NO_TEXTS: Any = object()  # encode() called without texts (``sentences`` and ``inputs`` both left out)
_ST_KWARGS = ("task", "processing_kwargs")


def _resolve_texts(sentences: Any, inputs: Any) -> tuple[list[str], bool]:
    """The texts of ``encode``'s first argument (or ``inputs=``) as a list, and whether one
    string was given. Containers that do not iterate over their texts are converted (numpy
    arrays, pandas Series, pyarrow arrays) or refused (a DataFrame or Table: name a column)."""
    if sentences is _NO_TEXTS and inputs is _NO_TEXTS:
        raise InputError("encode() needs texts: a string or a list of strings")
    if sentences is not _NO_TEXTS and inputs is not _NO_TEXTS:
        raise InputError("encode() got both sentences and inputs: pass the texts once")
    texts = inputs if sentences is _NO_TEXTS else sentences
    if isinstance(texts, str):
        return [texts], True
    module = type(texts).__module__.split(".")[0]
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise InputError(f"expected a 1-D array of texts, got an array of shape {texts.shape}")
        texts = texts.tolist()
    elif module in ("pandas", "polars", "pyarrow") and hasattr(texts, "columns"):
        raise InputTypeError(f"expected texts, got a {type(texts).__name__}: pass one column, e.g. data['text']")
    elif module == "pyarrow" and hasattr(texts, "to_pylist"):
        import pyarrow as pa

        kind = texts.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or getattr(pa.types, "is_string_view", lambda _: False)(kind)):
            raise InputTypeError(f"expected a pyarrow array of strings, got one of {kind}")
        texts = texts.to_pylist()
    elif module == "pandas" and hasattr(texts, "tolist"):
        missing = np.flatnonzero(np.asarray(texts.isna())) if hasattr(texts, "isna") else np.zeros(0, np.int64)
        if len(missing):
            raise InputTypeError(f"expected a list of str, got a missing value ({texts.iloc[missing[0]]!r}) "
                                 f"at index {missing[0]}")
        texts = texts.tolist()
    return check_texts(texts), False


def _check_st_options(output_value: Any, device: Any, pool: Any, kwargs: dict[str, Any]) -> None:
    """Refuse, in one line each, the sentence-transformers options lexdense cannot honour."""
    if output_value != "sentence_embedding":
        if output_value is None or output_value == "token_embeddings":
            raise InputError(f"output_value={output_value!r} is not supported: lexdense gives one vector per "
                             "text (output_value='sentence_embedding'), no token embeddings")
        raise InputError(f"unknown output_value {output_value!r}: expected 'sentence_embedding'")
    if pool is not None or isinstance(device, (list, tuple)):
        raise InputError("multi-process encoding (pool=, a list of devices) is not supported: lexdense encodes "
                         "in one process with numba threads")
    if device is not None and str(device).split(":")[0] != "cpu":
        raise InputError(f"device={str(device)!r} is not supported: lexdense encodes on the CPU (device='cpu' or None)")
    for name in kwargs:
        if name not in _ST_KWARGS:
            raise InputError(f"encode() got an unexpected argument {name!r}")
    if kwargs.get("processing_kwargs"):
        raise InputError("processing_kwargs is not supported: lexdense has no tokenizer settings to override")


def _torch(what: str):
    """torch, or a one-line MissingExtraError naming ``what`` needed it."""
    try:
        import torch
    except ImportError:
        from lexdense.extras import MissingExtraError

        raise MissingExtraError(f"{what} needs torch, which is not installed: pip install torch "
                                "(or keep the default numpy output)") from None
    return torch


class LexDense:
    """A lexical-dense text embedder.

    Features (known words, known word pairs, character n-grams of unknown words) select rows
    of an IDF-folded table that are summed and L2-normalised, then a small residual ReLU
    network maps the sum to the output space.

    :param featurizer: vocabulary and n-gram settings.
    :param weights: name -> array (see :meth:`save` for the names and shapes).
    :param config: model settings and provenance, written to config.json.
    """

    def __init__(self, featurizer: Featurizer, weights: dict[str, np.ndarray], config: dict):
        self.featurizer = featurizer
        self.config = dict(config)
        self.weights = {k: np.ascontiguousarray(v) for k, v in weights.items()}
        self._token_rows = self.weights["token_rows"].astype(np.float32)
        self._char_rows = self.weights["char_rows"].astype(np.float32)
        self._hidden_w = self.weights["hidden.weight"].astype(np.float32).T.copy()
        self._hidden_b = self.weights["hidden.bias"].astype(np.float32)
        self._back_w = self.weights["back.weight"].astype(np.float32).T.copy()
        self._out_w = self.weights["out.weight"].astype(np.float32).T.copy()
        self._out_b = self.weights["out.bias"].astype(np.float32)
        self.model_card = ""
        self.source: str | None = None  # the directory it was loaded from, if any

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Size of the output vectors."""
        return int(self._out_w.shape[1])

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    # ------------------------------------------------------------------ encoding
    def _encode_batch(self, texts: list[str], normalize: bool) -> np.ndarray:
        sums, found = self.featurizer.sum_rows(texts, self._token_rows, self._char_rows)
        x = _l2_normalize(sums)
        hidden = x @ self._hidden_w
        hidden += self._hidden_b
        np.maximum(hidden, 0.0, out=hidden)
        x += hidden @ self._back_w
        y = x @ self._out_w
        y += self._out_b
        if normalize:
            y = _l2_normalize(y)
        y[found == 0] = 0.0
        return y

    def encode(
        self,
        sentences: str | Sequence[str] | Any = _NO_TEXTS,
        batch_size: int = 1024,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = True,
        precision: str | None = "float32",
        truncate_dim: int | None = None,
        convert_to_numpy: bool = True,
        *,
        inputs: Any = _NO_TEXTS,
        prompt_name: str | None = None,
        prompt: str | None = None,
        output_value: str | None = "sentence_embedding",
        convert_to_tensor: bool = False,
        device: Any = None,
        pool: Any = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Embed texts; takes the arguments of ``SentenceTransformer.encode``, with its meanings.

        :param sentences: a string (gives one vector) or many: a list or tuple of str, an
            iterable or generator of str, a 1-D numpy array of str, a pandas Series of str or a
            pyarrow string array (gives a matrix of shape (n, dim)). A text with no word
            characters gives the zero vector; a missing value (None, NaN, a null) is an error
            naming its index. ``inputs=`` is the same argument under its newer
            sentence-transformers name.
        :param batch_size: texts per compiled call; larger batches amortise the BLAS calls.
        :param show_progress_bar: show a progress bar; by default only for > 10 batches.
        :param normalize_embeddings: L2-normalise each vector (after any truncation). True by
            default, unlike sentence-transformers: lexdense vectors are meant for cosine.
        :param precision: float32, int8, uint8, binary or ubinary (packed bits), as in
            sentence-transformers.
        :param truncate_dim: keep the first dimensions only. Outputs are trained in the
            teacher's principal-component basis, so leading dimensions carry the most.
        :param convert_to_numpy: True (default): a numpy array. False: a list of torch tensors,
            one per text, as sentence-transformers returns (needs torch).
        :param convert_to_tensor: one torch tensor instead of a numpy array (needs torch);
            it overrides ``convert_to_numpy``.
        :param prompt: a string prepended to every text, as sentence-transformers does.
        :param prompt_name: the name of a prompt in :attr:`prompts` (the model config's
            ``prompts``); ``prompt`` wins when both are given.
        :param output_value: "sentence_embedding" only: lexdense has no token embeddings.
        :param device: None or "cpu": lexdense encodes on the CPU.
        :param pool: multi-process pools are not supported (one process, numba threads).
        :param chunk_size: used by sentence-transformers with ``pool`` only; ignored here too.
        :param kwargs: ``task`` (any: lexdense gives every task the same vectors) and an empty
            ``processing_kwargs``; anything else is an error naming it.
        """
        texts, single = _resolve_texts(sentences, inputs)
        precision = "float32" if precision is None else precision  # sentence-transformers' None
        self.check_options(precision, truncate_dim)
        if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                or batch_size < 1):
            raise InputError(f"batch_size must be a positive int, got {batch_size!r}")
        batch_size = int(batch_size)
        _check_st_options(output_value, device, pool, kwargs)
        to_tensor, to_list = bool(convert_to_tensor), not convert_to_tensor and not convert_to_numpy
        if to_tensor or to_list:
            torch = _torch(
                "convert_to_tensor=True" if to_tensor else "convert_to_numpy=False (a list of torch tensors)"
            )
        prompt = self._resolve_prompt(prompt, prompt_name)
        if prompt:
            texts = [prompt + text for text in texts]
        n_batches = math.ceil(len(texts) / batch_size)
        if show_progress_bar is None:
            show_progress_bar = n_batches > 10
        batches = range(0, len(texts), batch_size)
        if show_progress_bar:
            from lexdense.progress import track

            batches = track(batches, total=n_batches, description="Encoding")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with _ONE_BLAS_THREAD:
            for start in batches:
                chunk = texts[start : start + batch_size]
                out[start : start + len(chunk)] = self._encode_batch(chunk, normalize=False)
        if truncate_dim is not None:
            out = out[:, :truncate_dim].copy()
        if normalize_embeddings:
            out = _l2_normalize(out)
        out = self.quantize(out, precision)
        if to_tensor:
            result: Any = torch.from_numpy(out)
        elif to_list:
            result = list(torch.from_numpy(out))
        else:
            result = out
        return result[0] if single else result

    @property
    def prompts(self) -> dict[str, str]:
        """Named prompts (``prompt_name`` -> text prepended), from the config's ``prompts``."""
        prompts = self.config.get("prompts") or {}
        return {str(k): str(v) for k, v in prompts.items()} if isinstance(prompts, dict) else {}

    def _resolve_prompt(self, prompt: str | None, prompt_name: str | None) -> str | None:
        if prompt is not None:
            if not isinstance(prompt, str):
                raise InputTypeError(f"prompt must be a str, got {type(prompt).__name__}")
            return prompt
        if prompt_name is None:
            prompt_name = self.config.get("default_prompt_name")
            if prompt_name is None:
                return None
        if prompt_name not in self.prompts:
            known = ", ".join(repr(name) for name in self.prompts) or "none: pass prompt='...' instead"
            raise InputError(f"unknown prompt_name {prompt_name!r}: this model's prompts are {known}")
        return self.prompts[prompt_name]

    def check_options(self, precision: str = "float32", truncate_dim: int | None = None) -> None:
        """Raise ValueError naming a bad ``precision`` or ``truncate_dim``."""
        if precision not in PRECISIONS:
            raise InputError(f"unknown precision '{precision}': expected one of {', '.join(PRECISIONS)}")
        if truncate_dim is not None and not (isinstance(truncate_dim, int) and 1 <= truncate_dim <= self.dim):
            raise InputError(f"truncate_dim must be an int in 1..{self.dim}, got {truncate_dim!r}")

    def quantize(self, embeddings: np.ndarray, precision: str) -> np.ndarray:
        """Convert float32 vectors to ``precision`` (sentence-transformers conventions).

        int8/uint8 use per-dimension ranges measured on the distillation corpus and stored
        in the model, so a vector does not depend on the batch it was encoded in.
        """
        if precision == "float32":
            return embeddings
        if precision in ("binary", "ubinary"):
            packed = np.packbits(embeddings > 0, axis=-1)
            return (packed.astype(np.int16) - 128).astype(np.int8) if precision == "binary" else packed
        ranges = self.weights["int8_ranges"].astype(np.float32)[:, : embeddings.shape[1]]
        low, high = ranges[0], ranges[1]
        steps = (high - low) / 255.0
        steps[steps == 0] = 1.0
        scaled = np.clip(np.round((embeddings - low) / steps), 0, 255)
        out = scaled.astype(np.uint8) if precision == "uint8" else (scaled - 128).astype(np.int8)
        # A text with no known feature is the zero vector in float32: keep it zero here too
        # (a mid-range code would give it a norm of ~200 and a cosine to everything).
        out[~np.asarray(embeddings).any(axis=-1)] = 0
        return out

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity matrix of two sets of float vectors."""
        a = _l2_normalize(np.atleast_2d(a).astype(np.float32))
        b = _l2_normalize(np.atleast_2d(b).astype(np.float32))
        return a @ b.T

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write model.safetensors, config.json, tokenizer.json, README.md and modules.json
        atomically.

        An existing directory is replaced only if it holds an earlier lexdense model (or
        ``overwrite`` is set): anything else is refused, never deleted.

        Tensors: token_rows (n_vocab, d_embed) and char_rows (n_buckets, d_embed), float16,
        IDF folded in; hidden.weight (d_hidden, d_embed), hidden.bias (d_hidden,),
        back.weight (d_embed, d_hidden), out.weight (d_out, d_embed), out.bias (d_out,),
        int8_ranges (2, d_out).

        modules.json makes the directory a sentence-transformers model too:
        ``SentenceTransformer(path)`` loads it through
        :class:`lexdense.integrations.sentence_transformers.LexDenseModule` and encodes the
        same vectors (a model with ``prompts`` in its config also gets
        config_sentence_transformers.json, so sentence-transformers knows them).
        """
        path = Path(path)
        with atomic_directory(path, "model", overwrite, recognize=_is_model_directory) as tmp:
            self._write_files(tmp)
            _write_st_files(tmp, self.config)
        return path

    def _write_files(self, directory: Path) -> None:
        """The lexdense files of :meth:`save`, written straight into ``directory``."""
        from safetensors.numpy import save_file

        save_file(self.weights, str(directory / "model.safetensors"), metadata={"format": FORMAT})
        (directory / "config.json").write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
        (directory / "tokenizer.json").write_text(
            json.dumps(self.featurizer.tokenizer_json(), ensure_ascii=False), encoding="utf-8"
        )
        (directory / "README.md").write_text(self.model_card or _default_card(self.config), encoding="utf-8")

    @classmethod
    def load(cls, name_or_path: str | os.PathLike = DEFAULT_MODEL) -> LexDense:
        """Load a model directory, or a shipped model by name ("lexdense-base").

        Raises :class:`ModelFileError` naming the file and the problem when the directory is
        incomplete, corrupt or not a lexdense model.
        """
        path = resolve_model_path(name_or_path)
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
        weights = _read_safetensors(path / "model.safetensors")
        _check_shapes(path, weights, config, len(vocabulary))
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
        model = cls(featurizer, weights, config)
        model.source = str(path)  # where it was loaded from (worker processes reload it from here)
        card = path / "README.md"
        model.model_card = card.read_text(encoding="utf-8", errors="replace") if card.is_file() else ""
        return model

    from_pretrained = load
    save_pretrained = save

    def __repr__(self) -> str:
        return (
            f"LexDense(vocab={self.featurizer.n_rows}, buckets={self.featurizer.n_buckets}, "
            f"dim={self.dim}, name={self.config.get('name')!r})"
        )


# The sentence-transformers module a saved model names in modules.json (imported by that name).
ST_MODULE = "lexdense.integrations.sentence_transformers.LexDenseModule"


def _write_st_files(directory: Path, config: dict) -> None:
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


def _is_model_directory(path: Path) -> bool:
    """A lexdense model written before output markers existed (its config names the format)."""
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _read_safetensors(file: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{file}: corrupt or not safetensors ({exc})") from None


def _check_shapes(path: Path, weights: dict[str, np.ndarray], config: dict, n_vocab: int) -> None:
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


def _default_card(config: dict) -> str:
    return f"# {config.get('name', 'lexdense model')}\n\nA lexdense model.\n\n```json\n{json.dumps(config, indent=2)}\n```\n"

