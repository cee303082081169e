import pytest
import torch

from labutils.model import LSTMModel, count_parameters, fast_dropout, init_output_bias


@pytest.mark.parametrize("cell,layers", [("lstm", 1), ("lstm", 2), ("gru", 1)])
def test_forward_shapes_and_state(cell, layers):
    model = LSTMModel(83, 16, 32, num_layers=layers, dropout=0.1, cell=cell)
    x = torch.randint(0, 83, (4, 7))
    assert model(x).shape == (4, 7, 83)
    logits, state = model(x, return_state=True)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (layers, 4, 32)


def test_seed_architecture_and_parameter_count():
    model = LSTMModel(83, 256, 1024)
    assert isinstance(model.embedding, torch.nn.Embedding)
    assert isinstance(model.lstm, torch.nn.LSTM) and model.lstm.batch_first
    assert isinstance(model.fc, torch.nn.Linear) and model.fc.out_features == 83
    lstm = 4 * 1024 * (256 + 1024) + 2 * 4 * 1024
    assert count_parameters(model) == 83 * 256 + lstm + 1024 * 83 + 83


def test_state_carries_information():
    torch.manual_seed(0)
    model = LSTMModel(10, 8, 16).eval()
    seq = torch.randint(0, 10, (1, 12))
    full = model(seq)
    first, state = model(seq[:, :6], return_state=True)
    second = model(seq[:, 6:], state)
    assert torch.allclose(torch.cat([first, second], 1), full, atol=1e-5)
    assert not torch.allclose(model(seq[:, 6:]), second, atol=1e-3)


def test_init_hidden_zeros_on_device():
    h, c = LSTMModel(5, 4, 6, num_layers=2).init_hidden(3, "cpu")
    assert h.shape == c.shape == (2, 3, 6) and not h.any() and h.data_ptr() != c.data_ptr()


def test_bad_cell():
    with pytest.raises(ValueError, match="cell must be"):
        LSTMModel(5, 4, 6, cell="transformer")


@pytest.mark.parametrize("cell,layers", [("lstm", 1), ("lstm", 2), ("gru", 1)])
def test_weight_dropout_only_while_training_and_trains_the_weights(cell, layers):
    torch.manual_seed(0)
    model = LSTMModel(20, 8, 16, num_layers=layers, cell=cell, weight_dropout=0.5)
    x = torch.randint(0, 20, (3, 9))
    model.train()
    first, second = model(x), model(x)
    assert not torch.allclose(first, second)  # a fresh mask per batch
    first.sum().backward()
    assert all(getattr(model.lstm, f"weight_hh_l{k}").grad.abs().sum() > 0 for k in range(layers))
    model.eval()
    plain = LSTMModel(20, 8, 16, num_layers=layers, cell=cell).eval()
    plain.load_state_dict(model.state_dict())  # same weights, same outputs in eval mode
    assert torch.equal(model(x), plain(x))
    rebuilt = LSTMModel(**model.config())
    assert rebuilt.weight_dropout == 0.5


def test_bad_weight_dropout():
    with pytest.raises(ValueError, match="weight_dropout must be"):
        LSTMModel(5, 4, 6, weight_dropout=1.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fast_dropout_drops_the_share_asked_and_keeps_the_mean(dtype):
    torch.manual_seed(0)
    x = torch.ones(64, 256, 40, dtype=dtype, requires_grad=True)
    out = fast_dropout(x, 0.3)
    assert out.dtype == dtype
    dropped = (out == 0).float().mean().item()
    assert dropped == pytest.approx(0.3, abs=0.01)
    assert torch.allclose(out[out != 0].float(), torch.tensor(1 / 0.7), rtol=1e-2)
    assert out.float().mean().item() == pytest.approx(1.0, abs=0.02)
    out.sum().backward()  # the gradient passes through the kept units only, scaled alike
    assert torch.equal(x.grad, out.detach())


def test_fast_dropout_is_seeded_and_off_outside_training():
    x = torch.randn(8, 10)
    torch.manual_seed(1)
    a = fast_dropout(x, 0.5)
    torch.manual_seed(1)
    assert torch.equal(a, fast_dropout(x, 0.5))
    assert not torch.equal(a, fast_dropout(x, 0.5))
    assert fast_dropout(x, 0.5, training=False) is x and fast_dropout(x, 0.0) is x
    assert not fast_dropout(x, 1.0).any()


def test_model_dropout_only_while_training():
    torch.manual_seed(0)
    model = LSTMModel(20, 8, 16, dropout=0.5)
    x = torch.randint(0, 20, (3, 9))
    assert not torch.allclose(model.train()(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_init_output_bias_starts_at_the_character_frequencies():
    torch.manual_seed(0)
    model = LSTMModel(5, 8, 16)
    text = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)  # characters 3 and 4 never occur
    bias = init_output_bias(model, text.numpy())
    assert torch.equal(model.fc.bias.detach(), bias)
    probabilities = torch.softmax(bias, 0)
    assert probabilities.tolist() == pytest.approx([61 / 105, 31 / 105, 11 / 105, 1 / 105, 1 / 105])
    # what a user sees: a fresh model's loss on such text falls from about log(5) towards its entropy
    with torch.no_grad():
        fresh = LSTMModel(5, 8, 16)
        x = text[torch.randperm(100)].view(4, 25)
        loss_fresh = torch.nn.functional.cross_entropy(fresh(x).reshape(-1, 5), x.reshape(-1)).item()
        init_output_bias(fresh, text)
        loss_init = torch.nn.functional.cross_entropy(fresh(x).reshape(-1, 5), x.reshape(-1)).item()
    assert loss_init < loss_fresh - 0.3


def test_init_output_bias_refuses_what_it_cannot_use():
    model = LSTMModel(5, 8, 16)
    with pytest.raises(ValueError, match="outside 0..4"):
        init_output_bias(model, [0, 1, 5])
    with pytest.raises(ValueError, match="no characters"):
        init_output_bias(model, [])
    with pytest.raises(ValueError, match="model.fc"):
        init_output_bias(torch.nn.Sequential(torch.nn.Linear(3, 5)), [0, 1])
