"""Grading throughput: notebooks graded per minute with --jobs 1 and --jobs 2, and what the sandbox adds.

    python -m benchmarks.bench_grading [--students 2] [--course]

Grades N students, each with copies of the lab's own solution notebooks 02 and 03 (two exercises,
small settings, as a course's submissions would be; with --course all eight, 01, 07 and 08 without
exercises), three ways: sandboxed with 1 job, sandboxed
with 2 jobs, and with LABUTILS_SANDBOX=none (the same worker, limits and uid, without
bubblewrap/unshare) with 1 job. Writes benchmarks/results/grading.json (grading_course.json).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ("02_vectorization.ipynb", "03_batches.ipynb")
COURSE = tuple(sorted(p.name for p in (HERE.parent / "solutions").glob("0*.ipynb")))  # all eight


def make_class(folder: Path, students: int, notebooks=NOTEBOOKS) -> int:
    """A class folder of `students` students with the lab's solution notebooks; returns the notebook count."""
    for i in range(students):
        (folder / f"student{i:02d}").mkdir(parents=True)
        for name in notebooks:
            shutil.copy(HERE.parent / "solutions" / name, folder / f"student{i:02d}" / name)
    return students * len(notebooks)


def grade_seconds(folder: Path, out: Path, jobs: int, sandbox: str = "") -> float:
    """Seconds `python -m labutils grade` takes on `folder` (sandbox: a LABUTILS_SANDBOX mode to force)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if sandbox:
        env["LABUTILS_SANDBOX"] = sandbox
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "labutils", "grade", str(folder), "--out", str(out), "--jobs", str(jobs),
                    "--cell-timeout", "30", "--timeout", "120", "--seed", "0"], env=env, check=True, timeout=3600,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv=None) -> int:
    """Grade the class three ways and write benchmarks/results/grading.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2, help="students (two notebooks each)")
    parser.add_argument("--course", action="store_true", help="all eight solution notebooks per student "
                        "(results in grading_course.json)")
    args = parser.parse_args(argv)
    from labutils.grading import sandbox

    mode = sandbox.detect().mode
    results = {"students": args.students, "course": args.course, "sandbox": mode, "cpu_count": os.cpu_count(),
               "load_before": round(os.getloadavg()[0], 2), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        notebooks = results["notebooks"] = make_class(folder, args.students, COURSE if args.course else NOTEBOOKS)
        for name, jobs, forced in (("jobs1", 1, ""), ("jobs2", 2, ""), ("jobs1_unsandboxed", 1, "none")):
            seconds = grade_seconds(folder, Path(tmp) / name, jobs, forced)
            results["runs"][name] = {"seconds": round(seconds, 1), "per_minute": round(60 * notebooks / seconds, 2),
                                     "seconds_per_notebook": round(seconds / notebooks, 2)}
            print(f"{name:20} {seconds:6.1f} s  {60 * notebooks / seconds:5.2f} notebooks/min", flush=True)
    runs = results["runs"]
    results["sandbox_adds_s_per_notebook"] = round(runs["jobs1"]["seconds_per_notebook"]
                                                   - runs["jobs1_unsandboxed"]["seconds_per_notebook"], 2)
    print(f"the {mode} sandbox adds {results['sandbox_adds_s_per_notebook']:+.2f} s per notebook")
    (HERE / "results").mkdir(exist_ok=True)
    name = "grading_course.json" if args.course else "grading.json"
    (HERE / "results" / name).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
