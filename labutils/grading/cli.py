"""`python -m labutils grade SUBMISSION... [--out DIR] [--jobs N] [--timeout S] [--cell-timeout S]`."""
from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from labutils.grading import sandbox
from labutils.grading.intake import MAX_NOTEBOOK_BYTES, find_submissions
from labutils.grading.pool import run_tasks
from labutils.grading.progress import Progress, say, summary
from labutils.grading.report import check_out_folder, printable, write_reports
from labutils.grading.sandbox import Limits, human_bytes, parse_bytes
from labutils.grading.similarity import flag_grades
from labutils.grading.submissions import grade_notebook, outcome_report, student_grade


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `python -m labutils grade`."""
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m labutils grade", description="Grade student notebooks "
                                     "against the reference solutions (see labutils/grading/__init__.py for the layout).")
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="a notebook, a student's folder of notebooks, or a folder of student folders")
    parser.add_argument("--out", default="grades", help="output folder (default: ./grades)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="notebooks graded at once, each in a process of its own (default 1)")
    parser.add_argument("--timeout", type=float, default=600, help="total seconds per notebook (default 600)")
    parser.add_argument("--cell-timeout", type=float, default=120, help="seconds per cell (default 120)")
    parser.add_argument("--seed", type=int, help="seed of the test inputs (default: fresh each run)")
    defaults = Limits()
    parser.add_argument("--memory", default=human_bytes(defaults.memory).replace(" ", "").replace("iB", ""),
                        help="address space per kernel process, e.g. 4G or 700M (default %(default)s)")
    parser.add_argument("--cpu-time", type=float, default=defaults.cpu,
                        help="CPU seconds per kernel process (default %(default)g)")
    parser.add_argument("--max-file-size", default=human_bytes(defaults.file_size).replace(" ", "").replace("iB", ""),
                        help="size of each file a notebook writes; with bubblewrap also of its whole temporary "
                             "folder (default %(default)s)")
    parser.add_argument("--max-processes", type=int, default=defaults.processes,
                        help="processes and threads of one kernel's user, as root (default %(default)s)")
    parser.add_argument("--max-notebook-size", default=f"{MAX_NOTEBOOK_BYTES // 1024 ** 2}M",
                        help="largest notebook file read; a larger one is a status row (default %(default)s)")
    parser.add_argument("--run-all", action="store_true",
                        help="also run the cells of notebooks whose own code defines no exercise, and the cells "
                             "after the last exercise of the others (only their errors and timeouts are reported: "
                             "they change no grade)")
    parser.add_argument("--quiet", action="store_true", help="no line on stderr for each notebook graded")
    return parser


def isolation_lines(limits: Limits) -> List[str]:
    """What the grader says before grading: the isolation it uses, the limits, and what is not isolated here."""
    isolation = sandbox.detect()
    gaps = isolation.not_isolated()
    lines = [f"Isolation: {isolation.mode}{' as root, kernels as an unprivileged uid' if isolation.root else ''}; "
             f"limits per kernel process: {limits.describe('memory')}, {limits.describe('cpu')}, "
             f"{limits.describe('file_size')}" + (f", {limits.describe('processes')}" if isolation.root else "") + "."]
    if gaps:
        lines.append("Not isolated on this machine: " + "; ".join(gaps) + ".")
    return lines


def grade_all(submissions: Sequence[Tuple[str, List[Path]]], settings: tuple, jobs: int,
              progress: Optional[Progress] = None) -> List[Dict]:
    """Every student's grade: their notebooks graded in `jobs` pool processes; each student printed when done,
    each notebook told to `progress`."""
    owners = [(student, path) for student, (_, notebooks) in enumerate(submissions) for path in notebooks]
    reports: List[Dict] = [{} for _ in owners]
    left = [len(notebooks) for _, notebooks in submissions]
    grades: List[Optional[Dict]] = [None] * len(submissions)

    def done(index: int, outcome: Tuple[str, object]) -> None:
        student, path = owners[index]
        if outcome[0] == "error":  # a grader bug: its traceback for the instructor
            print("\n".join(printable(line) for line in str(outcome[1]).splitlines()), file=sys.stderr)
        reports[index] = outcome_report(path, outcome)
        if progress:
            progress.notebook_done(submissions[student][0], path.name, reports[index])
        left[student] -= 1
        if left[student] == 0:
            name, notebooks = submissions[student]
            grade = student_grade(name, notebooks, [r for (s, _), r in zip(owners, reports) if s == student])
            grades[student] = grade
            print(f"  {printable(name)}: {grade['total']}/{grade['max']}  {printable(grade['status'])}", flush=True)

    run_tasks(grade_notebook, [(path, *settings) for _, path in owners], jobs, on_done=done)
    return [grade for grade in grades if grade is not None]


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of `python -m labutils grade`; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag, value in (("--timeout", args.timeout), ("--cell-timeout", args.cell_timeout)):
        if not (math.isfinite(value) and 0 < value <= 86_400):
            print(f"error: {flag} must be a number of seconds in (0, 86400], got {value:g}", file=sys.stderr)
            return 2
    try:
        limits = Limits(memory=parse_bytes(args.memory), cpu=int(args.cpu_time),
                        file_size=parse_bytes(args.max_file_size), processes=args.max_processes)
        max_notebook_bytes = parse_bytes(args.max_notebook_size)
    except ValueError as error:
        parser.error(str(error))
    if limits.cpu < 1 or limits.processes < 8:
        parser.error("--cpu-time must be at least 1 and --max-processes at least 8 (the kernel needs threads)")
    try:
        submissions = find_submissions(args.submissions)
        check_out_folder(Path(args.out))  # before grading: an unwritable --out must not lose the grades
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not submissions:
        print("error: no .ipynb notebooks found in " + " ".join(args.submissions), file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else secrets.randbits(32)
    notebooks = sum(len(paths) for _, paths in submissions)
    jobs = max(1, min(args.jobs, notebooks))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    print(f"Grading {len(submissions)} submission(s) ({notebooks} notebook(s)) with {jobs} job(s), seed {seed}.")
    print("\n".join(isolation_lines(limits)), flush=True)
    progress = Progress(notebooks, args.quiet)
    grades = grade_all(submissions, (seed, args.cell_timeout, args.timeout, threads, limits, max_notebook_bytes,
                                     args.run_all), jobs, progress)
    flag_grades(grades)
    out = Path(args.out)
    try:
        write_reports(grades, out, seed)
    except OSError as error:
        print(f"error: {printable(str(error))}", file=sys.stderr)
        return 2
    print(f"Wrote {out / 'grades.csv'}, {out / 'grades.json'} and {len(grades)} file(s) in {out / 'feedback'}.")
    for line in summary(grades, notebooks, progress.seconds()):
        say(line, sys.stdout)
    return 1 if any(g.get("not_graded") for g in grades) else 0
