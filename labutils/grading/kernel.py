"""Run one submitted notebook in a fresh kernel (inside the grading worker): its own folder, small
settings, per-cell and total timeouts, capped output, the limits and uid of sandbox.launch_prefix.
The kernel only runs the notebook (errors, timeouts, limits reached); the exercises are probed
afterwards in a fresh process (worker.py), so nothing the notebook does in this kernel reaches them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

KERNEL_NAME = "labutils-grader"
OUTPUT_LIMIT = 20_000_000  # characters of output kept per notebook (audio players are large); the rest is dropped
MAX_RESTARTS = 2  # cells that kill the kernel are skipped and the notebook re-run, this many times


class CappedClient(NotebookClient):
    """A NotebookClient that keeps at most OUTPUT_LIMIT characters of output, so huge prints cannot fill memory."""

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + len(str(content.get("traceback", "")))
        size += sum(len(str(value)) for value in content.get("data", {}).values())
        used = getattr(self, "output_used", 0) + size
        self.output_used = used
        if used > OUTPUT_LIMIT:
            self.output_truncated = True
            return None
        return super().output(outs, msg, display_id, cell_index)


class OwnedKernelManager(AsyncKernelManager):
    """Writes the connection file readable by the kernel's uid (the worker is root, the kernel is not)."""

    owner_uid = -1

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if self.owner_uid >= 0 and os.path.exists(self.connection_file):
            os.chown(self.connection_file, self.owner_uid, self.owner_uid)


def _kernel_spec_manager(folder: Path, prefix: Optional[List[str]] = None) -> KernelSpecManager:
    """A kernel spec that runs ipykernel with this very Python, after `prefix` (limits, uid)."""
    spec_dir = folder / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": list(prefix or []) + [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "labutils grader", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])


async def execute(nb, folder: Path, skip: List[int], cell_timeout: float, deadline: float, env: Dict[str, str],
                  prefix: List[str], uid: int) -> Dict:
    """Execute the code cells (but `skip`) in a fresh kernel until `deadline` (monotonic); report what happened."""
    workdir = folder / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    if uid >= 0:
        os.chown(workdir, uid, uid)
    record = {"errors": [], "died_in": None, "timed_out": False, "output_truncated": False, "kernel_status": None,
              "last_cell": None}

    def on_error(cell_index, execute_reply, **_):  # nbclient passes the cell too
        content = execute_reply.get("content", {})
        record["errors"].append({"cell": cell_index, "error": str(content.get("ename", "error"))[:100],
                                 "message": str(content.get("evalue", ""))[:300]})

    km = OwnedKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=_kernel_spec_manager(folder, prefix))
    km.owner_uid = uid
    runtime = folder / "runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    km.connection_file = str(runtime / f"kernel-{os.getpid()}-{len(skip)}.json")
    client = CappedClient(nb, km=km, timeout=int(cell_timeout), allow_errors=True, interrupt_on_timeout=True,
                          error_on_timeout={"ename": "Timeout", "evalue": f"the cell ran over {cell_timeout:g} s"},
                          shutdown_kernel="immediate", record_timing=False, on_cell_error=on_error,
                          iopub_timeout=10, startup_timeout=60)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # the kernel's own chatter
    async with client.async_setup_kernel(cleanup_kc=True, cwd=str(workdir), env=env, **quiet):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or index in skip:
                continue
            remaining = deadline - time.monotonic()
            if remaining < 1:
                record["timed_out"] = True
                break
            client.timeout = max(1, int(min(cell_timeout, remaining)))
            record["last_cell"] = index
            try:
                await client.async_execute_cell(cell, index)
            except DeadKernelError:
                record["died_in"] = index
                process = getattr(km.provisioner, "process", None)
                if process is not None:
                    for _ in range(20):
                        if process.poll() is not None:
                            break
                        time.sleep(0.05)
                    record["kernel_status"] = process.returncode
                return record
    record["output_truncated"] = bool(getattr(client, "output_truncated", False))
    return record


def code_cells(nb, skip: List[int]) -> List[Dict]:
    """[{"index", "source"}] of the notebook's code cells (for the probe process), but `skip`."""
    return [{"index": i, "source": str(c.source)} for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and i not in skip]
