"""The kernel phase's worker: started by phases.run_kernel_phase inside the kernel's sandbox as
`python -I -c "...from labutils.grading.worker import main..."` (isolated: nothing on its path but
Python's own folders and labutils').

stdin: a JSON request (deadline, timeouts, limits, uid, its folder) and the notebook file's bytes, both
length-prefixed. It (1) reads the notebook (analysis.py: the grader itself never parses a submission),
(2) runs it in a kernel (kernel.py) as the kernel's uid, again without each cell that killed the kernel
or did not stop when interrupted,
(3) kills everything that uid started. stdout: one JSON record (plain data): what happened, what the
grader learns from the notebook's text, and the code cells the probe process will re-run.
As root it keeps only sandbox.KERNEL_PHASE's capabilities; the student's code runs as another uid and cannot signal,
trace or read this process.
"""
from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import sys
import time
from pathlib import Path
from typing import Dict, List


def _run_kernel_once(nb, folder: Path, skip: List[int], request: Dict, cells_deadline: float) -> Dict:
    """Run the notebook's cells but `skip` in a fresh kernel; the kernel's record, also when it times out or fails."""
    from labutils.grading.kernel import execute
    from labutils.grading.sandbox import Limits, sandbox_env

    work = folder / "work"
    env = {**sandbox_env(str(work), request["threads"]), "JUPYTER_RUNTIME_DIR": str(work / ".runtime")}
    run = execute(nb, folder, skip, request["cell_timeout"], cells_deadline, env, Limits(**request["limits"]),
                         request["uid"])
    try:
        return asyncio.run(asyncio.wait_for(run, max(5.0, cells_deadline - time.monotonic() + 8)))
    except asyncio.TimeoutError:
        return {"errors": [], "died_in": None, "timed_out": True, "output_truncated": False, "kernel_status": None}
    except Exception as error:  # noqa: BLE001 - a kernel that cannot start: say so, grade nothing
        return {"errors": [], "died_in": None, "timed_out": False, "output_truncated": False,
                "kernel_status": None, "kernel_failed": f"{type(error).__name__}: {str(error)[:300]}"}


def run_cells(nb, request: Dict, cells_deadline: float) -> Dict:
    """Run the cells, again without each cell that killed the kernel (at most kernel.MAX_RESTARTS times)."""
    from labutils.grading.kernel import MAX_RESTARTS
    from labutils.grading.processes import sweep

    skip: List[int] = []
    statuses: List = []
    flooded: List[int] = []
    stuck: List[int] = []  # cells that did not stop when interrupted (kernel.py stopped the kernel)
    record: Dict = {}
    for attempt in range(MAX_RESTARTS + 1):
        folder = Path(request["tmp"]) / f"kernel-{attempt}-{secrets.token_hex(8)}"  # a name no student guesses
        folder.mkdir(mode=0o755)
        record = _run_kernel_once(nb, folder, skip, request, cells_deadline)
        sweep(request["uid"])
        if record["died_in"] is None:
            break
        skip.append(record["died_in"])
        statuses.append(record.get("kernel_status"))
        if record.get("flooded"):
            flooded.append(record["died_in"])
        if record.get("stuck"):
            stuck.append(record["died_in"])
        if time.monotonic() > cells_deadline:
            record["timed_out"] = True
            break
    record.update(skipped=skip, kernel_statuses=statuses, flooded=flooded, stuck=stuck)
    return record


def run(request: Dict, notebook: bytes) -> Dict:
    """Read the notebook, run its cells until the request's deadline; the record the grader judges."""
    from labutils.grading.analysis import as_nbformat, code_cells, read_notebook, what_the_text_says

    start = time.monotonic()
    nb, problem = read_notebook(notebook)
    if nb is None:
        return {"unreadable": problem}
    said = what_the_text_says(nb)
    if said["defines"] or request.get("run_all"):
        runnable = as_nbformat(nb)
        last = said["last_exercise_cell"]
        if not request.get("run_all") and last is not None:
            runnable.cells = runnable.cells[:last + 1]  # what follows the last exercise changes no grade
        record = run_cells(runnable, request, start + request["deadline"] - time.time())  # the grader's clock
        record["cells_run"], record["cells_total"] = len(runnable.cells), len(nb.cells)
    else:  # nothing of it is graded: its cells are not run (--run-all runs them)
        record = {"errors": [], "skipped": [], "not_run": True}
    record.update(said)
    record["cells"] = code_cells(nb, record["skipped"])
    record["kernel_seconds"] = round(time.monotonic() - start, 2)
    record["worker_peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"kernel phase {record['kernel_seconds']:.1f} s", file=sys.stderr)
    return record


def main() -> int:
    """Read the request and the notebook from stdin, run the kernel phase, write the JSON record to stdout."""
    sys.modules["rfc3987_syntax"] = None  # jsonschema (for nbformat) would compile its IRI grammar: a second lost
    channel = os.dup(1)  # the answer goes here; anything else printed goes nowhere
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    data = sys.stdin.buffer.read()
    size = int.from_bytes(data[:8], "big")
    request = json.loads(data[8:8 + size])
    rest = data[8 + size:]
    notebook = rest[8:8 + int.from_bytes(rest[:8], "big")]
    Path(request["tmp"], "grader").mkdir(mode=0o700, exist_ok=True)  # this process's HOME and TMPDIR
    answer = json.dumps(run(request, notebook)).encode()
    while answer:
        answer = answer[os.write(channel, answer):]
    os.close(channel)
    return 0
