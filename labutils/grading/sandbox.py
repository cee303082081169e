"""Bounded, isolated runs of untrusted code (Linux): which isolation this machine allows, the limits,
and how one phase of a notebook is started inside them.

A notebook is graded in two phases, each in a sandbox of its own (phases.py): the kernel phase
(worker.py runs the cells) and the probe phase (a fresh process re-runs the definitions and probes
them). Each sandbox is
  * bubblewrap (`bwrap`), when installed: new network, PID, IPC and UTS namespaces, a read-only view of
    the system and of Python (no /work, no home, no submissions, no --out folder), a /tmp of its own of
    bounded size (Phase.tmp_mode), killed with its first process; the probe phase sees the student
    view of labutils (view.py) over every copy of labutils it shows;
  * else, as root, `unshare`: new network, PID, IPC and UTS namespaces (the file system is the machine's);
  * else nothing but a new session, the limits and a sweep of the descendants.
As root, a sandbox keeps only the capabilities its phase needs (Phase.caps: bubblewrap's --cap-drop ALL,
setpriv's bounding set), gains no new privileges, and runs the student's code as a fresh unprivileged
uid (LAUNCHER). Every Python the grader starts is isolated (`-I`: no PYTHONPATH, no script or working
folder on sys.path) and starts in "/", never in a folder a student can write; labutils comes on its
sys.path explicitly (python_argv). Both phases of a notebook run in the notebook's cgroup when the
machine offers one (cgroups.py).
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from labutils.grading.cgroups import Tree, find_tree
from labutils.grading.processes import Finished, communicate_bounded, kill_tree

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
class Phase:
    """How one phase's sandbox differs: the capabilities it keeps as root (all others are dropped before any
    student file exists), the mode of its /tmp with bubblewrap, and whether it sees the student view of labutils."""

    name: str
    caps: Tuple[str, ...]
    tmp_mode: str
    student_view: bool


# The worker makes the kernel's folders, becomes its uid and kills its processes; /tmp is the kernel's to use,
# as on any Linux (root's folders there are made before the kernel starts, under names it cannot guess).
KERNEL_PHASE = Phase("kernel", ("chown", "kill", "setgid", "setuid"), "1777", False)
# The launcher makes the probe process's folder and becomes its uid; /tmp is root's.
PROBE_PHASE = Phase("probe", ("chown", "setgid", "setuid"), "0755", True)


@dataclass(frozen=True)
class Isolation:
    """What this machine allows: mode 'bwrap', 'unshare' or 'none'; root (can drop to another uid);
    the cgroup tree of the notebooks' memory bound (None: cgroup_gap says why); setpriv (as root, the
    capabilities are dropped with setpriv; without a uid to drop to, all of them)."""

    mode: str
    root: bool
    cgroup: Optional[Tree] = None
    cgroup_gap: str = ""
    setpriv: bool = False

    def not_isolated(self) -> List[str]:
        """What is NOT isolated here, in words (empty when everything is)."""
        gaps = []
        if self.mode == "none":
            gaps.append("network (the notebooks can open connections)")
            gaps.append("processes (a process a notebook starts is killed by a sweep, not by a namespace)")
        if self.mode != "bwrap":
            gaps.append("file system (notebooks can read, and write where this user may, outside their "
                        "temporary folder, labutils' reference code included; install bubblewrap for a "
                        "read-only view without it)")
        if not self.root:
            gaps.append("user (the kernels run as your user: not root, so no unprivileged uid and no "
                        "process-count limit)")
        elif self.mode != "bwrap" and not self.setpriv:
            gaps.append("capabilities (no setpriv: the grader's processes keep all of root's)")
        if self.cgroup is None:
            gaps.append(f"memory per notebook (no cgroup: {self.cgroup_gap}; --memory bounds each process's "
                        "address space, not shared memory or the sum of a notebook's processes)")
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
    linux = sys.platform.startswith("linux")
    root = linux and os.geteuid() == 0
    setpriv = root and shutil.which("setpriv") is not None and _works(["setpriv", "--no-new-privs", "true"])
    forced = os.environ.get("LABUTILS_SANDBOX", "").strip().lower()
    mode = "none"
    if linux:
        true = shutil.which("true") or "/bin/true"
        probe = Isolation("bwrap", root, setpriv=setpriv)
        if forced in ("", "bwrap") and shutil.which("bwrap") and _works(sandbox_prefix(probe, KERNEL_PHASE) + [true]):
            mode = "bwrap"
        elif forced in ("", "bwrap", "unshare") and root and shutil.which("unshare") and _works(unshare_prefix() + [true]):
            mode = "unshare"
    if root and mode != "bwrap" and not _others_can_run_python():
        root = False  # e.g. Python under /root (0700): another uid could not start it without bwrap's view
    tree, gap = find_tree() if linux else (None, "not Linux")
    _DETECTED = Isolation(mode, root, tree, gap, setpriv)
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
    """The folder that holds labutils (put first on the sys.path of every Python the grader starts)."""
    import labutils

    return str(Path(labutils.__file__).resolve().parent.parent)


def labutils_copies(paths: Sequence[str]) -> List[str]:
    """Every copy of labutils the sandbox shows: the one this grader runs, and any labutils/ in `paths`."""
    import labutils

    copies = {str(Path(labutils.__file__).resolve().parent)}
    for path in paths:
        candidate = Path(path) / "labutils"
        if (candidate / "__init__.py").is_file():
            copies.add(str(candidate.resolve()))
    return sorted(copies)


def _cap_flags(isolation: Isolation, phase: Phase) -> List[str]:
    """bwrap's flags that keep only the phase's caps (and CAP_SETPCAP for setpriv's bounding set), as root."""
    if not isolation.root:
        return []
    keep = list(phase.caps) + (["setpcap"] if isolation.setpriv else [])
    return ["--cap-drop", "ALL"] + [flag for cap in keep for flag in ("--cap-add", f"CAP_{cap.upper()}")]


def bwrap_prefix(isolation: Isolation, phase: Phase, tmp_bytes: int = 64 * MiB,
                 view: Optional[Path] = None) -> List[str]:
    """bwrap arguments: system folders and Python read-only (labutils replaced by `view`, when given), a /tmp
    of its own of `tmp_bytes` bytes, no network, only the phase's capabilities."""
    argv = ["bwrap", "--die-with-parent", "--new-session", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--hostname", "grader", *_cap_flags(isolation, phase)]
    if not isolation.root:
        argv.append("--unshare-user")
    for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc"):
        path = Path("/") / name
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    # /tmp first: Python or labutils may live under /tmp (a test, an unpacked autograder) and are bound over it
    argv += ["--dev", "/dev", "--proc", "/proc", "--perms", phase.tmp_mode, "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    paths = python_paths()
    ancestors = sorted({str(a) for p in paths for a in Path(p).parents if str(a) != "/"}, key=lambda a: a.count("/"))
    for folder in ancestors:  # bwrap would make them 0700: the kernel's uid must pass through
        if folder != "/tmp" and not any(folder == f"/{n}" or folder.startswith(f"/{n}/")
                                        for n in ("usr", "etc", "lib", "lib64", "bin")):
            argv += ["--perms", "0755", "--dir", folder]
    for path in paths:
        argv += ["--ro-bind", path, path]
    for copy in labutils_copies(paths) if view else ():
        argv += ["--ro-bind", str(view), copy]
    return argv + ["--chdir", "/", "--"]


# unshare's new network namespace has its loopback down (bubblewrap brings it up): up it goes, then exec.
LOOPBACK_UP = """import fcntl, os, socket, struct, sys
with socket.socket() as sock:
    flags = struct.unpack("16sH", fcntl.ioctl(sock, 0x8913, struct.pack("16sH", b"lo", 0))[:18])[1]
    fcntl.ioctl(sock, 0x8914, struct.pack("16sH", b"lo", flags | 1))
os.execvp(sys.argv[1], sys.argv[1:])
"""


def unshare_prefix() -> List[str]:
    """unshare arguments: new network (loopback up), PID, IPC and UTS namespaces, killed with the worker."""
    return ["unshare", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc", "--",
            sys.executable, "-I", "-S", "-c", LOOPBACK_UP]


def setpriv_prefix(caps: Sequence[str]) -> List[str]:
    """setpriv arguments: only `caps` in the bounding set, none inheritable, no new privileges."""
    return ["setpriv", "--no-new-privs", "--inh-caps=-all", "--bounding-set=" + ",".join(["-all"] + [f"+{c}" for c in caps]),
            "--"]


def sandbox_prefix(isolation: Isolation, phase: Phase, tmp_bytes: int = 64 * MiB,
                   view: Optional[Path] = None) -> List[str]:
    """The command prefix of one sandbox of this isolation for `phase` (as root, only its capabilities)."""
    prefix = {"bwrap": lambda: bwrap_prefix(isolation, phase, tmp_bytes, view), "unshare": unshare_prefix,
              "none": list}[isolation.mode]()
    return prefix + (setpriv_prefix(phase.caps if isolation.root else ()) if isolation.setpriv else [])


ENV_KEEP = ("LANG", "LC_ALL", "TZ")


def sandbox_env(home: str, threads: Optional[int], pythonpath: Optional[str] = None) -> Dict[str, str]:
    """The allowlisted environment of the worker, the kernel and the probe process (nothing else passes).

    PYTHONPATH (labutils' folder) is for the programs a notebook starts: the grader's own Pythons ignore it (-I)."""
    from labutils.params import SMALL_ENV

    path = os.pathsep.join(dict.fromkeys([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]))
    env = {"PATH": path, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", SMALL_ENV: "1",
           "CUDA_VISIBLE_DEVICES": "", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": pythonpath or labutils_parent(), "JUPYTER_PLATFORM_DIRS": "1", "PYTHONUNBUFFERED": "1"}
    env.update({k: os.environ[k] for k in ENV_KEEP if k in os.environ})
    threads = str(threads or 1)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[name] = threads
    return env


def fresh_uid() -> int:
    """An unused uid for one phase of one notebook (so RLIMIT_NPROC counts only its own processes)."""
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


def python_argv(code: str, path: str, *args: str) -> List[str]:
    """This Python, isolated (-I), running `code` with `path` (labutils' folder) first on its sys.path."""
    return [sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv.pop(1))\n" + code, path, *args]


# Runs first in each kernel and probe process (isolated, no site): set the limits, make the process's own
# new folder, become the uid, go into the folder, exec the real command. It starts in "/", as root.
LAUNCHER = """import os, resource, sys
uid, memory, cpu, fsize, nproc = (int(v) for v in sys.argv[1:6])
home = sys.argv[6]
for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_FSIZE, fsize),
                     (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(limit, (value, value))
try:
    with open("/proc/self/oom_score_adj", "w") as adj:
        adj.write("1000")
except OSError:
    pass
os.mkdir(home, 0o700)
if uid >= 0:
    os.chown(home, uid, uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
os.chdir(home)
os.execv(sys.argv[7], sys.argv[7:])
"""


def launch_prefix(limits: Limits, uid: int, home: str) -> List[str]:
    """Command prefix that applies `limits`, makes the new folder `home`, becomes `uid` (>= 0) and goes there."""
    return [sys.executable, "-I", "-S", "-c", LAUNCHER, str(uid), str(limits.memory), str(int(limits.cpu)),
            str(limits.file_size), str(limits.processes), home]


@contextmanager
def phase_folder() -> Iterator[str]:
    """The temporary folder of one sandboxed phase: /tmp of its own with bubblewrap, else a fresh one (0711)."""
    if detect().mode == "bwrap":
        yield "/tmp"
        return
    folder = tempfile.mkdtemp(prefix="labutils-grade-")
    os.chmod(folder, 0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_sandboxed(argv: List[str], data: bytes, timeout: float, env: Dict[str, str], phase: Phase, limits: Limits,
                  max_out: int, cgroup=None) -> Finished:
    """Run `argv` in a sandbox of its own for `phase` (in `cgroup`, when given) with `data` on its stdin; kill all
    it started. Its stdout: at most `max_out` bytes."""
    from labutils.grading.view import student_view

    isolation = detect()
    view = student_view() if phase.student_view else None
    prefix = (cgroup.join_prefix() if cgroup else []) + sandbox_prefix(
        isolation, phase, max(limits.file_size, 64 * MiB), view)
    try:
        process = subprocess.Popen(prefix + argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env, cwd="/", start_new_session=True)
    except OSError as error:
        return Finished(None, b"", f"could not start: {error}".encode())
    try:
        return communicate_bounded(process, data, timeout, max_out)
    finally:
        kill_tree(process)
        if cgroup:
            cgroup.kill()
