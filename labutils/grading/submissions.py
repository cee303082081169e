"""Run each notebook and judge what it defines: one grade per student (finding and reading them: intake.py)."""
from __future__ import annotations

import signal
import time
import zlib
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from labutils.exercises.texts import fail_message
from labutils.grading.intake import MAX_NOTEBOOK_BYTES, notebook_bytes

# Points per exercise: the one rubric.
RUBRIC: Dict[str, int] = {"vectorize_string": 1, "get_batch": 2, "LSTMModel": 3, "compute_loss": 1,
                          "train_step": 2, "generate_text": 3}
# Points of a "partial" verdict: a generate_text that samples right and carries the state from a one-character
# start string (the lab generates from "X") but not from a longer one.
PARTIAL: Dict[str, int] = {"generate_text": 2}
RANK = {"pass": 4, "partial": 3, "fail": 2, "not_implemented": 1, "missing": 0}


LIMIT_ERRORS = {"memory": ("MemoryError", "can't allocate memory", "Cannot allocate memory", "bad_alloc"),
                "file_size": ("File too large", "No space left on device"),
                "processes": ("Resource temporarily unavailable", "can't start new thread")}


def _limit_reached(record: Dict, limits) -> List[str]:
    """'memory limit of 4 GiB reached in cell 7' for each limit the notebook ran into."""
    found: Dict[str, Optional[int]] = {}
    for error in record.get("errors", []):
        text = f"{error.get('error', '')} {error.get('message', '')}"
        for which, needles in LIMIT_ERRORS.items():
            if any(n in text for n in needles):
                found.setdefault(which, error["cell"])
    events = record.get("cgroup", {}).get("kernel", {})
    for cell, status in zip(record.get("skipped", []), record.get("kernel_statuses", [])):
        if status == -signal.SIGXCPU:
            found.setdefault("cpu", cell)
        elif status == -signal.SIGXFSZ:
            found.setdefault("file_size", cell)
        elif status == -signal.SIGKILL and (cell in record.get("flooded", []) or events.get("oom_kill")):
            found.setdefault("memory", cell)  # killed at the notebook's memory limit, or for its messages
    if events.get("oom_kill"):
        found.setdefault("memory", None)
    if events.get("pids_max"):
        found.setdefault("processes", None)
    return [f"{limits.describe(which)} reached" + (f" in cell {cell + 1}" if cell is not None else "")
            for which, cell in found.items()]


def _kernel_problems(record: Dict, limits, timeout: float) -> List[str]:
    """What went wrong while the cells ran: a kernel that did not start or died, limits, the timeout, huge output."""
    problems = []
    skipped, stuck = record.get("skipped", []), record.get("stuck") or []
    cells = ", ".join(str(i + 1) for i in skipped)
    died = ", ".join(str(i + 1) for i in skipped if i not in stuck)
    if record.get("kernel_failed"):
        problems.append(f"the Python kernel could not start ({record['kernel_failed']})")
    if stuck:
        which = ", ".join(str(i + 1) for i in stuck)
        problems.append(f"cell {which} ran over the cell timeout and did not stop when interrupted; "
                        f"the kernel was stopped and the notebook run again without it")
    if record.get("died_in") is not None:
        problems.append(f"the kernel died or was stopped on every run (cells {cells}); graded the definitions "
                        f"without them")
    elif died:
        problems.append(f"the kernel died in cell {died}; graded without it")
    problems += _limit_reached(record, limits)
    if record.get("timed_out"):
        problems.append(f"the notebook ran over the total timeout of {timeout:g} s "
                        f"(cells after cell {(record.get('last_cell') or 0) + 1} did not run)")
    if record.get("output_truncated"):
        problems.append("huge output was cut")
    return problems


def _probe_problem(record: Dict, timeout: float, limits) -> Optional[str]:
    """What went wrong while the probe process tested the definitions, if anything."""
    probe = record.get("probe", {})
    status = probe.get("status")
    if record.get("cgroup", {}).get("probe", {}).get("oom_kill"):
        return f"{limits.describe('memory')} reached while testing the definitions"
    if status == "no time left":
        return f"the notebook used all of the total timeout of {timeout:g} s: no time was left to test the definitions"
    if status == "timeout":
        return f"testing the definitions ran over its {probe.get('budget', 0):g} s"
    if status and status != "done" and not probe.get("final"):
        return f"the process testing the definitions stopped ({status})"
    return None


def _verdicts(results: Dict, inputs: Dict, probe_timed_out: bool) -> Dict[str, Dict]:
    """{exercise: {"status", "message"}}: the judges' verdicts on what the probe process sent back."""
    from labutils.exercises.judges import Verdict, judge

    verdicts = {}
    for name, result in results.items():
        if name in RUBRIC and isinstance(result, dict):
            if result.get("error") == "crashed" and probe_timed_out:
                result = {**result, "error": "timeout"}
            try:
                verdict = judge(name, inputs[name], result)
            except (AttributeError, KeyError, TypeError, ValueError) as error:  # data not from our probe
                verdict = Verdict("fail", fail_message("unusable", "unusable", name=name, error=type(error).__name__))
            verdicts[name] = {"status": verdict.status, "message": verdict.message}
    return verdicts


def grade_notebook(path: Path, seed: int, cell_timeout: float, timeout: float, threads: Optional[int],
                   limits=None, max_notebook_bytes: int = MAX_NOTEBOOK_BYTES, run_all: bool = False) -> Dict:
    """Run one notebook in the sandbox and judge each exercise it defines: {"notebook", "problems", "errors", "exercises"}.

    A notebook whose own code defines no exercise is read (language, flags) but its cells are not run, unless
    `run_all`: its errors and timeouts would change no grade."""
    from labutils.exercises.inputs import make_inputs
    from labutils.grading.phases import run_notebook
    from labutils.grading.sandbox import Limits

    started = time.monotonic()
    limits = limits or Limits()
    report = {"notebook": path.name, "problems": [], "errors": [], "exercises": {}, "sources": {}}
    notebook, problem = notebook_bytes(path, max_notebook_bytes)  # the first gate; the worker parses it
    rng = np.random.default_rng([seed, zlib.crc32(str(path).encode())])
    inputs = {name: make_inputs(name, rng) for name in RUBRIC}
    record, reason = run_notebook(notebook, inputs, cell_timeout, timeout, threads, limits, run_all) \
        if notebook is not None else (None, problem)
    report["seconds"] = round(time.monotonic() - started, 1)
    report["worker_peak_bytes"] = (record or {}).get("worker_peak_bytes")  # what the grader's worker held at most
    if record is None or "unreadable" in record:
        report["problems"].append(reason or record["unreadable"])
        return report
    report["language"] = record.get("language", "en")  # feedback in the notebook's language (labutils.messages)
    if record.get("not_run"):
        report["not_run"] = "its own code defines no exercise (--run-all runs it)"
    elif record.get("cells_run", 0) < record.get("cells_total", 0):
        first, last = record["cells_run"] + 1, record["cells_total"]
        cells = f"cell {last}, after the last exercise, was" if first == last else \
            f"cells {first}-{last}, after the last exercise, were"
        report["cells_not_run"] = f"{cells} not run (--run-all runs them)"
    report["sources"], report["suspicious"] = record.get("digests", {}), record.get("suspicious", [])
    report["errors"] = [{**e, "cell": e["cell"] + 1} for e in record.get("errors", [])[:20]]
    report["problems"] += _kernel_problems(record, limits, timeout)
    probe_problem = _probe_problem(record, timeout, limits)
    if probe_problem:
        report["problems"].append(probe_problem)
    results = record.get("results")
    results = results.get("exercises") if isinstance(results, dict) else None
    if not isinstance(results, dict):
        if not probe_problem:
            report["problems"].append("the grader could not test the definitions")
        return report
    report["exercises"] = _verdicts(results, inputs, record.get("probe", {}).get("status") == "timeout")
    return report


def grade_student(name: str, notebooks: Sequence[Path], seed: int, cell_timeout: float, timeout: float,
                  threads: Optional[int] = None, limits=None, max_notebook_bytes: int = MAX_NOTEBOOK_BYTES) -> Dict:
    """Grade all notebooks of one student, one after the other, in this process; keep each exercise's best result."""
    reports = [grade_notebook(Path(p), seed, cell_timeout, timeout, threads, limits, max_notebook_bytes)
               for p in notebooks]
    return student_grade(name, notebooks, reports)


def student_grade(name: str, notebooks: Sequence[Path], reports: Sequence[Dict]) -> Dict:
    """One student's grade from the reports of their notebooks: each exercise from the notebook where it did best."""
    exercises = {}
    for exercise, points in RUBRIC.items():
        best = {"status": "missing", "notebook": None, "message": fail_message("not_found", "not_found", name=exercise)}
        for report in reports:
            got = report["exercises"].get(exercise)
            imported = got and got["status"] == "missing" and "reference" in got["message"]
            if got and (RANK[got["status"]] > RANK[best["status"]] or imported and best["notebook"] is None):
                best = {**got, "notebook": report["notebook"], "code": report.get("sources", {}).get(exercise)}
        if best["notebook"] is None and any(r.get("not_graded") for r in reports):
            best["message"] = fail_message("not_graded")
        best["points"] = {"pass": points, "partial": PARTIAL.get(exercise, 0)}.get(best["status"], 0)
        best["max"] = points
        exercises[exercise] = best
    problems = [f"{r['notebook']}: {p}" for r in reports for p in r["problems"]]
    languages = [r["language"] for r in reports if r.get("language", "en") != "en"]
    suspicious = sorted({n for r in reports for n in r.get("suspicious", [])})
    flags = [f"code mentions {', '.join(suspicious)}: review by hand"] if suspicious else []
    return {"student": name, "notebooks": [str(p) for p in notebooks], "exercises": exercises,
            "total": sum(e["points"] for e in exercises.values()), "max": sum(RUBRIC.values()),
            "status": "; ".join(problems) if problems else "ok", "flags": flags, "reports": reports,
            "not_graded": sum(bool(r.get("not_graded")) for r in reports),
            "language": languages[0] if languages else "en"}  # the feedback's language (report.py)


def unfinished_report(path: Path, reason: str) -> Dict:
    """The report of a notebook the grader could not grade (its process died, its time ran out): the reason."""
    return {"notebook": Path(path).name, "problems": [f"not graded: {reason}"], "errors": [], "exercises": {},
            "sources": {}, "not_graded": True}


def outcome_report(path: Path, outcome: Tuple[str, object]) -> Dict:
    """A notebook's report from its outcome in the pool (pool.run_tasks): the report, or why there is none."""
    kind, value = outcome
    if kind == "ok" and isinstance(value, dict):
        return value
    if kind == "error":  # a grader bug: its kind here, its traceback for the instructor (the caller prints it)
        last = str(value).strip().splitlines()[-1:] or ["Exception"]
        kind = last[0].split(":")[0]
        return unfinished_report(path, f"grader error: {kind} (its traceback is in the grader's output)")
    return unfinished_report(path, str(value))
