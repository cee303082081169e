"""Gradescope autograder: `python -m labutils autograder --out autograder.zip` writes the zip Gradescope
asks for (setup.sh, run_autograder and this package's source); `run_autograder` calls
`python3 -m labutils.grading.gradescope run`, which grades <root>/submission/**/*.ipynb with the same code
as `python -m labutils grade` and writes <root>/results/results.json in Gradescope's format.
The root is $LABUTILS_AUTOGRADER_ROOT (default /autograder), as on Gradescope.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import sys
import time
import traceback
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT_ENV = "LABUTILS_AUTOGRADER_ROOT"
REPOSITORY = Path(__file__).resolve().parents[2]

# For the settings the grading README recommends (2 GB, a 20-minute timeout): each notebook at most `timeout`,
# all of them at most `total`, well under Gradescope's 20 minutes, so results.json is written in time.
DEFAULTS = {"timeout": 240, "cell_timeout": 60, "memory": "2G", "total": 1020}
KILL_MARGIN_S = 30  # the sandbox stops a notebook at most 20 s after its timeout, then tidies up
MIN_NOTEBOOK_S = 30  # with less time than this left, a notebook is not started (its kernel alone takes seconds)

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, on its Ubuntu 22.04 image, with the zip unpacked in /autograder/source.
# Python packages go into a virtual environment, /autograder/venv: images that follow PEP 668 (Debian 12,
# Ubuntu 24.04) refuse a system-wide pip install ("externally-managed-environment"); a venv works on all.
set -euo pipefail
cd /autograder/source
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1
apt-get update -q
# python3-venv for the environment, bubblewrap for the sandbox, the audio tools for the notebooks' playback.
apt-get install -y -q --no-install-recommends python3 python3-venv bubblewrap \
    __APT_PACKAGES__
python3 -m venv /autograder/venv
pip() { /autograder/venv/bin/python -m pip "$@"; }
pip install -q --upgrade "pip<25" "setuptools<81" wheel
# A CPU build of torch: Gradescope has no GPU, and the CUDA wheels are several GB. The newest build in
# the lab's range that this Python supports (TORCH_SPEC overrides the range).
pip install -q "${TORCH_SPEC:-__TORCH_SPEC__}" --index-url "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"
pip install -q -r requirements.txt
# The tune collection ships inside mitdeeplearning, whose build needs pkg_resources (setuptools < 81);
# installed without its dependencies (TensorFlow, ...): only its data/irish.abc file is read.
pip install -q --no-deps --no-build-isolation mitdeeplearning==0.7.5
pip install -q --no-deps --no-build-isolation .
/autograder/venv/bin/python -c "import labutils.grading.gradescope, torch
print('labutils autograder ready, torch', torch.__version__)"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for each submission, with the Python of setup.sh's environment (/autograder/venv).
ROOT="${LABUTILS_AUTOGRADER_ROOT:-/autograder}"
export LABUTILS_AUTOGRADER_ROOT="$ROOT"
export PYTHONPATH="$ROOT/source"
PYTHON="$ROOT/venv/bin/python"
[ -x "$PYTHON" ] || PYTHON=python3  # the zip unpacked elsewhere without setup.sh (tests): the first python3 on PATH
cd "$ROOT/source" || exit 1
exec "$PYTHON" -m labutils.grading.gradescope run __OPTIONS__
"""


def _apt_packages() -> str:
    """The audio tools named in scripts/setup.sh (one list, kept there)."""
    setup = REPOSITORY / "scripts" / "setup.sh"
    for line in setup.read_text(encoding="utf-8").splitlines() if setup.exists() else []:
        if line.startswith("APT_PACKAGES="):
            return " ".join(w for w in line.split("=", 1)[1].strip().strip('"').split() if w != "bubblewrap")
    return "abcmidi timidity fluid-soundfont-gm abcm2ps"


def _torch_spec() -> str:
    """The torch range of pyproject.toml: pip picks the newest CPU build in it for the image's Python.

    Not scripts/setup.sh's exact pin: Gradescope's Ubuntu 22.04 has Python 3.10, which the newest
    torch builds no longer support."""
    found = re.search(r'"(torch[<>=!~][^"]*)"', (REPOSITORY / "pyproject.toml").read_text(encoding="utf-8")
                      if (REPOSITORY / "pyproject.toml").is_file() else "")
    return found.group(1) if found else "torch"


def build_zip(out: Path, options: List[str]) -> List[str]:
    """Write the autograder zip; return the names in it."""
    import labutils

    package = Path(labutils.__file__).resolve().parent
    names = []
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, text: str, executable: bool = False) -> None:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
            names.append(name)

        add("setup.sh", SETUP_SH.replace("__APT_PACKAGES__", _apt_packages()).replace("__TORCH_SPEC__", _torch_spec()),
            True)
        add("run_autograder", RUN_AUTOGRADER.replace("__OPTIONS__", " ".join(options)), True)
        for name in ("requirements.txt", "pyproject.toml"):
            if (REPOSITORY / name).exists():
                add(name, (REPOSITORY / name).read_text(encoding="utf-8"))
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc",):
                info = zipfile.ZipInfo(f"labutils/{path.relative_to(package).as_posix()}", date_time=(2024, 1, 1, 0, 0, 0))
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
                names.append(info.filename)
    os.replace(tmp, out)
    return names


def _write_json(path: Path, data: Dict) -> None:
    """Write `data` as JSON to `path`, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def results_for(grade: Optional[Dict], notes: List[str], seconds: float) -> Dict:
    """Gradescope's results.json for one graded student (or for no grade at all: score 0 and the notes)."""
    from labutils.exercises.texts import fail_message
    from labutils.grading.submissions import RUBRIC
    from labutils.messages import localize

    tests = []
    for number, (exercise, points) in enumerate(RUBRIC.items(), start=1):
        result = (grade or {}).get("exercises", {}).get(exercise) or {
            "points": 0, "status": "missing", "message": fail_message("not_graded"), "notebook": None}
        where = f" (in {result['notebook']})" if result.get("notebook") else ""
        tests.append({"name": exercise, "number": str(number), "score": result.get("points", 0), "max_score": points,
                      "status": "passed" if result.get("status") == "pass" else "failed",
                      "output": localize(result["message"], (grade or {}).get("language", "en")) + where,
                      "visibility": "visible"})  # in the notebooks' language (labutils.messages)
    if grade and grade.get("status") not in (None, "ok"):
        notes = notes + [f"Notes: {grade['status']}"]
    total = sum(t["score"] for t in tests)
    return {"score": total, "execution_time": round(seconds, 1),
            "output": "\n".join([f"{total}/{sum(RUBRIC.values())} points."] + notes), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def out_of_time(total: float) -> str:
    """Why a notebook was not graded on Gradescope: the total time ran out."""
    return f"the autograder's total time of {total:g} s ran out before it (grade fewer or smaller notebooks)"


def grade_before(deadline: float, total: float, path: Path, seed: int, cell_timeout: float, timeout: float,
                 limits) -> Dict:
    """grade_notebook with its timeouts cut to end before `deadline` (time.monotonic()), or, with too little
    time left, the report of a notebook not started."""
    from labutils.grading.submissions import grade_notebook, unfinished_report

    left = deadline - time.monotonic() - KILL_MARGIN_S
    if left < MIN_NOTEBOOK_S:
        return unfinished_report(path, out_of_time(total))
    return grade_notebook(path, seed, min(cell_timeout, left), min(timeout, left), 1, limits)


def _grade(notebooks: List[Path], settings: Dict, save) -> Dict:
    """Grade the notebooks one after the other within settings["total"] seconds; save(grade) after each."""
    from labutils.grading.cli import isolation_lines
    from labutils.grading.pool import run_tasks
    from labutils.grading.report import printable
    from labutils.grading.sandbox import Limits, parse_bytes
    from labutils.grading.submissions import outcome_report, student_grade, unfinished_report

    total, deadline = settings["total"], settings["start"] + settings["total"]
    limits = Limits(memory=parse_bytes(settings["memory"]))
    print("\n".join(isolation_lines(limits)), flush=True)  # stdout: the instructor's (hidden from students)
    seed = secrets.randbits(32)
    reports = [unfinished_report(p, "the autograder was stopped before it graded this notebook") for p in notebooks]

    def done(index: int, outcome) -> None:
        if outcome[0] == "error":
            print(printable(outcome[1]))  # stdout: the instructor's (hidden from students)
        reports[index] = outcome_report(notebooks[index], outcome)
        save(student_grade("submission", notebooks, reports))

    tasks = [(deadline, total, p, seed, settings["cell_timeout"], settings["timeout"], limits) for p in notebooks]
    run_tasks(grade_before, tasks, 1, on_done=done, deadline=deadline, late=out_of_time(total))
    return student_grade("submission", notebooks, reports)


def run(root: Path, timeout: float, cell_timeout: float, memory: str, total: float = DEFAULTS["total"]) -> int:
    """Grade <root>/submission within `total` seconds and write <root>/results/results.json; always writes a
    valid file: first one that says the run did not finish, then the grades so far after each notebook."""
    from labutils.grading.intake import find_notebooks_under
    from labutils.grading.report import printable

    start = time.monotonic()
    results_path = root / "results" / "results.json"
    unfinished = ["The autograder stopped before it finished (Gradescope's time limit?): tell your instructor."]
    _write_json(results_path, results_for(None, unfinished, 0))
    notes: List[str] = []
    grade = None
    try:
        submission = (root / "submission").resolve()
        notebooks, others = find_notebooks_under(submission) if submission.is_dir() else ([], [])
        if not notebooks:
            notes.append("No .ipynb notebook found in your submission" + (
                f" (found: {printable(', '.join(others[:10]))})" if others else "")
                + ": upload the lab's notebooks (File > Download > .ipynb) and submit again.")
        else:
            settings = {"start": start, "total": total, "timeout": timeout, "cell_timeout": cell_timeout,
                        "memory": memory}
            grade = _grade(notebooks, settings,
                           lambda so_far: _write_json(results_path, results_for(so_far, unfinished,
                                                                                 time.monotonic() - start)))
            notes.append(f"Graded {len(notebooks)} notebook(s): "
                         + printable(", ".join(str(p.relative_to(submission)) for p in notebooks)) + ".")
    except Exception as error:  # noqa: BLE001 - the student still gets a valid results.json
        traceback.print_exc()
        notes.append(f"The autograder failed ({type(error).__name__}); tell your instructor.")
    _write_json(results_path, results_for(grade, notes, time.monotonic() - start))
    print(f"Wrote {results_path}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """`python -m labutils autograder --out autograder.zip` (and `... gradescope run`, for run_autograder)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:
        parser = argparse.ArgumentParser(prog="python -m labutils.grading.gradescope run")
        parser.add_argument("--root", default=os.environ.get(ROOT_ENV, "/autograder"))
        parser.add_argument("--timeout", type=float, default=DEFAULTS["timeout"])
        parser.add_argument("--cell-timeout", type=float, default=DEFAULTS["cell_timeout"])
        parser.add_argument("--memory", default=DEFAULTS["memory"])
        parser.add_argument("--total-timeout", type=float, default=DEFAULTS["total"])
        args = parser.parse_args(argv[1:])
        return run(Path(args.root), args.timeout, args.cell_timeout, args.memory, args.total_timeout)
    parser = argparse.ArgumentParser(prog="python -m labutils autograder",
                                     description="Write a Gradescope autograder zip (setup.sh, run_autograder, labutils).")
    parser.add_argument("--out", default="autograder.zip", help="the zip to write (default autograder.zip)")
    parser.add_argument("--timeout", type=float, default=DEFAULTS["timeout"],
                        help="total seconds per notebook (default %(default)g; Gradescope stops a submission at its "
                             "own limit, 10 minutes by default)")
    parser.add_argument("--cell-timeout", type=float, default=DEFAULTS["cell_timeout"], help="seconds per cell")
    parser.add_argument("--memory", default=DEFAULTS["memory"], help="address space per kernel process (default 2G)")
    parser.add_argument("--total-timeout", type=float, default=DEFAULTS["total"],
                        help="seconds for all of a submission's notebooks together (default %(default)g, for "
                             "Gradescope's timeout of 20 minutes: choose one at least 3 minutes longer)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.parent and not out.parent.is_dir():
        parser.error(f"the folder of --out does not exist: {out.parent}")
    for flag, value in (("--timeout", args.timeout), ("--cell-timeout", args.cell_timeout),
                        ("--total-timeout", args.total_timeout)):
        if not (math.isfinite(value) and 0 < value <= 86_400):
            parser.error(f"{flag} must be a number of seconds in (0, 86400], got {value:g}")
    options = ["--timeout", f"{args.timeout:g}", "--cell-timeout", f"{args.cell_timeout:g}", "--memory", args.memory,
               "--total-timeout", f"{args.total_timeout:g}"]
    names = build_zip(out, options)
    print(f"Wrote {out} ({len(names)} files): upload it as the autograder (Ubuntu 22.04 base image).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
