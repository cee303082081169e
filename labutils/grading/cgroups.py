"""One notebook's memory and processes, counted together: a cgroup per notebook (Linux).

The per-process limits (sandbox.Limits) miss memory no process maps (memfd, files in the sandbox's
/tmp), a kernel's children and the worker's buffers. A cgroup counts them all: the grader makes one
per notebook with `memory` = --memory bytes and `pids` = --max-processes + PID_SLACK (the worker's
and bubblewrap's own threads), starts both sandboxes of the notebook inside it, reads its events
afterwards ("oom_kill", "max") and removes it.

Where it goes (find_tree, once per process):
  * cgroup v2 (current systems): a child of the grader's own cgroup when that one has the memory and
    pids controllers in its subtree_control (the root cgroup, or a delegated subtree); when the
    grader is alone in its cgroup it first moves itself into a leaf (labutils-grader-PID) so that
    the controllers can be enabled there;
  * cgroup v1 (/sys/fs/cgroup/memory and /sys/fs/cgroup/pids): a child of the grader's own cgroup
    in each hierarchy (root can always make one);
  * else none, with the reason (the grader prints it once as a gap).
Every function takes the paths it reads, so tests can run it on a fake tree in a temporary folder.
"""
from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

PID_SLACK = 64  # the worker's threads, bubblewrap, the launcher: on top of --max-processes


@dataclass(frozen=True)
class Tree:
    """Where notebook cgroups are made: version 1 or 2, and the parent folder of each controller."""

    version: int
    parents: Dict[str, Path] = field(default_factory=dict)  # "memory"/"pids" -> folder (v2: the same one)


def _mounts(mountinfo: str) -> List[Tuple[str, str, str, str]]:
    """(root, mount point, fstype, super options) of each line of /proc/self/mountinfo."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        if dash >= 5 and len(fields) > dash + 3:
            found.append((fields[3], fields[4], fields[dash + 1], fields[dash + 3]))
    return found


def _membership(cgroup_file: str) -> Dict[str, str]:
    """{controller or "" (v2): path} from /proc/self/cgroup."""
    paths = {}
    for line in cgroup_file.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for name in parts[1].split(",") if parts[1] else [""]:
                paths[name] = parts[2]
    return paths


def _folder(mount_point: str, mount_root: str, path: str, prefix: Path) -> Path:
    """The folder of cgroup `path` under a mount of the hierarchy whose root is `mount_root`."""
    if mount_root != "/" and (path == mount_root or path.startswith(mount_root.rstrip("/") + "/")):
        path = path[len(mount_root):]
    return prefix / mount_point.lstrip("/") / path.lstrip("/")


def _read(path: Path) -> str:
    """The text of a cgroup file, or '' when it cannot be read."""
    try:
        return path.read_text()
    except OSError:
        return ""


def _v2_parent(folder: Path, pid: int) -> Tuple[Optional[Path], str]:
    """The v2 folder to make notebook cgroups in (enabling memory and pids there), or None and why.

    A cgroup with processes in it cannot enable controllers for children (except the root): when the
    grader is its only process, the grader first moves into a leaf of its own (labutils-grader-PID)."""
    wanted = {"memory", "pids"}
    if not wanted <= set(_read(folder / "cgroup.controllers").split()):
        return None, f"cgroup v2 offers no memory and pids controllers at {folder}"
    if wanted <= set(_read(folder / "cgroup.subtree_control").split()):
        return folder, ""
    members = _read(folder / "cgroup.procs").split()
    if members and members != [str(pid)] and (folder / "cgroup.type").exists():  # not the root cgroup
        return None, (f"cgroup v2: {folder} holds other processes, so its memory and pids controllers cannot be "
                      "enabled for children (run the grader in a delegated cgroup of its own, e.g. systemd-run "
                      "--scope -p Delegate=yes)")
    try:
        if members == [str(pid)] and (folder / "cgroup.type").exists():
            leaf = folder / f"labutils-grader-{pid}"
            leaf.mkdir(exist_ok=True)
            (leaf / "cgroup.procs").write_text(str(pid))
        (folder / "cgroup.subtree_control").write_text("+memory +pids")
        return folder, ""
    except OSError as error:
        return None, f"cgroup v2: cannot enable memory and pids at {folder} ({error.strerror or error})"


def find_tree(prefix: Path = Path("/"), pid: Optional[int] = None) -> Tuple[Optional[Tree], str]:
    """The cgroup tree this process may make notebook cgroups in, or (None, why not). Paths below `prefix`."""
    pid = os.getpid() if pid is None else pid
    mounts = _mounts(_read(prefix / "proc/self/mountinfo"))
    member = _membership(_read(prefix / "proc/self/cgroup"))
    reasons = []
    for root, point, fstype, _ in mounts:
        if fstype == "cgroup2" and "" in member:
            folder = _folder(point, root, member[""], prefix)
            if os.access(folder, os.W_OK):
                parent, reason = _v2_parent(folder, pid)
                if parent is not None:
                    return Tree(2, {"memory": parent, "pids": parent}), ""
                reasons.append(reason)
            else:
                reasons.append(f"cgroup v2 at {folder} is not writable (not root, no delegated subtree)")
    parents = {}
    for root, point, fstype, options in mounts:
        for controller in ("memory", "pids"):
            if fstype == "cgroup" and controller in options.split(",") and controller in member:
                folder = _folder(point, root, member[controller], prefix)
                if os.access(folder, os.W_OK):
                    parents.setdefault(controller, folder)
    if "memory" in parents:
        return Tree(1, parents), ""
    if not mounts or not any(m[2] in ("cgroup", "cgroup2") for m in mounts):
        reasons.append("no cgroup file system is mounted")
    elif not reasons:
        reasons.append("the cgroup v1 memory hierarchy is not writable (not root)")
    return None, "; ".join(reasons)


class NotebookCgroup:
    """One notebook's cgroup: made with its limits, joined by the sandboxes, read, killed, removed."""

    def __init__(self, tree: Tree, memory: int, processes: int):
        name = f"labutils-{os.getpid()}-{secrets.token_hex(4)}"
        self.version = tree.version
        self.folders: Dict[str, Path] = {}
        for controller, parent in tree.parents.items():
            folder = parent / name
            if folder not in self.folders.values():
                folder.mkdir()
            self.folders[controller] = folder
        self.memory = memory
        self._write_limits(memory, processes + PID_SLACK)

    def _write_limits(self, memory: int, pids: int) -> None:
        """memory.max/pids.max (v2) or memory.limit_in_bytes (+ memsw)/pids.max (v1)."""
        memory_folder = self.folders["memory"]
        if self.version == 2:
            (memory_folder / "memory.max").write_text(str(memory))
            if (memory_folder / "memory.swap.max").exists():
                (memory_folder / "memory.swap.max").write_text("0")
        else:
            (memory_folder / "memory.limit_in_bytes").write_text(str(memory))
            if (memory_folder / "memory.memsw.limit_in_bytes").exists():
                (memory_folder / "memory.memsw.limit_in_bytes").write_text(str(memory))
        if "pids" in self.folders:
            (self.folders["pids"] / "pids.max").write_text(str(pids))

    def procs_files(self) -> List[str]:
        """The cgroup.procs files a process writes its PID into to join (one per hierarchy)."""
        return sorted({str(folder / "cgroup.procs") for folder in self.folders.values()})

    def join_prefix(self) -> List[str]:
        """A command prefix that puts the command's process into this cgroup before it runs."""
        script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *self.procs_files(), "--"]

    def events(self) -> Dict[str, int]:
        """{"oom_kill": times the memory limit killed a process, "pids_max": forks refused at the limit}."""
        memory_folder = self.folders["memory"]
        memory_events = _read(memory_folder / ("memory.events" if self.version == 2 else "memory.oom_control"))
        counts = {"oom_kill": _count(memory_events, "oom_kill"), "pids_max": 0}
        if "pids" in self.folders:
            counts["pids_max"] = _count(_read(self.folders["pids"] / "pids.events"), "max")
        return counts

    def pids(self) -> List[int]:
        """The processes in the cgroup now."""
        found = set()
        for path in self.procs_files():
            found.update(int(p) for p in _read(Path(path)).split() if p.isdigit())
        return sorted(found)

    def kill(self) -> None:
        """Kill every process in the cgroup (v2: cgroup.kill where the kernel has it)."""
        kill_file = self.folders["memory"] / "cgroup.kill"
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            if self.version == 2 and kill_file.exists():
                try:
                    kill_file.write_text("1")
                except OSError:
                    pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        """Kill what is left and remove the cgroup's folders."""
        self.kill()
        for folder in set(self.folders.values()):
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # still populated for a moment after the last process died
                    time.sleep(0.02)


def _count(text: str, key: str) -> int:
    """The number after `key` in a 'key value' per line cgroup file (0 when absent)."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return 0
