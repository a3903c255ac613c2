"""The ``scrubber`` command line.

Exit status: 0 when no claim has an error (an error finding, or a claim that
is invalid or failed), 1 when at least one has, 2 when an input could not be
read at all or the command was misused.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from typing import IO, Iterable, Iterator, Optional, Sequence

from . import __version__
from .models import ScrubResult, Status
from .parallel import Outcome, ParallelError, scrubber_kwargs
from .readers import ClaimRecord, ReadError, read_path
from .scrubber import Scrubber, ScrubberError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 already; keep its message short
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"scrubber: error: {message}\n")


def _plugin_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-plugin", action="append", metavar="NAME",
                        help="load only these plugins (repeatable; also SCRUBBER_PLUGINS=a,b)")
    parser.add_argument("--block-plugin", action="append", metavar="NAME",
                        help="never load this plugin (repeatable; also SCRUBBER_BLOCK_PLUGINS=a,b)")
    parser.add_argument("--rules", action="append", metavar="FILE", default=[],
                        help="an extra rule file or directory of rule files (repeatable)")
    parser.add_argument("--config", metavar="FILE", help="configuration file (YAML or TOML)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scrubber", description="Scrub professional claims (X12 837P or JSON) before they go to a payer.")
    parser.add_argument("--version", action="version", version=f"scrubber {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="scrub claim files and report findings")
    check.add_argument("paths", nargs="+", metavar="PATH", help="JSON, NDJSON or X12 837P file, or - for standard input")
    check.add_argument("--format", choices=("text", "json"), default="text", help="text report or NDJSON (one object per claim)")
    check.add_argument("--fix", action="store_true", help="apply the proposed fixes; JSON output carries the corrected claim and the changes")
    check.add_argument("--fix-output", metavar="PATH", help="with --fix and one input: write the corrected file there (same format as the input)")
    check.add_argument("--validate", action="store_true",
                       help="also validate X12 inputs against the 837P implementation guide (pyx12; pip install 'claim-scrubber[x12]')")
    check.add_argument("--ack-999", metavar="PATH", help="with --validate and one X12 input: write pyx12's 999 acknowledgement there")
    check.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (default 1)")
    check.add_argument("--batch-size", type=int, default=256, metavar="N", help=argparse.SUPPRESS)
    check.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                       help="progress bar on standard error (auto: only when it is a terminal)")
    check.add_argument("--history", metavar="PATH_OR_URL",
                       help="claim history: an SQLite file (created when missing) or a database URL such as "
                            "postgresql://user@host/db; rules then see the patient's earlier claims, and each "
                            "scrubbed claim is recorded")
    check.add_argument("--history-readonly", action="store_true",
                       help="with --history: scrub against the history without recording the claims")
    _plugin_options(check)

    rules = sub.add_parser("rules", help="list the loaded rules")
    rules.add_argument("--explain", metavar="RULE_ID", help="show one rule in full")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    _plugin_options(rules)

    plugins = sub.add_parser("plugins", help="list plugins, their versions, tables and load errors")
    plugins.add_argument("--format", choices=("text", "json"), default="text")
    _plugin_options(plugins)

    new = sub.add_parser("new-plugin", help="write a working plugin package to start from")
    new.add_argument("name", metavar="NAME", help="plugin name, lower case with hyphens (e.g. acme-payer)")
    new.add_argument("--directory", metavar="DIR", default=".", help="where to create NAME/ (default: here)")
    return parser


def _scrubber(args: argparse.Namespace) -> Scrubber:
    return Scrubber(**scrubber_kwargs(args))


def _report_load_problems(scrubber: Scrubber, err: IO[str]) -> None:
    for name, info in scrubber.plugins.info.items():
        for error in info.errors:
            err.write(f"scrubber: plugin {name} skipped: {error}\n")
    for problem in scrubber.rule_file_problems:
        err.write(f"scrubber: rule file skipped: {problem.message}\n")


# -- check ----------------------------------------------------------------


def _records(paths: Sequence[str], failures: list[str], raw_ndjson: bool = False) -> Iterator[ClaimRecord]:
    for path in paths:
        try:
            yield from read_path(path, raw_ndjson)
        except ReadError as exc:
            failures.append(str(exc))


def _text(result: ScrubResult, out: IO[str]) -> None:
    where = f" ({result.source.describe()})" if result.source else ""
    counts = Counter(f.severity.value for f in result.findings)
    summary = ", ".join(f"{n} {s}{'s' if n > 1 else ''}" for s, n in sorted(counts.items()))
    out.write(f"claim {result.claim_id or '?'}{where}: {result.status.value}{': ' + summary if summary else ''}\n")
    for error in result.errors:
        out.write(f"  {error.describe()}\n")
    current: object = object()
    for finding in result.findings:
        if finding.line != current:
            current = finding.line
            out.write(f"  line {finding.line} {finding.code}\n" if finding.line is not None else "  claim\n")
        out.write(f"    {finding.severity.value:<7} {finding.rule_id}: {finding.message}\n")
        if finding.fix:
            out.write(f"            fix: {finding.fix.describe()}\n")
        cite = finding.citation.source + (f" <{finding.citation.url}>" if finding.citation.url else "")
        out.write(f"            source: {cite}\n")
    for change in result.changes:
        out.write(f"  fixed line {change.line}: {change.action} {change.before} -> {change.after} ({change.rule_id})\n")


def _json(result: ScrubResult, out: IO[str]) -> None:
    out.write(json.dumps(result_doc(result), ensure_ascii=False, separators=(",", ":")) + "\n")


def result_doc(result: ScrubResult) -> dict:
    """The ``--format json`` object for one result."""
    doc = result.model_dump(mode="json", exclude={"fixed_claim", "changes", "errors"})
    if result.status in (Status.invalid, Status.failed) or result.errors:
        doc["errors"] = [e.model_dump(mode="json") for e in result.errors]
    if result.fixed_claim is not None:
        doc["fixed_claim"] = result.fixed_claim
        doc["changes"] = [c.model_dump(mode="json") for c in result.changes]
    return doc


def _results(args: argparse.Namespace, scrubber: Optional[Scrubber], records: Iterable[ClaimRecord]) -> Iterator[Outcome]:
    """Outcomes in input order: in this process, or with ``--jobs`` worker
    processes that also render the output (the parent only writes it)."""
    if args.jobs > 1:
        from .parallel import scrub_parallel

        yield from scrub_parallel(records, args, jobs=args.jobs, batch_size=args.batch_size, fix=args.fix,
                                  render=args.format, keep_results=bool(args.fix_output))
    else:
        assert scrubber is not None
        for result in scrubber.scrub_many(records, fix=args.fix):
            yield Outcome(result.status, None, result)


def cmd_check(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    if args.jobs < 1:
        err.write("scrubber: --jobs must be at least 1\n")
        return EXIT_USAGE
    if args.fix_output and (not args.fix or len(args.paths) != 1 or args.paths[0] == "-"):
        err.write("scrubber: --fix-output needs --fix and exactly one input file\n")
        return EXIT_USAGE
    if args.ack_999 and (not args.validate or len(args.paths) != 1):
        err.write("scrubber: --ack-999 needs --validate and exactly one input file\n")
        return EXIT_USAGE
    if args.history_readonly and not args.history:
        err.write("scrubber: --history-readonly needs --history\n")
        return EXIT_USAGE
    scrubber = _scrubber(args)
    try:
        return _check(args, scrubber, out, err)
    finally:
        scrubber.close()


def _check(args: argparse.Namespace, scrubber: Scrubber, out: IO[str], err: IO[str]) -> int:
    _report_load_problems(scrubber, err)
    invalid_files = _validate(args, err) if args.validate else 0
    failures: list[str] = []
    counts: Counter[str] = Counter()
    write = _json if args.format == "json" else _text
    from .progress import Progress

    progress = Progress(err, args.progress)
    fixed: list[ScrubResult] = []
    for outcome in _results(args, scrubber, _records(args.paths, failures, raw_ndjson=args.jobs > 1)):
        counts[outcome.status.value] += 1
        if outcome.text is not None:
            out.write(outcome.text)
        else:
            write(outcome.result, out)  # type: ignore[arg-type]
        progress.tick()
        if args.fix_output:
            fixed.append(outcome.result)  # type: ignore[arg-type]
    progress.close()
    for failure in failures:
        err.write(f"scrubber: cannot read {failure}\n")
    if args.fix_output and not failures:
        from .writers import write_fixed

        try:
            write_fixed(args.paths[0], args.fix_output, fixed, err)
        except OSError as exc:
            err.write(f"scrubber: cannot write {args.fix_output}: {exc.strerror or exc}\n")
            return EXIT_USAGE
    total = sum(counts.values())
    parts = ", ".join(f"{counts[s.value]} {s.value}" for s in Status)
    err.write(f"scrubber: {total} claims read: {parts}\n")
    if failures:
        return EXIT_USAGE
    bad = counts[Status.rejected.value] + counts[Status.invalid.value] + counts[Status.failed.value] + invalid_files
    return EXIT_FINDINGS if bad else EXIT_OK


def _validate(args: argparse.Namespace, err: IO[str]) -> int:
    """Validate X12 inputs with pyx12; returns how many failed."""
    from .readers import sniff
    from .validate import validate_x12

    failed = 0
    for path in args.paths:
        try:
            with open(path, "rb") as handle:
                if sniff(handle.read(512)) != "x12":
                    continue
        except OSError:
            continue  # reported when the file is read
        result = validate_x12(path)
        for message in result.errors:
            err.write(f"scrubber: {path}: 837P implementation guide: {message}\n")
        err.write(f"scrubber: {path}: implementation-guide validation {'passed' if result.ok else 'failed'}\n")
        failed += not result.ok
        if args.ack_999 and result.ack_999:
            with open(args.ack_999, "w", encoding="ascii", errors="replace") as out:
                out.write(result.ack_999)
    return failed


# -- rules and plugins ------------------------------------------------------


def cmd_rules(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    scrubber = _scrubber(args)
    _report_load_problems(scrubber, err)
    if args.explain:
        from .explain import explain

        text = explain(scrubber, args.explain)
        if text is None:
            err.write(f"scrubber: no loaded rule has the ID {args.explain}\n")
            return EXIT_USAGE
        out.write(text)
        return EXIT_OK
    rows = []
    for rule in scrubber.rules:
        rows.append({
            "id": rule.id, "severity": rule.severity.value if rule.severity else "derive",
            "plugin": rule.plugin or "-", "ruleset": rule.ruleset, "file": rule.origin,
            "title": rule.rule.title, "citation": rule.citation.source if rule.citation else "",
        })
    if args.format == "json":
        for row in rows:
            out.write(json.dumps(row) + "\n")
    else:
        for row in rows:
            out.write(f"{row['id']:<28} {row['severity']:<8} {row['plugin']:<14} {row['ruleset']}\n")
            out.write(f"{'':<28} {row['title']}\n{'':<28} source: {row['citation'] or '-'}\n")
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    scrubber = _scrubber(args)
    rows = []
    for name, info in scrubber.plugins.info.items():
        rules = sorted({r.id for r in scrubber.rules if r.plugin == name})
        tables = [t for p, t in scrubber.tables if p == name]
        rows.append({
            "name": name, "version": info.version, "module": info.module, "status": info.status,
            "errors": info.errors, "rules": len(rules),
            "tables": [{"name": t.name, "version": t.version, "source": t.source, "rows": t.rows} for t in tables],
            "rule_file_problems": [p.message for p in scrubber.rule_file_problems if p.plugin == name],
        })
    if args.format == "json":
        for row in rows:
            out.write(json.dumps(row) + "\n")
        return EXIT_OK
    if not rows:
        out.write("no plugins installed\n")
    for row in rows:
        out.write(f"{row['name']} {row['version']} ({row['module']}): {row['status']}, {row['rules']} rules\n")
        for error in row["errors"] + row["rule_file_problems"]:
            out.write(f"  error: {error}\n")
        for t in row["tables"]:
            out.write(f"  table {t['name']} {t['version']} ({t['rows']} rows): {t['source']}\n")
    return EXIT_OK


def cmd_new_plugin(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    from .scaffold import ScaffoldError, new_plugin

    try:
        target, names, written = new_plugin(args.name, args.directory)
    except (ScaffoldError, OSError) as exc:
        err.write(f"scrubber: {exc}\n")
        return EXIT_USAGE
    out.write(f"created plugin {names.plugin} (distribution {names.distribution}, package {names.module}) in {target}\n")
    for path in written:
        out.write(f"  {path}\n")
    out.write(f"next: pip install -e '{target}[test]' && scrubber plugins && python -m pytest {target}\n")
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.CRITICAL, format="scrubber: %(message)s")
    args = build_parser().parse_args(argv)
    out, err = sys.stdout, sys.stderr
    for stream in (out, err):
        # a claim ID the terminal's encoding cannot show must not end the batch
        # (backslash escapes also keep NDJSON valid)
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except Exception:
                pass
    try:
        if args.command == "check":
            return cmd_check(args, out, err)
        if args.command == "rules":
            return cmd_rules(args, out, err)
        if args.command == "new-plugin":
            return cmd_new_plugin(args, out, err)
        return cmd_plugins(args, out, err)
    except (ScrubberError, ParallelError) as exc:
        err.write(f"scrubber: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # e.g. the output device is full
        err.write(f"scrubber: cannot write: {exc.strerror or type(exc).__name__}\n")
        return EXIT_USAGE
    except Exception as exc:  # last resort: a bug must not print a traceback (it could hold claim data)
        err.write(f"scrubber: internal error ({type(exc).__name__}); please report it\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
