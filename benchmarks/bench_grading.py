"""Grading throughput against the grader of a823da0 (issue 25's "today"): notebooks graded per minute.

    python -m benchmarks.bench_grading [--students 2] [--rounds 2] [--classes course,pair] [--baseline a823da0]

Builds the baseline grader from git history into a temporary folder (`git archive`), compiles both graders'
bytecode (as an installed grader has it: the sandboxes cannot write it), then grades the same
class with it and with this working tree, alternated (A B B A ... so that a change of load hits both),
`--jobs 2`, sandbox on, `--cell-timeout 30 --timeout 120`, the same seed. Classes: "course" = each
student hands in all eight solution notebooks (01, 07 and 08 have no exercise), as the issue measured;
"pair" = notebooks 02 and 03 only (two exercise notebooks, the bench's class before). Then, for the
working tree alone on the pair class, `--jobs 1` with and without the sandbox (LABUTILS_SANDBOX=none):
what the sandbox costs. Prints notebooks/min and the ratio per class (as root with cgroup v1's cpuacct also
the CPU seconds per notebook of every process of a run: a figure other work on the machine moves less) and
the cells that raised (a823da0's labutils lacks what today's 06 and 07 call, so its kernels run less of them),
and writes benchmarks/results/grading.json. Without the baseline commit in the history (a shallow clone) it says so
and measures the working tree alone.
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
ROOT = HERE.parent
BASELINE = "a823da0"  # the grader when issue 25 was filed: 17 s per notebook at --jobs 2
NOTEBOOKS = ("02_vectorization.ipynb", "03_batches.ipynb")
COURSE = tuple(sorted(p.name for p in (ROOT / "solutions").glob("0*.ipynb")))  # all eight
CLASSES = {"course": COURSE, "pair": NOTEBOOKS}


def make_class(folder: Path, students: int, notebooks=NOTEBOOKS) -> int:
    """A class folder of `students` students with the lab's solution notebooks; returns the notebook count."""
    for i in range(students):
        (folder / f"student{i:02d}").mkdir(parents=True)
        for name in notebooks:
            shutil.copy(ROOT / "solutions" / name, folder / f"student{i:02d}" / name)
    return students * len(notebooks)


def build_baseline(commit: str, folder: Path) -> Path:
    """The tree of `commit` unpacked into folder/commit (its labutils is the grader it runs), or None if git
    has no such commit (a shallow clone)."""
    check = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True,
                           timeout=60)
    if check.returncode != 0:
        return None
    tree = folder / commit
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True,
                             timeout=300).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True, timeout=300)
    return tree


CPUACCT = Path("/sys/fs/cgroup/cpuacct")  # cgroup v1: the CPU time of a process and all it starts


def cpu_group():
    """A fresh cpuacct cgroup to run the grader in (root, cgroup v1), or None where the machine has none."""
    if os.geteuid() != 0 or not (CPUACCT / "cpuacct.usage").is_file():
        return None
    group = CPUACCT / f"labutils-bench-{os.getpid()}-{time.monotonic_ns()}"
    try:
        group.mkdir()
    except OSError:
        return None
    return group


def grade_seconds(tree: Path, folder: Path, out: Path, jobs: int, sandbox: str = "") -> tuple:
    """(seconds, CPU seconds or None) of `python -m labutils grade` of `tree` on `folder` (sandbox: a
    LABUTILS_SANDBOX mode to force). CPU counts every process of the run, sandboxes included (cpu_group)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tree)}
    env.pop("LABUTILS_SANDBOX", None)
    if sandbox:
        env["LABUTILS_SANDBOX"] = sandbox
    group = cpu_group()
    enter = ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh"] if group else []
    start = time.perf_counter()
    graded = subprocess.run(enter + [sys.executable, "-m", "labutils", "grade", str(folder), "--out", str(out),
                                     "--jobs", str(jobs), "--cell-timeout", "30", "--timeout", "120", "--seed", "0"],
                            env=env, cwd=tree, timeout=3600, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    cpu = None
    if group:
        for _ in range(200):  # what the run started may take a moment to end
            if not (group / "cgroup.procs").read_text().strip():
                break
            time.sleep(0.05)
        cpu = int((group / "cpuacct.usage").read_text()) / 1e9
        group.rmdir()
    if graded.returncode != 0:
        raise RuntimeError(f"the grader of {tree} stopped with status {graded.returncode}: {graded.stderr[-2000:]}")
    return seconds, cpu


def totals(out: Path) -> list:
    """Each student's points from grades.csv, in student order (to check both graders agree)."""
    lines = (out / "grades.csv").read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("total") if "total" in header else 1
    return [row.split(",")[column] for row in sorted(lines[1:])]


def cell_errors(out: Path) -> dict:
    """{notebook: cells that raised, summed over the students} from grades.json."""
    found = {}
    for student in json.loads((out / "grades.json").read_text())["students"]:
        for report in student.get("reports", []):
            found[report["notebook"]] = found.get(report["notebook"], 0) + len(report.get("errors", []))
    return {name: count for name, count in found.items() if count}


def measure(name: str, tree: Path, folder: Path, out: Path, notebooks: int, jobs: int = 2, sandbox: str = "") -> dict:
    """One timed run: seconds, notebooks/min, the load before it and the students' points."""
    load = os.getloadavg()[0]
    seconds, cpu = grade_seconds(tree, folder, out, jobs, sandbox)
    run = {"run": name, "jobs": jobs, "sandbox": sandbox or "default", "seconds": round(seconds, 1),
           "per_minute": round(60 * notebooks / seconds, 2), "load_before": round(load, 2), "totals": totals(out),
           "cell_errors": cell_errors(out),
           "cpu_seconds_per_notebook": None if cpu is None else round(cpu / notebooks, 2)}
    used = "" if cpu is None else f", {cpu / notebooks:5.2f} CPU s/notebook"
    errors = f", cells that raised: {run['cell_errors']}" if run["cell_errors"] else ""
    print(f"  {name:34} {seconds:6.1f} s  {run['per_minute']:6.2f} notebooks/min{used}  (load {load:.1f}){errors}",
          flush=True)
    return run


def alternate(trees: dict, folder: Path, tmp: Path, notebooks: int, rounds: int, label: str) -> list:
    """Each tree graded `rounds` times on the class, in the order A B B A A B ...; the runs."""
    runs, names = [], list(trees)
    for number in range(rounds):
        for name in (names if number % 2 == 0 else names[::-1]):
            out = tmp / f"{label}-{name}-{number}"
            runs.append({"class": label, "tree": name, "round": number,
                         **measure(f"{label} {name} round {number + 1}", trees[name], folder, out, notebooks)})
    return runs


def summary(runs: list, notebooks: int, baseline: str) -> dict:
    """Per tree: notebooks/min over all its runs (notebooks / mean seconds); with a baseline, the ratio."""
    result = {}
    for tree in dict.fromkeys(r["tree"] for r in runs):
        seconds = [r["seconds"] for r in runs if r["tree"] == tree]
        cpu = [r["cpu_seconds_per_notebook"] for r in runs if r["tree"] == tree and r.get("cpu_seconds_per_notebook")]
        result[tree] = {"runs": len(seconds), "mean_seconds": round(sum(seconds) / len(seconds), 1),
                        "per_minute": round(60 * notebooks * len(seconds) / sum(seconds), 2),
                        "cpu_seconds_per_notebook": round(sum(cpu) / len(cpu), 2) if cpu else None}
    if baseline in result and "working tree" in result:
        ours, theirs = result["working tree"], result[baseline]
        result["ratio"] = round(ours["per_minute"] / theirs["per_minute"], 2)
        if ours["cpu_seconds_per_notebook"] and theirs["cpu_seconds_per_notebook"]:
            result["cpu_ratio"] = round(theirs["cpu_seconds_per_notebook"] / ours["cpu_seconds_per_notebook"], 2)
    return result


def main(argv=None) -> int:
    """Grade each class with the baseline and the working tree, alternated; write benchmarks/results/grading.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2, help="students in each class (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each grader per class (default 2: A B B A)")
    parser.add_argument("--classes", default="course,pair", help="course (all eight notebooks), pair (02, 03)")
    parser.add_argument("--baseline", default=BASELINE, help=f"the commit to compare with (default {BASELINE})")
    parser.add_argument("--no-sandbox-cost", action="store_true", help="skip the --jobs 1 runs without the sandbox")
    args = parser.parse_args(argv)
    from labutils.grading import sandbox

    results = {"students": args.students, "rounds": args.rounds, "baseline": args.baseline, "jobs": 2,
               "sandbox": sandbox.detect().mode, "cpu_count": os.cpu_count(), "classes": {}, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)  # the kernels' unprivileged uids import the baseline's labutils from here
        trees = {"working tree": ROOT}
        baseline = build_baseline(args.baseline, tmp / "baseline")
        if baseline is None:
            print(f"git history lacks {args.baseline} (a shallow clone?): measuring the working tree alone")
            results["baseline_missing"] = True
        else:
            trees = {args.baseline: baseline, **trees}
        for tree in trees.values():  # bytecode as an installed grader has it (the sandboxes cannot write it)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "labutils")], check=True,
                           stdout=subprocess.DEVNULL, timeout=600)
        for label in args.classes.split(","):
            folder = tmp / f"class-{label}"
            notebooks = make_class(folder, args.students, CLASSES[label])
            print(f"{label}: {args.students} students x {notebooks // args.students} notebooks, --jobs 2, "
                  f"{results['sandbox']} sandbox", flush=True)
            runs = alternate(trees, folder, tmp, notebooks, args.rounds, label)
            results["runs"] += runs
            results["classes"][label] = {"notebooks": notebooks, **summary(runs, notebooks, args.baseline)}
            if len({tuple(r["totals"]) for r in runs}) > 1:
                print(f"  the graders disagree on the points: {[r['totals'] for r in runs]}")
            found = results["classes"][label]
            if "ratio" in found:
                print(f"  {label}: {found['ratio']}x the notebooks per minute of {args.baseline}"
                      + (f"; {found['cpu_ratio']}x less CPU per notebook" if "cpu_ratio" in found else ""))
        if not args.no_sandbox_cost:
            folder, notebooks = tmp / "class-pair-cost", make_class(tmp / "class-pair-cost", args.students)
            cost = [measure(f"pair, --jobs 1, {mode or 'sandbox'}", ROOT, folder, tmp / f"cost-{mode}", notebooks, 1,
                            mode) for mode in ("", "none")]
            results["sandbox_cost"] = cost
            added = (cost[0]["seconds"] - cost[1]["seconds"]) / notebooks
            results["sandbox_adds_s_per_notebook"] = round(added, 2)
            print(f"the {results['sandbox']} sandbox adds {added:+.2f} s per notebook at --jobs 1")
    results["load_after"] = round(os.getloadavg()[0], 2)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "grading.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
