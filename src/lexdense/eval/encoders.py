"""The encoders `lexdense eval` and the benchmarks can score, by one spec string each."""

from __future__ import annotations

from pathlib import Path

SPECS = ("lexdense name or directory", "st:<sentence-transformers id or path>", "potion:<model2vec dir>",
         "glove", "tfidf", "bm25 (retrieval only)")


def load_encoder(spec: str):
    """(display name, encoder) for ``spec``: 'st:<id or path>' sentence-transformers,
    'potion:<dir>' model2vec, 'glove', 'tfidf', 'bm25' (retrieval only), else a lexdense
    model name or directory."""
    if spec in ("glove", "tfidf", "bm25"):
        from lexdense.eval import baselines

        encoder = {"glove": baselines.GloVeMean, "tfidf": baselines.Tfidf, "bm25": baselines.Bm25}[spec]()
        return encoder.name, encoder
    if spec.startswith("st:"):
        from lexdense.distill.teacher import load_teacher

        return spec[3:].rstrip("/").split("/")[-1], load_teacher(spec[3:])
    if spec.startswith("potion:"):
        from model2vec import StaticModel

        return "potion:" + Path(spec[7:]).name, StaticModel.from_pretrained(spec[7:])
    from lexdense.model import LexDense

    model = LexDense.load(spec)
    return model.config.get("name", spec), model
