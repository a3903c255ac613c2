"""Write a corrected input file for ``check --fix --fix-output``."""

from __future__ import annotations

import json
from typing import IO

from .models import ScrubResult
from .readers import sniff


def write_fixed(input_path: str, output_path: str, results: list[ScrubResult], err: IO[str]) -> None:
    with open(input_path, "rb") as handle:
        data = handle.read()
    if sniff(data[:512]) == "x12":
        from .x12_fix import write_fixed_x12

        write_fixed_x12(data, input_path, output_path, results, err)
        return
    with open(output_path, "w", encoding="utf-8") as out:
        for result in results:
            if result.fixed_claim is not None:
                out.write(json.dumps(result.fixed_claim, ensure_ascii=False) + "\n")
