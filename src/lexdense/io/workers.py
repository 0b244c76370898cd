"""Worker processes for embed jobs: each holds the model, with one numba and one BLAS thread
(the pool supplies the parallelism), and dies with its parent."""

from __future__ import annotations

import os

from lexdense.errors import InputError

_WORKER_MODEL = None


def _check_workers(workers: object) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"workers must be a positive int, got {workers!r}")


def _worker_pool(model, workers: int):
    """A pool of ``workers`` processes, each holding ``model`` (see :func:`_worker_context`)."""
    from concurrent.futures import ProcessPoolExecutor

    context, initargs = _worker_context(model)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(*initargs, os.getpid()))


def _worker_context(model):
    """How to start worker processes: (multiprocessing context, initializer arguments).

    Forking hands the loaded model to the workers for free (a spawned worker spends about a
    second importing and loading it, which is most of a small job), and the tables are then
    shared copy-on-write. It is safe only before numba has started its own thread pool in
    this process (an ``encode`` call does that), so otherwise workers are spawned and load
    the model from its directory.
    """
    import multiprocessing

    from numba.np.ufunc import parallel

    global _WORKER_MODEL
    if "fork" in multiprocessing.get_all_start_methods() and not parallel._is_initialized:
        _WORKER_MODEL = model
        return multiprocessing.get_context("fork"), (None,)
    source = getattr(model, "source", None)
    if source is None:
        raise InputError("workers > 1 needs a model loaded from a name or directory")
    return multiprocessing.get_context("spawn"), (source,)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this worker when its parent dies (a kill -9 of `lexdense embed`
    must not leave orphans holding memory and the output's lock)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _init_worker(source: str | None, parent: int | None = None) -> None:
    """Worker process: one numba and one BLAS thread (the pool supplies the parallelism);
    it dies with its parent."""
    global _WORKER_MODEL
    if parent is not None:
        _die_with_parent(parent)
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(1)
    threadpool_limits(1)
    if source is not None:
        from lexdense.model import LexDense

        _WORKER_MODEL = LexDense.load(source)




def worker_model():
    """The model of this worker process (set by :func:`_init_worker`)."""
    return _WORKER_MODEL
