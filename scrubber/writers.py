"""Write a corrected input file for ``check --fix --fix-output``.

An X12 input is corrected in place (only the segments a fix touches change,
see :mod:`scrubber.x12_fix`) and an audit of every change is written beside
it; a JSON input becomes NDJSON of the corrected claims.
"""

from __future__ import annotations

import json
from typing import IO

from .models import ScrubResult
from .readers import sniff


def write_fixed(input_path: str, output_path: str, results: list[ScrubResult], err: IO[str]) -> None:
    with open(input_path, "rb") as handle:
        data = handle.read()
    if sniff(data[:512]) == "x12":
        _write_x12(data, input_path, output_path, results, err)
        return
    with open(output_path, "w", encoding="utf-8") as out:
        for result in results:
            if result.fixed_claim is not None:
                out.write(json.dumps(result.fixed_claim, ensure_ascii=False) + "\n")


def _write_x12(data: bytes, input_path: str, output_path: str, results: list[ScrubResult], err: IO[str]) -> None:
    from .x12_fix import apply_fixes

    edits: dict[int, list[dict]] = {}
    for result in results:
        if not result.changes or result.source is None or result.source.segment is None:
            continue
        edits[result.source.segment] = [
            {"rule_id": c.rule_id, "line": c.line, "action": c.action, "modifier": c.modifier, "units": c.units}
            for c in result.changes
        ]
    fixed, audit = apply_fixes(data, edits, input_path)
    with open(output_path, "wb") as out:
        out.write(fixed)
    audit_path = output_path + ".audit.ndjson"
    with open(audit_path, "w", encoding="utf-8") as out:
        for entry in audit:
            out.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
    applied = sum(1 for e in audit if e.get("applied", True))
    err.write(f"scrubber: wrote {output_path} ({applied} segment changes; audit in {audit_path})\n")
