"""Where `grade --jobs N` runs the notebooks: N pool processes of the grader, each grading one notebook at a
time, that may die without taking the batch with them.

A pool process killed from outside (the kernel's out-of-memory killer, a crash) loses only the notebook
it held: that notebook is graded once more in a fresh process, and if that one dies too it is reported
with the reason; every other notebook keeps its grade. With a `deadline` (Gradescope's total time),
what has not finished by then is stopped and reported, so the results are always written.
The processes are spawned, not forked (torch and fork do not mix), and reused from one notebook to the
next. (Each one starts the notebook's sandboxed grading worker, worker.py: a different process.)
"""
from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import signal
import time
import traceback
from typing import Callable, Deque, List, Optional, Sequence, Tuple

RETRIES = 1  # a notebook whose worker died is graded once more
Outcome = Tuple[str, object]  # ("ok", the function's result), ("error", traceback text) or ("lost", why)


def _serve(connection) -> None:
    """A worker's loop: receive (function, args), send back ("ok", result) or ("error", the traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle: it stops the workers
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        function, args = task
        try:
            outcome: Outcome = ("ok", function(*args))
        except Exception:  # noqa: BLE001 - a grader bug costs this notebook, reported, not the worker
            outcome = ("error", traceback.format_exc())
        connection.send(outcome)


def death(exitcode: Optional[int]) -> str:
    """How a worker process ended, in words: 'killed by SIGKILL (...)' or 'exited with status 3'."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (what the out-of-memory killer sends: try fewer --jobs or a lower --memory)" \
            if -exitcode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exited with status {exitcode}"


class _Worker:
    """One worker process and the pipe to it; `task` is the index of the notebook it holds (or None)."""

    def __init__(self, context):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True, name="labutils-grading-worker")
        self.process.start()
        child.close()
        self.task: Optional[int] = None

    def stop(self) -> None:
        """Ask the worker to end; kill it if it does not within a few seconds."""
        try:
            self.connection.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout=5 if self.task is None else 0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.connection.close()


class _Run:
    """The bookkeeping of one run_tasks call: what waits, who holds what, what came back."""

    def __init__(self, function: Callable, tasks: Sequence[tuple], jobs: int, on_done):
        self.function, self.tasks, self.on_done = function, list(tasks), on_done
        self.jobs = max(1, min(jobs, len(self.tasks)))
        self.waiting: Deque[int] = collections.deque(range(len(self.tasks)))
        self.deaths = [0] * len(self.tasks)
        self.outcomes: List[Optional[Outcome]] = [None] * len(self.tasks)
        self.workers: List[_Worker] = []
        self.context = multiprocessing.get_context("spawn")

    def finish(self, index: int, outcome: Outcome) -> None:
        """Record a notebook's outcome and tell the caller."""
        self.outcomes[index] = outcome
        if self.on_done is not None:
            self.on_done(index, outcome)

    def hand_out(self) -> None:
        """Give each idle worker (starting one when fewer than `jobs` live) the next waiting notebook."""
        while self.waiting:
            idle = next((w for w in self.workers if w.task is None), None)
            if idle is None:
                if len(self.workers) >= self.jobs:
                    return
                idle = _Worker(self.context)
                self.workers.append(idle)
            index = self.waiting.popleft()
            try:
                idle.connection.send((self.function, self.tasks[index]))
                idle.task = index
            except (OSError, ValueError):  # died while idle: forget it, the notebook waits for another
                self.waiting.appendleft(index)
                self.bury(idle)

    def bury(self, worker: _Worker) -> None:
        """A worker died: retry its notebook once, or report it lost with the reason."""
        worker.process.join(timeout=5)
        self.workers.remove(worker)
        worker.connection.close()
        index, worker.task = worker.task, None
        if index is None:
            return
        self.deaths[index] += 1
        if self.deaths[index] <= RETRIES:
            self.waiting.append(index)
        else:
            self.finish(index, ("lost", f"the grader's process grading it died {self.deaths[index]} times, the last "
                                        f"time {death(worker.process.exitcode)}"))

    def collect(self, timeout: Optional[float]) -> None:
        """Wait for a result or a death (at most `timeout` seconds) and handle what happened."""
        busy = [w for w in self.workers if w.task is not None]
        multiprocessing.connection.wait([w.connection for w in busy] + [w.process.sentinel for w in busy], timeout)
        for worker in busy:
            try:
                answer = worker.connection.recv() if worker.connection.poll() else None
            except (EOFError, OSError):  # the pipe closed: the worker is gone
                self.bury(worker)
                continue
            if answer is not None:
                index, worker.task = worker.task, None
                self.finish(index, answer)
            elif not worker.process.is_alive():
                self.bury(worker)

    def stop_all(self, reason: Optional[str] = None) -> None:
        """Stop every worker; with a reason, report every notebook not finished with it."""
        for worker in self.workers:
            worker.stop()
        self.workers = []
        for index, outcome in enumerate(self.outcomes):
            if outcome is None and reason:
                self.finish(index, ("lost", reason))


def run_tasks(function: Callable, tasks: Sequence[tuple], jobs: int, on_done: Optional[Callable] = None,
              deadline: Optional[float] = None, late: str = "the total time ran out") -> List[Outcome]:
    """function(*args) for each args of `tasks`, in `jobs` worker processes: one outcome per task, in order.

    function must be importable by name (the workers are spawned). on_done(index, outcome) is called
    as each task ends. deadline: a time.monotonic() after which what is left is stopped and reported
    with `late`."""
    run = _Run(function, tasks, jobs, on_done)
    ended = False
    try:
        while run.waiting or any(w.task is not None for w in run.workers):
            if deadline is not None and time.monotonic() >= deadline:
                break
            run.hand_out()
            run.collect(None if deadline is None else max(0.0, deadline - time.monotonic()))
        ended = True
    finally:
        run.stop_all(late if ended else None)  # Ctrl-C or an error: stop the workers, report nothing
    return [outcome for outcome in run.outcomes if outcome is not None]
