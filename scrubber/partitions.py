"""Scrub partitions of NDJSON text on a cluster (Dask, Spark).

A cluster runs the same function on many partitions in long-lived worker
processes; building a :class:`Scrubber` costs milliseconds and leaks a little
memory inside durable_rules, so each process builds one per set of options
and keeps it (:func:`cached_scrubber`). The engine adapter starts no
threads and serialises its calls behind one lock, so a worker process with
several task threads is safe (but gains nothing: use one thread per process).

    import dask.bag as db
    from scrubber.partitions import scrub_partition
    lines = db.read_text("claims-*.ndjson", blocksize="64MiB")
    results = lines.map_partitions(scrub_partition).map(json.loads)

Each output line is the ``scrubber check --format json`` object of one
input line, in order, without ``source`` (a partition does not know its
position in the file; carry your own keys in the claim: extra fields are kept).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from .models import Source
from .readers.json_reader import ndjson_record
from .scrubber import Scrubber

_SCRUBBERS: dict[tuple, Scrubber] = {}
_BUILD = threading.Lock()


def cached_scrubber(
    config: Union[None, str, Path] = None,
    allow_plugins: Optional[Iterable[str]] = None,
    block_plugins: Optional[Iterable[str]] = None,
    rulesets: Iterable[Union[str, Path]] = (),
) -> Scrubber:
    """This process's Scrubber for these options, built on first use."""
    key = (
        str(config) if config is not None else None,
        tuple(allow_plugins) if allow_plugins is not None else None,
        tuple(block_plugins) if block_plugins is not None else None,
        tuple(str(r) for r in rulesets),
    )
    scrubber = _SCRUBBERS.get(key)
    if scrubber is None:
        with _BUILD:
            scrubber = _SCRUBBERS.get(key)
            if scrubber is None:
                scrubber = _SCRUBBERS[key] = Scrubber(
                    config=config, allow_plugins=key[1], block_plugins=key[2], rulesets=list(key[3])
                )
    return scrubber


def scrub_lines(lines: Iterable[Union[str, bytes]], fix: bool = False, **options: Any) -> Iterable[dict[str, Any]]:
    """Result objects for NDJSON lines (blank lines are skipped)."""
    from .cli import result_doc

    scrubber = cached_scrubber(**options)
    empty = Source()
    for raw in lines:
        data = raw.encode("utf-8") if isinstance(raw, str) else raw
        if not data.strip():
            continue
        # bom=True: a partition cannot tell whether it starts the file.
        result = scrubber.scrub(ndjson_record(data, empty, bom=True), fix=fix)
        doc = result_doc(result)
        doc.pop("source", None)
        for error in doc.get("errors", ()):
            error.pop("source", None)
        yield doc


def scrub_partition(lines: Iterable[Union[str, bytes]], fix: bool = False, **options: Any) -> list[str]:
    """``dask.bag`` ``map_partitions`` function: NDJSON lines in, result JSON lines out."""
    return [json.dumps(doc, ensure_ascii=False, separators=(",", ":")) for doc in scrub_lines(lines, fix, **options)]
