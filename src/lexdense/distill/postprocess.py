"""Post-processing folded into a model's output layer: centring and (partial) whitening.

Both are affine maps of the output before its L2 normalisation, so they fold exactly into
``out.weight`` and ``out.bias``: the model encodes as fast as before.

- centring (hubness reduction, Suzuki et al. 2013): subtract the mean output, so no
  direction shared by every text dominates the cosines;
- whitening (WhiteningBERT, Huang et al. 2021): also rescale the principal directions of the
  outputs by ``eigenvalue ** (-alpha / 2)``; ``alpha`` 1 is full whitening, 0.5 halfway.
  The new dimensions stay ordered by the variance they had, so ``truncate_dim`` still keeps
  the strongest first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lexdense.errors import InputError
from lexdense.model import LexDense


def fold_affine(model: LexDense, texts: Sequence[str], *, alpha: float = 0.0, rcond: float = 1e-6) -> LexDense:
    """A copy of ``model`` whose outputs are centred (and whitened when ``alpha`` > 0).

    Parameters
    ----------
    texts
        a sample of the texts the model will embed (the mean and covariance are
        estimated on their outputs; a few thousand suffice).
    rcond
        directions whose variance is below ``rcond`` times the largest are set to
        zero, not blown up: outputs span at most ``d_embed`` dimensions of ``d_out``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha must be in [0, 1], got {alpha}")
    raw = model.encode(list(texts), normalize_embeddings=False, show_progress_bar=False).astype(np.float64)
    raw = raw[np.abs(raw).sum(1) > 0]
    if len(raw) < 2:
        raise InputError("need at least two texts with known features to estimate the mean")
    mean = raw.mean(0)
    weight = model.weights["out.weight"].astype(np.float64)  # (d_out, d_embed)
    bias = model.weights["out.bias"].astype(np.float64) - mean
    if alpha > 0:
        eigenvalues, eigenvectors = np.linalg.eigh(np.cov(raw - mean, rowvar=False))
        order = np.argsort(eigenvalues)[::-1]
        values = eigenvalues[order]
        keep = values > rcond * values[0]
        scale = np.where(keep, np.maximum(values, 1e-300) ** (-alpha / 2), 0.0)
        transform = eigenvectors[:, order] * scale
        weight, bias = transform.T @ weight, transform.T @ bias
    weights = dict(model.weights)
    weights["out.weight"] = weight.astype(np.float32)
    weights["out.bias"] = bias.astype(np.float32)
    config = dict(model.config)
    config["postprocess"] = {"centred": True, "whitening_alpha": alpha, "sample_texts": len(raw)}
    folded = LexDense(model.featurizer, weights, config)
    sample = folded.encode(list(texts)[:20000], normalize_embeddings=True, show_progress_bar=False)
    folded.weights["int8_ranges"] = np.stack([sample.min(0), sample.max(0)]).astype(np.float32)
    folded.model_card = model.model_card
    return folded
