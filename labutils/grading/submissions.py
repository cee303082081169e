"""Find the submissions, run each notebook and judge what it defines: one grade per student."""
from __future__ import annotations

import tempfile
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

    from labutils.grading.judges import Verdict, judge, make_inputs
    from labutils.grading.kernel import run_notebook

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


def failed_grade(name: str, notebooks: Sequence[Path], error: str) -> Dict:
    exercises = {e: {"status": "error", "points": 0, "max": p, "notebook": None,
                     "message": "[FAIL] not graded: the grader failed"} for e, p in RUBRIC.items()}
    return {"student": name, "notebooks": [str(p) for p in notebooks], "exercises": exercises, "total": 0,
            "max": sum(RUBRIC.values()), "status": f"grader error: {error}", "reports": []}
