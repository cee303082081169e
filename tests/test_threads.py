"""labutils.threads: the thread count is chosen from (injected) step timings, and a flag fixes it."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from labutils import threads as threads_module
from labutils.threads import ThreadChooser, candidate_threads, thread_chooser


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    """Each test starts as a new Python process would: nothing said yet, worded for Python callers."""
    monkeypatch.setattr(threads_module, "_said", False)
    monkeypatch.setattr(threads_module, "_audience", "python")


class FakeMachine:
    """A clock that a step advances by the seconds its thread count takes on this 'machine'."""

    def __init__(self, seconds_per_step):
        self.seconds_per_step = dict(seconds_per_step)
        self.now, self.threads, self.steps_at = 0.0, None, []

    def clock(self):
        return self.now

    def set_threads(self, n):
        self.threads = n

    def step(self):
        self.steps_at.append(self.threads)
        self.now += self.seconds_per_step[self.threads]
        return 1.5  # the step's loss


def chooser(machine, said, **kwargs):
    return ThreadChooser([1, 2], recheck_s=100.0, trial_steps=2, clock=machine.clock,
                         set_threads=machine.set_threads, say=said.append, **kwargs)


def test_keeps_the_faster_count_and_says_so_once():
    machine, said = FakeMachine({1: 0.4, 2: 0.25}), []
    threads = chooser(machine, said)
    losses = [threads.run(machine.step) for _ in range(20)]
    assert losses == [1.5] * 20  # every step is a real step and returns its loss
    assert machine.steps_at[:6] == [1, 1, 1, 2, 2, 2]  # the trial: 2 timed steps + 1 warm-up each
    assert set(machine.steps_at[6:]) == {2}
    assert threads.chosen == 2 and len(said) == 1 and "Training threads: 2" in said[0]
    assert threads.choices[0]["seconds_per_step"] == pytest.approx({1: 0.4, 2: 0.25})


def test_switches_when_the_machine_gets_busy_and_measures_again_later():
    machine, said = FakeMachine({1: 0.4, 2: 0.25}), []
    threads = chooser(machine, said)
    for _ in range(10):
        threads.run(machine.step)
    machine.seconds_per_step = {1: 0.45, 2: 3.0}  # another program now keeps one core busy
    for _ in range(400):
        threads.run(machine.step)
    assert threads.chosen == 1 and [c["threads"] for c in threads.choices][:2] == [2, 1]
    assert len(said) == 2 and "Training threads: 1" in said[1]
    assert machine.steps_at[-1] == 1
    # measured again every recheck_s seconds, so a later trial did run at 2 threads
    assert len(threads.choices) >= 3


def test_fixed_threads_never_measure():
    machine, said = FakeMachine({1: 0.4, 3: 0.1}), []
    threads = chooser(machine, said, fixed=3)
    for _ in range(10):
        threads.run(machine.step)
    assert set(machine.steps_at) == {3} and threads.choices == []
    assert said == ["Training threads: 3 (fixed by train(..., threads=3))."]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_fixed_count_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="threads must be a whole number of 1 or more"):
        ThreadChooser([1, 2], fixed=bad)


def test_candidates_stay_within_the_cpus():
    assert candidate_threads(default=8, cpus=16) == [1, 2, 8]
    assert candidate_threads(default=8, cpus=2) == [1, 2]
    assert candidate_threads(default=1, cpus=1) == [1]


def test_training_uses_the_fixed_count(capsys):
    from labutils.model import LSTMModel
    from labutils.training_loop import train

    before = torch.get_num_threads()
    try:
        model = LSTMModel(10, 8, 16)
        data = np.random.default_rng(0).integers(0, 10, 500)
        params = {"num_training_iterations": 3, "batch_size": 2, "seq_length": 8, "learning_rate": 1e-3,
                  "embedding_dim": 8, "hidden_size": 16, "eval_every": 0, "threads": 1}
        train(model, data, {**params, "threads": None}, progress=False, threads=1)  # the notebook's argument
        assert torch.get_num_threads() == 1
        assert "Training threads: 1 (fixed by train(..., threads=1))." in capsys.readouterr().out
    finally:
        torch.set_num_threads(before)
    assert thread_chooser({}, torch.device("cpu"), say=lambda s: None).chosen in (None, 1)


def test_a_clearly_slower_count_is_given_up_after_one_step():
    machine, said = FakeMachine({1: 0.4, 2: 4.0}), []
    threads = chooser(machine, said)
    for _ in range(10):
        threads.run(machine.step)
    assert machine.steps_at[:5] == [1, 1, 1, 2, 1]  # one step at 2 (10x slower) ends its trial
    assert threads.chosen == 1 and threads.choices[0]["seconds_per_step"] == pytest.approx({1: 0.4, 2: 4.0})


def test_checks_that_change_nothing_come_less_often():
    machine, said = FakeMachine({1: 0.4, 2: 4.0}), []
    threads = chooser(machine, said)  # recheck_s=100
    for _ in range(3000):  # 1200 s of training at 0.4 s a step
        threads.run(machine.step)
    phases = len(threads.choices)
    assert 3 <= phases <= 6  # checks at about 100, 300, 700 s ... instead of every 100 s (12)
    assert machine.steps_at.count(2) == phases and len(said) == 1


def test_fourteen_trainings_say_the_thread_choice_once(capsys, monkeypatch):
    from labutils.model import LSTMModel
    from labutils.training_loop import train

    monkeypatch.setattr(threads_module, "candidate_threads", lambda: [1, 2])  # measured even on one CPU
    before = torch.get_num_threads()
    data = np.random.default_rng(0).integers(0, 10, 500)
    params = {"num_training_iterations": 12, "batch_size": 2, "seq_length": 8, "learning_rate": 1e-3,
              "embedding_dim": 8, "hidden_size": 16, "eval_every": 0}
    try:
        for run in range(14):  # notebook 08 trains 14 models
            train(LSTMModel(10, 8, 16), data, params, progress=run % 2 == 0)
    finally:
        torch.set_num_threads(before)
    lines = [line for line in capsys.readouterr().out.splitlines() if "Training threads" in line]
    assert len(lines) == 1, lines
    assert "train(..., threads=N) fixes it" in lines[0] and "--threads" not in lines[0]


def test_the_cli_names_its_flag(tmp_path):
    command = [sys.executable, "-m", "labutils", "train", "--preset", "small", "--iterations", "3", "--threads", "1",
               "--comet", "disabled", "--quiet", "--runs-dir", str(tmp_path), "--name", "t"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "Training threads" in line]
    assert lines == ["Training threads: 1 (fixed by --threads 1)."]
