"""A sentence-transformers module that runs a lexdense model.

:meth:`lexdense.LexDense.save` lists this class in the directory's modules.json, so
``SentenceTransformer(path)`` loads a saved lexdense model and encodes the same vectors as
``LexDense.load(path)``. One can also build the model by hand::

    from sentence_transformers import SentenceTransformer
    from lexdense.integrations.sentence_transformers import LexDenseModule

    model = SentenceTransformer(modules=[LexDenseModule("lexdense-base")])

The features (known words and word pairs, character n-grams of unknown words) are found on
the CPU by lexdense's compiled featurizer in :meth:`LexDenseModule.preprocess`; the rest is
torch: a weighted ``EmbeddingBag`` sum of the feature rows, L2 normalisation, the residual
ReLU layer, the output layer and (``normalize=True``, the default) a final L2 normalisation.
The rows and layers are parameters, so the module can be fine-tuned with the
sentence-transformers trainer; :meth:`LexDenseModule.save` writes a lexdense directory again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lexdense.extras import require
from lexdense.model import LexDense, ModelFileError

require("train", "lexdense.integrations.sentence_transformers")

import torch  # noqa: E402
from torch import nn  # noqa: E402

try:  # sentence-transformers >= 6
    from sentence_transformers.base.modules import InputModule as _Base
except ImportError:  # pragma: no cover - older releases
    try:
        from sentence_transformers.models import InputModule as _Base  # type: ignore[no-redef]
    except ImportError:
        _Base = nn.Module  # type: ignore[misc,assignment]

__all__ = ["LexDenseModule", "to_sentence_transformer"]


class LexDenseModule(_Base):  # type: ignore[misc,valid-type]
    """A lexdense model as a sentence-transformers input module.

    Parameters
    ----------
    model
        a :class:`~lexdense.LexDense`, a model directory or a shipped model name.
    normalize
        L2-normalise the output vectors, as ``LexDense.encode`` does by default.
    """

    save_in_root = True  # its files are the lexdense files of the model directory itself

    def __init__(self, model: LexDense | str | os.PathLike = "lexdense-base", normalize: bool = True) -> None:
        super().__init__()
        lexdense = model if isinstance(model, LexDense) else LexDense.load(model)
        self.lexdense = lexdense
        self.normalize = bool(normalize)
        weights = lexdense.weights
        table = np.concatenate([weights["token_rows"], weights["char_rows"]]).astype(np.float32)
        self.embedding = nn.EmbeddingBag.from_pretrained(torch.from_numpy(table), freeze=False, mode="sum")
        d_hidden, d_embed = weights["hidden.weight"].shape
        self.hidden = nn.Linear(d_embed, d_hidden)
        self.back = nn.Linear(d_hidden, d_embed, bias=False)
        self.out = nn.Linear(d_embed, lexdense.dim)
        with torch.no_grad():
            for name, parameter in (("hidden.weight", self.hidden.weight), ("hidden.bias", self.hidden.bias),
                                    ("back.weight", self.back.weight), ("out.weight", self.out.weight),
                                    ("out.bias", self.out.bias)):
                parameter.copy_(torch.from_numpy(weights[name].astype(np.float32)))

    # -- encoding -----------------------------------------------------------------------
    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The features of ``inputs`` (with ``prompt`` prepended): row ids, their weights and
        where each text's features start."""
        from lexdense.text.featurizer import check_texts

        texts = list(check_texts(inputs))
        if prompt:
            texts = [prompt + text for text in texts]
        ids, weights, offsets = self.lexdense.featurizer.feature_lists(texts)
        offsets = np.asarray(offsets, dtype=np.int64)
        return {
            "input_ids": torch.from_numpy(np.asarray(ids, dtype=np.int64)),
            "per_sample_weights": torch.from_numpy(np.asarray(weights, dtype=np.float32)),
            "offsets": torch.from_numpy(offsets[:-1].copy()),
            "feature_counts": torch.from_numpy(np.diff(offsets)),
        }

    def tokenize(self, texts: list[str], **kwargs: Any) -> dict[str, torch.Tensor]:
        """:meth:`preprocess` under the name older sentence-transformers releases call."""
        return self.preprocess(texts, **kwargs)

    def forward(self, features: dict[str, torch.Tensor], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Add ``sentence_embedding`` (batch, dim) to ``features`` (the output of :meth:`tokenize`)."""
        sums = self.embedding(features["input_ids"], features["offsets"],
                              per_sample_weights=features["per_sample_weights"])
        x = nn.functional.normalize(sums, p=2.0, dim=1, eps=1e-12)
        x = x + self.back(torch.relu(self.hidden(x)))
        y = self.out(x)
        y = y * (features["feature_counts"] > 0).unsqueeze(1).to(y.dtype)  # no feature: the zero vector
        if self.normalize:
            y = nn.functional.normalize(y, p=2.0, dim=1, eps=1e-12)
        features["sentence_embedding"] = y
        return features

    def get_embedding_dimension(self) -> int:
        """Size of the output vectors."""
        return self.lexdense.dim

    get_sentence_embedding_dimension = get_embedding_dimension

    @property
    def max_seq_length(self) -> float:
        """No limit: lexdense never truncates a text."""
        return float("inf")  # texts are never truncated

    # -- files ----------------------------------------------------------------------------
    def to_lexdense(self) -> LexDense:
        """A :class:`~lexdense.LexDense` with this module's current (possibly fine-tuned) weights."""
        source = self.lexdense
        n_vocab = source.weights["token_rows"].shape[0]
        table = self.embedding.weight.detach().cpu().numpy()
        weights = dict(source.weights)
        weights["token_rows"] = table[:n_vocab].astype(source.weights["token_rows"].dtype)
        weights["char_rows"] = table[n_vocab:].astype(source.weights["char_rows"].dtype)
        for name, parameter in (("hidden.weight", self.hidden.weight), ("hidden.bias", self.hidden.bias),
                                ("back.weight", self.back.weight), ("out.weight", self.out.weight),
                                ("out.bias", self.out.bias)):
            weights[name] = parameter.detach().cpu().numpy().astype(np.float32)
        model = LexDense(source.featurizer, weights, source.config)
        model.model_card = source.model_card
        return model

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        """Write the lexdense files (model.safetensors, config.json, tokenizer.json, README.md)
        into ``output_path``; sentence-transformers writes modules.json beside them."""
        self.to_lexdense()._write_files(Path(output_path))

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", token: bool | str | None = None,
             cache_folder: str | None = None, revision: str | None = None, local_files_only: bool = False,
             init_defaults: dict[str, Any] | None = None, **kwargs: Any) -> LexDenseModule:
        """Load from a local directory (or, through sentence-transformers, a Hugging Face repo)."""
        directory: str | None = str(Path(model_name_or_path) / subfolder)
        if not Path(str(directory)).is_dir():
            from sentence_transformers.util import load_dir_path

            directory = load_dir_path(model_name_or_path, subfolder=subfolder, token=token,
                                      cache_folder=cache_folder, revision=revision,
                                      local_files_only=local_files_only)
        if directory is None:
            raise ModelFileError(f"no lexdense model at {model_name_or_path!r}")
        return cls(LexDense.load(directory))

    def __repr__(self) -> str:
        return f"LexDenseModule({self.lexdense!r}, normalize={self.normalize})"


def to_sentence_transformer(model: LexDense | str | os.PathLike = "lexdense-base", normalize: bool = True,
                            **kwargs: Any):
    """A ``SentenceTransformer`` running ``model`` (a LexDense, a directory or a shipped name).

    Building it from the module needs no ``trust_remote_code``, which
    ``SentenceTransformer(path)`` asks for since sentence-transformers 6.0 to import a module
    class of another package. ``kwargs`` go to ``SentenceTransformer`` (``device`` defaults to
    "cpu": the featurizer runs there in any case).
    """
    from sentence_transformers import SentenceTransformer

    kwargs.setdefault("device", "cpu")
    return SentenceTransformer(modules=[LexDenseModule(model, normalize=normalize)], **kwargs)
