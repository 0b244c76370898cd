"""Explaining embeddings in concepts and words.

    from lexdense.explain import Explainer
    ex = Explainer(concepts=["space flight", "hockey", "medicine", ...])   # or the model's vocabulary
    ex.explain("NASA launched the shuttle")      # concepts with weights, and the fidelity
    ex.compare("text a", "text b")                # shared concepts and the words that make them similar
    ex.probe(vectors, labels)                     # Net2Vec: accuracy against number of dimensions

- ``explain``: non-negative sparse coding (scikit-learn Lasso, positive) of the text's unit
  vector over the unit vectors of a concept bank; ``fidelity`` is the share of the vector's
  squared norm the weighted concepts reconstruct (1 - residual^2 / |x|^2).
- ``compare``: the concepts both explanations share, and for every word the two texts share,
  how much the cosine drops when that word is removed from both (the first layer is a sum of
  per-word rows, so removing a word removes exactly its features: these are exact
  leave-one-out effects, not gradients).
- ``probe``: Net2Vec's question, how many dimensions a concept needs: dimensions ranked by
  how well each alone separates the concept (Fisher score), then a logistic regression on the
  top k for k = 1, 2, 4, ... ; and which concepts share their top dimensions (Jaccard).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from lexdense.errors import InputError, InputTypeError
from lexdense.model import DEFAULT_MODEL, as_encoder, unit_rows


def _unit(x) -> np.ndarray:
    return unit_rows(x, np.float64)


class Explainer:
    """Explain embeddings as sparse non-negative combinations of concepts.

    Parameters
    ----------
    model
        a model name or directory, or an object with ``encode``.
    concepts
        concept names (embedded with the model), a mapping name -> keywords
        (their mean), or None for the model's own vocabulary words.
    alpha
        Lasso penalty (larger = fewer concepts).
    candidates
        concepts most similar to the text considered by the sparse coding.
    """

    def __init__(self, model=DEFAULT_MODEL, concepts: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
                 alpha: float = 3e-4, candidates: int = 500, max_vocabulary: int = 20000):
        model = as_encoder(model)
        self.model, self.alpha, self.candidates = model, float(alpha), int(candidates)
        if concepts is None:
            vocabulary = [w for w in model.featurizer.vocabulary if w.isalpha() and len(w) > 2]
            concepts = vocabulary[:max_vocabulary]
        if isinstance(concepts, Mapping):
            concepts = {k: [w for w in (words if isinstance(words, (list, tuple)) else [words]) if isinstance(w, str)]
                        for k, words in concepts.items()}
            concepts = {k: words for k, words in concepts.items() if words}
            if len(concepts) < 2:
                raise InputError("a concept bank needs at least two concepts, each with at least one word")
            names = [str(k) for k in concepts]
            vectors = np.stack([_unit(model.encode(list(words))).mean(axis=0) for words in concepts.values()])
        else:
            names = [str(c) for c in concepts if isinstance(c, str) and c.strip()]
            vectors = model.encode(names) if names else np.zeros((0, model.dim))
        if len(names) < 2:
            raise InputError("a concept bank needs at least two concepts")
        keep = np.linalg.norm(vectors, axis=1) > 0  # a concept with no word gives no direction
        if not keep.any():
            raise InputError("no concept of the bank has a word or character n-gram the model knows "
                             "(every concept embeds to the zero vector)")
        self.names = [n for n, k in zip(names, keep) if k]
        self.vectors = _unit(vectors[keep])

    def code(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(concept indices, weights, fidelity) of one unit vector."""
        from sklearn.linear_model import Lasso

        x = _unit(np.asarray(vector, dtype=np.float64))
        if not np.any(x):
            return np.zeros(0, int), np.zeros(0), 0.0
        sims = self.vectors @ x
        pool = np.argsort(-sims, kind="stable")[: self.candidates]
        lasso = Lasso(alpha=self.alpha, positive=True, fit_intercept=False, max_iter=5000)
        weights = lasso.fit(self.vectors[pool].T, x).coef_
        used = np.flatnonzero(weights > 1e-6)
        residual = x - self.vectors[pool[used]].T @ weights[used]
        fidelity = float(1.0 - residual @ residual / (x @ x))
        order = used[np.argsort(-weights[used], kind="stable")]
        return pool[order], weights[order], fidelity

    def explain(self, text: str, top: int = 10) -> dict:
        """Concepts that reconstruct the text's vector, strongest first, and the fidelity."""
        if not isinstance(text, str):
            raise InputTypeError(f"expected a str, got {type(text).__name__}")
        vector = self.model.encode([text])[0]
        index, weights, fidelity = self.code(vector)
        return {"fidelity": fidelity, "concepts": [{"concept": self.names[i], "weight": float(w)}
                                                   for i, w in zip(index[:top], weights[:top])],
                "n_concepts": int(len(index))}

    def compare(self, a: str, b: str, top: int = 10) -> dict:
        """Why two texts are similar: their cosine, shared concepts, and each shared word's
        exact leave-one-out effect on the cosine (removed from both texts)."""
        from lexdense.text.featurizer import words

        va, vb = self.model.encode([a, b])
        cosine = float(_unit(va) @ _unit(vb))
        ia, wa, _ = self.code(va)
        ib, wb, _ = self.code(vb)
        weight_a, weight_b = dict(zip(ia.tolist(), wa)), dict(zip(ib.tolist(), wb))
        shared = sorted(set(weight_a) & set(weight_b), key=lambda c: -min(weight_a[c], weight_b[c]))
        words_a, words_b = words(a), words(b)
        common = sorted(set(words_a) & set(words_b))
        effects = []
        if common:
            without_a = [" ".join(w for w in words_a if w != word) for word in common]
            without_b = [" ".join(w for w in words_b if w != word) for word in common]
            ea, eb = _unit(self.model.encode(without_a)), _unit(self.model.encode(without_b))
            drops = cosine - (ea * eb).sum(axis=1)
            effects = sorted(({"word": w, "cosine_drop": float(d)} for w, d in zip(common, drops)),
                             key=lambda e: -e["cosine_drop"])
        return {"cosine": cosine,
                "shared_concepts": [{"concept": self.names[c], "weight_a": float(weight_a[c]),
                                     "weight_b": float(weight_b[c])} for c in shared[:top]],
                "shared_words": effects[:top]}

    def concept_codes(self, vectors: np.ndarray) -> np.ndarray:
        """(n, concepts) sparse codes of many vectors (for a concept-space classifier)."""
        codes = np.zeros((len(vectors), len(self.names)))
        for row, vector in enumerate(vectors):
            index, weights, _ = self.code(vector)
            codes[row, index] = weights
        return codes


def fisher_scores(vectors: np.ndarray, is_concept: np.ndarray) -> np.ndarray:
    """Per dimension: (mean_in - mean_out)^2 / (var_in + var_out)."""
    x = np.asarray(vectors, dtype=np.float64)
    inside, outside = x[is_concept], x[~is_concept]
    return (inside.mean(0) - outside.mean(0)) ** 2 / (inside.var(0) + outside.var(0) + 1e-12)


def probe(vectors: np.ndarray, labels: Sequence, ks: Sequence[int] | None = None, top_dims: int = 10,
          seed: int = 0) -> dict:
    """Net2Vec-style probes for each label (one concept vs the rest).

    Returns per concept the held-out accuracy (balanced: half concept, half not) of a
    logistic regression on the top-k dimensions for each k, the k at which it first reaches
    95% of the all-dimension accuracy, its top dimensions, and a Jaccard matrix of the
    concepts' top dimensions (which concepts share dimensions).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    x = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray([str(label) for label in labels])
    if len(np.unique(labels)) < 2:
        raise InputError(f"probing needs at least two distinct labels, got {len(np.unique(labels))}")
    dim = x.shape[1]
    ks = sorted({k for k in (ks or [1, 2, 4, 8, 16, 32, 64, 128, 256, dim]) if 1 <= k <= dim})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    train, test = order[: len(x) // 2], order[len(x) // 2:]
    concepts = {}
    for concept in np.unique(labels):
        target = labels == concept
        if target[train].sum() < 5 or target[test].sum() < 5:
            continue
        ranking = np.argsort(-fisher_scores(x[train], target[train]), kind="stable")
        curve = {}
        for k in ks:
            dims = ranking[:k]
            clf = LogisticRegression(max_iter=1000, class_weight="balanced").fit(x[train][:, dims], target[train])
            curve[k] = float(balanced_accuracy_score(target[test], clf.predict(x[test][:, dims])))
        full = curve[max(ks)]
        needed = next((k for k in ks if curve[k] >= 0.95 * full), max(ks))
        concepts[str(concept)] = {"accuracy_by_dims": curve, "dims_for_95pct": int(needed),
                                  "top_dims": ranking[:top_dims].tolist()}
    names = list(concepts)
    sets = [set(concepts[n]["top_dims"]) for n in names]
    jaccard = [[len(a & b) / len(a | b) for b in sets] for a in sets]
    return {"concepts": concepts, "names": names, "top_dims_jaccard": jaccard}
