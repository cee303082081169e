"""How many CPU threads training uses: measured, not assumed.

PyTorch's threads wait for one another at every operation. On a quiet machine two threads
beat one, but when another program keeps a core busy, the thread that shares it holds back
the other, and a step can take many times longer than on one thread. `ThreadChooser` times
a few real training steps at each candidate count, now and again during the run, and trains
at the faster; `train(..., threads=N)` (the CLI's `--threads N`) fixes the count instead.
Training says its choice once per process (`thread_chooser`), in the words of the caller:
a notebook's `threads=` argument, or the CLI's flag after `speak_to("cli")`.
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch

RECHECK_SECONDS = 60.0  # measure again after this much training time (the machine's load changes) ...
MAX_RECHECK_SECONDS = 480.0  # ... and twice as long after each check that changed nothing, up to this
TRIAL_STEPS = 3  # steps timed at each candidate; the first after a change is left out (warm-up)
SLOW_FACTOR = 2.0  # a trial step this many times slower than the best count so far ends that count's trial
HOW_TO_FIX = {"python": "train(..., threads={n})", "cli": "--threads {n}"}  # how each audience fixes the count
_audience = "python"
_said = False  # whether this process has said its thread choice


def speak_to(audience: str) -> None:
    """Word the thread messages for `audience`: "python" (notebooks, scripts) or "cli"."""
    if audience not in HOW_TO_FIX:
        raise ValueError(f"audience must be one of {sorted(HOW_TO_FIX)}, got {audience!r}.")
    global _audience
    _audience = audience


def how_to_fix(n="N") -> str:
    """How the current audience fixes the thread count: 'train(..., threads=N)' or '--threads N'."""
    return HOW_TO_FIX[_audience].format(n=n)


def candidate_threads(default: Optional[int] = None, cpus: Optional[int] = None) -> List[int]:
    """Thread counts worth trying: 1, 2 and PyTorch's default, none above the CPU count."""
    cpus = cpus or os.cpu_count() or 1
    default = default or torch.get_num_threads()
    return sorted({n for n in (1, 2, default) if 1 <= n <= cpus})


class ThreadChooser:
    """Runs training steps, timing them at each candidate thread count and keeping the faster.

    `run(step)` runs one step (a callable returning its loss) and returns what it returned.
    A trial phase runs TRIAL_STEPS + 1 steps at each candidate (all of them real training
    steps), the current count first, then training goes on at the count with the lowest
    median step time until `recheck_s` seconds later, when the next phase begins (twice as
    late after a phase that changed nothing, up to MAX_RECHECK_SECONDS). A step more than
    SLOW_FACTOR times slower than the best median so far ends its count's trial at once, so
    a check on a busy machine costs about one slow step. `fixed` sets one count and never
    measures. `clock`, `set_threads` and `say` are injectable for tests.
    """

    def __init__(self, candidates: Sequence[int], fixed: Optional[int] = None,
                 recheck_s: float = RECHECK_SECONDS, trial_steps: int = TRIAL_STEPS,
                 clock: Callable[[], float] = time.perf_counter,
                 set_threads: Callable[[int], None] = torch.set_num_threads,
                 say: Callable[[str], None] = print):
        if fixed is not None and (isinstance(fixed, bool) or not isinstance(fixed, int) or fixed < 1):
            raise ValueError(f"threads must be a whole number of 1 or more, got {fixed!r}.")
        if trial_steps < 1:
            raise ValueError(f"trial_steps must be 1 or more, got {trial_steps}.")
        self.candidates = [fixed] if fixed is not None else sorted(set(candidates)) or [1]
        self.recheck_s, self.trial_steps = recheck_s, trial_steps
        self._interval = recheck_s
        self.clock, self.set_threads, self.say = clock, set_threads, say
        self.chosen: Optional[int] = None
        self.choices: List[Dict] = []  # one per phase: {"threads": n, "seconds_per_step": {n: s}}
        self._queue: List[int] = []  # counts still to run in this trial phase, one entry per step
        self._timings: Dict[int, List[float]] = {}
        self._warm_up: Dict[int, List[float]] = {}
        self._next_check = 0.0
        self._current: Optional[int] = None
        if fixed is not None:
            self._use(fixed)
            self.chosen = fixed
            say(f"Training threads: {fixed} (fixed by {how_to_fix(fixed)}).")
        elif len(self.candidates) == 1:
            self._use(self.candidates[0])
            self.chosen = self.candidates[0]

    def _use(self, threads: int) -> None:
        if threads != self._current:
            self.set_threads(threads)
            self._current = threads

    def _start_phase(self) -> None:
        order = sorted(self.candidates, key=lambda n: n != self.chosen)  # the current count first
        self._queue = [n for n in order for _ in range(self.trial_steps + 1)]
        self._timings = {n: [] for n in self.candidates}
        self._warm_up = {n: [] for n in self.candidates}

    def _seconds_per_step(self, threads: int) -> Optional[float]:
        """Median of this phase's timed steps at `threads`, else its warm-up step, else None."""
        times = self._timings[threads] or self._warm_up[threads]
        return statistics.median(times) if times else None

    def _finish_phase(self) -> None:
        medians = {n: self._seconds_per_step(n) for n in self.candidates if self._seconds_per_step(n) is not None}
        best = min(medians, key=lambda n: (medians[n], n))
        changed = best != self.chosen
        self._interval = self.recheck_s if changed else min(2 * self._interval, MAX_RECHECK_SECONDS)
        self.chosen = best
        self.choices.append({"threads": best, "seconds_per_step": medians})
        self._use(best)
        if changed:
            timing = ", ".join(f"{medians[n]:.3f} s at {n}" for n in sorted(medians))
            self.say(f"Training threads: {best} (measured seconds per step: {timing}; {how_to_fix()} fixes it).")
        self._next_check = self.clock() + self._interval

    def run(self, step: Callable[[], float]) -> float:
        """Run one training step at the thread count the schedule says; return its result."""
        if len(self.candidates) == 1:
            return step()
        if not self._queue and self.clock() >= self._next_check:
            self._start_phase()
        if not self._queue:
            return step()
        threads = self._queue.pop(0)
        warm_up = threads != self._current
        self._use(threads)
        started = self.clock()
        result = step()
        seconds = self.clock() - started
        # The first step after a change is a warm-up: it counts only when no other step does.
        (self._warm_up if warm_up else self._timings)[threads].append(seconds)
        others = [self._seconds_per_step(n) for n in self.candidates if n != threads]
        others = [t for t in others if t is not None]
        if others and seconds > SLOW_FACTOR * min(others):  # clearly slower: stop trying this count
            self._queue = [n for n in self._queue if n != threads]
        if not self._queue:
            self._finish_phase()
        return result


def say_once(say: Callable[[str], None]) -> Callable[[str], None]:
    """`say` for the first thread message of this process; later ones are kept quiet (a notebook
    trains many times, and the choice is in each chooser's `choices`)."""
    def once(message: str) -> None:
        global _said
        if not _said:
            _said = True
            say(message)
    return once


def thread_chooser(params: Dict, device, say: Callable[[str], None] = print) -> ThreadChooser:
    """The chooser training uses: params["threads"] fixed, else measured on a CPU; a GPU run keeps
    PyTorch's setting (its CPU threads only feed the GPU). It speaks through `say_once`."""
    fixed = params.get("threads")
    if fixed is None and torch.device(device).type != "cpu":
        return ThreadChooser([torch.get_num_threads()], say=say_once(say))
    return ThreadChooser(candidate_threads(), fixed=fixed, say=say_once(say))
