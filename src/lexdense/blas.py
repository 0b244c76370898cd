"""BLAS thread control around ``encode``: numba's kernel and OpenBLAS must not fight for the cores."""

from __future__ import annotations

import threading
from typing import Any


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


ONE_BLAS_THREAD = _OneBlasThread()
