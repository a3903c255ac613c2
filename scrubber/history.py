"""Claim history: the service lines of claims scrubbed before, so that rules
can see across claims (units of a code per patient, provider and day; visit
limits over 90 days or a calendar year).

A store is reached through :class:`HistoryStore`, a small protocol:

* ``prior_lines(patient, codes, start, end, exclude_claim)``: the recorded
  lines of one patient (and billing provider) for some codes, with a date of
  service in ``[start, end]``, leaving out one claim (the claim being
  scrubbed, so that scrubbing it again or a replacement of it never counts
  its own earlier version);
* ``record(claim)``: record a scrubbed claim's lines. A claim is identified
  by its billing provider's NPI and its ``claim_id`` (CLM01): recording it
  again replaces its lines (so a claim scrubbed twice counts once, and a
  replacement, CLM05-3 frequency ``7``, replaces the lines of the claim it
  replaces); a void (frequency ``8``) removes them and records nothing. The
  delete and the insert are one transaction;
* ``close()``.

Only identifiers are stored: the patient's ID (``patient.id``), the billing
NPI, the claim ID, and per line its number, code, date, units, modifiers and
the claim's filing indicator. No names, no birth dates, no diagnoses.

:class:`SqliteHistory` (the default, standard library only, WAL mode, a busy
timeout and retries) suits one machine and several worker processes;
:class:`SqlAlchemyHistory` (SQLAlchemy 2 Core; ``pip install
'claim-scrubber[history]'``) takes a database URL, e.g. PostgreSQL shared by
several machines. :func:`open_history` picks one from a path or URL.

Stores open their connection lazily and again after a ``fork`` (a worker
process never uses its parent's connection), and pickle as their spec.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, Optional, Protocol, TypeVar, Union, runtime_checkable

from .models import Claim

log = logging.getLogger("scrubber.history")

TABLE = "scrubber_history_lines"
#: CLM05-3 claim frequency codes with a meaning here.
REPLACEMENT, VOID = "7", "8"
#: How often a transaction that lost a race (lock timeout, unique key,
#: serialization failure, deadlock) is tried again before giving up.
RETRIES = 8

T = TypeVar("T")


class HistoryError(Exception):
    """The history store could not be opened, read or written."""


class PatientKey(NamedTuple):
    """Whose history: the patient's ID and the billing provider's NPI."""

    patient_id: str
    billing_npi: str


def patient_key(claim: Claim) -> Optional[PatientKey]:
    """The claim's patient key, or None when the claim lacks the patient ID or
    the billing NPI (such a claim is neither looked up nor recorded)."""
    if not claim.patient.id or not claim.billing_provider.npi:
        return None
    return PatientKey(claim.patient.id, claim.billing_provider.npi)


@dataclass(frozen=True)
class PriorLine:
    """One recorded service line of an earlier claim."""

    claim_id: str
    line: int
    code: str
    service_date: dt.date
    units: int
    modifiers: tuple[str, ...]
    filing: Optional[str]


@runtime_checkable
class HistoryStore(Protocol):
    def prior_lines(
        self, patient: PatientKey, codes: Iterable[str], start: dt.date, end: dt.date,
        exclude_claim: Optional[str] = None,
    ) -> list[PriorLine]: ...

    def record(self, claim: Claim) -> None: ...

    def close(self) -> None: ...


def _ymd(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _date(value: int) -> dt.date:
    return dt.date(value // 10000, value // 100 % 100, value % 100)


def _rows(claim: Claim, key: PatientKey) -> list[dict[str, Any]]:
    return [
        {
            "billing_npi": key.billing_npi, "claim_id": claim.claim_id, "line_number": line.number,
            "patient_id": key.patient_id, "code": line.code, "dos": _ymd(line.service_date),
            "units": line.units, "modifiers": ",".join(line.modifiers), "filing": claim.filing_indicator,
        }
        for line in claim.lines
    ]


def _prior(row: Any) -> PriorLine:
    claim_id, number, code, dos, units, modifiers, filing = row
    return PriorLine(claim_id, number, code, _date(dos), units, tuple(m for m in (modifiers or "").split(",") if m), filing)


COLUMNS = ("billing_npi", "claim_id", "line_number", "patient_id", "code", "dos", "units", "modifiers", "filing")


def _select(patient: str, npi: str, start: str, end: str, codes: list[str]) -> str:
    return (
        f"SELECT claim_id, line_number, code, dos, units, modifiers, filing FROM {TABLE} "
        f"WHERE patient_id = {patient} AND billing_npi = {npi} AND dos >= {start} AND dos <= {end} "
        f"AND code IN ({', '.join(codes)})"
    )

_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " billing_npi VARCHAR(10) NOT NULL, claim_id VARCHAR(48) NOT NULL, line_number INTEGER NOT NULL,"
    " patient_id VARCHAR(48) NOT NULL, code VARCHAR(5) NOT NULL, dos INTEGER NOT NULL,"
    " units INTEGER NOT NULL, modifiers VARCHAR(11) NOT NULL, filing VARCHAR(2),"
    " PRIMARY KEY (billing_npi, claim_id, line_number))",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_patient ON {TABLE} (patient_id, billing_npi, code, dos)",
)


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.01 * 2 ** attempt) * (0.5 + random.random()))


def _with_retries(work: Callable[[], T], errors: tuple[type[BaseException], ...],
                  transient: Callable[[BaseException], bool]) -> T:
    """Run ``work``; while it fails with a transient error (a locked
    database, a lost race), back off and try again, up to RETRIES times."""
    for attempt in range(RETRIES + 1):
        try:
            return work()
        except errors as exc:
            if attempt == RETRIES or not transient(exc):
                raise
            log.info("claim history busy, retrying (%s)", type(exc).__name__)
            _backoff(attempt)
    raise AssertionError("unreachable")


def _sqlite_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SqliteHistory:
    """Claim history in an SQLite file (standard library, no set-up).

    WAL mode lets readers go on while one process writes; every write is one
    ``BEGIN IMMEDIATE`` transaction, waits up to ``timeout`` seconds for the
    lock (``busy_timeout``) and is retried with backoff when SQLite still
    reports the database as locked or busy.
    """

    def __init__(self, path: Union[str, Path], timeout: float = 30.0):
        self.path = str(path)
        self.timeout = timeout
        self._conn: Optional[sqlite3.Connection] = None
        self._pid = 0
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SqliteHistory({self.path!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["timeout"])  # type: ignore[misc]

    def connect(self) -> None:
        """Open the file and create the table now (otherwise on first use)."""
        with self._lock:
            self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            conn.execute("PRAGMA synchronous = NORMAL")
            for statement in _SCHEMA:
                self._retry(lambda s=statement: conn.execute(s))
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot open claim history {self.path}: {exc}") from None
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _retry(self, work: Callable[[], T]) -> T:
        return _with_retries(work, (sqlite3.OperationalError,), _sqlite_locked)

    def prior_lines(
        self, patient: PatientKey, codes: Iterable[str], start: dt.date, end: dt.date,
        exclude_claim: Optional[str] = None,
    ) -> list[PriorLine]:
        codes = sorted(set(codes))
        if not codes:
            return []
        sql = _select("?", "?", "?", "?", ["?"] * len(codes))
        params: list[Any] = [patient.patient_id, patient.billing_npi, _ymd(start), _ymd(end), *codes]
        if exclude_claim is not None:
            sql += " AND claim_id <> ?"
            params.append(exclude_claim)
        sql += " ORDER BY dos, claim_id, line_number"
        with self._lock:
            conn = self._connect()
            try:
                rows = self._retry(lambda: conn.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise HistoryError(f"cannot read claim history {self.path}: {exc}") from None
        return [_prior(row) for row in rows]

    def record(self, claim: Claim) -> None:
        key = patient_key(claim)
        if key is None:
            return
        rows = [] if claim.frequency == VOID else _rows(claim, key)
        insert = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

        def transaction() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(f"DELETE FROM {TABLE} WHERE billing_npi = ? AND claim_id = ?", (key.billing_npi, claim.claim_id))
                conn.executemany(insert, [tuple(row[c] for c in COLUMNS) for row in rows])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        with self._lock:
            conn = self._connect()
            try:
                self._retry(transaction)
            except sqlite3.Error as exc:
                raise HistoryError(f"cannot record claim {claim.claim_id} in claim history {self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class SqlAlchemyHistory:
    """Claim history in any database SQLAlchemy reaches, meant for PostgreSQL
    shared by several workers or machines (``postgresql://user@host/db``;
    the psycopg 3 driver is used unless the URL names one).

    A record is one transaction (delete the claim's lines, insert the new
    ones). Two writers that race on the same claim collide on the primary key
    (billing NPI, claim ID, line): the loser's transaction is rolled back and
    tried again, so it neither fails nor counts twice; a deadlock or
    serialization failure is retried the same way.
    """

    def __init__(self, url: str, **engine_options: Any):
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        self.url = url
        self.engine_options = engine_options
        self._engine: Any = None
        self._pid = 0
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SqlAlchemyHistory({self._safe_url()!r})"

    def _safe_url(self) -> str:
        try:
            from sqlalchemy.engine import make_url

            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "<url>"

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "engine_options": self.engine_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], **state["engine_options"])  # type: ignore[misc]

    def connect(self) -> None:
        """Connect and create the table now (otherwise on first use)."""
        self._connect()

    def _connect(self) -> Any:
        with self._lock:
            if self._engine is not None and self._pid == os.getpid():
                return self._engine
            try:
                import sqlalchemy as sa
            except ImportError:
                raise HistoryError("a database URL needs SQLAlchemy: pip install 'claim-scrubber[history]'") from None
            if self._engine is not None:  # inherited through fork: never touch the parent's connections
                self._engine.dispose(close=False)
            try:
                engine = sa.create_engine(self.url, pool_pre_ping=True, **self.engine_options)
                self._create(engine)
            except Exception as exc:
                raise HistoryError(f"cannot open claim history {self._safe_url()}: {_describe(exc)}") from None
            self._engine, self._pid = engine, os.getpid()
            return engine

    def _create(self, engine: Any) -> None:
        import sqlalchemy as sa

        def create() -> None:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7226051)"))
                for statement in _SCHEMA:
                    conn.execute(sa.text(statement))

        # Two processes creating the table at once can collide in the
        # catalogue (PostgreSQL: duplicate key in pg_type): try again.
        _with_retries(create, (sa.exc.DBAPIError,), lambda exc: True)

    def _retry(self, work: Callable[[Any], T]) -> T:
        import sqlalchemy as sa

        engine = self._connect()

        def attempt() -> T:
            with engine.begin() as conn:
                return work(conn)

        return _with_retries(attempt, (sa.exc.IntegrityError, sa.exc.OperationalError), _retryable)

    def prior_lines(
        self, patient: PatientKey, codes: Iterable[str], start: dt.date, end: dt.date,
        exclude_claim: Optional[str] = None,
    ) -> list[PriorLine]:
        import sqlalchemy as sa

        codes = sorted(set(codes))
        if not codes:
            return []
        names = [f"c{i}" for i in range(len(codes))]
        sql = _select(":patient", ":npi", ":start", ":end", [":" + n for n in names])
        params: dict[str, Any] = {"patient": patient.patient_id, "npi": patient.billing_npi,
                                  "start": _ymd(start), "end": _ymd(end), **dict(zip(names, codes))}
        if exclude_claim is not None:
            sql += " AND claim_id <> :exclude"
            params["exclude"] = exclude_claim
        sql += " ORDER BY dos, claim_id, line_number"
        try:
            rows = self._retry(lambda conn: conn.execute(sa.text(sql), params).fetchall())
        except HistoryError:
            raise
        except Exception as exc:
            raise HistoryError(f"cannot read claim history {self._safe_url()}: {_describe(exc)}") from None
        return [_prior(tuple(row)) for row in rows]

    def record(self, claim: Claim) -> None:
        import sqlalchemy as sa

        key = patient_key(claim)
        if key is None:
            return
        rows = [] if claim.frequency == VOID else _rows(claim, key)
        delete = sa.text(f"DELETE FROM {TABLE} WHERE billing_npi = :npi AND claim_id = :claim")
        insert = sa.text(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(':' + c for c in COLUMNS)})")

        def transaction(conn: Any) -> None:
            conn.execute(delete, {"npi": key.billing_npi, "claim": claim.claim_id})
            if rows:
                conn.execute(insert, rows)

        try:
            self._retry(transaction)
        except HistoryError:
            raise
        except Exception as exc:
            raise HistoryError(f"cannot record claim {claim.claim_id} in claim history {self._safe_url()}: {_describe(exc)}") from None

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose(close=self._pid == os.getpid())
            self._engine = None


def _describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).splitlines()[0] if str(orig) else ""
    return f"{type(orig).__name__}: {text[:300]}" if text else type(orig).__name__


def _retryable(exc: BaseException) -> bool:
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.IntegrityError):
        return True  # a racing writer inserted the same claim first: delete and insert again
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(getattr(exc, "orig", None), "pgcode", None)
    if code in ("40001", "40P01", "55P03"):  # serialization failure, deadlock, lock not available
        return True
    return _sqlite_locked(exc)


def open_history(spec: Union[str, Path, HistoryStore]) -> HistoryStore:
    """A store from a spec: a store is returned as it is, a URL
    (``postgresql://...``, anything with ``://``) opens :class:`SqlAlchemyHistory`,
    anything else is the path of an SQLite file (created when missing)."""
    if not isinstance(spec, (str, Path)):
        if isinstance(spec, HistoryStore):
            return spec
        raise HistoryError(f"not a claim history store or spec: {type(spec).__name__}")
    text = str(spec)
    if "://" in text:
        return SqlAlchemyHistory(text)
    return SqliteHistory(text)
