"""The grading worker: `python -m labutils.grading.worker`, started by sandbox.run_worker inside the sandbox.

stdin: a JSON request (the notebook's text, timeouts, limits, uid) and the probes' inputs (torch.save
bytes), both length-prefixed. It (1) runs the notebook in a kernel (kernel.py), re-running it without
a cell that killed the kernel, (2) kills everything the kernel's uid started, (3) starts a fresh probe
process (same limits and uid) that reads labutils/exercises/probes.py and probe_process.py as text,
and its inputs, from its stdin BEFORE any student code runs, re-runs the notebook's definitions and
probes them, and sends HMAC-signed frames on a pipe. stdout: one torch.save'd record (plain data,
read by the grader with weights_only=True).
As root, this process is root in the namespace and the student's code runs as another uid: it cannot
signal, trace or read this process.
"""
from __future__ import annotations

import asyncio
import hmac
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

LABUTILS = Path(__file__).resolve().parents[1]
PROBES_FILE = LABUTILS / "exercises" / "probes.py"
PROBE_PROCESS_FILE = LABUTILS / "grading" / "probe_process.py"

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

    settings = json.loads(settings)
    process.main(probes, json.loads(cells), inputs, settings["references"], float(settings["seconds_each"]), send)
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


def _uid_pids(uid: int) -> List[int]:
    """The PIDs of every process of `uid` (from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(entry.name))
                        break
            except (OSError, ValueError, IndexError):
                continue
    return pids


def sweep(uid: int) -> None:
    """Kill every process of the student's uid (as root), else every descendant of this worker."""
    from labutils.grading.sandbox import descendants

    for _ in range(5):
        pids = _uid_pids(uid) if uid >= 0 else descendants(os.getpid())
        pids = [p for p in pids if p != os.getpid()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass


def _own_folder(path: Path, uid: int) -> Path:
    """Make `path` and give it to `uid` (as root), so the student's code can write there."""
    path.mkdir(parents=True, exist_ok=True)
    if uid >= 0:
        os.chown(path, uid, uid)
    return path


def _run_kernel_once(nb, folder: Path, skip: List[int], request: Dict, prefix: List[str], cells_deadline: float) -> Dict:
    """Run the notebook's cells but `skip` in a fresh kernel; the kernel's record, also when it times out or fails."""
    from labutils.grading import kernel
    from labutils.grading.sandbox import sandbox_env

    work = folder / "work"
    env = {**sandbox_env(str(work), request["threads"]), "JUPYTER_RUNTIME_DIR": str(work / ".runtime")}
    run = kernel.execute(nb, folder, skip, request["cell_timeout"], cells_deadline, env, prefix, request["uid"])
    try:
        return asyncio.run(asyncio.wait_for(run, max(5.0, cells_deadline - time.monotonic() + 30)))
    except asyncio.TimeoutError:
        return {"errors": [], "died_in": None, "timed_out": True, "output_truncated": False, "kernel_status": None}
    except Exception as error:  # noqa: BLE001 - a kernel that cannot start: say so, grade nothing
        return {"errors": [], "died_in": None, "timed_out": False, "output_truncated": False,
                "kernel_status": None, "kernel_failed": f"{type(error).__name__}: {str(error)[:300]}"}


def run_cells(nb, request: Dict, prefix: List[str], cells_deadline: float) -> Dict:
    """Phase 1: run the cells, again without each cell that killed the kernel (at most kernel.MAX_RESTARTS times)."""
    from labutils.grading.kernel import MAX_RESTARTS

    skip: List[int] = []
    statuses: List = []
    record: Dict = {}
    for attempt in range(MAX_RESTARTS + 1):
        folder = Path(request["home"]) / f"kernel-{attempt}"
        record = _run_kernel_once(nb, folder, skip, request, prefix, cells_deadline)
        sweep(request["uid"])
        if record["died_in"] is None:
            break
        skip.append(record["died_in"])
        statuses.append(record.get("kernel_status"))
        if time.monotonic() > cells_deadline:
            record["timed_out"] = True
            break
    record["skipped"] = skip
    record["kernel_statuses"] = statuses
    return record


def run_probe_process(cells: List[Dict], request: Dict, inputs_bytes: bytes, prefix: List[str],
                      budget: float) -> Tuple[Dict, Dict]:
    """Phase 2: a fresh process re-runs the definitions in `cells` and probes them; (how it went, its results)."""
    from labutils.exercises import REFERENCES
    from labutils.grading.sandbox import sandbox_env

    uid = request["uid"]
    probe_dir = _own_folder(Path(request["home"]) / "probe", uid)
    key = secrets.token_bytes(32)
    settings = {"seconds_each": request["seconds_each"],
                "references": {exercise: module for exercise, (module, _) in REFERENCES.items()}}
    payload = _frame(PROBES_FILE.read_bytes(), PROBE_PROCESS_FILE.read_bytes(), json.dumps(cells).encode(),
                     inputs_bytes, key, json.dumps(settings).encode())
    started = time.monotonic()
    process = subprocess.Popen(prefix + [sys.executable, "-c", BOOTSTRAP], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(probe_dir),
                               env=sandbox_env(str(probe_dir), request["threads"]), start_new_session=True)
    probe = {"budget": round(budget, 1)}
    try:
        out, _ = process.communicate(payload, timeout=budget)
        probe["status"] = "done" if process.returncode == 0 else f"exit {process.returncode}"
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        probe["status"] = "timeout"
    probe["returncode"] = process.returncode
    probe["seconds"] = round(time.monotonic() - started, 2)
    sweep(uid)
    print(f"probe phase {time.monotonic() - started:.1f} s", file=sys.stderr)
    frames = _read_frames(out or b"", key)
    probe["final"] = bool(frames.get("final"))
    return probe, frames.get("results")


def run(request: Dict, inputs_bytes: bytes) -> Dict:
    """Both phases, the probe process with the time the cells left it; the record the grader judges."""
    import nbformat

    from labutils.grading.kernel import code_cells
    from labutils.grading.sandbox import Limits, launch_prefix

    start = time.monotonic()
    deadline = start + request["timeout"]
    prefix = launch_prefix(Limits(**request["limits"]), request["uid"])
    nb = nbformat.reads(request["notebook"], as_version=4)
    record = run_cells(nb, request, prefix, deadline - request["probe_budget"])
    print(f"kernel phase {time.monotonic() - start:.1f} s", file=sys.stderr)
    record["kernel_seconds"] = round(time.monotonic() - start, 2)
    remaining = deadline - time.monotonic()
    budget = max(5.0, min(request["probe_budget"], remaining)) if remaining > 2 else 0
    if budget <= 0:
        record["probe"] = {"budget": 0, "status": "no time left"}
        return record
    cells = code_cells(nb, record["skipped"])
    record["probe"], record["results"] = run_probe_process(cells, request, inputs_bytes, prefix, budget)
    return record


def main() -> int:
    """Read the request from stdin, run both phases, write the record to stdout."""
    import torch

    channel = os.dup(1)  # the answer goes here; anything else printed goes nowhere
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    data = sys.stdin.buffer.read()
    size = int.from_bytes(data[:8], "big")
    request = json.loads(data[8:8 + size])
    rest = data[8 + size:]
    inputs_bytes = rest[8:8 + int.from_bytes(rest[:8], "big")]
    record = run(request, inputs_bytes)
    buffer = io.BytesIO()
    torch.save(record, buffer)
    answer = buffer.getvalue()
    while answer:
        answer = answer[os.write(channel, answer):]
    os.close(channel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
