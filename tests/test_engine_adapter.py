"""Regression tests for the durable_rules defects the adapter works around."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from scrubber.engine import Program


def test_session_with_no_fired_rule_is_deleted_safely():
    # durable_rules frees an uninitialised action context when a session in
    # which no action started is deleted; it crashed this exact script
    # ("free(): invalid pointer") before the adapter's $session rule.
    script = textwrap.dedent("""
        import yaml  # its C extension shifts the heap so the garbage is non-NULL
        from scrubber import Scrubber
        s = Scrubber(allow_plugins=["dry-needling"])
        claim = {"claim_id": "C", "filing_indicator": "CI", "lines": [
            {"number": 1, "code": "20561", "modifiers": ["GP"], "service_date": "2024-03-05"}]}
        for _ in range(50):
            assert s.scrub(claim).status.value == "clean"
        print("ok")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_action_exception_propagates_and_session_is_cleared():
    program = Program({"0": {"all": [{"l": {"kind": "line"}}]}}, gated=False)

    def boom(index, bindings):
        raise RuntimeError("action failed")

    try:
        program.run([{"id": "l1", "kind": "line"}], boom)
    except RuntimeError as exc:
        assert "action failed" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("the action's exception was swallowed")
    fired = []
    program.run([{"id": "l1", "kind": "line"}], lambda i, b: fired.append(b["l"]["id"]))
    assert fired == ["l1"]  # the same fact id is accepted again: the session was deleted


def test_facts_with_the_same_content_need_their_own_ids():
    program = Program({"0": {"all": [{"l": {"kind": "line"}}]}}, gated=False)
    fired = []
    program.run([{"id": "a", "kind": "line"}, {"id": "b", "kind": "line"}], lambda i, b: fired.append(b["l"]["id"]))
    assert sorted(fired) == ["a", "b"]


def test_lean_facts_actions_see_full_facts_and_duplicate_ids_are_refused():
    import pytest

    from scrubber.engine import EngineError

    program = Program({"0": {"all": [{"l": {"$and": [{"kind": "line"}, {"code": "20561"}]}}]}}, gated=False)
    assert program.fields == {"line": frozenset({"code"}), "$end": frozenset()}
    seen = []
    fact = {"id": "l1", "kind": "line", "code": "20561", "label": "not tested, still rendered"}
    program.run([fact, {"id": "n1", "kind": "note"}], lambda i, b: seen.append(b["l"]))
    assert seen == [fact]  # the full fact, looked up by id
    with pytest.raises(EngineError):  # even for a kind no rule tests (never sent to the engine)
        program.run([{"id": "n", "kind": "note"}, {"id": "n", "kind": "note"}], lambda i, b: None)
    program.run([fact], lambda i, b: None)  # the session was deleted after the error
