"""Patient data never reaches logs, error messages or findings (issue 7).

The patient values are taken from the sample 837P files by simple segment
parsing (subscriber and patient names NM1*IL / NM1*QC, their member IDs
NM109, their N3/N4 address lines and DMG birth dates) and searched for in
everything a CLI run writes: stdout in both formats, stderr, and logging
captured at DEBUG.

``fixed_claim`` (fix mode, JSON format) is the corrected claim itself, meant
to be resubmitted, so it carries the patient block by design (see the README,
"Patient data"); the scan covers everything else in fix mode.
"""

from __future__ import annotations

import io
import json
import logging
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from scrubber import Scrubber, hookimpl
from scrubber.cli import main

DATA = Path(__file__).parent / "data" / "837p"
SAMPLES = sorted(p for p in DATA.glob("*/*") if p.name not in ("LICENSE", "README.md"))


def patient_values(paths) -> dict[str, set[str]]:
    """Names, member IDs, addresses and birth dates of subscribers and patients."""
    found: dict[str, set[str]] = {"name": set(), "member_id": set(), "address": set(), "birth_date": set()}
    for path in paths:
        text = path.read_bytes().decode("latin-1")
        if len(text) < 106 or not text.startswith("ISA"):
            text = "ISA" + "*" * 102 + ":~" + text  # no ISA: assume * and ~
        elem, term = text[3], text[105]
        person = False  # inside a 2010BA / 2010CA loop
        for seg in text.split(term):
            el = seg.strip().split(elem)
            sid = el[0]
            if sid == "NM1":
                person = len(el) > 1 and el[1] in ("IL", "QC")
                if person:
                    found["name"].update(v for v in el[3:6] if len(v) >= 3)
                    if len(el) > 9 and len(el[9]) >= 5:
                        found["member_id"].add(el[9])
            elif sid in ("HL", "CLM", "SBR", "LX"):
                person = False
            elif person and sid in ("N3", "N4"):
                found["address"].update(v for v in el[1:3] if len(v) >= 4 and not v.isdigit())
            elif person and sid == "DMG" and len(el) > 2 and len(el[2]) == 8 and el[2].isdigit():
                d = el[2]
                found["birth_date"].update({d, f"{d[:4]}-{d[4:6]}-{d[6:]}"})
            elif person and sid == "REF" and len(el) > 2 and el[1] in ("SY", "1W") and len(el[2]) >= 5:
                found["member_id"].add(el[2])
    return found


def _pattern(values: set[str]) -> re.Pattern:
    return re.compile(r"(?<![A-Za-z0-9])(" + "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)) + r")(?![A-Za-z0-9])")


def run(argv, caplog) -> tuple[int, str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    caplog.clear()
    with caplog.at_level(logging.DEBUG), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue(), caplog.text


def _leaks(pattern: re.Pattern, text: str) -> list[str]:
    return sorted({m.group(1) for m in pattern.finditer(text)})


VALUES = patient_values(SAMPLES)
ALL_VALUES = set().union(*VALUES.values())


def test_the_samples_hold_patient_values_to_look_for():
    assert {"SMITH", "DOE"} <= VALUES["name"]
    assert len(VALUES["member_id"]) >= 5 and len(VALUES["address"]) >= 5 and len(VALUES["birth_date"]) >= 5


def _without_fixed_claim(out: str, fmt: str) -> str:
    if fmt != "json":
        return out
    docs = [json.loads(line) for line in out.splitlines()]
    for doc in docs:
        doc.pop("fixed_claim", None)
    return "\n".join(json.dumps(doc) for doc in docs)


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("fix", [False, True], ids=["check", "fix"])
def test_no_patient_values_in_any_output_over_every_sample(fmt, fix, caplog, tmp_path):
    pattern = _pattern(ALL_VALUES)
    argv = ["check", "--format", fmt] + (["--fix"] if fix else []) + [str(p) for p in SAMPLES]
    code, out, err, logs = run(argv, caplog)
    assert code in (1, 2)
    assert out.count("claim") > 500
    assert _leaks(pattern, _without_fixed_claim(out, fmt)) == []
    assert _leaks(pattern, err) == []
    assert _leaks(pattern, logs) == []


def test_fixed_claim_carries_only_the_claims_own_patient_block(caplog):
    """fixed_claim is the claim (for resubmission); the patient data it holds
    is exactly what the claim had (the reader keeps no names or addresses)."""
    names = _pattern(VALUES["name"] | VALUES["address"])
    ids_and_dates = _pattern(VALUES["member_id"] | VALUES["birth_date"])
    code, out, _, _ = run(["check", "--format", "json", "--fix", str(DATA / "generated" / "synthetic-500-claims.837")], caplog)
    fixed = [json.dumps(doc["fixed_claim"]) for doc in map(json.loads, out.splitlines()) if "fixed_claim" in doc]
    assert len(fixed) > 100
    for text in fixed:
        assert _leaks(names, text) == []
    # the scan is live: the claim's own member IDs and birth dates are there
    assert len(_leaks(ids_and_dates, "\n".join(fixed))) > 100


SECRETS = {"MEMBER998877", "Zelda", "Quuxwright", "77 Obscure Lane", "Springfield-Q", "1931-02-03", "19310203"}


def _invalid_claims() -> list[dict]:
    base = {
        "claim_id": "INV-1", "filing_indicator": "MB",
        "patient": {"id": "MEMBER998877", "name": "Zelda Quuxwright", "birth_date": "1931-02-03",
                    "address": {"line": "77 Obscure Lane", "city": "Springfield-Q"}},
        "lines": [{"number": 1, "code": "20561", "service_date": "2024-01-03", "units": 3}],
    }
    variants = []
    for n, change in enumerate([
        {"patient": {"id": "MEMBER998877", "birth_date": "Zelda Quuxwright"}},
        {"patient": {"id": "MEMBER998877" * 5, "sex": "Zelda"}},
        {"patient": {"id": ["MEMBER998877"], "birth_date": "19310203"}},
        {"patient": "Zelda Quuxwright, 77 Obscure Lane, MEMBER998877"},
        {"lines": [{"number": "MEMBER998877", "code": "Zelda", "service_date": "19310203", "units": "77 Obscure Lane"}]},
        {"diagnoses": ["Quuxwright"], "abn": "Zelda", "place_of_service": "MEMBER998877"},
        {"billing_provider": {"npi": "MEMBER998877", "taxonomy": "Quuxwright"}},
        {"lines": [{"number": 1, "code": "20561", "service_date": "2024-01-03", "charge": 19310203.5}]},
        {"claim_id": {"patient": "Zelda Quuxwright", "id": "MEMBER998877"}},
        {"claim_id": ["MEMBER998877", "1931-02-03"]},
        {},  # a valid claim (rejected: units) carrying all the patient fields
    ]):
        claim = json.loads(json.dumps(base))
        claim.setdefault("claim_id", f"INV-{n}")
        if "claim_id" not in change:
            claim["claim_id"] = f"INV-{n}"
        claim.update(change)
        variants.append(claim)
    return variants


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_patient_values_from_invalid_json_claims(fmt, caplog, tmp_path):
    path = tmp_path / "claims.ndjson"
    lines = [json.dumps(c) for c in _invalid_claims()]
    lines.append('{"claim_id": "BROKEN", "patient": {"name": "Zelda Quuxwright", "id": MEMBER998877}}')  # bad JSON
    lines.append('"Zelda Quuxwright 77 Obscure Lane"')  # not an object
    path.write_text("\n".join(lines) + "\n")
    code, out, err, logs = run(["check", "--format", fmt, "--allow-plugin", "dry-needling", str(path)], caplog)
    assert code == 1
    assert out.count("invalid") >= 11
    pattern = _pattern(SECRETS)
    for text in (out, err, logs):
        assert _leaks(pattern, text) == []


def test_no_patient_values_when_a_plugin_or_the_engine_fails(caplog, monkeypatch):
    """A plugin whose exception message carries patient data: the claim is
    failed, and neither the result nor the log repeats the message."""
    class Leaky:
        @hookimpl
        def scrubber_facts(self, claim):
            raise LookupError(f"no eligibility for {claim.patient.id} born {claim.patient.birth_date}")

    scrubber = Scrubber(allow_plugins=["dry-needling", "leaky"], plugins=[("leaky", Leaky())])
    claim = _invalid_claims()[-1]
    with caplog.at_level(logging.DEBUG):
        result = scrubber.scrub(claim)
    assert result.status.value == "failed"
    pattern = _pattern(SECRETS)
    assert _leaks(pattern, result.model_dump_json()) == []
    assert _leaks(pattern, caplog.text) == []
    assert "LookupError" in result.errors[0].message
