"""`python -m labutils grade SUBMISSION... [--out DIR] [--jobs N] [--timeout S] [--cell-timeout S]`."""
from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import secrets
import sys
import traceback
from pathlib import Path
from typing import Dict, List, Optional

from labutils.grading.report import write_reports
from labutils.grading.submissions import failed_grade, find_submissions, grade_student


def build_parser() -> argparse.ArgumentParser:
    """Arguments of `python -m labutils grade`."""
    parser = argparse.ArgumentParser(prog="python -m labutils grade", description="Grade student notebooks "
                                     "against the reference solutions (see labutils/grading/__init__.py for the layout).")
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
    out = Path(args.out)
    write_reports(grades, out, seed)
    print(f"Wrote {out / 'grades.csv'}, {out / 'grades.json'} and {len(grades)} file(s) in {out / 'feedback'}.")
    return 1 if any(g["status"].startswith("grader error") for g in grades) else 0
