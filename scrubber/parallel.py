"""Scrub with several worker processes (``scrubber check --jobs N``).

durable_rules never releases the GIL and keeps global state, so parallelism
means processes. Each worker builds its :class:`Scrubber` once (in the pool
initializer, from the same configuration, plugin and rule options as the
parent) and scrubs batches of records. The parent reads (NDJSON lines are
parsed by the workers), sends batches and writes results in input order; at
most ``2 * jobs`` batches are in flight, so memory is bounded by the batch
size, not by the input.

Workers render each result's output themselves (``render``) and send back
short tuples: unpickling a pydantic result costs more than scrubbing half a
claim, and the parent is the one process that cannot be parallelised.
Workers start with ``forkserver`` where available, else ``spawn``: never
``fork``, which would copy a parent that may hold the engine lock or live
engine state.
"""

from __future__ import annotations

import argparse
import io
import logging
import multiprocessing
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from .models import ScrubResult, Source, Status, construct
from .readers import ClaimRecord
from .readers.json_reader import RawLine, parse_raw

#: The Scrubber of this worker process, built once by ``_init``.
_SCRUBBER: Any = None
_RENDER: Optional[Callable[[ScrubResult], str]] = None


class ParallelError(Exception):
    """A worker process died (the pool cannot go on)."""


@dataclass
class Outcome:
    """One claim's result as the parent gets it back, in input order."""

    status: Status
    #: The rendered output (when a renderer was given), else None.
    text: Optional[str]
    #: The full result (when asked for, or when nothing was rendered).
    result: Optional[ScrubResult]


def scrubber_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The Scrubber keyword arguments the CLI derives from its options."""
    return {
        "config": args.config,
        "allow_plugins": args.allow_plugin,
        "block_plugins": args.block_plugin,
        "rulesets": list(args.rules or []),
        # Workers open the same claim history (stores are safe after fork).
        "history": getattr(args, "history", None),
        "record": not getattr(args, "history_readonly", False),
    }


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has imported (never run) the scrubber:
    # imports once, and no engine state exists there to inherit.
    context.set_forkserver_preload(["scrubber.scrubber"])
    return context


def _init(options: dict[str, Any], render: Optional[str], log_level: int) -> None:
    """Pool initializer: build this process's Scrubber once."""
    global _SCRUBBER, _RENDER
    logging.basicConfig(level=log_level, format="scrubber: %(message)s")
    from .scrubber import Scrubber

    _SCRUBBER = Scrubber(**options)
    if render is not None:
        from . import cli

        write = cli._json if render == "json" else cli._text
        _RENDER = lambda result: _render_with(write, result)  # noqa: E731


def _render_with(write: Callable[[ScrubResult, Any], None], result: ScrubResult) -> str:
    buffer = io.StringIO()
    write(result, buffer)
    return buffer.getvalue()


def _scrub_batch(batch: list[tuple[Any, ...]], fix: bool, keep: bool) -> list[tuple[str, Optional[str], Optional[ScrubResult]]]:
    out = []
    for item in batch:
        if item[0] is _RAW:
            record = parse_raw(RawLine(*item[1:]))
        else:
            record = ClaimRecord(item[1], construct(Source, **item[2]), item[3])
        result = _SCRUBBER.scrub(record, fix=fix)
        text = _RENDER(result) if _RENDER is not None else None
        out.append((result.status.value, text, result if keep or text is None else None))
    return out


_RAW, _RECORD = None, 1


def _batches(records: Iterable[Union[ClaimRecord, RawLine]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    """Plain tuples: they pickle several times faster than a dataclass with a model inside.
    NDJSON lines stay unparsed (``RawLine``): the workers parse them."""
    batch: list[tuple[Any, ...]] = []
    for record in records:
        if isinstance(record, RawLine):
            batch.append((_RAW, *record))
        else:
            batch.append((_RECORD, record.data, dict(record.source.__dict__), record.errors))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def scrub_parallel(
    records: Iterable[Union[ClaimRecord, RawLine]],
    args: argparse.Namespace,
    jobs: int,
    batch_size: int,
    fix: bool,
    render: Optional[str] = None,
    keep_results: bool = True,
) -> Iterator[Outcome]:
    """Scrub ``records`` with ``jobs`` worker processes; yield outcomes in
    input order. ``render`` ('json' or 'text') has workers format each result
    as the CLI would; ``keep_results`` also sends the full results back."""
    options = scrubber_kwargs(args)
    level = logging.getLogger().level
    executor = ProcessPoolExecutor(jobs, mp_context=_context(), initializer=_init, initargs=(options, render, level))
    pending: deque[Future] = deque()
    try:
        for batch in _batches(records, max(1, batch_size)):
            pending.append(executor.submit(_scrub_batch, batch, fix, keep_results))
            while len(pending) >= 2 * jobs:
                yield from _outcomes(pending.popleft())
        while pending:
            yield from _outcomes(pending.popleft())
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


def _outcomes(future: Future) -> Iterator[Outcome]:
    try:
        items = future.result()
    except BrokenProcessPool as exc:
        raise ParallelError(f"a worker process died: {exc}") from None
    for status, text, result in items:
        yield Outcome(Status(status), text, result)
