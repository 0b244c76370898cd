"""Micro-batching of concurrent ``/embed`` requests: one compiled call for many requests."""

from __future__ import annotations

import asyncio

import numpy as np


class MicroBatcher:
    """Collects texts from concurrent requests and embeds them in one call."""

    def __init__(self, model, max_batch: int = 2048, wait_ms: float = 2.0):
        self.model, self.max_batch, self.wait = model, max_batch, wait_ms / 1000
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.batches = 0

    async def embed(self, texts: list[str]) -> np.ndarray:
        if self.task is None or self.task.done():
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._run())
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            size = len(items[0][0])
            deadline = loop.time() + self.wait
            while size < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                items.append(item)
                size += len(item[0])
            texts = [t for item, _ in items for t in item]
            try:
                vectors = await loop.run_in_executor(None, self.model.encode, texts)
                self.batches += 1
                start = 0
                for item, future in items:
                    if not future.done():
                        future.set_result(vectors[start:start + len(item)])
                    start += len(item)
            except Exception as exc:  # hand the error to every waiting request
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
