"""Generate people in fixed-size chunks across processes, yielding results in chunk order.

Chunks are a fixed size whatever the number of workers, and every person has their own
random stream, so the output is byte-identical with one process or many. At most two
chunks per worker are in flight, so memory stays flat however many people there are.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from joinedup.synth.context import SynthContext
from joinedup.synth.people import generate_person
from joinedup.synth.serialise import Rendered, render_people

CHUNK_PEOPLE = 500


@dataclass(frozen=True)
class Chunk:
    index: int
    first: int
    stop: int


def chunks(people: int, size: int = CHUNK_PEOPLE) -> list[Chunk]:
    return [
        Chunk(i, first, min(people, first + size)) for i, first in enumerate(range(0, people, size))
    ]


_worker_context: SynthContext | None = None
_worker_format = "ndjson"


def _init_worker(ctx: SynthContext, output_format: str) -> None:
    global _worker_context, _worker_format
    _worker_context, _worker_format = ctx, output_format


def _render(chunk: Chunk) -> Rendered:
    assert _worker_context is not None, "worker started without a context"
    ctx = _worker_context
    return render_people(
        (generate_person(serial, ctx) for serial in range(chunk.first, chunk.stop)), _worker_format
    )


def default_workers() -> int:
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


def run_chunks(
    ctx: SynthContext,
    output_format: str,
    workers: int,
    on_chunk: Callable[[Chunk], None] | None = None,
) -> Iterator[Rendered]:
    """Rendered output of every chunk, in order."""
    plan = chunks(ctx.plan.people)
    if workers <= 1 or len(plan) <= 1:
        _init_worker(ctx, output_format)
        for chunk in plan:
            yield _render(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(
        workers, initializer=_init_worker, initargs=(ctx, output_format)
    ) as pool:
        pending: deque[tuple[Chunk, multiprocessing.pool.AsyncResult[Rendered]]] = deque()
        queue = iter(plan)
        for chunk in queue:
            pending.append((chunk, pool.apply_async(_render, (chunk,))))
            if len(pending) >= 2 * workers:
                break
        while pending:
            chunk, result = pending.popleft()
            rendered = result.get()
            next_chunk = next(queue, None)
            if next_chunk is not None:
                pending.append((next_chunk, pool.apply_async(_render, (next_chunk,))))
            yield rendered
            if on_chunk is not None:
                on_chunk(chunk)
