"""A medical claim scrubber for professional claims (X12 837P / CMS-1500).

The public API: :class:`Scrubber`, the claim and finding models, and what a
plugin needs (:data:`hookimpl`, :class:`Facts`, :class:`ReferenceTable`,
:class:`Option`).
"""

from .facts import Facts
from .hookspecs import hookimpl
from .models import Change, Citation, Claim, Finding, Fix, InputError, Payer, Patient, Provider, ScrubResult, ServiceLine, Severity, Source, Status
from .plugin import Option, ReferenceTable
from .rules import RuleSet
from .scrubber import Scrubber, ScrubberError

__version__ = "0.1.0"

__all__ = [
    "Change", "Citation", "Claim", "Facts", "Finding", "Fix", "InputError", "Option", "Payer", "Patient",
    "Provider", "ReferenceTable", "RuleSet", "ScrubResult", "Scrubber", "ScrubberError", "ServiceLine",
    "Severity", "Source", "Status", "hookimpl",
]
