"""Processes the grader starts: talk to one with bounded output, find what it started, kill all of it."""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

ERR_KEPT = 64 * 1024  # bytes of a process's stderr kept (its tail)


@dataclass
class Finished:
    """How a bounded process ended: exit status (None if killed by us), its stdout, its stderr's tail."""

    returncode: Optional[int]
    out: bytes
    err: bytes
    timed_out: bool = False
    overflow: bool = False  # it wrote more than the grader reads: stopped


def communicate_bounded(process: subprocess.Popen, data: bytes, timeout: float, max_out: int) -> Finished:
    """Write `data` to stdin, read stdout (at most `max_out` bytes, else kill) and stderr until exit or `timeout`.

    Stops reading two seconds after the process exits even if something it started holds its pipes."""
    deadline = time.monotonic() + timeout
    out, err, pending = bytearray(), bytearray(), memoryview(data)
    selector = selectors.DefaultSelector()
    os.set_blocking(process.stdin.fileno(), False)
    selector.register(process.stdin, selectors.EVENT_WRITE)
    for stream in (process.stdout, process.stderr):
        selector.register(stream, selectors.EVENT_READ)
    timed_out = overflow = False
    exited = None
    while selector.get_map() and not overflow:
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        if exited is None and process.poll() is not None:
            exited = now
        if exited is not None and now - exited > 2:
            break
        for key, _ in selector.select(min(deadline - now, 0.5)):
            if key.fileobj is process.stdin:
                try:
                    pending = pending[os.write(key.fd, pending[:65536]):]
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    pending = pending[:0]
                if not pending:
                    selector.unregister(key.fileobj)
                    key.fileobj.close()
                continue
            chunk = os.read(key.fd, 1 << 20)
            if not chunk:
                selector.unregister(key.fileobj)
            elif key.fileobj is process.stdout:
                out += chunk
                overflow = len(out) > max_out
            else:
                err = (err + chunk)[-ERR_KEPT:]
    selector.close()
    if timed_out or overflow:
        process.kill()
    for stream in (process.stdin, process.stdout, process.stderr):
        stream.close()
    try:
        returncode = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        returncode = None
    return Finished(returncode, bytes(out[:max_out]), bytes(err), timed_out, overflow)


def _parents() -> Dict[int, int]:
    """{pid: parent pid} of every process (Linux /proc)."""
    parents: Dict[int, int] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def descendants(pid: int) -> List[int]:
    """PIDs whose ancestry leads to `pid` (Linux /proc), deepest last."""
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier and p not in found]
        found += children
        frontier = children
    return found


def uid_pids(uid: int) -> List[int]:
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


def _kill(pids: List[int]) -> None:
    """SIGKILL each of `pids`, ignoring those already gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def kill_tree(process: subprocess.Popen) -> None:
    """Kill the process's group, every descendant and its session (what a submission started)."""
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
        _kill(pids)
        if session is not None:  # setsid'd grandchildren left the group but keep the session... unless they setsid again
            _kill([int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and int(e.name) != os.getpid()
                   and _session(int(e.name)) == session] if Path("/proc").is_dir() else [])
        pids = descendants(process.pid)
        if not pids:
            break
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _session(pid: int) -> Optional[int]:
    """The session id of `pid`, or None when it is gone."""
    try:
        return os.getsid(pid)
    except OSError:
        return None


def sweep(uid: int) -> None:
    """Kill every process of `uid` (as root), else every descendant of this process."""
    for _ in range(5):
        pids = uid_pids(uid) if uid >= 0 else descendants(os.getpid())
        pids = [p for p in pids if p != os.getpid()]
        if not pids:
            return
        _kill(pids)
        time.sleep(0.05)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
