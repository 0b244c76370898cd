"""Fuzzing run: the properties of tests/test_fuzz.py with >= 1,000 cases per entry point.

    python benchmarks/fuzz.py --json benchmarks/results/fuzz.json
    python benchmarks/fuzz.py --examples 1000 --cli-examples 200 -k "reader or read_texts"

Runs pytest on tests/test_fuzz.py in a child process with LEXDENSE_FUZZ_EXAMPLES (readers) and
LEXDENSE_FUZZ_CLI_EXAMPLES (CLI commands) set, and reports per entry point (one test each):

* ``cases_run``: times the property's body ran (from LEXDENSE_FUZZ_REPORT; Hypothesis's
  replays and shrinks included);
* ``passing`` / ``failing`` / ``invalid``: Hypothesis's own counts of the generate phase;
* ``failures``: distinct failures Hypothesis reported (0 when the test passed), with the
  first lines of the errors;
* ``seconds``: pytest's duration of the test (generation, runs and shrinking).

A failing entry point stops early (Hypothesis shrinks the failure instead of generating on),
so its ``cases_run`` can be under the target; ``target`` says what was asked for. The runs are
derandomized like CI's: the same cases every time for the same counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ERROR_LINE = re.compile(r"^[\s|E>]*((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Unavailable|Interrupt)): "
                        r"(.{0,240})")


def statistics(text: str) -> dict[str, dict]:
    """Hypothesis's generate-phase counts per test, from --hypothesis-show-statistics."""
    found: dict[str, dict] = {}
    current = None
    phase = None
    for line in text.splitlines():
        header = re.match(r"^(\S+::test_\w+(?:\[[^\]]*\])?):\s*$", line)
        if header:
            current, phase = header.group(1).split("::")[-1], None
            continue
        if current is None:
            continue
        heading = re.match(r"^\s*- during (\w+) phase", line)
        if heading:
            phase = heading.group(1)
            continue
        counts = re.match(r"^\s*- (\d+) passing(?: examples?)?, (\d+) failing(?: examples?)?,(?: and)? (\d+) invalid",
                          line)
        if counts and phase == "generate":
            found[current] = dict(zip(("passing", "failing", "invalid"), map(int, counts.groups())))
        stop = re.match(r"^\s*- Stopped because (.*)", line)
        if stop:
            found.setdefault(current, {})["stopped_because"] = stop.group(1).strip()
    return found


def entry_point(test: str) -> str:
    """A test's entry point: its name less ``test_fuzz_``, a parameter joined with ``_``
    (``test_fuzz_reader[csv]`` is ``reader_csv``), as tests/test_fuzz.py's ``ran`` counts it."""
    return re.sub(r"\[(.*)\]$", r"_\1", test.removeprefix("test_fuzz_"))


def failures_of(case: ElementTree.Element) -> tuple[int, list[str]]:
    failure = case.find("failure")
    if failure is None:
        failure = case.find("error")
    if failure is None:
        return 0, []
    text = (failure.get("message") or "") + "\n" + (failure.text or "")
    many = re.search(r"Hypothesis found (\d+) distinct failures", text)
    errors = []
    for line in text.splitlines():
        match = ERROR_LINE.match(line)
        if match and not match.group(1).endswith("ExceptionGroup"):
            entry = f"{match.group(1)}: {match.group(2).strip()}"
            if entry not in errors:
                errors.append(entry)
    return (int(many.group(1)) if many else 1), errors[:25]


def _in_repo(argument: str) -> str:
    """A path argument inside the checkout, relative to it: reports name no machine's paths."""
    path = Path(argument)
    if path.is_absolute() and path.resolve().is_relative_to(ROOT.resolve()):
        return str(path.resolve().relative_to(ROOT.resolve()))
    return argument


def source_commit() -> str | None:
    """The commit the fuzzed code is (with "+changes" when the tree differs from it), so a
    result says what it is about; None outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "tests"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="cases per reader entry point")
    parser.add_argument("--cli-examples", type=int, default=1000, help="cases per CLI entry point")
    parser.add_argument("-k", default=None, help="pytest -k expression (a subset of the entry points)")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--timeout", type=float, default=None, help="stop the run after this many seconds")
    args = parser.parse_args(argv)

    commit = source_commit()  # before the run: the tree may change while it runs
    with tempfile.TemporaryDirectory() as tmp:
        counts_file, junit = Path(tmp) / "runs.json", Path(tmp) / "junit.xml"
        env = {**os.environ, "LEXDENSE_FUZZ_EXAMPLES": str(args.examples),
               "LEXDENSE_FUZZ_CLI_EXAMPLES": str(args.cli_examples), "LEXDENSE_FUZZ_REPORT": str(counts_file)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz.py",
                   "--hypothesis-show-statistics", f"--junitxml={junit}", "-o", "junit_family=xunit2"]
        if args.k:
            command += ["-k", args.k]
        started = time.perf_counter()
        try:
            run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout)
            output, code = run.stdout + run.stderr, run.returncode
        except subprocess.TimeoutExpired as exc:  # what finished is still reported
            output = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            code = None
        wall = time.perf_counter() - started
        runs = json.loads(counts_file.read_text()) if counts_file.is_file() else {}
        cases = ElementTree.parse(junit).getroot().iter("testcase") if junit.is_file() else []
        stats = statistics(output)
        entries = {}
        for case in cases:
            name = case.get("name")
            if not name.startswith("test_fuzz_"):
                continue
            entry = entry_point(name)
            failures, errors = failures_of(case)
            skipped = case.find("skipped") is not None
            entries[entry] = {
                "target": args.cli_examples if entry.startswith("cli_") else args.examples,
                "cases_run": runs.get(entry, 0),
                **{k: v for k, v in stats.get(name, {}).items()},
                "failures": failures,
                "outcome": "skipped" if skipped else "failed" if failures else "passed",
                "seconds": round(float(case.get("time", 0)), 2),
                **({"errors": errors} if errors else {}),
            }
    report = {
        "command": " ".join(["python", "benchmarks/fuzz.py"] + [_in_repo(a) for a in (argv if argv is not None
                                                                                     else sys.argv[1:])]),
        "commit": commit,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "pytest_exit_code": code,
        "wall_seconds": round(wall, 1),
        "entry_points": entries,
        "totals": {"entry_points": len(entries), "cases_run": sum(e["cases_run"] for e in entries.values()),
                   "failing_entry_points": sorted(n for n, e in entries.items() if e["failures"]),
                   "distinct_failures": sum(e["failures"] for e in entries.values())},
    }
    for name, entry in entries.items():
        print(f"{name:40s} {entry['cases_run']:6d} cases  {entry['failures']:3d} failures  {entry['seconds']:8.1f}s")
    print(f"total {report['totals']['cases_run']} cases, {report['totals']['distinct_failures']} failures, "
          f"{wall:.0f}s")
    if args.json:
        from lexdense.io.atomic import write_json

        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
