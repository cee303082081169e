import pytest
import torch

from labutils.corpus import lab_vocab
from labutils.model import LSTMModel
from labutils.sampling import check_temperature, generate_text, sample_next, step_function, step_kernels


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return LSTMModel(83, 16, 32)


def test_length_start_and_vocabulary(model):
    text = generate_text(model, "X:1\nT:", 200, seed=0)
    assert text.startswith("X:1\nT:") and len(text) == 6 + 200
    assert set(text) <= set(lab_vocab()[0])


def test_seed_reproducible_and_different_seeds_differ(model):
    assert generate_text(model, "X", 100, seed=3) == generate_text(model, "X", 100, seed=3)
    assert generate_text(model, "X", 100, seed=3) != generate_text(model, "X", 100, seed=4)


def test_batched_samples_are_independent(model):
    texts = generate_text(model, "X", 80, num_samples=5, seed=1)
    assert isinstance(texts, list) and len(texts) == 5 and len(set(texts)) == 5
    assert all(len(t) == 81 for t in texts)


def test_restores_training_mode_and_no_grad(model):
    model.train()
    generate_text(model, "X", 5, seed=0)
    assert model.training


def test_top_k_one_is_greedy_and_temperature_sharpens():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    assert all(sample_next(logits, top_k=1).item() == 1 for _ in range(20))
    draws = [sample_next(logits, temperature=0.05).item() for _ in range(50)]
    assert draws.count(1) == 50
    with pytest.raises(ValueError, match="temperature"):
        sample_next(logits, temperature=0)


def test_start_string_errors(model):
    with pytest.raises(ValueError, match="not in the vocabulary: '€'"):
        generate_text(model, "X€", 10)
    with pytest.raises(ValueError, match="must not be empty"):
        generate_text(model, "", 10)


def test_multichar_start_primes_state_then_feeds_one_char():
    torch.manual_seed(0)
    model = LSTMModel(83, 16, 32, cell="gru")  # (an LSTM's one-character steps skip forward: step_function)
    calls = []
    original = model.forward

    def recording_forward(x, state=None, return_state=False):
        calls.append((tuple(x.shape), state is not None))
        return original(x, state, return_state)

    model.forward = recording_forward
    try:
        generate_text(model, "X:1\nT:Reel", 4, seed=0)
    finally:
        del model.forward
    assert calls == [((1, 10), True), ((1, 1), True), ((1, 1), True), ((1, 1), True)]


def test_the_one_character_step_gives_the_model_s_own_numbers():
    torch.manual_seed(0)
    lstm = LSTMModel(83, 24, 48, dropout=0.5, weight_dropout=0.2).eval()
    x, state = torch.randint(0, 83, (5, 1)), (torch.randn(1, 5, 48), torch.randn(1, 5, 48))
    with torch.inference_mode():
        logits, (h, c) = step_function(lstm)(x, state)
        want, (want_h, want_c) = lstm(x, state, return_state=True)
    assert logits.shape == (5, 1, 83) and h.shape == c.shape == (1, 5, 48)
    assert torch.allclose(logits, want, atol=1e-5) and torch.allclose(h, want_h, atol=1e-6)
    assert torch.allclose(c, want_c, atol=1e-6)
    for other in (LSTMModel(83, 8, 16, num_layers=2).eval(), LSTMModel(83, 8, 16, cell="gru").eval()):
        x, state = torch.randint(0, 83, (2, 1)), other.init_hidden(2, "cpu")
        assert torch.equal(step_function(other)(x, state)[0], other(x, state, return_state=True)[0])


def test_the_faster_step_samples_the_same_text_for_a_seed(monkeypatch):
    from labutils import sampling
    from labutils.pretrained import load_pretrained

    model, vocab = load_pretrained(torch.device("cpu"))
    fast = [generate_text(model, "X", 400, vocab=vocab, seed=seed, num_samples=4) for seed in (0, 1)]
    monkeypatch.setattr(sampling, "step_function", lambda m: lambda x, s: m(x, s, return_state=True))
    assert [generate_text(model, "X", 400, vocab=vocab, seed=seed, num_samples=4) for seed in (0, 1)] == fast


def test_generating_leaves_the_cpu_kernels_as_they_were():
    assert torch.backends.mkldnn.enabled
    with pytest.raises(RuntimeError):
        with step_kernels(torch.device("cpu")):
            assert not torch.backends.mkldnn.enabled  # PyTorch's own LSTM kernel for one-character steps
            raise RuntimeError("stop")
    assert torch.backends.mkldnn.enabled  # training keeps oneDNN's, faster on long windows


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), True, "0.7"])
def test_one_temperature_check_for_every_sampler(model, temperature):
    from labutils.guided import generate_tunes
    from labutils.ngram import fit_ngram

    message = r"temperature must be a finite number above 0 \(the lab uses 0.6 to 1.0\), got "
    ngram = fit_ngram("X:1\nK:G\nABcd|\n\n" * 3, order=3)
    for sample in (lambda: generate_text(model, "X", 5, temperature=temperature),
                   lambda: generate_tunes(model, 1, temperature=temperature),
                   lambda: sample_next(torch.zeros(1, 4), temperature=temperature),
                   lambda: ngram.sample("X", 5, temperature=temperature)):
        with pytest.raises(ValueError, match=message):
            sample()
    with pytest.raises(ValueError, match="^--temperature must be a finite number above 0"):
        check_temperature(temperature, "--temperature")


def test_temperatures_that_work_are_kept():
    assert check_temperature(0.7) == 0.7 and check_temperature(1) == 1.0 and check_temperature(1e-300) == 1e-300
