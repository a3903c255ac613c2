"""Types a plugin author uses besides the hooks themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence


@dataclass(frozen=True)
class ReferenceTable:
    """A data table a plugin relies on, with its provenance."""

    name: str
    version: str
    source: str
    rows: Optional[int] = None
    description: str = ""


@dataclass(frozen=True)
class Option:
    """A plugin option that the config file may set, globally or per payer."""

    name: str
    default: Any
    description: str
    choices: Optional[Sequence[Any]] = None
    type: type = field(default=str)

    def check(self, value: Any) -> Any:
        if self.type is bool and not isinstance(value, bool):
            raise ValueError(f"option {self.name} must be true or false")
        if self.type is not bool and not isinstance(value, self.type):
            raise ValueError(f"option {self.name} must be a {self.type.__name__}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"option {self.name} must be one of {', '.join(map(str, self.choices))}")
        return value
