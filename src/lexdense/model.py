"""LexDense: load, save and encode with a lexical-dense embedding model."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lexdense.blas import ONE_BLAS_THREAD
from lexdense.encode_inputs import NO_TEXTS, check_st_options, resolve_texts, torch_or_error
from lexdense.errors import InputError, InputTypeError
from lexdense.io.atomic import atomic_directory
from lexdense.model_files import (  # noqa: F401  (ModelFileError, resolve_model_path: public names here too)
    FORMAT,
    FORMAT_VERSION,
    SHIPPED_MODELS_DIR,
    ModelFileError,
    default_card,
    is_model_directory,
    read_model,
    resolve_model_path,
    write_st_files,
)
from lexdense.text.featurizer import Featurizer

PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
DEFAULT_MODEL = "lexdense-base"  # the shipped model every command and estimator uses unless told


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


class LexDense:
    """A lexical-dense text embedder.

    Features (known words, known word pairs, character n-grams of unknown words) select rows
    of an IDF-folded table that are summed and L2-normalised, then a small residual ReLU
    network maps the sum to the output space.

    Parameters
    ----------
    featurizer
        vocabulary and n-gram settings.
    weights
        name -> array (see :meth:`save` for the names and shapes).
    config
        model settings and provenance, written to config.json.
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
        """Size of the output vectors (sentence-transformers' name for :attr:`dim`)."""
        return self.dim

    # ------------------------------------------------------------------ encoding
    def _encode_batch(self, texts: list[str], normalize: bool) -> np.ndarray:
        sums, found = self.featurizer.sum_rows(texts, self._token_rows, self._char_rows)
        x = unit_rows(sums)
        hidden = x @ self._hidden_w
        hidden += self._hidden_b
        np.maximum(hidden, 0.0, out=hidden)
        x += hidden @ self._back_w
        y = x @ self._out_w
        y += self._out_b
        if normalize:
            y = unit_rows(y)
        y[found == 0] = 0.0
        return y

    def encode(
        self,
        sentences: str | Sequence[str] | Any = NO_TEXTS,
        batch_size: int = 1024,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = True,
        precision: str | None = "float32",
        truncate_dim: int | None = None,
        convert_to_numpy: bool = True,
        *,
        inputs: Any = NO_TEXTS,
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

        Parameters
        ----------
        sentences
            a string (gives one vector) or many: a list or tuple of str, an
            iterable or generator of str, a 1-D numpy array of str, a pandas Series of str or a
            pyarrow string array (gives a matrix of shape (n, dim)). A text with no word
            characters gives the zero vector; a missing value (None, NaN, a null) is an error
            naming its index. ``inputs=`` is the same argument under its newer
            sentence-transformers name.
        batch_size
            texts per compiled call; larger batches amortise the BLAS calls.
        show_progress_bar
            show a progress bar; by default only for > 10 batches.
        normalize_embeddings
            L2-normalise each vector (after any truncation). True by
            default, unlike sentence-transformers: lexdense vectors are meant for cosine.
        precision
            float32, int8, uint8, binary or ubinary (packed bits), as in
            sentence-transformers.
        truncate_dim
            keep the first dimensions only. Outputs are trained in the
            teacher's principal-component basis, so leading dimensions carry the most.
        convert_to_numpy
            True (default): a numpy array. False: a list of torch tensors,
            one per text, as sentence-transformers returns (needs torch).
        convert_to_tensor
            one torch tensor instead of a numpy array (needs torch);
            it overrides ``convert_to_numpy``.
        prompt
            a string prepended to every text, as sentence-transformers does.
        prompt_name
            the name of a prompt in :attr:`prompts` (the model config's
            ``prompts``); ``prompt`` wins when both are given.
        output_value
            "sentence_embedding" only: lexdense has no token embeddings.
        device
            None or "cpu": lexdense encodes on the CPU.
        pool
            multi-process pools are not supported (one process, numba threads).
        chunk_size
            used by sentence-transformers with ``pool`` only; ignored here too.
        kwargs
            ``task`` (any: lexdense gives every task the same vectors) and an empty
            ``processing_kwargs``; anything else is an error naming it.

        Returns
        -------
        numpy.ndarray or torch.Tensor or list of torch.Tensor
            shape (n, dim) for n texts, or (dim,) for one string (dim is ``truncate_dim`` if
            given); float32 unit vectors by default, int8/uint8 for those precisions, and
            (n, dim / 8) packed bits for binary/ubinary.

        Raises
        ------
        InputError, InputTypeError
            one line naming the bad argument or text (both are also ValueError/TypeError).
        """
        texts, single = resolve_texts(sentences, inputs)
        precision = "float32" if precision is None else precision  # sentence-transformers' None
        self.check_options(precision, truncate_dim)
        if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                or batch_size < 1):
            raise InputError(f"batch_size must be a positive int, got {batch_size!r}")
        batch_size = int(batch_size)
        check_st_options(output_value, device, pool, kwargs)
        to_tensor, to_list = bool(convert_to_tensor), not convert_to_tensor and not convert_to_numpy
        if to_tensor or to_list:
            torch = torch_or_error(
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
        with ONE_BLAS_THREAD:
            for start in batches:
                chunk = texts[start : start + batch_size]
                out[start : start + len(chunk)] = self._encode_batch(chunk, normalize=False)
        if truncate_dim is not None:
            out = out[:, :truncate_dim].copy()
        if normalize_embeddings:
            out = unit_rows(out)
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

        Parameters
        ----------
        embeddings
            float32 array of shape (n, d) or (d,), d <= dim.
        precision
            float32, int8, uint8, binary or ubinary.

        Returns
        -------
        numpy.ndarray
            (n, d) int8/uint8, or (n, ceil(d / 8)) packed bits for binary (int8) and ubinary
            (uint8); float32 unchanged.
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
        """Cosine similarity matrix of two sets of float vectors.

        Parameters
        ----------
        a, b
            arrays of shape (n, d) and (m, d), or single vectors (d,).

        Returns
        -------
        numpy.ndarray
            float32, shape (n, m).
        """
        a = unit_rows(np.atleast_2d(a).astype(np.float32))
        b = unit_rows(np.atleast_2d(b).astype(np.float32))
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

        Parameters
        ----------
        path
            the model directory to write.
        overwrite
            replace a directory lexdense did not write.

        Returns
        -------
        pathlib.Path
            ``path``.
        """
        path = Path(path)
        with atomic_directory(path, "model", overwrite, recognize=is_model_directory) as tmp:
            self._write_files(tmp)
            write_st_files(tmp, self.config)
        return path

    def _write_files(self, directory: Path) -> None:
        """The lexdense files of :meth:`save`, written straight into ``directory``."""
        from safetensors.numpy import save_file

        save_file(self.weights, str(directory / "model.safetensors"), metadata={"format": FORMAT})
        (directory / "config.json").write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
        (directory / "tokenizer.json").write_text(
            json.dumps(self.featurizer.tokenizer_json(), ensure_ascii=False), encoding="utf-8"
        )
        (directory / "README.md").write_text(self.model_card or default_card(self.config), encoding="utf-8")

    @classmethod
    def load(cls, name_or_path: str | os.PathLike = DEFAULT_MODEL) -> LexDense:
        """Load a model directory, or a shipped model by name ("lexdense-base").

        Parameters
        ----------
        name_or_path
            a directory written by :meth:`save` (or by ``lexdense distill``), or the name of
            a model shipped inside the package.

        Returns
        -------
        LexDense

        Raises
        ------
        ModelFileError
            naming the file and the problem when the directory is incomplete, corrupt or
            not a lexdense model.
        """
        path = resolve_model_path(name_or_path)
        featurizer, weights, config = read_model(path)
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
