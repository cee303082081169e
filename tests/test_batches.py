import numpy as np
import pytest
import torch

from labutils.batches import get_batch


def test_shapes_dtype_and_shift():
    data = np.arange(1000, dtype=np.int64)
    x, y = get_batch(data, seq_length=50, batch_size=16, rng=0)
    assert x.shape == y.shape == (16, 50)
    assert x.dtype == y.dtype == torch.long
    assert torch.equal(y, x + 1)  # on arange data, y is x shifted by one character


def test_windows_are_contiguous_slices_of_the_data():
    data = np.random.default_rng(1).integers(0, 83, 500)
    x, y = get_batch(data, 20, 8, rng=np.random.default_rng(2))
    for row_x, row_y in zip(x.numpy(), y.numpy()):
        i = next(i for i in range(len(data) - 20) if np.array_equal(data[i:i + 20], row_x))
        assert np.array_equal(data[i + 1:i + 21], row_y)


def test_seeded_reproducible_and_global_seed():
    data = np.arange(300)
    assert torch.equal(get_batch(data, 10, 4, rng=3)[0], get_batch(data, 10, 4, rng=3)[0])
    np.random.seed(7)
    a = get_batch(data, 10, 4)[0]
    np.random.seed(7)
    assert torch.equal(a, get_batch(data, 10, 4)[0])


def test_every_start_reachable_including_the_last():
    data = np.arange(12)
    seen = set()
    for seed in range(200):
        x, y = get_batch(data, 10, 1, rng=seed)
        seen.add(int(x[0, 0]))
        assert int(y[0, -1]) <= 11
    assert seen == {0, 1}


def test_seq_length_too_long_raises():
    with pytest.raises(ValueError, match="too long"):
        get_batch(np.arange(10), 10, 2)
    with pytest.raises(ValueError, match=">= 1"):
        get_batch(np.arange(10), 0, 2)
