"""`python -m labutils grade SUBMISSION... [--out DIR] [--jobs N] [--timeout S] [--cell-timeout S]`."""
from __future__ import annotations

import argparse
import concurrent.futures
import math
import multiprocessing
import os
import secrets
import sys
import traceback
from pathlib import Path
from typing import Dict, List, Optional

from labutils.grading import sandbox
from labutils.grading.report import check_out_folder, write_reports
from labutils.grading.sandbox import Limits, human_bytes, parse_bytes
from labutils.grading.similarity import flag_grades
from labutils.grading.submissions import failed_grade, find_submissions, grade_student


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `python -m labutils grade`."""
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m labutils grade", description="Grade student notebooks "
                                     "against the reference solutions (see labutils/grading/__init__.py for the layout).")
    parser.add_argument("submissions", nargs="+", metavar="SUBMISSION",
                        help="a notebook, a student's folder of notebooks, or a folder of student folders")
    parser.add_argument("--out", default="grades", help="output folder (default: ./grades)")
    parser.add_argument("--jobs", type=int, default=1, help="students graded in parallel processes (default 1)")
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
    return parser


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
    jobs = max(1, min(args.jobs, len(submissions)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    settings = (seed, args.cell_timeout, args.timeout, threads, limits)
    grades: List[Dict] = []
    print(f"Grading {len(submissions)} submission(s) with {jobs} job(s), seed {seed}.")
    isolation = sandbox.detect()
    gaps = isolation.not_isolated()
    print(f"Isolation: {isolation.mode}{' as root, kernels as an unprivileged uid' if isolation.root else ''}; "
          f"limits per kernel process: {limits.describe('memory')}, {limits.describe('cpu')}, "
          f"{limits.describe('file_size')}" + (f", {limits.describe('processes')}" if isolation.root else "") + ".")
    if gaps:
        print("Not isolated on this machine: " + "; ".join(gaps) + ".")
    if jobs == 1:
        for name, notebooks in submissions:
            try:
                grades.append(grade_student(name, notebooks, *settings))
            except Exception as error:  # a grader bug must not lose the other students' grades
                traceback.print_exc()
                grades.append(failed_grade(name, notebooks, f"{type(error).__name__}: {error}"))
            print(f"  {name}: {grades[-1]['total']}/{grades[-1]['max']}  {grades[-1]['status']}")
    else:
        context = multiprocessing.get_context("spawn")  # torch and fork do not mix
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(grade_student, name, notebooks, *settings) for name, notebooks in submissions]
            for (name, notebooks), future in zip(submissions, futures):
                try:
                    grades.append(future.result())
                except Exception as error:  # includes a worker process that died
                    grades.append(failed_grade(name, notebooks, f"{type(error).__name__}: {error}"))
                print(f"  {name}: {grades[-1]['total']}/{grades[-1]['max']}  {grades[-1]['status']}")
    flag_grades(grades)
    out = Path(args.out)
    write_reports(grades, out, seed)
    print(f"Wrote {out / 'grades.csv'}, {out / 'grades.json'} and {len(grades)} file(s) in {out / 'feedback'}.")
    return 1 if any(g["status"].startswith("grader error") for g in grades) else 0
