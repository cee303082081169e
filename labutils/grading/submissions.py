"""Find the submissions, run each notebook and judge what it defines: one grade per student."""
from __future__ import annotations

import signal
import time
import zlib
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from labutils.exercises.texts import fail_message

# Points per exercise: the one rubric.
RUBRIC: Dict[str, int] = {"vectorize_string": 1, "get_batch": 2, "LSTMModel": 3, "compute_loss": 1,
                          "train_step": 2, "generate_text": 3}
RANK = {"pass": 3, "fail": 2, "not_implemented": 1, "missing": 0}


def find_submissions(paths: Sequence[str]) -> List[Tuple[str, List[Path]]]:
    """(student name, notebooks) for each submission argument, as described in the module docstring."""
    found: List[Tuple[str, List[Path]]] = []
    for given in paths:
        path = Path(given)
        if path.is_file():
            found.append((path.stem, [path]))
        elif path.is_dir():
            own = sorted(p for p in path.glob("*.ipynb") if p.is_file())
            if own:
                found.append((path.resolve().name, own))
                continue
            for folder in sorted(p for p in path.iterdir() if p.is_dir()):
                notebooks = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
                if notebooks:
                    found.append((folder.name, notebooks))
        else:
            raise FileNotFoundError(f"No such file or folder: {given}")
    names: Dict[str, int] = {}
    unique = []
    for name, notebooks in found:
        names[name] = names.get(name, 0) + 1
        unique.append((name if names[name] == 1 else f"{name}-{names[name]}", notebooks))
    return unique


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
    cells = ", ".join(str(i + 1) for i in record.get("skipped", []))
    if record.get("kernel_failed"):
        problems.append(f"the Python kernel could not start ({record['kernel_failed']})")
    if record.get("died_in") is not None:
        problems.append(f"the kernel died on every run (cells {cells}); graded the definitions without them")
    elif record.get("skipped"):
        problems.append(f"the kernel died in cell {cells}; graded without it")
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


def _notebook_bytes(path: Path) -> Tuple[Optional[bytes], str]:
    """The notebook file's bytes (read, never parsed here: the worker parses it), or None and why not."""
    try:
        return path.read_bytes(), ""
    except OSError as error:
        return None, f"not a readable notebook ({type(error).__name__})"


def grade_notebook(path: Path, seed: int, cell_timeout: float, timeout: float, threads: Optional[int],
                   limits=None) -> Dict:
    """Run one notebook in the sandbox and judge each exercise it defines: {"notebook", "problems", "errors", "exercises"}."""
    from labutils.exercises.inputs import make_inputs
    from labutils.grading.phases import run_notebook
    from labutils.grading.sandbox import Limits

    started = time.monotonic()
    limits = limits or Limits()
    report = {"notebook": path.name, "problems": [], "errors": [], "exercises": {}, "sources": {}}
    notebook, problem = _notebook_bytes(path)
    rng = np.random.default_rng([seed, zlib.crc32(str(path).encode())])
    inputs = {name: make_inputs(name, rng) for name in RUBRIC}
    record, reason = run_notebook(notebook, inputs, cell_timeout, timeout, threads, limits) if notebook is not None \
        else (None, problem)
    report["seconds"] = round(time.monotonic() - started, 1)
    report["worker_peak_bytes"] = (record or {}).get("worker_peak_bytes")  # what the grader's worker held at most
    if record is None or "unreadable" in record:
        report["problems"].append(reason or record["unreadable"])
        return report
    report["language"] = record.get("language", "en")  # feedback in the notebook's language (labutils.messages)
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
                  threads: Optional[int] = None, limits=None) -> Dict:
    """Grade all notebooks of one student; keep each exercise's best result."""
    reports = [grade_notebook(Path(p), seed, cell_timeout, timeout, threads, limits) for p in notebooks]
    exercises = {}
    for exercise, points in RUBRIC.items():
        best = {"status": "missing", "notebook": None, "message": fail_message("not_found", "not_found", name=exercise)}
        for report in reports:
            got = report["exercises"].get(exercise)
            imported = got and got["status"] == "missing" and "reference" in got["message"]
            if got and (RANK[got["status"]] > RANK[best["status"]] or imported and best["notebook"] is None):
                best = {**got, "notebook": report["notebook"], "code": report.get("sources", {}).get(exercise)}
        best["points"] = points if best["status"] == "pass" else 0
        best["max"] = points
        exercises[exercise] = best
    problems = [f"{r['notebook']}: {p}" for r in reports for p in r["problems"]]
    languages = [r["language"] for r in reports if r.get("language", "en") != "en"]
    suspicious = sorted({n for r in reports for n in r.get("suspicious", [])})
    flags = [f"code mentions {', '.join(suspicious)}: review by hand"] if suspicious else []
    return {"student": name, "notebooks": [str(p) for p in notebooks], "exercises": exercises,
            "total": sum(e["points"] for e in exercises.values()), "max": sum(RUBRIC.values()),
            "status": "; ".join(problems) if problems else "ok", "flags": flags, "reports": reports,
            "language": languages[0] if languages else "en"}  # the feedback's language (report.py)


def failed_grade(name: str, notebooks: Sequence[Path], error: str) -> Dict:
    """The grade of a student whose grading failed: no points, the error as the status."""
    exercises = {e: {"status": "error", "points": 0, "max": p, "notebook": None,
                     "message": fail_message("grader_failed")} for e, p in RUBRIC.items()}
    return {"student": name, "notebooks": [str(p) for p in notebooks], "exercises": exercises, "total": 0,
            "max": sum(RUBRIC.values()), "status": f"grader error: {error}", "flags": [], "reports": []}
