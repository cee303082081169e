"""Bounded, isolated runs of untrusted notebooks (Linux): which isolation this machine allows, the
per-process limits, and the command that starts one grading worker inside it.

One notebook = one worker (labutils/grading/worker.py) started here in its own session, with
  * bubblewrap (`bwrap`), when installed: new network, PID, IPC and UTS namespaces, a read-only view of
    the system and of Python (no /work, no home, no submissions, no --out folder), a private /tmp of
    bounded size, and the whole namespace killed when the worker ends;
  * else, as root, `unshare`: new network and PID namespaces (the file system is the machine's);
  * else nothing but a new session, the limits and a sweep of the worker's descendants.
As root, the worker stays root inside the namespace (so the student's code cannot touch it) and runs
the kernel and the probe process as a fresh unprivileged uid with the limits of `Limits` (launch_prefix).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

GiB = 1024 ** 3
MiB = 1024 ** 2


@dataclass(frozen=True)
class Limits:
    """Limits of each process the student's code runs in (the kernel, the probe process, their children)."""

    memory: int = 4 * GiB  # bytes of address space per process (RLIMIT_AS)
    cpu: int = 1200  # seconds of CPU time per process (RLIMIT_CPU)
    file_size: int = 1 * GiB  # bytes per file written (RLIMIT_FSIZE); with bubblewrap also the whole /tmp
    processes: int = 256  # processes and threads of the kernel's uid (RLIMIT_NPROC; as root only)

    def describe(self, which: str) -> str:
        """'memory limit of 4 GiB' and the like."""
        if which == "memory":
            return f"memory limit of {human_bytes(self.memory)}"
        if which == "cpu":
            return f"CPU time limit of {self.cpu:g} s"
        if which == "file_size":
            return f"file size limit of {human_bytes(self.file_size)}"
        return f"process limit of {self.processes}"


def human_bytes(count: float) -> str:
    """'4 GiB', '1.5 GiB', '768 MiB' or '100 bytes'."""
    for unit, size in (("GiB", GiB), ("MiB", MiB)):
        if count >= size:
            value = count / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{count:.0f} bytes"


def parse_bytes(text: str) -> int:
    """'4G', '768M', '500MiB', '1073741824' -> bytes (for the --memory and --max-file-size flags)."""
    value = str(text).strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1024, "M": MiB, "G": GiB, "T": 1024 * GiB}.get(value[-1:], 1)
    number = value[:-1] if value[-1:] in "KMGT" else value
    try:
        result = int(float(number) * scale)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (write e.g. 4G, 768M or a number of bytes)") from None
    if result <= 0:
        raise ValueError(f"a size must be positive, got {text!r}")
    return result


@dataclass(frozen=True)
class Isolation:
    """What this machine allows: mode is 'bwrap', 'unshare' or 'none'; root: can drop to another uid."""

    mode: str
    root: bool

    def not_isolated(self) -> List[str]:
        """What is NOT isolated here, in words (empty when everything is)."""
        gaps = []
        if self.mode == "none":
            gaps.append("network (the notebooks can open connections)")
            gaps.append("processes (a process a notebook starts is killed by a sweep, not by a namespace)")
        if self.mode != "bwrap":
            gaps.append("file system (notebooks can read, and write where this user may, outside their "
                        "temporary folder; install bubblewrap for a read-only view)")
        if not self.root:
            gaps.append("user (the kernels run as your user: not root, so no unprivileged uid and no "
                        "process-count limit)")
        return gaps


def _works(argv: List[str]) -> bool:
    """True when the command runs and exits 0 (within 20 s)."""
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


_DETECTED: Optional[Isolation] = None


def detect() -> Isolation:
    """The strongest isolation that works here (tried once per process). LABUTILS_SANDBOX=none|unshare|bwrap forces one."""
    global _DETECTED
    if _DETECTED is not None:
        return _DETECTED
    root = sys.platform.startswith("linux") and os.geteuid() == 0
    forced = os.environ.get("LABUTILS_SANDBOX", "").strip().lower()
    mode = "none"
    if sys.platform.startswith("linux"):
        true = shutil.which("true") or "/bin/true"
        if forced in ("", "bwrap") and shutil.which("bwrap") and _works(bwrap_prefix(root) + [true]):
            mode = "bwrap"
        elif forced in ("", "bwrap", "unshare") and root and shutil.which("unshare") and _works(unshare_prefix() + [true]):
            mode = "unshare"
    if root and mode != "bwrap" and not _others_can_run_python():
        root = False  # e.g. Python under /root (0700): another uid could not start it without bwrap's view
    _DETECTED = Isolation(mode, root)
    return _DETECTED


def _others_can_run_python() -> bool:
    """True when a uid other than ours can reach this Python and labutils (o+x on every folder on the way)."""
    for path in python_paths():
        for folder in [Path(path), *Path(path).parents]:
            try:
                if not folder.stat().st_mode & 0o001:
                    return False
            except OSError:
                return False
    return True


def python_paths() -> List[str]:
    """Folders the sandbox must show read-only so that this Python, its packages and labutils work."""
    import labutils

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
             str(Path(labutils.__file__).resolve().parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(sysconfig.get_paths()[key])
    for entry in sys.path:  # site-packages and the like; never a whole project folder (it may hold submissions)
        if entry and "-packages" in entry and os.path.isdir(entry):
            paths.add(entry)
    keep = sorted(p for p in paths if p and os.path.isdir(p) and p != "/")
    return [p for p in keep if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in keep)]


def labutils_parent() -> str:
    """The folder that holds labutils (the PYTHONPATH of the sandboxed processes)."""
    import labutils

    return str(Path(labutils.__file__).resolve().parent.parent)


def bwrap_prefix(root: bool, tmp_bytes: int = 64 * MiB) -> List[str]:
    """bwrap arguments: system folders and Python read-only, a fresh /tmp of `tmp_bytes` bytes, no network."""
    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--hostname", "grader"]
    if not root:
        argv.append("--unshare-user")
    for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    # /tmp first: Python or labutils may live under /tmp (a test, an unpacked autograder) and are bound over it
    argv += ["--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    paths = python_paths()
    ancestors = sorted({str(a) for p in paths for a in Path(p).parents if str(a) != "/"}, key=lambda a: a.count("/"))
    for folder in ancestors:  # bwrap would make them 0700: the kernel's uid must pass through
        if folder != "/tmp" and not any(folder == f"/{n}" or folder.startswith(f"/{n}/")
                                        for n in ("usr", "etc", "lib", "lib64", "bin")):
            argv += ["--perms", "0755", "--dir", folder]
    for path in paths:
        argv += ["--ro-bind", path, path]
    argv += ["--chdir", "/tmp", "--"]
    return argv


def unshare_prefix() -> List[str]:
    """unshare arguments: new network, PID, IPC and UTS namespaces, killed with the worker."""
    return ["unshare", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc", "--"]


ENV_KEEP = ("LANG", "LC_ALL", "TZ")


def sandbox_env(home: str, threads: Optional[int]) -> Dict[str, str]:
    """The allowlisted environment of the worker, the kernel and the probe process (nothing else passes)."""
    from labutils.params import SMALL_ENV

    path = os.pathsep.join(dict.fromkeys([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]))
    env = {"PATH": path, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", SMALL_ENV: "1",
           "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": labutils_parent(), "JUPYTER_PLATFORM_DIRS": "1", "PYTHONUNBUFFERED": "1"}
    env.update({k: os.environ[k] for k in ENV_KEEP if k in os.environ})
    threads = str(threads or 1)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[name] = threads
    return env


def fresh_uid() -> int:
    """An unused uid for one notebook's kernel (so RLIMIT_NPROC counts only its own processes)."""
    taken = set()
    try:
        import pwd

        taken = {p.pw_uid for p in pwd.getpwall()}
    except (ImportError, KeyError):
        pass
    while True:
        uid = 200_000 + secrets.randbelow(1_000_000)
        if uid not in taken:
            return uid


# Runs first in each kernel and probe process: set the limits, drop to the uid, exec the real command.
LAUNCHER = """import os, resource, sys
uid, memory, cpu, fsize, nproc = (int(v) for v in sys.argv[1:6])
for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_FSIZE, fsize),
                     (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(limit, (value, value))
if uid >= 0:
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
os.execv(sys.argv[6], sys.argv[6:])
"""


def launch_prefix(limits: Limits, uid: int) -> List[str]:
    """Command prefix that applies `limits` and (uid >= 0) becomes `uid` before running the rest."""
    return [sys.executable, "-S", "-c", LAUNCHER, str(uid), str(limits.memory), str(int(limits.cpu)),
            str(limits.file_size), str(limits.processes)]


def descendants(pid: int) -> List[int]:
    """PIDs whose ancestry leads to `pid` (Linux /proc), deepest last."""
    parents: Dict[int, int] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier and p not in found]
        found += children
        frontier = children
    return found


def kill_tree(process: subprocess.Popen) -> None:
    """Kill the worker's process group, every descendant and its session (what a submission started)."""
    pids = [process.pid] + descendants(process.pid)
    try:
        session = os.getsid(process.pid)
    except OSError:
        session = None
    for _ in range(3):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if session is not None:  # setsid'd grandchildren left the group but keep the session... unless they setsid again
            for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
                if entry.name.isdigit() and int(entry.name) != os.getpid():
                    try:
                        if os.getsid(int(entry.name)) == session:
                            os.kill(int(entry.name), signal.SIGKILL)
                    except OSError:
                        pass
        pids = descendants(process.pid)
        if not pids:
            break
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def run_worker(request: Dict, payload: bytes, limits: Limits, timeout: float, threads: Optional[int]) -> Tuple[Optional[bytes], str]:
    """Run labutils.grading.worker in the sandbox with `request` (JSON) and `payload` (bytes) on its stdin.

    Returns (the worker's answer, or None, and a reason when there is none). Kills all it started."""
    isolation = detect()
    home = "/tmp"
    tmp_root = None
    if isolation.mode == "bwrap":
        prefix = bwrap_prefix(isolation.root, max(limits.file_size, 64 * MiB))
    else:
        import tempfile

        tmp_root = tempfile.mkdtemp(prefix="labutils-grade-")
        os.chmod(tmp_root, 0o711)
        home = tmp_root
        prefix = unshare_prefix() if isolation.mode == "unshare" else []
    request = {**request, "home": home, "limits": asdict(limits), "threads": threads,
               "uid": fresh_uid() if isolation.root else -1}
    message = json.dumps(request).encode()
    data = len(message).to_bytes(8, "big") + message + len(payload).to_bytes(8, "big") + payload
    argv = prefix + [sys.executable, "-m", "labutils.grading.worker"]
    try:
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=sandbox_env(home, threads), cwd=home, start_new_session=True)
    except OSError as error:
        return None, f"the grader could not start its worker ({error})"
    try:
        out, err = process.communicate(data, timeout=timeout)
        if os.environ.get("LABUTILS_GRADER_DEBUG"):
            print(err.decode("utf-8", "replace")[-3000:], file=sys.stderr)
        reason = ""
        if process.returncode != 0:
            tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
            reason = f"the grading worker stopped with status {process.returncode}" + (f": {' / '.join(tail)}"[:400] if tail else "")
        return (out if out else None), reason
    except subprocess.TimeoutExpired:
        return None, f"the notebook ran over the total timeout of {timeout:g} s and was stopped"
    finally:
        kill_tree(process)
        if tmp_root:
            shutil.rmtree(tmp_root, ignore_errors=True)
