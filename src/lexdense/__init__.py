"""lexdense: fast lexical-dense text embeddings on CPUs."""

from lexdense.errors import LexDenseError, NotFittedError
from lexdense.extras import MissingExtraError
from lexdense.model import LexDense, ModelFileError

__version__ = "0.1.0"
__all__ = ["LexDense", "LexDenseError", "MissingExtraError", "ModelFileError", "NotFittedError", "distill", "__version__"]


def distill(*args, **kwargs):
    """Train a LexDense model from a sentence-transformers teacher; see :func:`lexdense.distill.distill`."""
    from lexdense.distill import distill as _distill

    return _distill(*args, **kwargs)
