"""Documents for topics described only by keywords (Lbl2Vec's idea, vectorised), and zero-shot labels.

    from lexdense.labels import KeywordTopics
    topics = KeywordTopics({"space": ["nasa", "orbit"], "hockey": ["nhl", "goalie"]}).fit(texts)
    topics.predict(texts)          # label per document, None where it abstains
    topics.predict_proba(texts)    # (n, labels) probabilities
    topics.abstain_reasons(texts)  # why a document has no label ("none of the labels", "low confidence")
    topics.diagnostics()           # which keywords pull which documents

How it works:
1. each keyword is embedded on its own; a label starts as the mean of its keyword vectors;
2. refinement (``iterations`` times): each document goes to its most similar label; a label's
   seeds are the top ``seed_share`` of its documents by similarity (at least ``min_seeds``),
   and the label vector becomes the mean of its seeds plus ``keyword_weight`` times its
   keyword vector, so the keywords keep anchoring it;
3. a multinomial logistic regression trained on the final seeds (pseudo-labels, no gold
   labels) gives each document a probability per label; ``abstain`` is the confidence
   below which :meth:`predict` answers None.
4. "none of these labels" (only when ``abstain`` > 0): without it every document would go to
   some label (a news digest scored 0.95 for "immigration"). So the regression gets one more
   class, *none*, whose seeds are documents far from every label (Lbl2Vec's similarity
   threshold, calibrated from the fit): for each label, the documents nearest to *another*
   label show how similar a document not about it gets; a document is a candidate if its
   cosine to every label is below that label's ``none_quantile`` of those. The seeds are the
   candidates least similar to every label, at most ``none_seed_ratio`` times as many as an
   average label's seeds; where few documents are far from all labels, few seeds. A
   document whose most probable class is *none* is left unlabelled as "none of the labels".
   With the *none* class, label probabilities (:meth:`predict_proba`) sum to 1 minus
   :meth:`none_proba`: a label's probability is the chance that the document is about it at all.
   ``abstain=0`` fits no *none* class: every document gets a label, as before.

Unlike the ``lbl2vec`` package: every label vector is built from many documents (not one),
seeds are the most similar documents (not the first N in corpus order), any keyword works
(unknown words are embedded from their character n-grams, and reported), and scoring is
one matrix product for all documents.

Defaults (``keyword_weight`` 1, ``C`` 10, 2 iterations, top quarter as seeds) were chosen on
the 20 Newsgroups and R8 *train* splits; benchmarks/keyword_topics.py reports the test splits.
``none_quantile`` and ``none_seed_ratio`` were chosen on 20 Newsgroups *train* with keywords for
5 of its 20 groups (``benchmarks/keyword_topics.py --unrelated``, which reports the test split:
at ``abstain`` 0.5, 58% of the other groups' posts unlabelled, against 17% by confidence alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from lexdense.errors import InputError, NotFittedError
from lexdense.model import unit_rows
from lexdense.workflow import DEFAULT_MODEL, Workflow

NONE_OF_THE_LABELS, LOW_CONFIDENCE = "none of the labels", "low confidence"


class KeywordTopics(Workflow):
    """Label documents with topics described only by keywords (the module docstring says how).

    Parameters
    ----------
    keywords
        label -> its keywords (at least two labels, each with at least one keyword).
    model
        a model name or directory, or an object with ``encode``.
    abstain
        0 labels every document; above 0, a document is left unlabelled (None) where its best
        label's probability is below ``abstain`` or where it is about none of the labels.

    Attributes
    ----------
    classes_
        the label names, the columns of :meth:`predict_proba` (after fit or load).
    labels_
        each fitted document's label, None where it abstained (after fit).
    """

    def __init__(self, keywords: Mapping[str, Sequence[str]], model=DEFAULT_MODEL, iterations: int = 2,
                 seed_share: float = 0.25, min_seeds: int = 10, keyword_weight: float = 1.0,
                 abstain: float = 0.0, C: float = 10.0, seed: int = 0, none_quantile: float = 0.75,
                 none_seed_ratio: float = 2.0):
        if not isinstance(keywords, Mapping) or len(keywords) < 2:
            raise InputError("keywords must map at least two labels to lists of keywords")
        cleaned = {}
        for label, words in keywords.items():
            if isinstance(words, str):
                words = [words]
            words = [w.strip() for w in words if isinstance(w, str) and w.strip()]
            if not words:
                raise InputError(f"label '{label}' has no keywords")
            cleaned[str(label)] = words
        if not 0 < seed_share <= 1:
            raise InputError(f"seed_share must be in (0, 1], got {seed_share}")
        if not 0 <= abstain < 1:
            raise InputError(f"abstain must be in [0, 1), got {abstain}")
        if not 0 <= none_seed_ratio <= 10:
            raise InputError(f"none_seed_ratio must be in [0, 10] (0: no 'none of the labels' class), "
                             f"got {none_seed_ratio}")
        if not 0 < none_quantile <= 1:
            raise InputError(f"none_quantile must be in (0, 1], got {none_quantile}")
        self.keywords = cleaned
        self.labels = list(cleaned)
        self._set_model(model)  # resolved at first use: nothing is loaded or embedded before fit
        self.iterations, self.seed_share, self.min_seeds = int(iterations), float(seed_share), int(min_seeds)
        self.keyword_weight, self.abstain, self.C, self.seed = float(keyword_weight), float(abstain), float(C), seed
        self.none_quantile, self.none_seed_ratio = float(none_quantile), float(none_seed_ratio)

    def _embed_keywords(self) -> None:
        if hasattr(self, "keyword_label_vectors"):
            return
        flat = [w for words in self.keywords.values() for w in words]
        vectors = unit_rows(self.model.encode(flat))
        self.keyword_owner = np.repeat(np.arange(len(self.labels)), [len(w) for w in self.keywords.values()])
        self.keyword_list = flat
        self.keyword_vectors = vectors
        sums = np.zeros((len(self.labels), vectors.shape[1]), np.float32)
        np.add.at(sums, self.keyword_owner, vectors)
        self.keyword_label_vectors = unit_rows(sums)
        featurizer = getattr(self.model, "featurizer", None)
        self.unknown_keywords = []
        if featurizer is not None:
            from lexdense.text.featurizer import words as split_words

            known = set(featurizer.vocabulary)
            self.unknown_keywords = [w for w in flat if any(part not in known for part in split_words(w))]

    def _doc_vectors(self, texts, vectors) -> np.ndarray:
        return self._embed(texts, vectors)

    def keyword_scores(self, texts=None, vectors=None) -> np.ndarray:
        """Baseline without refinement: cosine of each document to each label's keyword mean."""
        self._embed_keywords()
        return self._doc_vectors(texts, vectors) @ self.keyword_label_vectors.T

    def fit(self, texts: Sequence[str] | None = None, y=None, *, vectors: np.ndarray | None = None) -> KeywordTopics:
        """Label ``texts`` (or ``vectors=``) from the keywords; ``y`` is ignored (no labels needed)."""
        from lexdense.extras import require

        require("topics", "keyword topics")
        from sklearn.linear_model import LogisticRegression

        self._embed_keywords()
        docs = self._doc_vectors(texts, vectors)
        n, n_labels = len(docs), len(self.labels)
        if n < n_labels:
            raise InputError(f"need at least as many documents ({n}) as labels ({n_labels})")
        label_vectors = self.keyword_label_vectors
        for _ in range(max(self.iterations, 1)):
            sims = docs @ label_vectors.T
            seeds = self._seeds(sims)
            updated = np.stack([docs[s].mean(axis=0) if len(s) else np.zeros(docs.shape[1], np.float32)
                                for s in seeds])
            label_vectors = unit_rows(unit_rows(updated) + self.keyword_weight * self.keyword_label_vectors)
        self.label_vectors_ = label_vectors
        sims = docs @ label_vectors.T
        self.seeds_ = self._seeds(sims)
        self.none_seeds_ = self._none_seeds(sims) if self.abstain > 0 else np.zeros(0, np.int64)
        groups = [*self.seeds_, self.none_seeds_]  # class n_labels: none of the labels
        rows = np.concatenate(groups)
        targets = np.concatenate([np.full(len(s), k) for k, s in enumerate(groups)])
        if len(np.unique(targets[targets < n_labels])) < 2:
            raise InputError("the keywords pulled documents for fewer than two labels; add documents or keywords")
        self.classifier_ = LogisticRegression(C=self.C, max_iter=1000).fit(docs[rows], targets)
        self.classes_index_ = self.classifier_.classes_
        self.train_vectors_ = docs
        self.classes_ = np.asarray(self.labels, dtype=object)  # the label names, predict_proba's columns
        self.labels_ = self.predict(vectors=docs)  # each fitted document's label (None: abstained)
        return self

    def _seeds(self, sims: np.ndarray) -> list[np.ndarray]:
        best = sims.argmax(axis=1)
        seeds = []
        for label in range(sims.shape[1]):
            members = np.flatnonzero(best == label)
            take = max(self.min_seeds, int(np.ceil(self.seed_share * len(members))))
            if len(members) < take:  # too few documents chose this label: its most similar ones overall
                members = np.argsort(-sims[:, label], kind="stable")[:take]
            seeds.append(members[np.argsort(-sims[members, label], kind="stable")[:take]])
        return seeds

    def _none_seeds(self, sims: np.ndarray) -> np.ndarray:
        """The examples of "none of the labels": rows below every label's ``none_quantile`` of
        the cosines of documents nearest to another label, no label's seeds among them, the
        least similar to every label vector (lowest maximum cosine) first."""
        count = int(round(self.none_seed_ratio * np.mean([len(s) for s in self.seeds_])))
        nearest = sims.argmax(axis=1)
        thresholds = np.array([np.quantile(sims[nearest != k, k], self.none_quantile) if (nearest != k).any()
                               else -np.inf for k in range(sims.shape[1])])
        candidates = np.setdiff1d(np.arange(len(sims)), np.concatenate(self.seeds_))
        candidates = candidates[(sims[candidates] < thresholds).all(axis=1)]
        order = candidates[np.argsort(sims[candidates].max(axis=1), kind="stable")]
        return order[:count].astype(np.int64)

    _SETTINGS = ("keywords", "iterations", "seed_share", "min_seeds", "keyword_weight", "abstain", "C", "seed",
                 "none_quantile", "none_seed_ratio")
    _FITTED_ATTRIBUTE = "classifier_"

    def _state(self):
        """Label and keyword vectors, the seed rows and the logistic regression's weights (not
        the fit's document vectors: diagnostics() of a loaded model needs a new fit)."""
        info = {"keyword_list": self.keyword_list, "unknown_keywords": self.unknown_keywords,
                "seed_counts": [int(len(s)) for s in self.seeds_]}
        arrays = {"label_vectors": self.label_vectors_, "keyword_vectors": self.keyword_vectors,
                  "keyword_label_vectors": self.keyword_label_vectors,
                  "keyword_owner": np.asarray(self.keyword_owner, np.int64),
                  "seeds": np.concatenate(self.seeds_).astype(np.int64), "none_seeds": self.none_seeds_,
                  "coef": self.classifier_.coef_, "intercept": self.classifier_.intercept_,
                  "classes_index": np.asarray(self.classes_index_, np.int64)}
        return info, arrays

    def _restore(self, info, arrays) -> None:
        from sklearn.linear_model import LogisticRegression

        n_labels = len(self.labels)
        label_vectors, coef, classes = arrays["label_vectors"], arrays["coef"], arrays["classes_index"]
        if label_vectors.shape[0] != n_labels or coef.shape[1] != label_vectors.shape[1] \
                or len(classes) < 2 or classes.max() > n_labels or sum(info["seed_counts"]) != len(arrays["seeds"]):
            raise InputError("labels, vectors and classifier weights do not fit together")
        self.label_vectors_ = label_vectors
        self.keyword_vectors, self.keyword_label_vectors = arrays["keyword_vectors"], arrays["keyword_label_vectors"]
        self.keyword_owner, self.keyword_list = arrays["keyword_owner"], [str(w) for w in info["keyword_list"]]
        self.unknown_keywords = [str(w) for w in info["unknown_keywords"]]
        self.seeds_ = np.split(arrays["seeds"], np.cumsum(info["seed_counts"])[:-1])
        self.none_seeds_ = arrays.get("none_seeds", np.zeros(0, np.int64))  # files saved before it: none
        classifier = LogisticRegression(C=self.C)
        classifier.coef_, classifier.intercept_ = coef.astype(np.float64), arrays["intercept"].astype(np.float64)
        classifier.classes_, classifier.n_features_in_ = classes, int(coef.shape[1])
        self.classifier_, self.classes_index_ = classifier, classes
        self.classes_ = np.asarray(self.labels, dtype=object)

    def _class_proba(self, texts, vectors) -> np.ndarray:
        """(n, labels + 1): the labels' probabilities, then none of the labels' (0 without that class)."""
        self._check_fitted("classifier_")
        docs = self._doc_vectors(texts, vectors)
        proba = np.zeros((len(docs), len(self.labels) + 1), np.float64)
        proba[:, self.classes_index_] = self.classifier_.predict_proba(docs)
        return proba

    def predict_proba(self, texts=None, vectors=None) -> np.ndarray:
        """Probability of each label: ndarray of shape (n_documents, n_labels), columns in
        ``self.labels`` order. Rows sum to 1 minus :meth:`none_proba` (to 1 when fitted with
        ``abstain=0``, which fits no *none* class)."""
        return self._class_proba(texts, vectors)[:, :-1]

    def none_proba(self, texts=None, vectors=None) -> np.ndarray:
        """Probability that a document is about none of the labels: ndarray of shape
        (n_documents,); zeros when fitted with ``abstain=0``."""
        return self._class_proba(texts, vectors)[:, -1]

    def _decide(self, texts, vectors) -> tuple[list[str | None], list[str | None]]:
        proba = self._class_proba(texts, vectors)
        best = proba.argmax(axis=1)
        labels: list[str | None] = []
        reasons: list[str | None] = []
        for i, b in enumerate(best):
            reason = NONE_OF_THE_LABELS if b == len(self.labels) else LOW_CONFIDENCE if proba[i, b] < self.abstain \
                else None
            labels.append(None if reason else self.labels[b])
            reasons.append(reason)
        return labels, reasons

    def predict(self, texts=None, vectors=None) -> list[str | None]:
        """The most probable label per document; None where "none of the labels" is more
        probable than every label, or where the label's probability is below ``abstain``."""
        return self._decide(texts, vectors)[0]

    def abstain_reasons(self, texts=None, vectors=None) -> list[str | None]:
        """Per document, why :meth:`predict` gave no label: ``"none of the labels"``, ``"low
        confidence"`` (below ``abstain``), or None where it gave one."""
        return self._decide(texts, vectors)[1]

    def fit_predict(self, texts=None, vectors=None) -> list[str | None]:
        """Fit on ``texts`` (or ``vectors=``) and return their labels (:attr:`labels_`)."""
        return list(self.fit(texts, vectors=vectors).labels_)

    def diagnostics(self, top: int = 3) -> dict[str, dict]:
        """Per label: seed count, and per keyword its cosine to the label vector, how many of
        the label's documents it pulls hardest (its most similar keyword), whether another
        label's vector is closer to it, and its ``top`` most similar documents (row numbers)."""
        self._check_fitted("label_vectors_")
        if not hasattr(self, "train_vectors_"):
            raise NotFittedError("diagnostics need the documents of a fit (a loaded KeywordTopics has only its "
                                 "label vectors): call fit() first")
        docs = self.train_vectors_
        assigned = np.asarray(self.predict_proba(vectors=docs).argmax(axis=1))
        keyword_doc = docs @ self.keyword_vectors.T  # (n, keywords)
        to_labels = self.keyword_vectors @ self.label_vectors_.T
        report = {}
        for k, label in enumerate(self.labels):
            own = np.flatnonzero(self.keyword_owner == k)
            members = np.flatnonzero(assigned == k)
            pulls = np.bincount(keyword_doc[np.ix_(members, own)].argmax(axis=1), minlength=len(own)) \
                if len(members) else np.zeros(len(own), int)
            words = {}
            for j, column in enumerate(own):
                word = self.keyword_list[column]
                words[word] = {
                    "cosine_to_label": float(to_labels[column, k]),
                    "pulls_documents": int(pulls[j]),
                    "closer_to": None if to_labels[column].argmax() == k else self.labels[int(to_labels[column].argmax())],
                    "unknown_word": word in self.unknown_keywords,
                    "top_documents": np.argsort(-keyword_doc[:, column], kind="stable")[:top].tolist(),
                }
            report[label] = {"documents": int(len(members)), "seeds": int(len(self.seeds_[k])), "keywords": words}
        return report
