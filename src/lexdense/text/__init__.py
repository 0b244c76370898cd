"""From text to features: the byte-level featurizer and its vocabulary."""
from lexdense.text.featurizer import Featurizer, words

__all__ = ["Featurizer", "words"]
