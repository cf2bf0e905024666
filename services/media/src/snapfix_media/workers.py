"""Image work off the event loop: a process pool with a per-image timeout.

A worker that overruns its time, or dies (a decoder crash, the OOM killer), costs that
image a rejection and the pool a restart; the service itself keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from snapfix_media.pipeline import Processed, Rejected, process

log = logging.getLogger(__name__)
# A fresh worker now and then bounds what a leak in a native decoder can accumulate.
TASKS_PER_WORKER = 200


class ImageWorkers:
    def __init__(self, workers: int, *, timeout_s: float, max_pixels: int) -> None:
        self.workers, self.timeout_s, self.max_pixels = workers, timeout_s, max_pixels
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # "spawn": a forked copy of a process running an event loop and Kafka threads is unsafe.
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=TASKS_PER_WORKER
            )
        return self._pool

    async def process(self, data: bytes) -> Processed | Rejected:
        loop = asyncio.get_running_loop()
        job = partial(process, data, max_pixels=self.max_pixels)
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._executor(), job), self.timeout_s)
        except TimeoutError:
            log.warning("an image took longer than %.0fs: restarting the worker pool", self.timeout_s)
            self._restart()
            return Rejected(f"The image took too long to process (over {self.timeout_s:.0f} s).")
        except BrokenProcessPool:
            log.warning("an image worker died: restarting the worker pool")
            self._restart()
            return Rejected("The image could not be processed safely.")

    def _restart(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # A running task cannot be cancelled: its process is terminated instead.
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        """At shutdown, once the consumers stopped: an image still being processed is cut, not
        waited for (up to ``timeout_s``); its command was not committed and comes back."""
        pool, self._pool = self._pool, None
        if pool is not None:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
