"""Run one submitted notebook in a fresh kernel (inside the grading worker): its own folder, small
settings, per-cell and total timeouts, the limits and uid of sandbox.launch_prefix, and a bounded
channel. The kernel only runs the notebook (errors, timeouts, limits reached); the exercises are
probed afterwards in a fresh process in a sandbox of its own (phases.py), so nothing the notebook
does in this kernel reaches them.

What the kernel sends cannot make the worker grow: each message is at most MESSAGE_LIMIT bytes (ZMQ
drops larger ones), output is kept up to OUTPUT_LIMIT characters, widget ("comm") messages are read
and dropped, and a kernel whose messages add up to more than the notebook's memory limit is killed
(the cell's status then says that memory limit was reached).

A cell that runs over its timeout is interrupted. One that ignores the interrupt (SIGINT caught or
ignored, code that never returns to Python) would leave the kernel busy, and every later cell would
time out behind it: the kernel is then stopped and the cell counts as one that killed it, so the
notebook is run again without it and the report names it."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from queue import Empty
from typing import Dict, List, Optional

import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async

from labutils.grading.sandbox import Limits, labutils_parent, launch_prefix, python_argv

KERNEL_NAME = "labutils-grader"
OUTPUT_LIMIT = 20_000_000  # characters of output kept per notebook (audio players are large); the rest is dropped
MESSAGE_LIMIT = 64 * 1024 ** 2  # bytes of one message from the kernel; ZMQ disconnects a sender of a larger one
MAX_RESTARTS = 2  # cells that kill the kernel are skipped and the notebook re-run, this many times
STUCK_GRACE = 3.0  # seconds a kernel has to answer after a cell's timeout and interrupt (and the client's
# iopub_timeout, which it has already waited for the cell's end)
KERNEL_CODE = "import runpy\nsys.argv[0] = 'ipykernel_launcher'\nrunpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)"


class CappedClient(NotebookClient):
    """A NotebookClient that keeps at most OUTPUT_LIMIT characters of output and no widget state."""

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

    def handle_comm_msg(self, outs, msg, cell_index):
        """Widget messages are dropped: the grader keeps no widget state."""
        return None


class OwnedKernelManager(AsyncKernelManager):
    """Writes the connection file readable by the kernel's uid (the worker is root, the kernel is not), and
    gives its client a bounded channel: MESSAGE_LIMIT per message, `message_budget` bytes in all."""

    message_budget = 0  # bytes of messages from the kernel before it is killed (0: no budget)
    received = 0
    flooded = False

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        if os.path.exists(self.connection_file):  # root's file in root's folder; only this kernel's uid is here
            os.chmod(self.connection_file, 0o644)

    def client(self, **kwargs):
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, MESSAGE_LIMIT)
        context.setsockopt(zmq.RCVHWM, 64)
        self.bounded_context = context
        client = super().client(context=context, **kwargs)
        deserialize = client.session.deserialize

        def counting(msg_list, *args, **kw):
            self.received += sum(len(part) for part in msg_list)
            if self.message_budget and self.received > self.message_budget and not self.flooded:
                self.flooded = True
                process = getattr(self.provisioner, "process", None)
                if process is not None:
                    process.kill()
            return deserialize(msg_list, *args, **kw)

        client.session.deserialize = counting
        return client


def kernel_argv(prefix: Optional[List[str]] = None) -> List[str]:
    """The kernel's command: `prefix` (limits, uid), then this very Python, isolated, running ipykernel."""
    return list(prefix or []) + python_argv(KERNEL_CODE, labutils_parent(), "-f", "{connection_file}")


def _kernel_spec_manager(folder: Path, prefix: Optional[List[str]] = None) -> KernelSpecManager:
    """A kernel spec in `folder` that runs kernel_argv(prefix)."""
    spec_dir = folder / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": kernel_argv(prefix), "display_name": "labutils grader", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])


async def _answers(client, seconds: float) -> bool:
    """True when the kernel answers an empty request within `seconds`: it is not stuck in a cell."""
    kc = client.kc
    msg_id = kc.execute("", silent=True, store_history=False)
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            msg = await ensure_async(kc.shell_channel.get_msg(timeout=left))
        except Empty:
            return False
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return True


def _died(km, record: Dict, index: int) -> Dict:
    """The record of a kernel that died in cell `index`: the cell, the exit status, a message flood."""
    record["died_in"] = index
    process = getattr(km.provisioner, "process", None)
    if process is not None:
        for _ in range(20):
            if process.poll() is not None:
                break
            time.sleep(0.05)
        record["kernel_status"] = process.returncode
    record["flooded"] = km.flooded
    return record


async def execute(nb, folder: Path, skip: List[int], cell_timeout: float, deadline: float, env: Dict[str, str],
                  limits: Limits, uid: int) -> Dict:
    """Execute the code cells (but `skip`) in a fresh kernel until `deadline` (monotonic); report what happened.

    `folder` is the worker's (root's); the kernel makes folder/work, its own, and works there as `uid`."""
    record = {"errors": [], "died_in": None, "timed_out": False, "output_truncated": False, "kernel_status": None,
              "last_cell": None, "flooded": False, "stuck": False}
    timeouts = set()  # cells that ran over the cell timeout

    def on_error(cell_index, execute_reply, **_):  # nbclient passes the cell too
        content = execute_reply.get("content", {})
        if content.get("ename") == "Timeout":
            timeouts.add(cell_index)
        if len(record["errors"]) < 100:
            record["errors"].append({"cell": cell_index, "error": str(content.get("ename", "error"))[:100],
                                     "message": str(content.get("evalue", ""))[:300]})

    prefix = launch_prefix(limits, uid, str(folder / "work"))
    km = OwnedKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=_kernel_spec_manager(folder, prefix))
    km.message_budget = limits.memory
    km.connection_file = str(folder / "connection.json")
    client = CappedClient(nb, km=km, timeout=int(cell_timeout), allow_errors=True, interrupt_on_timeout=True,
                          error_on_timeout={"ename": "Timeout", "evalue": f"the cell ran over {cell_timeout:g} s"},
                          shutdown_kernel="immediate", record_timing=False, on_cell_error=on_error,
                          iopub_timeout=10, startup_timeout=60, store_widget_state=False)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # the kernel's own chatter
    try:
        async with client.async_setup_kernel(cleanup_kc=True, cwd="/", env=env, **quiet):
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
                    return _died(km, record, index)
                grace = min(STUCK_GRACE, max(1.0, deadline - time.monotonic()))
                if index in timeouts and not await _answers(client, grace):
                    record["stuck"] = True  # it did not stop when interrupted: stop the kernel (below), as if it died
                    return _died(km, record, index)
    finally:
        context = getattr(km, "bounded_context", None)
        if context is not None:
            context.destroy(linger=0)
    record["output_truncated"] = bool(getattr(client, "output_truncated", False))
    return record
