"""Run one submitted notebook for grading: a fresh kernel in its own temporary folder, small settings,
per-cell and total timeouts, capped output, then the probes injected as source text."""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from labutils.params import SMALL_ENV

KERNEL_NAME = "labutils-grader"
PROBE_SOURCE_PATH = Path(__file__).with_name("probe.py")
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


def _kernel_spec_manager(folder: Path) -> KernelSpecManager:
    """A kernel spec that runs ipykernel with this very Python (the grader's environment)."""
    spec_dir = folder / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "labutils grader", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(folder / "kernels")])


def kernel_env(threads: Optional[int] = None) -> Dict[str, str]:
    """The kernel's environment: small settings, CPU only, no Comet key, bounded threads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMET_")}
    env.update({SMALL_ENV: "1", "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"})
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def probe_cell(inputs_path: Path, output_path: Path, seconds_each: float) -> str:
    """Source of the cell that runs the probes in the student's kernel, under names the notebook cannot know."""
    token = secrets.token_hex(8)
    source = PROBE_SOURCE_PATH.read_text(encoding="utf-8")
    return (f"def _labutils_grader_{token}():\n"
            f"    namespace = {{'__name__': 'labutils_grader_probe_{token}'}}\n"
            f"    exec(compile({source!r}, '<labutils grader probe>', 'exec'), namespace)\n"
            f"    namespace['run_probes'](globals(), {str(inputs_path)!r}, {str(output_path)!r}, {seconds_each!r})\n"
            f"_labutils_grader_{token}()\n"
            f"del _labutils_grader_{token}\n")


async def _execute(nb, folder: Path, skip: List[int], probe_source: str, cell_timeout: float, timeout: float,
                   probe_timeout: float, env: Dict[str, str]) -> Dict:
    """Execute the code cells (but `skip`) in a fresh kernel, then the probe cell; report what happened."""
    workdir = folder / "work"
    workdir.mkdir()
    record = {"errors": [], "died_in": None, "timed_out": False, "output_truncated": False, "probe_ran": False}

    def on_error(cell, cell_index, execute_reply):
        content = execute_reply.get("content", {})
        record["errors"].append({"cell": cell_index, "error": str(content.get("ename", "error")),
                                 "message": str(content.get("evalue", ""))[:300]})

    client = CappedClient(nb, km=AsyncKernelManager(kernel_name=KERNEL_NAME,
                                                    kernel_spec_manager=_kernel_spec_manager(folder)),
                          timeout=int(cell_timeout), allow_errors=True, interrupt_on_timeout=True,
                          error_on_timeout={"ename": "Timeout", "evalue": f"the cell ran over {cell_timeout:g} s"},
                          shutdown_kernel="immediate", record_timing=False, on_cell_error=on_error,
                          iopub_timeout=10)
    deadline = time.monotonic() + timeout
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
            try:
                await client.async_execute_cell(cell, index)
            except DeadKernelError:
                record["died_in"] = index
                return record
        cell = nbformat.v4.new_code_cell(probe_source)
        nb.cells.append(cell)
        client.timeout = int(probe_timeout)
        try:
            await client.async_execute_cell(cell, len(nb.cells) - 1)
            record["probe_ran"] = True
        except DeadKernelError:
            record["probe_died"] = True
    record["output_truncated"] = bool(getattr(client, "output_truncated", False))
    return record


def run_notebook(nb, inputs_path: Path, cell_timeout: float, timeout: float, threads: Optional[int] = None) -> Dict:
    """Run notebook `nb` and the probes on `inputs_path`; return the run record with "results" (raw probe data)."""
    import torch

    skip: List[int] = []
    runs: List[Dict] = []
    seconds_each = max(5.0, min(20.0, cell_timeout / 2))  # per exercise probed
    probe_timeout = 6 * seconds_each + 10
    for _ in range(MAX_RESTARTS + 1):
        with tempfile.TemporaryDirectory(prefix="labutils-grade-") as tmp:
            folder = Path(tmp)
            output_path = folder / f"probe-{secrets.token_hex(8)}.pt"
            source = probe_cell(inputs_path, output_path, seconds_each)
            try:
                record = asyncio.run(asyncio.wait_for(
                    _execute(nb, folder, skip, source, cell_timeout, timeout, probe_timeout, kernel_env(threads)),
                    timeout + probe_timeout + 60))
            except asyncio.TimeoutError:
                record = {"errors": [], "died_in": None, "timed_out": True, "output_truncated": False,
                          "probe_ran": False}
            record["results"] = None
            if output_path.exists():
                try:
                    record["results"] = torch.load(output_path, weights_only=True)
                except (OSError, RuntimeError, EOFError, ValueError) as error:
                    record["unreadable"] = f"{type(error).__name__}: {error}"[:300]
        runs.append(record)
        if record["died_in"] is None:
            break
        skip.append(record["died_in"])
    record = runs[-1]
    record["skipped"] = skip
    return record
