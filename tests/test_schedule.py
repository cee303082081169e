"""labutils.schedule: what each training step reads and at which learning rate."""
import numpy as np
import pytest

from labutils.schedule import learning_rate_at, training_text_at


def test_cosine_schedule_warms_up_then_decays_to_zero():
    params = {"learning_rate": 1e-2, "num_training_iterations": 110, "lr_schedule": "cosine", "warmup_steps": 10}
    rates = [learning_rate_at(step, params) for step in range(110)]
    assert rates[0] == pytest.approx(1e-3) and rates[9] == pytest.approx(1e-2)
    assert rates[10] == pytest.approx(1e-2) and rates[60] == pytest.approx(5e-3)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:])) and rates[-1] < 1e-5
    assert learning_rate_at(5, {"learning_rate": 3e-3}) == 3e-3  # constant, as in the notes
    with pytest.raises(ValueError, match="lr_schedule must be"):
        learning_rate_at(0, {**params, "lr_schedule": "step"})


def test_training_text_at():
    plain, moved = np.zeros(3), np.ones(9)
    params = {"transpose_from": 300}
    assert training_text_at(299, moved, plain, params) is plain
    assert training_text_at(300, moved, plain, params) is moved
    assert training_text_at(0, moved, None, params) is moved
    assert training_text_at(0, moved, plain, {}) is moved
