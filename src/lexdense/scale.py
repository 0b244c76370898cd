"""Embedding beyond one machine with Ray Data.

    import ray
    from lexdense.scale import embed_dataset
    ds = ray.data.read_parquet("s3://bucket/corpus/")            # or any Ray Dataset with a text column
    embed_dataset(ds, model="lexdense-base").write_parquet("s3://bucket/vectors/")

An actor pool (``map_batches`` with a callable class) loads the model once per worker and
embeds Arrow batches; each worker keeps numba to ``threads_per_worker`` threads so workers
do not oversubscribe the cores. Point Ray at a cluster with ``ray.init(address="auto")`` (or
``lexdense embed --engine ray --ray-address auto``) on a node of a running Ray cluster; the
model is read from the installed package on every node, so install lexdense there.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from lexdense.errors import InputError
from lexdense.model import DEFAULT_MODEL


class _Embedder:
    """Ray actor: loads the model once, embeds Arrow batches."""

    def __init__(self, model: str, text_column: str, precision: str, threads_per_worker: int, keep_text: bool):
        import numba

        numba.set_num_threads(max(1, min(threads_per_worker, numba.config.NUMBA_NUM_THREADS)))
        from lexdense.model import LexDense

        self.model = LexDense.load(model)
        self.model.check_options(precision)
        self.text_column, self.precision, self.keep_text = text_column, precision, keep_text

    def __call__(self, batch: pa.Table) -> pa.Table:
        from lexdense.io.embed_job import embedding_column

        if self.text_column not in batch.column_names:
            raise InputError(f"no column '{self.text_column}' (columns: {', '.join(batch.column_names)})")
        texts = ["" if t is None else t for t in batch.column(self.text_column).to_pylist()]
        vectors = self.model.encode(texts, precision=self.precision, show_progress_bar=False)
        if not self.keep_text:
            batch = batch.drop_columns([self.text_column])
        return batch.append_column("embedding", embedding_column(np.asarray(vectors), self.precision))


def embed_dataset(dataset, model: str = DEFAULT_MODEL, text_column: str = "text", batch_size: int = 4096,
                  workers: int | None = None, threads_per_worker: int = 1, precision: str = "float32",
                  keep_text: bool = False):
    """A Ray Dataset with an ``embedding`` column added (lazy, like every Ray Data transform).

    Parameters
    ----------
    workers
        actor pool size (default: the cluster's CPUs minus one, / threads_per_worker:
        the spare CPU runs Ray Data's read and write tasks; with every CPU held by an embedding
        actor, those tasks cannot be scheduled and the job waits forever).
    """
    import ray

    if workers is None:
        cpus = int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
        workers = max(1, (cpus - 1) // max(1, threads_per_worker))
    return dataset.map_batches(
        _Embedder,
        fn_constructor_args=(str(model), text_column, precision, threads_per_worker, keep_text),
        batch_size=batch_size, batch_format="pyarrow", concurrency=workers, num_cpus=threads_per_worker,
    )


def embed_parquet(input_path: str, output_dir: str, model: str = DEFAULT_MODEL, text_column: str = "text",
                  address: str | None = None, workers: int | None = None, **options) -> int:
    """Read Parquet (a file, directory or URI), embed, write Parquet shards to ``output_dir``.
    Starts a local Ray unless ``address`` names a cluster ("auto" for the one this node is in).
    Returns the number of rows written."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 **({} if address else {"num_cpus": os.cpu_count()}))
    dataset = ray.data.read_parquet(input_path)
    embedded = embed_dataset(dataset, model=model, text_column=text_column, workers=workers, **options)
    if "://" in str(output_dir):  # object stores: Ray's writer as is
        embedded.write_parquet(str(output_dir))
        return int(ray.data.read_parquet(str(output_dir)).count())
    from lexdense.io.atomic import atomic_directory

    with atomic_directory(output_dir, "embeddings (ray)") as tmp:  # a failed job leaves no half-written directory
        embedded.write_parquet(str(tmp))
    return int(ray.data.read_parquet(str(output_dir)).count())
