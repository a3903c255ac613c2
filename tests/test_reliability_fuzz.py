"""Fuzzing the readers and the CLI (issue 7): random and mutated JSON and
837P bytes always end in results or a clear error naming where the problem
is; never a traceback, an unexpected exception or a hang. The CLI's exit
status stays 0, 1 or 2."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrubber import Scrubber
from scrubber.cli import _json, _text, main
from scrubber.models import ScrubResult, Status
from scrubber.readers import ReadError, read_stream

DATA = Path(__file__).parent / "data" / "837p"
SAMPLES = sorted(p for p in DATA.glob("*/*") if p.name not in ("LICENSE", "README.md"))
SMALL = [p for p in SAMPLES if p.stat().st_size < 10_000]
EXAMPLES = Path(__file__).parent.parent / "examples" / "claims.json"

#: Multiply every example count (e.g. FUZZ_SCALE=20 for a long local run).
SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1")))
FUZZ = settings(max_examples=150 * SCALE, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber(allow_plugins=["dry-needling"])


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int):
    def alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def read_and_scrub(data: bytes, name: str, scrubber: Scrubber) -> list[ScrubResult]:
    """Everything a batch does with one input, in process: read, scrub (with
    fixes), render both output formats. Only ReadError may escape, and it
    must name the input."""
    results = []
    with time_limit(20):
        try:
            for record in read_stream(io.BytesIO(data), name):
                for error in record.errors:
                    assert error.source is not None and error.source.file == name
                    assert error.message and error.field
                result = scrubber.scrub(record, fix=True)
                assert isinstance(result, ScrubResult)
                assert result.source is not None and result.source.file == name
                for error in result.errors:  # every error says where: file and claim, segment or line
                    assert error.source is not None and error.source.file == name
                    assert error.source.describe() != name
                if result.status in (Status.invalid, Status.failed):
                    assert result.errors
                _json(result, io.StringIO())
                _text(result, io.StringIO())
                results.append(result)
        except ReadError as exc:
            assert str(exc).startswith(name), exc
            assert "Traceback" not in str(exc)
    return results


# -- JSON -------------------------------------------------------------------------

_JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from(["20561", "2024-01-03", "MB", "GP", "", "1e999", "NaN", "two", "120.00", "\u0000", "\ud7ff"]),
)
_JSON = st.recursive(_JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from([
        "claim_id", "lines", "units", "modifiers", "code", "number", "service_date", "charge", "patient",
        "diagnoses", "diagnosis_pointers", "payer", "filing_indicator", "abn", "x"]), inner, max_size=6)),
    max_leaves=25)


def _claim_like(value):
    """Random values dropped into a real claim's fields."""
    base = json.loads(EXAMPLES.read_text())[0]
    return base, value


@FUZZ
@given(_JSON)
def test_random_json_values(scrubber, value):
    data = json.dumps(value).encode()
    read_and_scrub(data, "fuzz.json", scrubber)
    read_and_scrub(data.replace(b"\n", b" ") + b"\n" + data + b"\n", "fuzz.ndjson", scrubber)


@FUZZ
@given(st.sampled_from(["claim_id", "lines", "patient", "payer", "diagnoses", "abn", "billing_provider",
                        "lines.0.units", "lines.0.modifiers", "lines.0.charge", "lines.0.service_date",
                        "lines.0.number", "lines.0.code", "lines.0.diagnosis_pointers", "lines.0"]), _JSON)
def test_random_values_in_claim_fields(scrubber, where, value):
    claim = json.loads(EXAMPLES.read_text())[0]
    target = claim
    parts = where.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    results = read_and_scrub(json.dumps(claim).encode(), "fuzz.json", scrubber)
    assert len(results) == 1


_JSON_BASE = EXAMPLES.read_bytes()
_NDJSON_BASE = b"\n".join(json.dumps(c).encode() for c in json.loads(_JSON_BASE)) + b"\n"


@FUZZ
@given(st.sampled_from([_JSON_BASE, _NDJSON_BASE]),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 8), st.sampled_from([
           b"", b"\xff", b"\xc3", b"\xed\xa0\x80", b"{", b"[", b"]", b"}", b'"', b",", b"\n", b"9" * 400,
           b"1e999999", b"-", b"null", b"\x00", b"[" * 3000, b'"units": "two"',
       ])), max_size=6))
def test_mutated_json_bytes(scrubber, base, mutations):
    data = bytearray(base)
    for pos, cut, insert in mutations:
        pos = pos % (len(data) + 1)
        data[pos:pos + cut] = insert
    read_and_scrub(bytes(data), "fuzz.json", scrubber)


@pytest.mark.parametrize("data", [
    b"", b"   \n\n", b"\xef\xbb\xbf", b"null", b"[]", b"{}", b"[null, 1, \"x\"]", b"\xff\xfe{}",
    b"[" * 100_000, b"{\"a\":" * 100_000, b"[" * 100_000 + b"\n" + b"{}\n",
    b"{\"claim_id\": \"X\", \"lines\": [{\"number\": 1, \"code\": \"20561\", \"service_date\": \"2024-01-03\", \"units\": 99999999999999999999999}]}",
    b"{\"claim_id\": \"X\", \"lines\": [{\"number\": 1, \"code\": \"20561\", \"service_date\": \"2024-01-03\", \"units\": \"two\"}]}",
    b"{\"claim_id\": \"X\", \"lines\": [{\"number\": 1, \"code\": \"20561\", \"service_date\": \"2024-01-03\", \"charge\": 1e999}]}",
    b"{\"claim_id\": \"X\", \"lines\": [{\"number\": 1, \"code\": \"20561\", \"service_date\": \"2024-01-03\", \"charge\": \"NaN\"}]}",
    b"{\"claim_id\": \"X\", \"lines\": [{\"number\": 1, \"code\": \"20561\", \"service_date\": \"2024-01-03\", \"charge\": \"Infinity\"}]}",
    b"{\"claim_id\": \"X\", \"n\": " + b"9" * 5000 + b"}",
    b"{\"claim_id\": \"X\", \"deep\": " + b"[" * 900 + b"]" * 900 + b", \"lines\": []}",
    b"{\"claim_id\": \"" + b"X" * 1_000_000 + b"\"}",
    b"{\"claim_id\": \"X\", \"lines\": [" + b",".join([b"{\"number\": 1}"] * 20_000) + b"]}",
], ids=lambda d: repr(d[:30]) + f"..{len(d)}")
def test_edge_json_inputs(scrubber, data):
    read_and_scrub(data, "edge.json", scrubber)


# -- X12 837P -------------------------------------------------------------------------


def _segments(data: bytes) -> tuple[list[bytes], bytes]:
    term = data[105:106] if data[:3] == b"ISA" and len(data) > 106 else b"~"
    return [s for s in data.split(term)], term


_SAMPLE_BYTES = {p.name: p.read_bytes() for p in SMALL}

_MUTATION = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, 200)),
    st.tuples(st.just("dup"), st.integers(0, 200), st.integers(1, 60)),
    st.tuples(st.just("swap"), st.integers(0, 200), st.integers(0, 200)),
    st.tuples(st.just("truncate"), st.integers(0, 10_000)),
    st.tuples(st.just("separator"), st.sampled_from([b"*", b"~", b":", b"^"]), st.sampled_from([b"|", b"~", b"*", b"\n", b"", b"**"])),
    st.tuples(st.just("element"), st.integers(0, 200), st.integers(0, 8), st.sampled_from([
        b"", b"abc", b"-1", b"1.5", b"0", b"9" * 40, b"1E5", b"\xff\xfe", b"\xc3\xa9", b"\x00", b"UN", b"D8",
        b"20240230", b"HC:20561:GP:GY:59:XS:KX", b"HC" + b":AB" * 30, b"X" * 5000,
    ])),
    st.tuples(st.just("bytes"), st.integers(0, 10_000), st.binary(max_size=4)),
)


def _mutate(data: bytes, mutations) -> bytes:
    segments, term = _segments(data)
    for mutation in mutations:
        kind = mutation[0]
        n = max(len(segments), 1)
        if kind == "drop" and segments:
            del segments[mutation[1] % n]
        elif kind == "dup" and segments:
            i = mutation[1] % n
            segments[i:i + 1] = [segments[i]] * (mutation[2] + 1)
        elif kind == "swap" and segments:
            i, j = mutation[1] % n, mutation[2] % n
            segments[i], segments[j] = segments[j], segments[i]
        elif kind == "truncate":
            joined = term.join(segments)
            segments = [joined[: mutation[1] % (len(joined) + 1)]]
        elif kind == "separator":
            segments = [s.replace(mutation[1], mutation[2]) for s in segments]
        elif kind == "element" and segments:
            i = mutation[1] % n
            elements = segments[i].split(b"*")
            j = mutation[2] % len(elements)
            if j:
                elements[j] = mutation[3]
                segments[i] = b"*".join(elements)
        elif kind == "bytes":
            joined = bytearray(term.join(segments))
            pos = mutation[1] % (len(joined) + 1)
            joined[pos:pos] = mutation[2]
            segments = [bytes(joined)]
    return term.join(segments)


@settings(max_examples=400 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(sorted(_SAMPLE_BYTES)), st.lists(_MUTATION, min_size=1, max_size=5))
def test_mutated_837p_files(scrubber, name, mutations):
    read_and_scrub(_mutate(_SAMPLE_BYTES[name], mutations), name, scrubber)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_file_reads_and_scrubs(scrubber, path):
    results = read_and_scrub(path.read_bytes(), path.name, scrubber)
    if path.stat().st_size > 100_000:
        assert len(results) > 100


def _sv1_claim(n_lines: int, modifiers: bytes = b"GP") -> bytes:
    base = _SAMPLE_BYTES["dry-needling-commercial.837"]
    segments, term = _segments(base)
    start = next(i for i, s in enumerate(segments) if s.strip().startswith(b"LX*"))
    end = next(i for i, s in enumerate(segments) if s.strip().startswith(b"SE*"))
    line = [b"LX*1", b"SV1*HC:20561:" + modifiers + b"*100*UN*1***1", b"DTP*472*D8*20240305"]
    body = [seg.replace(b"LX*1", b"LX*%d" % (n + 1)) for n in range(n_lines) for seg in line]
    return term.join(segments[:start] + body + segments[end:])


def test_837p_claim_with_too_many_lines_is_refused_not_read_whole(scrubber):
    results = read_and_scrub(_sv1_claim(5000), "long.837", scrubber)
    assert len(results) == 1
    assert results[0].status is Status.invalid
    assert any("50" in e.message for e in results[0].errors), results[0].errors


# -- the CLI, in process and as a subprocess --------------------------------------------------


def run_cli(argv: list[str], stdin: bytes | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), time_limit(60):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(_SAMPLE_BYTES)), st.lists(_MUTATION, max_size=4), st.sampled_from(["json", "text"]), st.booleans())
def test_cli_exit_status_on_mutated_files(tmp_path_factory, name, mutations, fmt, fix):
    path = tmp_path_factory.mktemp("cli") / name
    path.write_bytes(_mutate(_SAMPLE_BYTES[name], mutations))
    argv = ["check", "--format", fmt, "--allow-plugin", "dry-needling", str(path)] + (["--fix"] if fix else [])
    code, out, err = run_cli(argv)
    assert code in (0, 1, 2)
    assert "Traceback" not in err + out
    if code == 2:
        assert "scrubber:" in err
    match = re.search(r"scrubber: (\d+) claims read: (\d+) rejected, (\d+) warnings, (\d+) clean, (\d+) invalid, (\d+) failed", err)
    assert match, err
    total, *parts = map(int, match.groups())
    assert total == sum(parts)
    if fmt == "json":
        assert total == len([json.loads(line) for line in out.splitlines()])
    else:
        assert total == len(re.findall(r"^claim ", out, re.M))


@pytest.mark.parametrize("data", [b"", b"\xff\xfe\xfd", b"[" * 50_000, b"ISA*00*bad", b"{\"claim_id\": 1}\n{oops\n",
                                  _SAMPLE_BYTES["dry-needling-malformed.837"]])
def test_cli_subprocess_exit_status(data, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scrubber.cli", "check", "--format", "json", "-"],
                          input=data, capture_output=True, timeout=120)
    assert proc.returncode in (0, 1, 2), proc.stderr
    assert b"Traceback" not in proc.stderr


def test_cli_missing_file_and_directory(tmp_path):
    code, _, err = run_cli(["check", str(tmp_path / "nope.json")])
    assert code == 2 and "nope.json" in err
    code, _, err = run_cli(["check", str(tmp_path)])
    assert code == 2 and str(tmp_path) in err and "Traceback" not in err
    code, _, err = run_cli(["check"])
    assert code == 2


@pytest.mark.parametrize("size", [100, 8_000, 9_000, 70_000, 300_000])
def test_ndjson_with_a_long_first_line_is_not_mistaken_for_one_document(scrubber, size):
    """Regression: the format sniffer peeks at most the stream's buffer (8 KiB
    for a file); an NDJSON file whose first line was longer was read as one
    document and refused ("Extra data")."""
    from conftest import make_claim

    first = make_claim(claim_id="LONG", note="n" * size)
    data = (json.dumps(first) + "\n" + json.dumps(make_claim(claim_id="NEXT")) + "\n").encode()
    results = read_and_scrub(data, "long.ndjson", scrubber)
    assert [(r.claim_id, r.status.value) for r in results] == [("LONG", "clean"), ("NEXT", "clean")]
    # the same claims as one minified document, and pretty-printed, still read
    for doc in (json.dumps(first), json.dumps(first, indent=2), json.dumps([first, make_claim(claim_id="NEXT")], indent=1)):
        results = read_and_scrub(doc.encode(), "doc.json", scrubber)
        assert results and results[0].claim_id == "LONG" and results[0].status is Status.clean


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_cli_output_in_a_narrow_encoding(tmp_path, fmt):
    """Regression: a claim ID that stdout's encoding cannot show ended the
    batch with a UnicodeEncodeError traceback (and exit status 1)."""
    path = tmp_path / "omega.ndjson"
    claim = {"claim_id": "\u03a9-1", "lines": [{"number": 1, "code": "20561", "service_date": "2024-01-03"}]}
    path.write_text(json.dumps(claim, ensure_ascii=False) + "\n" + json.dumps({**claim, "claim_id": "B"}) + "\n",
                    encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "scrubber.cli", "check", "--format", fmt, str(path)],
                          capture_output=True, timeout=120, env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr and b"2 claims read" in proc.stderr
    if fmt == "json":
        assert [json.loads(line)["claim_id"] for line in proc.stdout.splitlines()] == ["\u03a9-1", "B"]


def test_cli_internal_error_is_reported_without_a_traceback(tmp_path, monkeypatch):
    path = tmp_path / "c.ndjson"
    path.write_text(json.dumps({"claim_id": "A", "lines": []}) + "\n")

    def broken(self, records, fix=False):
        raise RuntimeError("secret claim data")
        yield  # pragma: no cover

    monkeypatch.setattr(Scrubber, "scrub_many", broken)
    code, out, err = run_cli(["check", str(path)])
    assert code == 2
    assert err.strip().endswith("scrubber: internal error (RuntimeError); please report it")
    assert "secret" not in err and "Traceback" not in err


def test_deeply_nested_hl_hierarchy_and_many_envelopes(scrubber):
    """X12 'deep nesting': 5,000 HL levels each the child of the one before,
    and 2,000 repeated ST/SE envelopes; read in bounded time."""
    segments, term = _segments(_SAMPLE_BYTES["dry-needling-commercial.837"])
    i = next(n for n, s in enumerate(segments) if s.strip().startswith(b"CLM*"))
    deep = [b"HL*%d*%d*22*1" % (n + 10, n + 9) for n in range(5000)]
    results = read_and_scrub(term.join(segments[:i] + deep + segments[i:]), "deep.837", scrubber)
    assert results
    st_at = next(n for n, s in enumerate(segments) if s.strip().startswith(b"ST*"))
    se_at = next(n for n, s in enumerate(segments) if s.strip().startswith(b"SE*"))
    many = segments[:st_at] + segments[st_at:se_at + 1] * 2000 + segments[se_at + 1:]
    results = read_and_scrub(term.join(many), "many.837", scrubber)
    assert len(results) >= 2000
