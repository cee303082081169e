import pytest
import torch

from labutils.model import LSTMModel
from labutils.sampling import check_temperature, generate_text, sample_next
from labutils.text import lab_vocab


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


def test_multichar_start_primes_state_then_feeds_one_char(model):
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


# --- generate_tunes: whole tunes, guided so that every bar has the meter's length ----------------

@pytest.fixture(scope="module")
def pretrained():
    from labutils.pretrained import load_pretrained

    torch.manual_seed(0)
    return load_pretrained(torch.device("cpu"))


def test_guided_tunes_have_only_right_bars(pretrained):
    from labutils.data import extract_song_snippet
    from labutils.music.rhythm import RhythmState
    from labutils.sampling import generate_tunes

    model, vocab = pretrained
    tunes = generate_tunes(model, 12, vocab=vocab, seed=1, batch_size=6)
    assert len(tunes) == 12
    for tune in tunes:
        assert tune.startswith("X:") and "\nK:" in tune and extract_song_snippet(tune + "\n\n") == [tune]
        rhythm = RhythmState().feed(tune + "\n\n")
        assert rhythm.ok and rhythm.where == "done", rhythm.violations


def test_plain_tunes_break_bars_the_guide_would_not(pretrained):
    from labutils.music.rhythm import RhythmState
    from labutils.sampling import generate_tunes

    model, vocab = pretrained
    tunes = generate_tunes(model, 12, vocab=vocab, seed=1, batch_size=6, guided=False)
    assert len(tunes) == 12
    assert sum(not RhythmState().feed(t + "\n").finish().ok for t in tunes) >= 3  # what the guide is for


def test_seed_reproduces_tunes(pretrained):
    from labutils.sampling import generate_tunes

    model, vocab = pretrained
    first = generate_tunes(model, 4, vocab=vocab, seed=3, batch_size=4)
    assert generate_tunes(model, 4, vocab=vocab, seed=3, batch_size=4) == first
    assert generate_tunes(model, 4, vocab=vocab, seed=4, batch_size=4) != first


def test_unguided_first_tune_is_what_generate_text_writes(pretrained):
    from labutils.data import extract_song_snippet
    from labutils.sampling import generate_tunes

    model, vocab = pretrained
    tunes = generate_tunes(model, 3, vocab=vocab, seed=5, batch_size=3, guided=False, temperature=0.8)
    texts = generate_text(model, "X", 1500, vocab=vocab, num_samples=3, seed=5, temperature=0.8)
    firsts = [extract_song_snippet(text)[0] for text in texts]
    assert sorted(tunes) == sorted(firsts)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_tunes": 0}, "num_tunes"), ({"num_tunes": -2}, "num_tunes"), ({"num_tunes": 2.5}, "num_tunes"),
    ({"temperature": 0}, "temperature"), ({"temperature": -1.0}, "temperature"),
    ({"temperature": float("nan")}, "temperature"), ({"temperature": float("inf")}, "temperature"),
    ({"start": "X\u00e9"}, "vocabulary"), ({"top_k": 0}, "top_k"),
])
def test_generate_tunes_bad_arguments(model, kwargs, message):
    from labutils.sampling import generate_tunes

    arguments = {"num_tunes": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_tunes(model, arguments.pop("num_tunes"), **arguments)


def test_a_model_that_never_ends_a_tune_stops(model):
    from labutils.sampling import generate_tunes

    with pytest.warns(UserWarning, match="only 0 of 2"):
        assert generate_tunes(model, 2, max_chars=60, seed=0) == []


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), True, "0.7"])
def test_one_temperature_check_for_every_sampler(model, temperature):
    from labutils.ngram import fit_ngram
    from labutils.sampling import generate_tunes

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
