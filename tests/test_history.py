"""Claim history: the store (SQLite and a real PostgreSQL server), recording
(re-scrub, replacement, void, read-only), the scrubber_history hook, the
cross-claim dry-needling rules, and concurrent writers.

PostgreSQL: the tests use ``SCRUBBER_TEST_PG_URL`` when it is set (``.ci/run``
starts a server and sets it); otherwise they start a throw-away server
themselves when the PostgreSQL binaries are installed (``initdb``,
``pg_ctl``), and skip with the reason when none can be started. Under CI
(``CI=true``) a missing server fails the tests instead of skipping them.
"""

from __future__ import annotations

import datetime as dt
import glob
import itertools
import json
import os
import pickle
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from conftest import CHAIN, make_claim

from scrubber import Scrubber, Status, hookimpl
from scrubber.cli import main
from scrubber.history import (
    HistoryStore, PatientKey, SqlAlchemyHistory, SqliteHistory, open_history, patient_key,
)
from scrubber.models import Claim

MD = {"taxonomy": "207X00000X", "npi": "1245319599"}
KEY = PatientKey("P1", MD["npi"])
NEEDLING = ("20560", "20561")
IN_CI = os.environ.get("CI", "").lower() == "true"


# -- a PostgreSQL server ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str | None:
    """The newest installed server's binary (Debian keeps them out of PATH)."""
    found = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    found.sort(key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")[4].split(".")])
    return found[-1] if found else shutil.which(name)


def _start_server(tmp: Path) -> tuple[str, list[str], list[str]]:
    """initdb + pg_ctl start on a free port; returns (url, stop command, run-as prefix)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as postgres
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root and there is no postgres user to run the server as") from None
        if not shutil.which("runuser"):
            raise RuntimeError("running as root without runuser to start the server as postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
        os.chown(tmp, user.pw_uid, user.pw_gid)
    port = _free_port()
    data = tmp / "data"
    subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    log = tmp / "server.log"
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
                    f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True, timeout=120)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", [*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], prefix


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database."""
    url = os.environ.get("SCRUBBER_TEST_PG_URL")
    try:
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        message = f"PostgreSQL tests need sqlalchemy and psycopg (pip install '.[test]'): {exc}"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    if url:
        yield url
        return
    tmp = Path(tempfile.mkdtemp(prefix="scrubber-pg-"))
    try:
        url, stop, _ = _start_server(tmp)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        detail = exc.stderr.decode(errors="replace")[-300:] if isinstance(exc, subprocess.CalledProcessError) and exc.stderr else ""
        message = f"no PostgreSQL server: SCRUBBER_TEST_PG_URL is not set and one could not be started ({exc} {detail})"
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.fail(message) if IN_CI else pytest.skip(message)
    try:
        yield url
    finally:
        subprocess.run(stop, capture_output=True, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)


_databases = itertools.count(1)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the server, for one test."""
    import psycopg

    name = f"scrubber_hist_{os.getpid()}_{next(_databases)}"
    admin = pg_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    base, _, _ = admin.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A history spec: an SQLite path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "history.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(spec: str) -> Iterator[HistoryStore]:
    history = open_history(spec)
    yield history
    history.close()


# -- helpers ------------------------------------------------------------------


def claim(claim_id: str, *lines: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"claim_id": claim_id, "filing_indicator": "MB", "billing_provider": MD, "diagnoses": ["M5450"],
            "abn": "none", "patient": {"id": "P1"}}
    base.update(fields)
    return make_claim(*lines, **base)


def findings(result, rule_id: str) -> list:
    return [f for f in result.findings if f.rule_id == rule_id]


def all_lines(store: HistoryStore, key: PatientKey = KEY) -> list:
    return store.prior_lines(key, NEEDLING, dt.date(2000, 1, 1), dt.date(2100, 1, 1))


def count_rows(spec: str) -> int:
    history = open_history(spec)
    try:
        if isinstance(history, SqliteHistory):
            return history._connect().execute("SELECT count(*) FROM scrubber_history_lines").fetchone()[0]
        import sqlalchemy as sa

        with history._connect().connect() as conn:  # type: ignore[union-attr]
            return conn.execute(sa.text("SELECT count(*) FROM scrubber_history_lines")).scalar_one()
    finally:
        history.close()


# -- the store ----------------------------------------------------------------


def test_open_history_picks_the_store_by_spec(tmp_path):
    assert isinstance(open_history(str(tmp_path / "h.db")), SqliteHistory)
    assert isinstance(open_history(tmp_path / "h.db"), SqliteHistory)
    pg = open_history("postgresql://u:secret@localhost/db")
    assert isinstance(pg, SqlAlchemyHistory) and pg.url.startswith("postgresql+psycopg://")
    assert "secret" not in repr(pg)
    store = SqliteHistory(tmp_path / "h.db")
    assert open_history(store) is store
    assert patient_key(Claim.model_validate(claim("A1"))) == KEY
    assert patient_key(Claim.model_validate(claim("A1", patient={}))) is None


def test_store_records_and_finds_prior_lines(store):
    store.record(Claim.model_validate(claim("A1", {"service_date": "2024-03-05", "modifiers": ["KX"]},
                                            {"code": "97110", "service_date": "2024-03-05"})))
    store.record(Claim.model_validate(claim("A2", {"service_date": "2024-03-12", "units": 2})))
    store.record(Claim.model_validate(claim("B1", {"service_date": "2024-03-05"}, patient={"id": "P2"})))
    lines = all_lines(store)
    assert [(p.claim_id, p.line, p.code, p.service_date, p.units, p.modifiers, p.filing) for p in lines] == [
        ("A1", 1, "20561", dt.date(2024, 3, 5), 1, ("KX",), "MB"),
        ("A2", 1, "20561", dt.date(2024, 3, 12), 2, (), "MB"),
    ]
    assert [p.claim_id for p in store.prior_lines(KEY, ["20561"], dt.date(2024, 3, 6), dt.date(2024, 3, 31))] == ["A2"]
    assert [p.claim_id for p in store.prior_lines(KEY, NEEDLING, dt.date(2024, 1, 1), dt.date(2024, 12, 31), exclude_claim="A2")] == ["A1"]
    assert store.prior_lines(PatientKey("P1", "1234567893"), NEEDLING, dt.date(2000, 1, 1), dt.date(2100, 1, 1)) == []
    assert store.prior_lines(KEY, [], dt.date(2000, 1, 1), dt.date(2100, 1, 1)) == []


def test_store_pickles_as_its_spec(store):
    store.record(Claim.model_validate(claim("A1")))
    copy = pickle.loads(pickle.dumps(store))
    assert [p.claim_id for p in all_lines(copy)] == ["A1"]
    copy.close()


# -- recording ------------------------------------------------------------------


def test_scrubbing_the_same_claim_again_does_not_count_it_twice(spec):
    scrubber = Scrubber(allow_plugins=["dry-needling"], history=spec)
    first = scrubber.scrub(claim("A1"))
    again = scrubber.scrub(claim("A1"))
    assert not findings(first, "DN-UNITS-DAY") and not findings(again, "DN-UNITS-DAY")
    assert [p.claim_id for p in all_lines(scrubber.history)] == ["A1"]
    assert count_rows(spec) == 1
    scrubber.close()


def test_replacement_replaces_and_void_removes_the_claims_lines(spec):
    scrubber = Scrubber(allow_plugins=["dry-needling"], history=spec)
    scrubber.scrub(claim("A1", {"service_date": "2024-03-05"}, {"code": "97110", "service_date": "2024-03-05"}))
    # Another claim on the 5th duplicates A1's needling line.
    assert findings(scrubber.scrub(claim("B1", {"service_date": "2024-03-05"}), record=False), "DN-UNITS-DAY")
    # A1 is replaced (frequency 7): the session was on the 6th, and only one line.
    replaced = scrubber.scrub(claim("A1", {"service_date": "2024-03-06"}, frequency="7"))
    assert replaced.status is Status.clean, replaced.findings
    assert [(p.claim_id, p.line, p.service_date) for p in all_lines(scrubber.history)] == [("A1", 1, dt.date(2024, 3, 6))]
    assert count_rows(spec) == 1
    assert not findings(scrubber.scrub(claim("B1", {"service_date": "2024-03-05"}), record=False), "DN-UNITS-DAY")
    assert findings(scrubber.scrub(claim("B1", {"service_date": "2024-03-06"}), record=False), "DN-UNITS-DAY")
    # A1 is voided (frequency 8): its lines go, and nothing is recorded for it.
    void = scrubber.scrub(claim("A1", {"service_date": "2024-03-06"}, frequency="8"))
    assert void.status is not Status.failed
    assert all_lines(scrubber.history) == [] and count_rows(spec) == 0
    assert not findings(scrubber.scrub(claim("B1", {"service_date": "2024-03-06"})), "DN-UNITS-DAY")
    scrubber.close()


def test_read_only_scrubs_against_history_without_recording(spec):
    writer = Scrubber(allow_plugins=["dry-needling"], history=spec)
    writer.scrub(claim("A1"))
    writer.close()
    reader = Scrubber(allow_plugins=["dry-needling"], history=spec, record=False)
    assert findings(reader.scrub(claim("A2")), "DN-UNITS-DAY")
    assert findings(reader.scrub(claim("A3")), "DN-UNITS-DAY")  # A2 was not recorded
    assert [p.claim_id for p in all_lines(reader.history)] == ["A1"]
    reader.close()


def test_invalid_claims_are_not_recorded_and_fix_mode_records_the_corrected_claim(tmp_path):
    spec = str(tmp_path / "h.db")
    scrubber = Scrubber(allow_plugins=["dry-needling"], history=spec)
    assert scrubber.scrub({"claim_id": "X"}).status is Status.invalid
    scrubber.scrub(claim("A1"))
    # B1 bills the 5th twice (within the claim and across claims): fix mode drops the line.
    result = scrubber.scrub(claim("B1", {}, {"code": "97110"}), fix=True)
    assert [c.action for c in result.changes] == ["drop_line"]
    assert [p.claim_id for p in all_lines(scrubber.history)] == ["A1"]
    scrubber.close()


def test_a_history_that_cannot_be_opened_is_a_scrubber_error(tmp_path, capsys):
    from scrubber import ScrubberError

    with pytest.raises(ScrubberError, match="cannot open claim history"):
        Scrubber(allow_plugins=["dry-needling"], history=tmp_path / "no-such-dir" / "h.db")
    assert main(["check", "--history", str(tmp_path / "no-such-dir" / "h.db"), "-"]) == 2
    assert "cannot open claim history" in capsys.readouterr().err
    assert main(["check", "--history-readonly", "-"]) == 2


def test_a_failing_store_fails_the_claim_not_the_run(tmp_path):
    class Broken(SqliteHistory):
        def record(self, claim):
            raise OSError("disk full")

    scrubber = Scrubber(allow_plugins=["dry-needling"], history=Broken(tmp_path / "h.db"))
    result = scrubber.scrub(claim("A1"))
    # The store's message is withheld: a database error can quote patient IDs.
    assert result.status is Status.failed and "OSError" in result.errors[0].message
    assert "disk full" not in result.errors[0].message
    assert result.errors[0].field == "<history>"


# -- the hook ---------------------------------------------------------------------


class HistoryProbe:
    """Records what scrubber_history receives and adds a fact field from it."""

    def __init__(self):
        self.calls: list[tuple[str, Any, list[str]]] = []

    @hookimpl
    def scrubber_facts(self, facts):
        for line in facts.lines:
            line["from_facts"] = True

    @hookimpl
    def scrubber_history(self, claim, history, facts, options):
        prior = history.prior_lines(patient_key(claim), NEEDLING, dt.date(2024, 1, 1), dt.date(2024, 12, 31),
                                    exclude_claim=claim.claim_id)
        assert all(line["from_facts"] for line in facts.lines)  # runs after scrubber_facts
        facts.claim["prior_count"] = len(prior)
        self.calls.append((claim.claim_id, history, [p.claim_id for p in prior]))


def test_hook_scrubber_history_gets_the_store_after_facts_and_only_with_one(tmp_path):
    probe = HistoryProbe()
    spec = tmp_path / "h.db"
    scrubber = Scrubber(plugins=[("probe", probe)], entry_points=False, history=spec, rulesets=[CHAIN])
    scrubber.scrub(claim("A1"))
    scrubber.scrub(claim("A2"))
    scrubber.scrub(claim("A2"))
    assert [(c, p) for c, _, p in probe.calls] == [("A1", []), ("A2", ["A1"]), ("A2", ["A1"])]
    assert all(h is scrubber.history for _, h, _ in probe.calls)
    plain = HistoryProbe()
    Scrubber(plugins=[("probe", plain)], entry_points=False, rulesets=[CHAIN]).scrub(claim("A3"))
    assert plain.calls == []


def test_hook_scrubber_history_failure_fails_that_claim_only(tmp_path):
    class Raises:
        @hookimpl
        def scrubber_history(self, claim):
            if claim.claim_id == "BAD":
                raise ValueError("boom")

    scrubber = Scrubber(plugins=[("raises", Raises())], entry_points=False, history=tmp_path / "h.db",
                        rulesets=[CHAIN])
    bad = scrubber.scrub(claim("BAD"))
    assert bad.status is Status.failed and "raises" in bad.errors[0].field
    assert scrubber.scrub(claim("GOOD")).status is not Status.failed


# -- the dry-needling rules across claims ----------------------------------------------


def test_two_claims_for_the_same_patient_and_day_in_separate_files(spec, tmp_path, capsys):
    first, second = tmp_path / "monday.json", tmp_path / "monday-again.json"
    first.write_text(json.dumps(claim("A1", {"modifiers": ["GP"]})))
    second.write_text(json.dumps(claim("A2", {"modifiers": ["59"]})))
    assert main(["check", "--format", "json", "--history", spec, str(first)]) == 0
    assert main(["check", "--format", "json", "--history", spec, str(second)]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["status"] for r in out] == ["clean", "rejected"]
    (finding,) = [f for f in out[1]["findings"] if f["rule_id"] == "DN-UNITS-DAY"]
    assert finding["line"] == 1 and finding["fix"]["action"] == "drop_line"
    assert "claim A1" in finding["message"] and "MAI 2" in finding["message"]
    # The same claim scrubbed again is not a duplicate of itself, and a
    # read-only run records nothing.
    assert main(["check", "--history", spec, "--history-readonly", str(first)]) == 1  # A2 is recorded now
    assert count_rows(spec) == 2


def test_day_units_without_history_and_on_other_days_or_providers_are_unchanged(tmp_path):
    scrubber = Scrubber(allow_plugins=["dry-needling"], history=tmp_path / "h.db")
    scrubber.scrub(claim("A1"))
    assert not findings(scrubber.scrub(claim("A2", {"service_date": "2024-03-06"})), "DN-UNITS-DAY")
    other = {"taxonomy": "207X00000X", "npi": "1234567893"}
    assert not findings(scrubber.scrub(claim("A3", billing_provider=other)), "DN-UNITS-DAY")
    assert not findings(scrubber.scrub(claim("A4", {"code": "20560"})), "DN-UNITS-DAY")  # a different code
    # Within one claim the existing rule still fires once, on the second line.
    both = scrubber.scrub(claim("A5", {"service_date": "2024-05-01"}, {"service_date": "2024-05-01"}))
    assert [f.line for f in findings(both, "DN-UNITS-DAY")] == [2]
    assert not findings(Scrubber(allow_plugins=["dry-needling"]).scrub(claim("A6")), "DN-UNITS-DAY")


def weekly(n: int, start: dt.date = dt.date(2024, 1, 8), kx_from: int = 99) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        mods = ["KX"] if i + 1 >= kx_from else []
        out.append(claim(f"W{i + 1:02d}", {"service_date": (start + dt.timedelta(weeks=i)).isoformat(), "modifiers": mods}))
    return out


def test_thirteen_weekly_medicare_sessions_the_13th_without_kx(spec):
    scrubber = Scrubber(allow_plugins=["dry-needling"], history=spec)
    sessions = weekly(13)
    for c in sessions[:12]:
        result = scrubber.scrub(c)
        assert result.status is Status.clean, (c["claim_id"], result.findings)
    result = scrubber.scrub(sessions[12])
    (finding,) = findings(result, "DN-MCR-FREQUENCY")
    assert finding.severity.value == "error" and finding.line == 1
    assert finding.fix.action == "add_modifier" and finding.fix.modifier == "KX"
    assert "session 13" in finding.message
    assert "claims W01, W02, W03, W04, W05, W06, W07, W08, W09, W10, W11, W12)" in finding.message
    # With KX (improvement documented) the 13th session is clean.
    with_kx = claim("W13", {"service_date": sessions[12]["lines"][0]["service_date"], "modifiers": ["KX"]})
    assert scrubber.scrub(with_kx).status is Status.clean
    # The rule is Medicare fee-for-service only, and needs the history.
    commercial = claim("W13", {"service_date": sessions[12]["lines"][0]["service_date"]}, filing_indicator="CI")
    assert not findings(scrubber.scrub(commercial, record=False), "DN-MCR-FREQUENCY")
    assert not findings(Scrubber(allow_plugins=["dry-needling"]).scrub(sessions[12]), "DN-MCR-FREQUENCY")
    scrubber.close()


def test_the_90_day_window_slides_and_sessions_on_one_claim_count(tmp_path):
    scrubber = Scrubber(allow_plugins=["dry-needling"], history=tmp_path / "h.db")
    # 12 sessions, then a gap: the 13th is 100 days after the first one.
    for c in weekly(12):
        scrubber.scrub(c)
    late = claim("L1", {"service_date": (dt.date(2024, 1, 8) + dt.timedelta(days=100)).isoformat()})
    assert not findings(scrubber.scrub(late, record=False), "DN-MCR-FREQUENCY")
    # Two sessions on one claim: 11 in history + 2 on the claim -> the second is session 13.
    other = Scrubber(allow_plugins=["dry-needling"], history=tmp_path / "h2.db")
    for c in weekly(11):
        other.scrub(c)
    two = claim("T1", {"service_date": "2024-03-25"}, {"service_date": "2024-04-01"})
    assert [f.line for f in findings(other.scrub(two), "DN-MCR-FREQUENCY")] == [2]
    # Sessions billed as not covered (GY/GA/GZ) do not count.
    third = Scrubber(allow_plugins=["dry-needling"], history=tmp_path / "h3.db")
    for c in weekly(12):
        c["lines"][0]["modifiers"] = ["GZ"]
        third.scrub(c)
    assert not findings(third.scrub(claim("G13", {"service_date": "2024-04-01"})), "DN-MCR-FREQUENCY")


def test_session_21_in_a_calendar_year_is_not_covered(spec):
    scrubber = Scrubber(allow_plugins=["dry-needling"], history=spec)
    for c in weekly(20, kx_from=13):
        result = scrubber.scrub(c)
        assert result.status is Status.clean, (c["claim_id"], result.findings)
    result = scrubber.scrub(weekly(21, kx_from=13)[20])
    (finding,) = findings(result, "DN-MCR-FREQUENCY")
    assert "session 21" in finding.message and "W01, W02" in finding.message and "W20)" in finding.message
    assert finding.fix.action == "add_modifier" and finding.fix.alternatives == ["GA", "GZ"]
    # Billed as not covered (GZ), it is accepted; the next calendar year starts again.
    gz = weekly(21, kx_from=13)[20]
    gz["lines"][0]["modifiers"] = ["GZ"]
    assert not findings(scrubber.scrub(gz), "DN-MCR-FREQUENCY")
    assert scrubber.scrub(claim("Y1", {"service_date": "2025-01-06"})).status is Status.clean
    scrubber.close()


# -- concurrent writers -------------------------------------------------------------------


def _batch(path: Path, prefix: str, shared: int, own: int) -> None:
    with path.open("w") as out:
        for i in range(shared + own):
            claim_id = f"S{i:04d}" if i < shared else f"{prefix}{i:04d}"
            day = (dt.date(2024, 1, 1) + dt.timedelta(days=i % 300)).isoformat()
            c = claim(claim_id, {"service_date": day}, {"code": "97110", "service_date": day},
                      patient={"id": f"P{i % 37}"}, filing_indicator="CI")
            out.write(json.dumps(c) + "\n")


def test_two_processes_recording_at_once_lose_nothing(spec, tmp_path):
    shared, own = 150, 250
    files = [tmp_path / "a.ndjson", tmp_path / "b.ndjson"]
    _batch(files[0], "A", shared, own)
    _batch(files[1], "B", shared, own)
    open_history(spec).close()  # (created here or by whichever process comes first: both work)
    cmd = [sys.executable, "-m", "scrubber.cli", "check", "--format", "json", "--history", spec]
    start = time.monotonic()
    procs = [subprocess.Popen([*cmd, str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for f in files]
    outputs = [p.communicate(timeout=300) for p in procs]
    for (out, err), proc in zip(outputs, procs):
        statuses = [json.loads(line)["status"] for line in out.splitlines()]
        assert len(statuses) == shared + own and "failed" not in statuses, err[-2000:]
    # Every claim recorded exactly once: 2 lines per claim, shared claims once.
    assert count_rows(spec) == 2 * (shared + 2 * own), time.monotonic() - start
    store = open_history(spec)
    seen = set()
    for p in range(37):
        seen |= {p_.claim_id for p_ in store.prior_lines(PatientKey(f"P{p}", MD["npi"]), ["20561", "97110"],
                                                         dt.date(2024, 1, 1), dt.date(2024, 12, 31))}
    store.close()
    assert len(seen) == shared + 2 * own


def test_two_stores_racing_on_the_same_claims_never_double_count(spec):
    # Threads in one process, each with its own store (connection): the same
    # claim IDs recorded concurrently end with one copy of each line.
    import threading

    stores = [open_history(spec), open_history(spec)]
    claims = [Claim.model_validate(claim(f"R{i:03d}", {}, {"code": "97110"})) for i in range(60)]
    errors: list[BaseException] = []

    def work(store, order):
        try:
            for c in order:
                store.record(c)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(stores[0], claims)),
               threading.Thread(target=work, args=(stores[1], list(reversed(claims))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert not errors, errors
    assert count_rows(spec) == 2 * len(claims)


def test_w1_findings_are_unchanged_by_an_empty_history(tmp_path):
    # Every W1 claim has its own patient, so nothing is seen across claims:
    # with a history (recording), the findings equal those without one.
    from differential import as_tuples
    from oracle.workloads import w1

    plain = Scrubber(allow_plugins=["dry-needling"])
    history = Scrubber(allow_plugins=["dry-needling"], history=tmp_path / "h.db")
    for n, c in enumerate(w1(300, seed=11, as_dict=True)):
        c["patient"] = {"id": f"U{n}"}
        assert as_tuples(history.scrub(c).findings) == as_tuples(plain.scrub(c).findings), c["claim_id"]
    history.close()
