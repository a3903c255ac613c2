"""X12 837P (005010X222A1/A2) input: a fast, streaming, standard-library reader.

Each claim (loop 2300 with its 2400 lines, plus the billing provider,
subscriber and patient context above it) becomes one :class:`ClaimRecord`
whose ``data`` dict uses the field names of :class:`scrubber.models.Claim`.
The reader never validates field values (the scrubber does); it reports
structural problems: a segment out of place, a missing required segment or
element, a quantity or date that cannot be read. Such an error affects only
the claim (or envelope) it is in; the rest of the file is still read.

Privacy: the reader keeps no names or addresses of subscribers or patients
(only the member ID, birth date and sex), and error messages name segments,
elements and positions, never the values of patient data.

Mapping (loop → field):

* CLM01 → ``claim_id``; CLM02 → ``total_charge`` (extra, string);
  CLM05-1 → ``place_of_service``; CLM05-3 → ``frequency``
* 2000B SBR09 → ``filing_indicator``; 2010BB NM1*PR → ``payer`` {id NM109, name NM103}
* 2010BA NM109 (or 2010CA NM109 when the patient loop has one) → ``patient.id``;
  DMG02/DMG03 of 2010CA when a patient loop (HL 23) exists, else of 2010BA →
  ``patient.birth_date`` (ISO) / ``patient.sex``
* 2010AA NM109 (NM108 XX) and 2000A PRV03 → ``billing_provider``
* 2310B NM1*82 NM109 and PRV03 → ``rendering_provider`` (None when absent)
* HI ABK/ABF → ``diagnoses`` (dots removed); ICD-9 BK/BF codes go to the
  extra field ``diagnoses_icd9`` so they are not mistaken for ICD-10
* 2400: LX01 → ``number``; SV101-2 → ``code``; SV101-3..6 → ``modifiers``;
  SV102 → ``charge`` (string); SV104 → ``units`` (int, SV103 must be UN);
  SV105 → ``place_of_service``; SV107 → ``diagnosis_pointers`` (ints);
  DTP*472 D8/RD8 → ``service_date`` (+ ``service_date_end``);
  2420A NM1*82 + PRV → ``rendering_provider``
"""

from __future__ import annotations

import datetime as dt
from typing import IO, Any, Iterator, Optional

from ..models import MAX_LINES, InputError, Source
from . import ClaimRecord, ReadError, limit
from .x12_tokens import IsaError, SegmentTooLong, Tokenizer

# Segment order inside each loop (rank); a known segment whose rank is lower
# than the previous one in the same loop instance is "out of place".
_ORDER = {
    "HDR": ("ST", "BHT"),
    "1000A": ("NM1", "PER"),
    "1000B": ("NM1",),
    "2000A": ("HL", "PRV", "CUR"),
    "2010AA": ("NM1", "N3", "N4", "REF", "PER"),
    "2010AB": ("NM1", "N3", "N4"),
    "2010AC": ("NM1", "N3", "N4", "REF"),
    "2000B": ("HL", "SBR", "PAT"),
    "2010BA": ("NM1", "N3", "N4", "DMG", "REF", "PER"),
    "2010BB": ("NM1", "N3", "N4", "REF"),
    "2000C": ("HL", "PAT"),
    "2010CA": ("NM1", "N3", "N4", "DMG", "REF", "PER"),
    "2300": ("CLM", "DTP", "PWK", "CN1", "AMT", "REF", "K3", "NTE", "CR1", "CR2", "CRC", "HI", "HCP"),
    "2310": ("NM1", "PRV", "N3", "N4", "REF", "PER"),
    "2320": ("SBR", "CAS", "AMT", "OI", "MOA"),
    "2330": ("NM1", "N3", "N4", "DTP", "REF", "PER"),
    "2400": ("LX", "SV1", "SV5", "PWK", "CR1", "CR3", "CRC", "DTP", "QTY", "MEA", "CN1", "REF", "AMT", "K3",
             "NTE", "PS1", "HCP"),
    "2410": ("LIN", "CTP", "REF"),
    "2420": ("NM1", "PRV", "N3", "N4", "REF", "PER"),
    "2430": ("SVD", "CAS", "DTP", "AMT"),
    "2440": ("LQ", "FRM"),
}
_RANKS = {loop: {sid: rank for rank, sid in enumerate(sids)} for loop, sids in _ORDER.items()}
_KNOWN = {sid for sids in _ORDER.values() for sid in sids} | {"ISA", "IEA", "GS", "GE", "SE", "LX", "CLM", "SV1"}
#: Segments that open a loop: their order is checked against the new loop.
_LOOP_START = {"NM1", "HL", "CLM", "LX", "LIN", "SVD", "LQ", "SBR"}
_ENVELOPE = {"ISA", "IEA", "GS", "GE", "ST", "SE"}
#: Segments the state machine reads (everything else takes the fast path).
_SPECIAL = _LOOP_START | {"ISA", "IEA", "GS", "GE", "ST", "SE", "SV1", "DTP", "HI", "PRV", "DMG"}
_NM1_LOOP_2000 = {"85": "2010AA", "87": "2010AB", "PE": "2010AC", "IL": "2010BA", "PR": "2010BB", "QC": "2010CA"}
_SINGLE_NM1 = {"85", "87", "IL", "PR", "QC"}
_DIAG_ICD10 = {"ABK", "ABF"}
_DIAG_ICD9 = {"BK", "BF"}
_UNIT_NAMES = {"MJ": "minutes"}
#: HI codes kept per claim (the model allows 12; the 13th makes it invalid).
_MAX_DIAGNOSES = 12
#: Errors kept per claim or envelope (a broken file must not fill memory with them).
_MAX_ERRORS = 100


def _valid_segment_id(sid: str) -> bool:
    return 2 <= len(sid) <= 3 and sid.isascii() and sid.isalnum() and sid[0].isalpha() and sid == sid.upper()


def _text(value: str) -> Optional[str]:
    """An element value as text, None when empty (Latin-1 decoded; re-read
    as UTF-8 when it holds non-ASCII bytes)."""
    if not value:
        return None
    if not value.isascii():
        try:
            return value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value


def _iso_date(value: str) -> Optional[str]:
    """CCYYMMDD → YYYY-MM-DD, or None when it is not a real date."""
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        return None
    month = int(value[4:6])
    day = int(value[6:])
    if not (1 <= month <= 12 and 1 <= day <= 31 and value[:4] != "0000"):
        return None
    if day > 28:
        try:
            dt.date(int(value[:4]), month, day)
        except ValueError:
            return None
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


def _whole_number(value: str) -> Optional[int]:
    """'2' or '2.00' → 2; None for anything that is not a whole number."""
    if not value.isascii():
        return None
    if value.isdigit():
        return int(value)
    head, dot, tail = value.partition(".")
    if dot and head.isdigit() and (tail == "" or (tail.isdigit() and not tail.strip("0"))):
        return int(head)
    return None


def _is_number(value: str) -> bool:
    if not value.isascii():
        return False
    head, _, tail = value.partition(".")
    return bool(head or tail) and (not head or head.isdigit()) and (not tail or tail.isdigit())


class _Ctx:
    """One level of context above a claim (transaction header or an HL)."""

    __slots__ = ("errors", "used", "segment", "line", "fields", "seen")

    def __init__(self, segment: int, line: Optional[int]):
        self.errors: list[InputError] = []
        self.used = False
        self.segment = segment
        self.line = line
        self.fields: dict[str, Any] = {}
        self.seen: set[str] = set()


def read_x12(stream: IO[bytes], name: str) -> Iterator[ClaimRecord]:
    """Yield one :class:`ClaimRecord` per 837P claim in ``stream``.

    Raises :class:`ReadError` (naming ``name``) only when the content is not
    X12 or its first ISA segment cannot be parsed.
    """
    try:
        yield from _read(stream, name)
    except IsaError as exc:
        raise ReadError(f"{name}: not a readable X12 file: {exc}") from None
    except SegmentTooLong as exc:
        raise ReadError(f"{name}: {exc}") from None
    except ReadError:
        raise
    except (OSError, MemoryError) as exc:
        raise ReadError(f"{name}: cannot read: {exc}") from None
    except Exception as exc:  # a reader bug must not crash the run with a traceback
        raise ReadError(f"{name}: internal error while reading X12 ({type(exc).__name__}); please report it") from None


def _read(stream: IO[bytes], name: str) -> Iterator[ClaimRecord]:  # noqa: C901 - one state machine, kept flat for speed
    tok = Tokenizer(stream, limit("segment_bytes"))
    ranks = _RANKS
    known = _KNOWN
    loop_start = _LOOP_START
    special = _SPECIAL
    envelope = _ENVELOPE

    # --- state --------------------------------------------------------------
    in_isa = in_gs = in_st = False
    skip_txn: Optional[str] = None  # reason this transaction set is not read
    skip_isa = False
    env: Optional[_Ctx] = None  # current interchange/group/transaction errors
    hdr: Optional[_Ctx] = None  # transaction header (before the first HL)
    bill: Optional[_Ctx] = None  # HL 20
    sub: Optional[_Ctx] = None  # HL 22
    pat: Optional[_Ctx] = None  # HL 23
    hl_levels: dict[str, str] = {}
    claim: Optional[dict[str, Any]] = None
    cerr: list[InputError] = []
    cline: Optional[dict[str, Any]] = None  # current service line
    cline_seen: set[str] = set()
    claim_seen: set[str] = set()  # claim-level segments seen (HI)
    sink: list[InputError] = []  # where errors of the current segment go
    loop = "HDR"
    lrank = ranks["HDR"]
    last = -1
    elem = comp = "?"
    seg_index = 0
    seg_line: Optional[int] = None
    claim_source: Optional[Source] = None
    claim_id: Optional[str] = None
    in_2320 = False
    pending_2330b: Optional[tuple[int, Optional[int]]] = None

    def err(field: str, message: str, line_no: Optional[int] = None) -> None:
        if len(sink) >= _MAX_ERRORS:
            if len(sink) == _MAX_ERRORS:
                sink.append(InputError(claim_id=claim_id if claim is not None else None, field="<errors>",
                                       message=f"more than {_MAX_ERRORS} errors here; the rest are not listed",
                                       source=Source(file=name, segment=seg_index, line=seg_line)))
            return
        sink.append(
            InputError(
                claim_id=claim_id if claim is not None else None,
                line=line_no,
                field=field,
                message=f"{message} (segment {seg_index})",
                source=Source(file=name, segment=seg_index, line=seg_line),
            )
        )

    def orphan(ctx: Optional[_Ctx]) -> Optional[ClaimRecord]:
        """Errors of a context that no claim carried: report them alone."""
        if ctx is not None and ctx.errors and not ctx.used:
            ctx.used = True
            return ClaimRecord(None, Source(file=name, segment=ctx.segment, line=ctx.line), list(ctx.errors))
        return None

    def finish_line() -> None:
        nonlocal cline
        if cline is None:
            return
        src = cline["source"]
        if "SV1" not in cline_seen:
            cerr.append(InputError(claim_id=claim_id, line=cline.get("number"), field="SV1",
                                   message=f"service line at segment {src['segment']} (LX) has no SV1 segment",
                                   source=Source(**src)))
        elif "DTP472" not in cline_seen:
            cerr.append(InputError(claim_id=claim_id, line=cline.get("number"), field="DTP*472",
                                   message=f"service line at segment {src['segment']} (LX) has no DTP*472 date of service",
                                   source=Source(**src)))
        cline = None

    def finish_claim() -> Optional[ClaimRecord]:
        nonlocal claim, cerr, claim_source
        if claim is None:
            return None
        finish_line()
        check_2330b()
        data = claim
        errors: list[InputError] = []
        for ctx in (env, hdr, bill, sub, pat):
            if ctx is not None:
                ctx.used = True
                errors.extend(ctx.errors)
        errors.extend(cerr)
        if not data["diagnoses"] and not data.get("diagnoses_icd9") and "HI" not in claim_seen:
            errors.append(InputError(claim_id=claim_id, field="HI", message=f"claim at segment {data['source']['segment']} has no HI health care diagnosis segment",
                                     source=claim_source))
        if not data["lines"]:
            errors.append(InputError(claim_id=claim_id, field="LX", message=f"claim at segment {data['source']['segment']} has no service lines (LX/SV1)",
                                     source=claim_source))
        record = ClaimRecord(data, claim_source, errors)  # type: ignore[arg-type]
        claim = None
        cerr = []
        claim_source = None
        return record

    def check_2330b() -> None:
        nonlocal pending_2330b
        if pending_2330b is not None:
            seg, ln = pending_2330b
            cerr.append(InputError(claim_id=claim_id, field="NM1*PR",
                                   message=f"other subscriber loop 2320 at segment {seg} has no other payer name loop 2330B (NM1*PR)",
                                   source=Source(file=name, segment=seg, line=ln)))
            pending_2330b = None

    def close_txn() -> Iterator[ClaimRecord]:
        nonlocal hdr, bill, sub, pat, claim
        rec = finish_claim()
        if rec is not None:
            yield rec
        for ctx in (pat, sub, bill, hdr):
            o = orphan(ctx)
            if o is not None:
                yield o
        hdr = bill = sub = pat = None

    def placed(sid: str, rank: Optional[int]) -> bool:
        """Check a segment's order within its loop (``rank`` from the loop's
        segment order); False for an invalid segment identifier."""
        nonlocal last
        if rank is not None:
            if rank < last:
                err(sid, f"segment {sid} is out of place in loop {loop} (it belongs before an earlier segment)",
                    cline.get("number") if cline is not None else None)
            last = rank
        elif sid not in known and not _valid_segment_id(sid):
            err("<segment>", "invalid segment identifier", cline.get("number") if cline is not None else None)
            return False
        return True

    for seg_index, seg_line, _start, _end, text in tok:
        sid, _, rest = text.partition(elem)
        if in_st and skip_txn is None and not skip_isa and sid not in special and text[0] != "I":
            # fast path: a segment the mapping does not read; only its place is checked
            placed(sid, lrank.get(sid))
            continue
        # ----- envelope -------------------------------------------------------
        if not (in_st and skip_txn is None and not skip_isa) or sid in envelope or text[0] == "I":
            if text[:3] == "ISA" and (len(text) == 3 or not text[3].isalnum()):
                if in_st:
                    env = env or _Ctx(seg_index, seg_line)
                    sink = env.errors
                    err("SE", "transaction set has no SE trailer before the next ISA")
                    for rec in close_txn():
                        yield rec
                    in_st = False
                skip_txn = None
                o = orphan(env)
                if o is not None:
                    yield o
                env = _Ctx(seg_index, seg_line)
                sink = env.errors
                if tok.isa_error is not None:
                    err("ISA", f"interchange header cannot be parsed: {tok.isa_error}; interchange skipped")
                    skip_isa = True
                    continue
                skip_isa = False
                seps = tok.seps
                assert seps is not None
                elem, comp = seps.element, seps.component
                in_isa, in_gs = True, False
                continue
            if skip_isa:
                if sid == "IEA":
                    skip_isa = False
                    o = orphan(env)
                    if o is not None:
                        yield o
                    env = None
                continue
            if skip_txn is not None:
                if sid == "SE":
                    skip_txn = None
                    in_st = False
                    o = orphan(env)
                    if o is not None:
                        yield o
                    env = _Ctx(seg_index, seg_line)
                elif sid in ("GE", "IEA", "ISA", "GS", "ST"):
                    pass  # fall through to envelope handling below
                else:
                    continue
            if sid == "GS":
                if not in_isa:
                    env = env or _Ctx(seg_index, seg_line)
                    sink = env.errors
                    err("GS", "GS functional group outside an ISA interchange")
                in_gs = True
                continue
            if sid == "ST":
                if in_st:
                    sink = env.errors if env else sink
                    err("SE", "transaction set has no SE trailer before the next ST")
                    for rec in close_txn():
                        yield rec
                o = orphan(env)
                if o is not None:
                    yield o
                env = _Ctx(seg_index, seg_line)
                sink = env.errors
                if not in_gs:
                    err("ST", "ST transaction set outside a GS functional group")
                el = rest.split(elem)
                in_st = True
                skip_txn = None
                hl_levels = {}
                hdr = _Ctx(seg_index, seg_line)
                bill = sub = pat = None
                loop, lrank, last = "HDR", ranks["HDR"], 0
                sink = hdr.errors
                code = el[0] if el else ""
                version = el[2] if len(el) > 2 else ""
                if code != "837":
                    skip_txn = "ST01"
                    env.errors.append(InputError(field="ST01", message=f"transaction set {code if code.isalnum() and len(code) <= 3 else '(unreadable)'} is not an 837 claim; skipped (segment {seg_index})",
                                                 source=Source(file=name, segment=seg_index, line=seg_line)))
                elif "X223" in version or "X224" in version:
                    skip_txn = "ST03"
                    kind = "institutional (837I)" if "X223" in version else "dental (837D)"
                    env.errors.append(InputError(field="ST03", message=f"transaction set is an {kind} claim; only professional 837P (005010X222) is read (segment {seg_index})",
                                                 source=Source(file=name, segment=seg_index, line=seg_line)))
                continue
            if sid == "SE":
                if not in_st:
                    continue
                for rec in close_txn():
                    yield rec
                in_st = False
                env = None
                continue
            if sid == "GE":
                if in_st:
                    env = env or _Ctx(seg_index, seg_line)
                    sink = env.errors
                    err("SE", "transaction set has no SE trailer before GE")
                    for rec in close_txn():
                        yield rec
                    in_st = False
                skip_txn = None
                in_gs = False
                continue
            if sid == "IEA":
                in_isa = False
                o = orphan(env)
                if o is not None:
                    yield o
                env = None
                continue
            if not in_st:
                env = env or _Ctx(seg_index, seg_line)
                sink = env.errors
                if not _valid_segment_id(sid):
                    err("<segment>", "invalid segment identifier outside a transaction set")
                else:
                    err(sid, f"segment {sid} outside an ST/SE transaction set")
                continue

        # ----- transaction body -------------------------------------------------
        if not placed(sid, None if sid in loop_start else lrank.get(sid)):
            continue

        if sid == "NM1":
            el = rest.split(elem)
            ent = el[0]
            if claim is None:
                sub_loop = _NM1_LOOP_2000.get(ent)
                if loop == "HDR" or loop in ("1000A", "1000B"):
                    sub_loop = "1000A" if ent == "41" else "1000B" if ent == "40" else None
                    if sub_loop is None:
                        err("NM101", f"NM1*{ent if ent.isalnum() and len(ent) <= 3 else '?'} is out of place in the transaction header")
                        continue
                    loop, lrank, last = sub_loop, ranks[sub_loop], 0
                    continue
                ctx = pat if pat is not None else sub if sub is not None else bill
                if sub_loop is None or ctx is None:
                    err("NM101", f"NM1 entity {ent if ent.isalnum() and len(ent) <= 3 else '?'} is out of place in loop {loop}")
                    continue
                expected = "2000A" if sub_loop.startswith("2010A") else "2000B" if sub_loop.startswith("2010B") else "2000C"
                owner = {"2000A": bill, "2000B": sub, "2000C": pat}[expected]
                if owner is None or owner is not ctx:
                    err("NM101", f"NM1*{ent} (loop {sub_loop}) is out of place: it is not under its HL level")
                    continue
                if ent in _SINGLE_NM1:
                    if ent in ctx.seen:
                        err("NM101", f"loop {sub_loop} (NM1*{ent}) repeats within one HL")
                    ctx.seen.add(ent)
                loop, lrank, last = sub_loop, ranks[sub_loop], 0
                f = ctx.fields
                if ent == "85":
                    if len(el) > 8 and el[7] == "XX":
                        f["npi"] = _text(el[8])
                elif ent == "IL" or ent == "QC":
                    if len(el) > 8 and el[8]:
                        f["member_id"] = _text(el[8])
                elif ent == "PR":
                    f["payer"] = {"id": _text(el[8]) if len(el) > 8 else None, "name": _text(el[2]) if len(el) > 2 else None}
                continue
            # inside a claim
            if cline is not None:
                loop, lrank, last = "2420", ranks["2420"], 0
                if ent == "82":
                    npi = el[8] if len(el) > 8 and el[7] == "XX" else None
                    cline["rendering_provider"] = {"npi": _text(npi) if npi else None, "taxonomy": None}
                    cline_seen.add("2420A")
                else:
                    cline_seen.discard("2420A")
                continue
            if in_2320:
                loop, lrank, last = "2330", ranks["2330"], 0
                if ent == "PR":
                    pending_2330b = None
                continue
            loop, lrank, last = "2310", ranks["2310"], 0
            if ent == "82":
                npi = el[8] if len(el) > 8 and el[7] == "XX" else None
                claim["rendering_provider"] = {"npi": _text(npi) if npi else None, "taxonomy": None}
                cline_seen.add("2310B")
            else:
                cline_seen.discard("2310B")
            continue

        if sid == "SV1":
            if cline is None or loop != "2400":
                err("SV1", "SV1 is out of place: it must follow LX in a service line loop 2400")
                continue
            if "SV1" in cline_seen:
                err("SV1", "second SV1 in one service line", cline["number"])
                continue
            cline_seen.add("SV1")
            el = rest.split(elem)
            num = cline["number"]
            proc = el[0].split(comp) if el and el[0] else []
            if len(proc) < 2 or not proc[1]:
                err("SV101", f"SV101 has no procedure code SV101-2 (component separator from ISA16 is '{comp}')", num)
            else:
                cline["code"] = _text(proc[1])
                cline["modifiers"] = [m for m in proc[2:6] if m]
            cline["charge"] = el[1] if len(el) > 1 and el[1] else None
            basis = el[2] if len(el) > 2 else ""
            qty = el[3] if len(el) > 3 else ""
            if not qty:
                err("SV104", "SV104 service unit count is missing", num)
            else:
                units = _whole_number(qty)
                if units is None:
                    if _is_number(qty):
                        err("SV104", "SV104 service unit count is not a whole number", num)
                    else:
                        err("SV104", "SV104 service unit count is not a number", num)
                else:
                    cline["units"] = units
            if basis != "UN":
                if basis in _UNIT_NAMES:
                    err("SV103", f"SV103 unit basis {basis} ({_UNIT_NAMES[basis]}) is not supported; expected UN (units)", num)
                elif basis:
                    err("SV103", "SV103 unit basis is not UN (units)", num)
                else:
                    err("SV103", "SV103 unit basis is missing; expected UN", num)
            if len(el) > 4 and el[4]:
                cline["place_of_service"] = el[4]
            if len(el) > 6 and el[6]:
                ptrs = []
                for i, p in enumerate(el[6].split(comp), start=1):
                    if not p:
                        continue
                    v = _whole_number(p)
                    if v is None:
                        err("SV107", f"SV107-{i} diagnosis pointer is not a number", num)
                    else:
                        ptrs.append(v)
                cline["diagnosis_pointers"] = ptrs
            continue

        if sid == "DTP":
            if cline is None:
                continue
            el = rest.split(elem)
            if el[0] != "472" or loop != "2400":
                continue
            num = cline["number"]
            if "DTP472" in cline_seen:
                err("DTP01", "second DTP*472 in one service line", num)
                continue
            cline_seen.add("DTP472")
            fmt = el[1] if len(el) > 1 else ""
            value = el[2] if len(el) > 2 else ""
            if fmt == "D8":
                d = _iso_date(value)
                if d is None:
                    err("DTP03", "DTP*472 date of service is not a valid CCYYMMDD date", num)
                else:
                    cline["service_date"] = d
            elif fmt == "RD8":
                a, dash, b = value.partition("-")
                da, db = _iso_date(a), _iso_date(b)
                if not dash or da is None or db is None:
                    err("DTP03", "DTP*472 date range is not a valid CCYYMMDD-CCYYMMDD range", num)
                else:
                    cline["service_date"] = da
                    cline["service_date_end"] = db
            else:
                err("DTP02", "DTP02 date format qualifier must be D8 or RD8", num)
            continue

        if sid == "LX":
            if claim is None:
                err("LX", "LX is out of place: a service line must follow a CLM claim")
                continue
            finish_line()
            check_2330b()
            in_2320 = False
            loop, lrank, last = "2400", ranks["2400"], 0
            el = rest.split(elem)
            lx = el[0] if el else ""
            src = {"file": name, "segment": seg_index, "line": seg_line}
            number = int(lx) if lx.isascii() and lx.isdigit() else None
            cline = {"number": number, "source": src}
            cline_seen = set()
            if number is None:
                err("LX01", "LX01 assigned number is missing or not a number")
            if len(claim["lines"]) >= MAX_LINES:
                # the line is read (its errors still count) but not kept: memory stays bounded
                if len(claim["lines"]) == MAX_LINES and "LX-limit" not in claim_seen:
                    claim_seen.add("LX-limit")
                    err("LX", f"claim has more than {MAX_LINES} service lines (LX); the 837P allows {MAX_LINES}")
                continue
            claim["lines"].append(cline)
            continue

        if sid == "HL":
            rec = finish_claim()
            if rec is not None:
                yield rec
            in_2320 = False
            el = rest.split(elem)
            hid = el[0] if el else ""
            parent = el[1] if len(el) > 1 else ""
            level = el[2] if len(el) > 2 else ""
            ctx = _Ctx(seg_index, seg_line)
            sink = ctx.errors
            if level == "20":
                for o in (orphan(pat), orphan(sub), orphan(bill)):
                    if o is not None:
                        yield o
                bill, sub, pat = ctx, None, None
                loop = "2000A"
                if parent:
                    err("HL02", "HL02 must be empty for a billing provider HL (level 20)")
            elif level == "22":
                for o in (orphan(pat), orphan(sub)):
                    if o is not None:
                        yield o
                sub, pat = ctx, None
                loop = "2000B"
                if bill is None:
                    err("HL", "subscriber HL (level 22) has no billing provider HL (level 20) before it")
                if hl_levels.get(parent) != "20":
                    err("HL02", "HL02 parent ID does not refer to an earlier billing provider HL (level 20)")
            elif level == "23":
                o = orphan(pat)
                if o is not None:
                    yield o
                pat = ctx
                loop = "2000C"
                if sub is None:
                    err("HL", "patient HL (level 23) has no subscriber HL (level 22) before it")
                if hl_levels.get(parent) != "22":
                    err("HL02", "HL02 parent ID does not refer to an earlier subscriber HL (level 22)")
            else:
                for o in (orphan(pat), orphan(sub), orphan(bill)):
                    if o is not None:
                        yield o
                bill, sub, pat = ctx, None, None
                loop = "2000A"
                err("HL03", "HL03 hierarchical level code must be 20, 22 or 23")
            if hid:
                hl_levels[hid] = level
            else:
                err("HL01", "HL01 hierarchical ID is missing")
            lrank, last = ranks[loop], 0
            continue

        if sid == "CLM":
            rec = finish_claim()
            if rec is not None:
                yield rec
            in_2320 = False
            ctx = pat if pat is not None else sub
            el = rest.split(elem)
            claim_id = _text(el[0]) if el else None
            claim_source = Source(file=name, segment=seg_index, line=seg_line)
            cerr = []
            sink = cerr
            loop, lrank, last = "2300", ranks["2300"], 0
            claim = _new_claim(claim_id, el, comp, bill, sub, pat, name, seg_index, seg_line)
            cline = None
            cline_seen = set()
            claim_seen = set()
            if ctx is None:
                err("CLM", "CLM is out of place: a claim must follow a subscriber (22) or patient (23) HL")
            if not claim_id:
                err("CLM01", "CLM01 claim submitter identifier is missing")
            if len(el) < 2 or not el[1]:
                err("CLM02", "CLM02 total claim charge is missing")
            elif not _is_number(el[1].lstrip("-")):
                err("CLM02", "CLM02 total claim charge is not a number")
            if len(el) < 5 or not el[4]:
                err("CLM05", "CLM05 health care service location information is missing")
            else:
                parts = el[4].split(comp)
                if not parts[0]:
                    err("CLM05", "CLM05-1 place of service code is missing")
                if len(parts) < 2 or not parts[1]:
                    err("CLM05", f"CLM05-2 facility code qualifier is missing (must be B; component separator from ISA16 is '{comp}')")
                if len(parts) < 3 or not parts[2]:
                    err("CLM05", "CLM05-3 claim frequency type code is missing")
            if sub is not None:
                if "IL" not in sub.seen:
                    err("NM1*IL", "the subscriber HL of this claim has no subscriber name loop 2010BA (NM1*IL)")
                if "PR" not in sub.seen:
                    err("NM1*PR", "the subscriber HL of this claim has no payer name loop 2010BB (NM1*PR)")
            if bill is not None and "85" not in bill.seen:
                err("NM1*85", "the billing provider HL of this claim has no billing provider name loop 2010AA (NM1*85)")
            continue

        if sid == "HI":
            if claim is None or loop != "2300":
                err("HI", "HI is out of place: diagnoses belong in claim loop 2300")
                continue
            claim_seen.add("HI")
            el = rest.split(elem)
            for i, composite in enumerate(el, start=1):
                if not composite:
                    continue
                qual, csep, code = composite.partition(comp)
                if not csep:
                    err(f"HI{i:02d}", f"HI{i:02d} is not a qualifier{comp}code composite "
                        f"(component separator from ISA16 is '{comp}'); rest of HI ignored")
                    break
                code = code.split(comp, 1)[0].replace(".", "")
                if qual in _DIAG_ICD10:
                    if code and len(claim["diagnoses"]) <= _MAX_DIAGNOSES:  # one over: validation reports it
                        claim["diagnoses"].append(code)
                elif qual in _DIAG_ICD9:
                    if code and len(claim.get("diagnoses_icd9", ())) <= _MAX_DIAGNOSES:
                        claim.setdefault("diagnoses_icd9", []).append(code)
            continue

        if sid == "PRV":
            el = rest.split(elem)
            tax = _text(el[2]) if len(el) > 2 else None
            if claim is None:
                if loop == "2000A" and bill is not None:
                    bill.fields["taxonomy"] = tax
                continue
            if cline is not None:
                if loop == "2420" and "2420A" in cline_seen and cline.get("rendering_provider") is not None:
                    cline["rendering_provider"]["taxonomy"] = tax
                continue
            if loop == "2310" and "2310B" in cline_seen and claim.get("rendering_provider") is not None:
                claim["rendering_provider"]["taxonomy"] = tax
            continue

        if sid == "SBR":
            if claim is None:
                if loop != "2000B" or sub is None:
                    err("SBR", "SBR is out of place: it must follow a subscriber HL (level 22)")
                    continue
                el = rest.split(elem)
                sub.fields["filing_indicator"] = _text(el[8]) if len(el) > 8 else None
                continue
            if cline is not None:
                err("SBR", "SBR is out of place inside a service line loop 2400", cline["number"])
                continue
            check_2330b()
            in_2320 = True
            pending_2330b = (seg_index, seg_line)
            loop, lrank, last = "2320", ranks["2320"], 0
            continue

        if sid == "DMG":
            if claim is None and loop in ("2010BA", "2010CA"):
                el = rest.split(elem)
                ctx = pat if loop == "2010CA" else sub
                if ctx is None:
                    continue
                if len(el) > 1 and el[1]:
                    if el[0] != "D8":
                        err("DMG01", "DMG01 date format qualifier must be D8")
                    else:
                        d = _iso_date(el[1])
                        if d is None:
                            err("DMG02", "DMG02 birth date is not a valid CCYYMMDD date")
                        else:
                            ctx.fields["birth_date"] = d
                if len(el) > 2 and el[2]:
                    ctx.fields["sex"] = el[2]
            continue

        if cline is not None:
            if sid == "LIN":
                loop, lrank, last = "2410", ranks["2410"], 0
            elif sid == "SVD":
                loop, lrank, last = "2430", ranks["2430"], 0
            elif sid == "LQ":
                loop, lrank, last = "2440", ranks["2440"], 0

    # end of input
    if in_st:
        env = env or _Ctx(seg_index, seg_line)
        sink = env.errors
        claim_id = None
        err("SE", "file ends inside a transaction set (no SE trailer)")
        for rec in close_txn():
            yield rec
    o = orphan(env)
    if o is not None:
        yield o


def _new_claim(claim_id, el, comp, bill, sub, pat, name, seg_index, seg_line) -> dict[str, Any]:
    bf = bill.fields if bill is not None else {}
    sf = sub.fields if sub is not None else {}
    pf = pat.fields if pat is not None else None
    pos = freq = None
    if len(el) > 4 and el[4]:
        parts = el[4].split(comp)
        pos = parts[0] or None
        freq = parts[2] if len(parts) > 2 and parts[2] else None
    if pf is not None:
        patient = {"id": pf.get("member_id") or sf.get("member_id"), "birth_date": pf.get("birth_date"), "sex": pf.get("sex")}
    else:
        patient = {"id": sf.get("member_id"), "birth_date": sf.get("birth_date"), "sex": sf.get("sex")}
    return {
        "claim_id": claim_id,
        "total_charge": el[1] if len(el) > 1 and el[1] else None,
        "filing_indicator": sf.get("filing_indicator"),
        "payer": dict(sf.get("payer") or {"id": None, "name": None}),
        "patient": patient,
        "billing_provider": {"npi": bf.get("npi"), "taxonomy": bf.get("taxonomy")},
        "rendering_provider": None,
        "place_of_service": pos,
        "frequency": freq,
        "diagnoses": [],
        "lines": [],
        "source": {"file": name, "segment": seg_index, "line": seg_line},
    }
