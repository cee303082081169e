"""One notebook, as the grader runs it: two phases, each in a sandbox of its own, both in the notebook's cgroup.

1. The kernel phase: the worker (worker.py) reads the notebook and runs its cells in a kernel as a
   fresh uid; its JSON record says what happened and which code cells there are.
2. The probe phase: a fresh process, as another fresh uid, in a new sandbox (new /tmp, new PID and IPC
   namespaces: nothing the kernel phase left is there) that sees the student view of labutils
   (view.py). Its bootstrap reads the probe code (labutils/exercises/probes.py, probe_process.py), the
   code cells, the inputs and an HMAC key from its stdin before any student code runs, re-runs the
   definitions, probes each exercise and sends HMAC-signed frames back on its stdout, which the grader
   reads (bounded) and checks with the key; the judges then run in the grader's own process.
"""
from __future__ import annotations

import hmac
import io
import json
import os
import secrets
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from labutils.exercises import REFERENCES
from labutils.grading.cgroups import NotebookCgroup
from labutils.grading.sandbox import (
    KERNEL_PHASE,
    PROBE_PHASE,
    Limits,
    MiB,
    detect,
    fresh_uid,
    labutils_parent,
    launch_prefix,
    phase_folder,
    python_argv,
    run_sandboxed,
    sandbox_env,
)
from labutils.grading.view import HIDDEN_MARK, student_view

LABUTILS = Path(__file__).resolve().parents[1]
PROBES_FILE = LABUTILS / "exercises" / "probes.py"
PROBE_PROCESS_FILE = LABUTILS / "grading" / "probe_process.py"
WORKER_CODE = "from labutils.grading.worker import main\nsys.exit(main())"
KERNEL_GRACE = 15.0  # seconds the worker has after the cells' deadline to stop the kernel and answer
PROBE_OUTPUT_LIMIT = 64 * MiB  # bytes of signed frames read from the probe process

# Runs first in the probe process: read everything from stdin, load the two files, bind the channel, then main().
BOOTSTRAP = r"""
def _labutils_probe_process():
    import hmac, io, json, os, sys, types
    data = sys.stdin.buffer.read()
    parts, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at:at + 8], "big")
        parts.append(data[at + 8:at + 8 + size])
        at += 8 + size
    probes_source, process_source, cells, inputs_bytes, key, settings = parts
    channel = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    probes = types.ModuleType("labutils_grader_probes")
    exec(compile(probes_source.decode(), "<labutils grader probes>", "exec"), vars(probes))
    process = types.ModuleType("labutils_grader_probe_process")
    exec(compile(process_source.decode(), "<labutils grader probe process>", "exec"), vars(process))
    torch = probes.torch
    inputs = torch.load(io.BytesIO(inputs_bytes), weights_only=True)
    save, write, new_hmac, BytesIO = torch.save, os.write, hmac.new, io.BytesIO

    def send(results, final):
        buffer = BytesIO()
        save({"final": final, "results": results}, buffer)
        body = buffer.getvalue()
        frame = new_hmac(key, body, "sha256").digest() + len(body).to_bytes(8, "big") + body
        while frame:
            frame = frame[write(channel, frame):]

    process.main(probes, json.loads(cells), inputs, json.loads(settings), send)
_labutils_probe_process()
del _labutils_probe_process
"""


def _frame(*parts: bytes) -> bytes:
    """The parts, each prefixed with its length (8 bytes, big-endian)."""
    return b"".join(len(p).to_bytes(8, "big") + p for p in parts)


def _read_frames(data: bytes, key: bytes) -> Dict:
    """The probe's last good frame before (or at) its final one; 'final' says whether it finished."""
    import torch

    best, at = None, 0
    while at + 40 <= len(data):
        digest, size = data[at:at + 32], int.from_bytes(data[at + 32:at + 40], "big")
        body = data[at + 40:at + 40 + size]
        at += 40 + size
        if len(body) < size or not hmac.compare_digest(digest, hmac.new(key, body, "sha256").digest()):
            break
        try:
            best = torch.load(io.BytesIO(body), weights_only=True)
        except Exception:  # noqa: BLE001 - anything unreadable ends the stream
            break
        if best.get("final"):
            break
    return best or {}


def run_kernel_phase(notebook: bytes, cell_timeout: float, seconds: float, limits: Limits, threads: Optional[int],
                     cgroup=None, run_all: bool = False) -> Tuple[Optional[Dict], str]:
    """The worker's record of running the notebook's cells for `seconds`, or None and why there is none.

    A notebook whose own code binds no exercise is only read, not run, and a notebook that does is run up to
    its last cell that binds one, unless `run_all`."""
    uid = fresh_uid() if detect().root else -1
    with phase_folder() as tmp:
        request = {"cell_timeout": cell_timeout, "deadline": time.time() + seconds, "tmp": tmp, "limits": asdict(limits),
                   "threads": threads, "uid": uid, "run_all": run_all}
        finished = run_sandboxed(python_argv(WORKER_CODE, labutils_parent()),
                                 _frame(json.dumps(request).encode(), notebook), seconds + KERNEL_GRACE,
                                 sandbox_env(f"{tmp}/grader", threads), KERNEL_PHASE, limits,
                                 8 * len(notebook) + 16 * MiB, cgroup)
    if os.environ.get("LABUTILS_GRADER_DEBUG"):
        print(finished.err.decode("utf-8", "replace")[-3000:], file=sys.stderr)
    if finished.timed_out:
        return None, "the notebook's cells ran over their time and the grader stopped its worker"
    record = None
    try:
        record = json.loads(finished.out) if finished.out else None
    except ValueError:
        pass
    if isinstance(record, dict) and finished.returncode == 0:
        return record, ""
    tail = finished.err.decode("utf-8", "replace").strip().splitlines()[-3:]
    return None, (f"the grading worker stopped with status {finished.returncode}"
                  + (f": {' / '.join(tail)}"[:400] if tail else ""))


def run_probe_phase(cells: List[Dict], inputs: bytes, seconds_each: float, budget: float, limits: Limits,
                    threads: Optional[int], cgroup=None) -> Tuple[Dict, Optional[Dict]]:
    """A fresh process re-runs the definitions in `cells` and probes them; (how it went, its results)."""
    key = secrets.token_bytes(32)
    settings = {"seconds_each": seconds_each, "hidden_mark": HIDDEN_MARK,
                "rebuild_seconds": min(2 * seconds_each, budget / 3),  # what the exercises read, rebuilt in time
                "modules": sorted({module for module, _ in REFERENCES.values()})}
    payload = _frame(PROBES_FILE.read_bytes(), PROBE_PROCESS_FILE.read_bytes(), json.dumps(cells).encode(), inputs,
                     key, json.dumps(settings).encode())
    view = student_view()
    path = labutils_parent() if detect().mode == "bwrap" else str(view.parent)  # bubblewrap binds the view there
    started = time.monotonic()
    with phase_folder() as tmp:
        home = f"{tmp}/probe"
        argv = launch_prefix(limits, fresh_uid() if detect().root else -1, home) + python_argv(BOOTSTRAP, path)
        finished = run_sandboxed(argv, payload, budget, sandbox_env(home, threads, path), PROBE_PHASE, limits,
                                 PROBE_OUTPUT_LIMIT, cgroup)
    status = "timeout" if finished.timed_out else "output over the limit" if finished.overflow else (
        "done" if finished.returncode == 0 else f"exit {finished.returncode}")
    probe = {"budget": round(budget, 1), "status": status, "returncode": finished.returncode,
             "seconds": round(time.monotonic() - started, 2)}
    frames = _read_frames(finished.out, key)
    probe["final"] = bool(frames.get("final"))
    return probe, frames.get("results")


def _notebook_cgroup(limits: Limits) -> Optional[NotebookCgroup]:
    """A fresh cgroup for one notebook, or None where the machine offers none."""
    tree = detect().cgroup
    if tree is None:
        return None
    try:
        return NotebookCgroup(tree, limits.memory, limits.processes)
    except OSError:
        return None


def _torch_bytes(value) -> bytes:
    """torch.save of `value`, as bytes."""
    import torch

    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _imported_only(record: Dict) -> Dict:
    """The probe's results for a notebook whose own code binds no exercise: those it imports from labutils are
    labutils' (missing, from that module), as the probe process would find them; no probe phase is needed."""
    return {"exercises": {name: {"error": "missing", "meta": {"module": module}}
                          for name, module in record.get("imports", {}).items()}}


def run_notebook(notebook: bytes, inputs: Dict, cell_timeout: float, timeout: float, threads: Optional[int],
                 limits: Limits, run_all: bool = False) -> Tuple[Optional[Dict], str]:
    """Both phases of one notebook within `timeout`; the record the grader judges, or None and why there is none."""
    start = time.monotonic()
    seconds_each = max(5.0, min(20.0, cell_timeout / 2))  # per exercise probed
    probe_budget = min(6 * seconds_each + 15, max(20.0, timeout / 2))
    cgroup = _notebook_cgroup(limits)
    try:
        record, reason = run_kernel_phase(notebook, cell_timeout, timeout - probe_budget, limits, threads, cgroup,
                                          run_all)
        kernel_events = cgroup.events() if cgroup else {}
        if record is None:
            if kernel_events.get("oom_kill"):
                reason = f"{limits.describe('memory')} reached (the grading worker was stopped)"
            return None, reason
        record["cgroup"] = {"kernel": kernel_events}
        remaining = start + timeout - time.monotonic()
        budget = max(5.0, min(probe_budget, remaining)) if remaining > 2 else 0
        if "unreadable" in record:
            return record, ""
        if not record.get("defines"):
            record["probe"], record["results"] = {"status": "done", "final": True, "needed": False}, _imported_only(record)
            return record, ""
        if budget <= 0:
            record["probe"] = {"budget": 0, "status": "no time left"}
            return record, ""
        record["probe"], record["results"] = run_probe_phase(record["cells"], _torch_bytes(inputs), seconds_each,
                                                             budget, limits, threads, cgroup)
        if cgroup:
            after = cgroup.events()
            record["cgroup"]["probe"] = {k: after[k] - kernel_events.get(k, 0) for k in after}
        return record, ""
    finally:
        if cgroup:
            cgroup.remove()
