"""Grade student notebooks: python -m labutils grade SUBMISSION... [--out DIR] [--jobs N] [--timeout S] [--cell-timeout S]

Submissions. Each SUBMISSION argument is one of:
  * a notebook file (.ipynb): one student, named after the file (alice.ipynb -> alice);
  * a folder with .ipynb files in it: one student, named after the folder, whose notebooks are
    those files (e.g. submissions/alice/03_batches.ipynb, .../06_sampling.ipynb);
  * a folder with no .ipynb files of its own but sub-folders that have some (a class): each such
    sub-folder is one student (submissions/alice/, submissions/bob/, ...).
A student's exercise may live in any of their notebooks; each exercise counts once, from the
notebook where it did best.

How. Every notebook runs in a fresh kernel (this Python) in its own temporary folder, with
LABUTILS_SMALL=1, CUDA hidden, per-cell and total timeouts and capped output; errors in one
cell do not stop the rest, and a cell that kills the kernel is skipped on a re-run. Then the
probes of labutils/grading_probe.py, read here as text, run in that kernel on inputs drawn
afresh (--seed to repeat) and write plain data to a file; this process judges the data with
its own imports of the reference (labutils.checks). Only definitions made in the notebook
count (labutils' reference, imported or wrapped, counts as not implemented), so redefining the
checks, the rubric or the reference inside a notebook changes nothing.

Output in --out (default ./grades): grades.csv (one row per student), grades.json (details)
and feedback/<student>.txt. The exit status is non-zero only when the grader itself fails.
The notebooks run with your user's rights: grade untrusted work in a throwaway account or VM.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import multiprocessing
import os
import re
import secrets
import sys
import tempfile
import traceback
import zlib
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

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


def _read_notebook(path: Path):
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
        cells = nb["cells"]
        if not isinstance(cells, list):
            raise TypeError("'cells' is not a list")
        return nb, None
    except (ValueError, TypeError, KeyError, AttributeError, OSError) as error:
        return None, f"not a readable notebook ({type(error).__name__}: {str(error)[:200]})"


def grade_notebook(path: Path, seed: int, cell_timeout: float, timeout: float, threads: Optional[int]) -> Dict:
    """Run one notebook and judge each exercise it defines: {"notebook", "problems", "errors", "exercises"}."""
    import torch

    from labutils.checks import make_inputs
    from labutils.grading_judges import Verdict, judge
    from labutils.grading_kernel import run_notebook

    report = {"notebook": path.name, "problems": [], "errors": [], "exercises": {}}
    nb, problem = _read_notebook(path)
    if nb is None:
        report["problems"].append(problem)
        return report
    rng = np.random.default_rng([seed, zlib.crc32(str(path).encode())])
    inputs = {name: make_inputs(name, rng) for name in RUBRIC}
    with tempfile.TemporaryDirectory(prefix="labutils-inputs-") as tmp:
        inputs_path = Path(tmp) / "inputs.pt"
        torch.save(inputs, inputs_path)
        record = run_notebook(nb, inputs_path, cell_timeout, timeout, threads)
    report["errors"] = [{**e, "cell": e["cell"] + 1} for e in record["errors"][:20]]
    cells = ", ".join(str(i + 1) for i in record["skipped"])
    if record["died_in"] is not None:
        report["problems"].append(f"the kernel died on every run (cells {cells}); nothing could be graded")
    elif record["skipped"]:
        report["problems"].append(f"the kernel died in cell {cells}; graded without it")
    if record["timed_out"]:
        report["problems"].append(f"the notebook ran over the total timeout of {timeout:g} s")
    if record["output_truncated"]:
        report["problems"].append("huge output was cut")
    results = record.get("results")
    results = results.get("exercises") if isinstance(results, dict) else None
    if not isinstance(results, dict):
        if record["died_in"] is None:
            report["problems"].append("the grader could not test the definitions (" +
                                      record.get("unreadable", "the kernel did not run the probes") + ")")
        return report
    for name, result in results.items():
        if name in RUBRIC:
            try:
                verdict = judge(name, inputs[name], result)
            except (AttributeError, KeyError, TypeError, ValueError) as error:  # data not from our probe
                verdict = Verdict("fail", f"[FAIL] {name}: the probe's data is unusable ({type(error).__name__}) "
                                          "— hint: do not change the grader's objects from the notebook")
            report["exercises"][name] = {"status": verdict.status, "message": verdict.message}
    return report


def grade_student(name: str, notebooks: Sequence[Path], seed: int, cell_timeout: float, timeout: float,
                  threads: Optional[int] = None) -> Dict:
    """Grade all notebooks of one student; keep each exercise's best result."""
    reports = [grade_notebook(Path(p), seed, cell_timeout, timeout, threads) for p in notebooks]
    exercises = {}
    for exercise, points in RUBRIC.items():
        best = {"status": "missing", "notebook": None, "message": f"[FAIL] {exercise} was not found in any "
                "notebook — hint: define it in its TODO cell and save the notebook"}
        for report in reports:
            got = report["exercises"].get(exercise)
            imported = got and got["status"] == "missing" and "reference" in got["message"]
            if got and (RANK[got["status"]] > RANK[best["status"]] or imported and best["notebook"] is None):
                best = {**got, "notebook": report["notebook"]}
        best["points"] = points if best["status"] == "pass" else 0
        best["max"] = points
        exercises[exercise] = best
    problems = [f"{r['notebook']}: {p}" for r in reports for p in r["problems"]]
    return {"student": name, "notebooks": [str(p) for p in notebooks], "exercises": exercises,
            "total": sum(e["points"] for e in exercises.values()), "max": sum(RUBRIC.values()),
            "status": "; ".join(problems) if problems else "ok", "reports": reports}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "student"


def feedback_text(grade: Dict) -> str:
    """The short feedback a student reads: points per exercise, what failed and the hint."""
    lines = [f"{grade['student']}: {grade['total']}/{grade['max']} points", ""]
    for exercise, result in grade["exercises"].items():
        where = f" ({result['notebook']})" if result.get("notebook") else ""
        lines.append(f"{exercise}: {result['points']}/{result['max']}{where}")
        lines.append(f"    {result['message']}")
    if grade["status"] != "ok":
        lines += ["", f"Notes: {grade['status']}"]
    return "\n".join(lines) + "\n"


def write_reports(grades: List[Dict], out: Path, seed: int) -> None:
    """Write grades.csv, grades.json and feedback/<student>.txt into `out`."""
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *RUBRIC, "total", "max", "status"])
        for grade in grades:
            writer.writerow([grade["student"], *(grade["exercises"][e]["points"] for e in RUBRIC),
                             grade["total"], grade["max"], grade["status"]])
    summary = {"seed": seed, "rubric": RUBRIC, "students": grades}
    (out / "grades.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    for grade in grades:
        (out / "feedback" / f"{_safe_name(grade['student'])}.txt").write_text(feedback_text(grade), encoding="utf-8")


def _failed_grade(name: str, notebooks: Sequence[Path], error: str) -> Dict:
    exercises = {e: {"status": "error", "points": 0, "max": p, "notebook": None,
                     "message": "[FAIL] not graded: the grader failed"} for e, p in RUBRIC.items()}
    return {"student": name, "notebooks": [str(p) for p in notebooks], "exercises": exercises, "total": 0,
            "max": sum(RUBRIC.values()), "status": f"grader error: {error}", "reports": []}


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `python -m labutils grade`."""
    parser = argparse.ArgumentParser(prog="python -m labutils grade", description="Grade student notebooks "
                                     "against the reference solutions (see labutils/grading.py for the layout).")
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="a notebook, a student's folder of notebooks, or a folder of student folders")
    parser.add_argument("--out", default="grades", help="output folder (default: ./grades)")
    parser.add_argument("--jobs", type=int, default=1, help="students graded in parallel processes (default 1)")
    parser.add_argument("--timeout", type=float, default=600, help="total seconds per notebook (default 600)")
    parser.add_argument("--cell-timeout", type=float, default=120, help="seconds per cell (default 120)")
    parser.add_argument("--seed", type=int, help="seed of the test inputs (default: fresh each run)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m labutils grade`; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        submissions = find_submissions(args.submissions)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not submissions:
        print("error: no .ipynb notebooks found in " + " ".join(args.submissions), file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    jobs = max(1, min(args.jobs, len(submissions)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    settings = (seed, args.cell_timeout, args.timeout, threads)
    grades: List[Dict] = []
    print(f"Grading {len(submissions)} submission(s) with {jobs} job(s), seed {seed}.")
    if jobs == 1:
        for name, notebooks in submissions:
            try:
                grades.append(grade_student(name, notebooks, *settings))
            except Exception as error:  # a grader bug must not lose the other students' grades
                traceback.print_exc()
                grades.append(_failed_grade(name, notebooks, f"{type(error).__name__}: {error}"))
            print(f"  {name}: {grades[-1]['total']}/{grades[-1]['max']}  {grades[-1]['status']}")
    else:
        context = multiprocessing.get_context("spawn")  # torch and fork do not mix
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(grade_student, name, notebooks, *settings) for name, notebooks in submissions]
            for (name, notebooks), future in zip(submissions, futures):
                try:
                    grades.append(future.result())
                except Exception as error:  # includes a worker process that died
                    grades.append(_failed_grade(name, notebooks, f"{type(error).__name__}: {error}"))
                print(f"  {name}: {grades[-1]['total']}/{grades[-1]['max']}  {grades[-1]['status']}")
    out = Path(args.out)
    write_reports(grades, out, seed)
    print(f"Wrote {out / 'grades.csv'}, {out / 'grades.json'} and {len(grades)} file(s) in {out / 'feedback'}.")
    return 1 if any(g["status"].startswith("grader error") for g in grades) else 0


if __name__ == "__main__":
    sys.exit(main())
