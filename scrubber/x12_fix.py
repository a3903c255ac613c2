"""Apply service-line fixes to an X12 837P file, byte for byte.

Only the segments an edit touches change: SV1 (modifiers SV101-3..6, units
SV104), a dropped line's whole loop 2400 (LX up to the next LX/CLM/HL/SE),
the LX01 numbers after a dropped line in the same claim, CLM02 (less the
dropped SV102 charges) and SE01 (the transaction's segment count). Every
other byte — separators, line endings, whitespace — is copied unchanged, so
applying no edits returns the input exactly.

Edits are keyed by the claim's CLM segment index (``ClaimRecord.source.segment``
from :func:`scrubber.readers.x12.read_x12`), each a list of dicts::

    {"rule_id": "DN-001", "line": 2, "action": "add_modifier", "modifier": "59", "units": None}

with ``action`` one of ``add_modifier``, ``remove_modifier``, ``set_units``,
``drop_line`` and ``line`` the LX01 number as read. An edit that does not fit
the file (no CLM at that segment, no such line, an unknown action, a bad
modifier or unit count) raises :class:`FixError` and nothing is written. An
edit that would be a no-op or is not allowed for this claim (the modifier is
already there or absent, the line already has four modifiers, dropping the
claim's last line) is not applied and is reported in the audit with
``applied: False`` and a ``note``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from .models import MAX_MODIFIERS
from .readers import ReadError
from .readers.x12_tokens import IsaError, Separators, Tokenizer

ACTIONS = ("add_modifier", "remove_modifier", "set_units", "drop_line")
_CLAIM_END = {"CLM", "HL", "SE", "GE", "IEA", "ISA", "ST", "GS"}


class FixError(ValueError):
    """The edits do not fit the file; nothing was changed."""


@dataclass
class _Seg:
    index: int
    start: int
    end: int
    text: str
    seps: Separators
    sid: str


@dataclass
class _Line:
    number: Optional[int]
    lx: int  # list position of LX
    sv1: Optional[int]  # list position of SV1
    stop: int  # list position after the last segment of the loop
    dropped: bool = False


@dataclass
class _Claim:
    clm: int
    claim_id: Optional[str]
    lines: list[_Line] = field(default_factory=list)


def _tokenize(data: bytes, name: str) -> tuple[str, list[_Seg]]:
    tok = Tokenizer(io.BytesIO(data))
    segs: list[_Seg] = []
    try:
        for index, _line, start, end, text in tok:
            seps = tok.seps
            assert seps is not None
            segs.append(_Seg(index, start, end, text, seps, text.partition(seps.element)[0]))
    except IsaError as exc:
        raise ReadError(f"{name}: not a readable X12 file: {exc}") from None
    return data.decode("latin-1"), segs


def _claim_at(segs: list[_Seg], index: int, name: str) -> _Claim:
    pos = index - 1
    if not (0 <= pos < len(segs)) or segs[pos].index != index or segs[pos].sid != "CLM":
        raise FixError(f"{name}: segment {index} is not a CLM claim segment")
    clm = segs[pos]
    clm_el = clm.text.split(clm.seps.element)
    claim = _Claim(pos, clm_el[1] if len(clm_el) > 1 and clm_el[1] else None)
    i = pos + 1
    current: Optional[_Line] = None
    while i < len(segs) and segs[i].sid not in _CLAIM_END:
        s = segs[i]
        if s.sid == "LX":
            if current is not None:
                current.stop = i
            el = s.text.split(s.seps.element)
            number = int(el[1]) if len(el) > 1 and el[1].isascii() and el[1].isdigit() else None
            current = _Line(number, i, None, i + 1)
            claim.lines.append(current)
        elif s.sid == "SV1" and current is not None and current.sv1 is None:
            current.sv1 = i
        i += 1
    if current is not None:
        current.stop = i
    return claim


def _decimals(value: str) -> int:
    return len(value.partition(".")[2])


def _format_like(original: str, value: Decimal) -> str:
    """Format ``value`` in the decimal style of ``original`` ("500" / "180.00"),
    with more decimals only when the value needs them."""
    places = _decimals(original)
    exponent = value.normalize().as_tuple().exponent
    needed = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places == 0 and needed == 0:
        return str(int(value))
    return f"{value:.{max(places, needed)}f}"


def _sv1_parts(seg: _Seg, text: str) -> tuple[list[str], list[str]]:
    el = text.split(seg.seps.element)
    comps = el[1].split(seg.seps.component) if len(el) > 1 else []
    return el, comps


def _build_sv1(seg: _Seg, el: list[str], comps: list[str], mods: list[str]) -> str:
    desc = comps[6:]
    new = comps[:2] + mods
    if desc:
        new += [""] * (MAX_MODIFIERS - len(mods)) + desc
    while len(new) > 2 and new[-1] == "":
        new.pop()
    el = list(el)
    el[1] = seg.seps.component.join(new)
    return seg.seps.element.join(el)


def _check_edit(edit: Any, name: str, index: int) -> dict:
    if not isinstance(edit, dict):
        raise FixError(f"{name}: edit for claim segment {index} is not an object")
    action = edit.get("action")
    if action not in ACTIONS:
        raise FixError(f"{name}: claim segment {index}: unknown action {action!r}")
    line = edit.get("line")
    if not isinstance(line, int) or isinstance(line, bool):
        raise FixError(f"{name}: claim segment {index}: edit line must be an LX number")
    if action in ("add_modifier", "remove_modifier"):
        mod = edit.get("modifier")
        if not isinstance(mod, str) or len(mod.strip()) != 2 or not mod.strip().isascii() or not mod.strip().isalnum():
            raise FixError(f"{name}: claim segment {index} line {line}: modifier must be two letters or digits")
    if action == "set_units":
        units = edit.get("units")
        if not isinstance(units, int) or isinstance(units, bool) or not 1 <= units <= 99999:
            raise FixError(f"{name}: claim segment {index} line {line}: units must be a whole number from 1 to 99999")
    return edit


def apply_fixes(data: bytes, edits: dict, name: str) -> tuple[bytes, list[dict]]:
    """Apply ``edits`` to the 837P bytes ``data``; return the new bytes and an audit list.

    Each audit entry: ``{claim_id, line, segment, rule_id, action, before, after}``
    (segment texts without terminator; ``after`` is None for a removed loop),
    plus ``applied`` and, when not applied, ``note``. Side effects of dropped
    lines appear as entries with action ``update_total`` (CLM02),
    ``renumber_line`` (LX01) and ``update_segment_count`` (SE01).
    """
    text, segs = _tokenize(data, name)
    new_text: dict[int, Optional[str]] = {}  # list position -> replacement (None = delete)
    audit: list[dict] = []
    dropped_by_txn: dict[int, list[str]] = {}

    def current(pos: int) -> str:
        value = new_text.get(pos, segs[pos].text)
        return segs[pos].text if value is None else value

    for key in sorted(edits, key=lambda k: int(k)):
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise FixError(f"{name}: edit key {key!r} is not a segment index") from None
        claim = _claim_at(segs, index, name)
        items = [_check_edit(e, name, index) for e in (edits[key] or [])]
        by_number = {ln.number: ln for ln in claim.lines if ln.number is not None}

        def entry(edit: dict, ln: Optional[_Line], pos: int, before: Optional[str], after: Optional[str],
                  action: Optional[str] = None, applied: bool = True, note: Optional[str] = None) -> None:
            item = {
                "claim_id": claim.claim_id,
                "line": ln.number if ln is not None else None,
                "segment": segs[pos].index,
                "rule_id": edit.get("rule_id"),
                "action": action or edit["action"],
                "before": before,
                "after": after,
                "applied": applied,
            }
            if note:
                item["note"] = note
            audit.append(item)

        drops: list[tuple[dict, _Line]] = []
        for edit in items:
            ln = by_number.get(edit["line"])
            if ln is None:
                raise FixError(f"{name}: claim at segment {index} has no service line LX*{edit['line']}")
            action = edit["action"]
            if action == "drop_line":
                drops.append((edit, ln))
                continue
            if ln.sv1 is None:
                raise FixError(f"{name}: service line {edit['line']} of claim at segment {index} has no SV1")
            seg = segs[ln.sv1]
            before = current(ln.sv1)
            el, comps = _sv1_parts(seg, before)
            if len(comps) < 2:
                raise FixError(f"{name}: SV101 of line {edit['line']} (segment {seg.index}) has no procedure code")
            mods = [m for m in comps[2:6] if m]
            if action == "add_modifier":
                mod = edit["modifier"].strip().upper()
                if mod in mods:
                    entry(edit, ln, ln.sv1, before, before, applied=False, note=f"modifier {mod} already present")
                    continue
                if len(mods) >= MAX_MODIFIERS:
                    entry(edit, ln, ln.sv1, before, before, applied=False,
                          note=f"line already has {MAX_MODIFIERS} modifiers; {mod} not added")
                    continue
                after = _build_sv1(seg, el, comps, mods + [mod])
            elif action == "remove_modifier":
                mod = edit["modifier"].strip().upper()
                if mod not in mods:
                    entry(edit, ln, ln.sv1, before, before, applied=False, note=f"modifier {mod} not present")
                    continue
                after = _build_sv1(seg, el, comps, [m for m in mods if m != mod])
            else:  # set_units
                units = edit["units"]
                old = el[4] if len(el) > 4 else ""
                places = _decimals(old)
                value = f"{units}.{'0' * places}" if places else str(units)
                el = list(el)
                while len(el) < 5:
                    el.append("")
                el[4] = value
                after = seg.seps.element.join(el)
                if after == before:
                    entry(edit, ln, ln.sv1, before, before, applied=False, note=f"units already {units}")
                    continue
            new_text[ln.sv1] = after
            entry(edit, ln, ln.sv1, before, after)

        if not drops:
            continue
        remaining = [ln for ln in claim.lines if not ln.dropped]
        for edit, ln in drops:
            if ln.dropped:
                entry(edit, ln, ln.lx, None, None, applied=False, note="line already dropped")
                continue
            if len(remaining) <= 1:
                entry(edit, ln, ln.lx, current(ln.lx), current(ln.lx), applied=False,
                      note="the claim's only remaining line is not dropped")
                continue
            ln.dropped = True
            remaining.remove(ln)
            term = segs[ln.lx].seps.segment
            before = term.join(current(p) for p in range(ln.lx, ln.stop))
            for p in range(ln.lx, ln.stop):
                new_text[p] = None
            entry(edit, ln, ln.lx, before, None)
            se = _find_se(segs, claim.clm)
            if se is not None:
                dropped_by_txn.setdefault(se, []).append(edit.get("rule_id") or "")

        dropped = [ln for ln in claim.lines if ln.dropped]
        if not dropped:
            continue
        rules = {id(ln): e.get("rule_id") for e, ln in drops if ln.dropped}
        last_rule = next((rules[id(ln)] for ln in reversed(dropped)), None)
        # CLM02 total less the dropped charges
        clm = segs[claim.clm]
        el = clm.text.split(clm.seps.element)
        total = Decimal(0)
        for ln in dropped:
            if ln.sv1 is not None:
                sv1_el = segs[ln.sv1].text.split(segs[ln.sv1].seps.element)
                charge = sv1_el[2] if len(sv1_el) > 2 else ""
                try:
                    total += Decimal(charge) if charge else Decimal(0)
                except InvalidOperation:
                    pass
        if len(el) > 2 and el[2] and total:
            try:
                new_total = Decimal(el[2]) - total
            except InvalidOperation:
                new_total = None
            if new_total is not None:
                before = clm.text
                el[2] = _format_like(el[2], new_total)
                after = clm.seps.element.join(el)
                new_text[claim.clm] = after
                audit.append({"claim_id": claim.claim_id, "line": None, "segment": clm.index, "rule_id": last_rule,
                              "action": "update_total", "before": before, "after": after, "applied": True})
        # renumber the following LX01 values
        shift = 0
        cause = None
        for ln in claim.lines:
            if ln.dropped:
                shift += 1
                cause = rules.get(id(ln))
                continue
            if shift and ln.number is not None:
                lx = segs[ln.lx]
                lel = lx.text.split(lx.seps.element)
                lel[1] = str(ln.number - shift)
                after = lx.seps.element.join(lel)
                new_text[ln.lx] = after
                audit.append({"claim_id": claim.claim_id, "line": ln.number, "segment": lx.index, "rule_id": cause,
                              "action": "renumber_line", "before": lx.text, "after": after, "applied": True})

    # SE01 segment counts of the transactions that lost segments
    for se, rule_ids in dropped_by_txn.items():
        st = se
        while st >= 0 and segs[st].sid != "ST":
            st -= 1
        count = sum(1 for p in range(max(st, 0), se + 1) if not (p in new_text and new_text[p] is None))
        seg = segs[se]
        el = seg.text.split(seg.seps.element)
        if len(el) > 1 and el[1] != str(count):
            el[1] = str(count)
            after = seg.seps.element.join(el)
            new_text[se] = after
            audit.append({"claim_id": None, "line": None, "segment": seg.index,
                          "rule_id": ",".join(sorted(set(r for r in rule_ids if r))) or None,
                          "action": "update_segment_count", "before": seg.text, "after": after, "applied": True})

    if not new_text:
        return data, audit
    out: list[str] = []
    cursor = 0
    for pos in sorted(new_text):
        seg = segs[pos]
        value = new_text[pos]
        out.append(text[cursor : seg.start])
        if value is None:
            # drop the segment, its terminator and the line break after it
            cursor = segs[pos + 1].start if pos + 1 < len(segs) else len(text)
        else:
            out.append(value)
            cursor = seg.end
    out.append(text[cursor:])
    return "".join(out).encode("latin-1"), audit


def _find_se(segs: list[_Seg], pos: int) -> Optional[int]:
    while pos < len(segs):
        sid = segs[pos].sid
        if sid == "SE":
            return pos
        if sid in ("ST", "GE", "IEA", "ISA"):
            return None
        pos += 1
    return None
