"""labutils.lookback: the character at the same place in the bar some bars back, and the model that reads it."""
import numpy as np
import pytest
import torch

from labutils import params as lab_params
from labutils.checkpoints import model_from_checkpoint, save_checkpoint
from labutils.guided import generate_tunes
from labutils.lookback import BarReaders, lookback_ids
from labutils.model import LSTMModel, copy_state_rows, reset_state_rows
from labutils.music.form import form_summary
from labutils.schedule import lookback_inputs, training_batch
from labutils.training_loop import train

VOCAB = sorted(set("X:1\nT:tM/48LK|!GABcdefg2 ]["))
CODES = {c: i for i, c in enumerate(VOCAB)}
NONE, END = len(VOCAB), len(VOCAB) + 1
HEAD = "X:1\nT:t\nM:2/4\nL:1/8\nK:G\n"


def ids(text):
    return np.array([CODES[c] for c in text])


def lookback_chars(text, bars_back=4):
    """The lookback input after each character of `text`, as characters ('-': none, '$': end)."""
    return "".join("-" if v == NONE else "$" if v == END else VOCAB[v] for v in lookback_ids(ids(text), VOCAB, bars_back))


def test_bar_five_reads_bar_one_note_by_note():
    tune = HEAD + "G|ABcd|BAGA|B2d2|e2d2|!\nABcd|BABA|G4:|\n\n" + HEAD + "A|"
    look = lookback_chars(tune)
    body = len(HEAD)
    assert set(look[:body]) == {"-"}  # the header, and the first four bars: nothing that far back
    fifth = tune.index("|!\n") + 1  # bar 5's line: after "|", "!" and the line break, bar 1's first note
    assert look[fifth - 1:fifth + 2] == "AAA"  # read at the bar line and while its own characters pass
    assert look[fifth + 2:fifth + 6] == "Bcd$"  # then note by note, and "bar 1 ended here"
    second = tune.index("\n\n") + 1
    assert set(look[second:]) == {"-"}  # a blank line ends the tune: the next starts afresh


def test_a_two_bar_lookback_reads_two_bars_back():
    tune = HEAD + "ABcd|BAGA|B"
    assert lookback_chars(tune, 2)[-1] == "B"  # after bar 3's "B": bar 1's second note is next


def test_reading_in_pieces_gives_what_a_whole_text_gives():
    text = (HEAD + "G|ABcd|BAGA|B2d2|e2d2|!\nABcd|BABA|G4:|\n\n") * 3
    readers = BarReaders(VOCAB, 4, 1)
    pieces = [readers.read(ids(text)[None, i:i + 7])[0] for i in range(0, len(text), 7)]
    assert np.array_equal(np.concatenate(pieces), lookback_ids(ids(text), VOCAB, 4))


def tiny_model(bars=4, seed=0):
    torch.manual_seed(seed)
    return LSTMModel(len(VOCAB), 16, 32, lookback_bars=bars, lookback_vocab="".join(VOCAB)).eval()


def test_the_model_reads_its_state_s_text_as_training_gives_it():
    model, text = tiny_model(), (HEAD + "G|ABcd|BAGA|B2d2|e2d2|!\nABcd|BABA|G4:|\n\n") * 2
    x = torch.from_numpy(ids(text))[None]
    with torch.no_grad():
        given = model(x, lookback=torch.from_numpy(lookback_ids(ids(text), VOCAB, 4))[None])
        state, steps = model.init_hidden(1, "cpu"), []
        for i in range(len(text)):  # one character at a time, as a sampler feeds it
            out, state = model(x[:, i:i + 1], state, return_state=True)
            steps.append(out)
    assert torch.allclose(given, torch.cat(steps, 1), atol=1e-5)


def test_a_state_s_rows_copy_and_reset_with_their_readers():
    model = tiny_model()
    with torch.no_grad():
        _, state = model(torch.from_numpy(ids(HEAD + "ABcd|BAGA|B2d2|e2d2|"))[None].repeat(2, 1),
                         model.init_hidden(2, "cpu"), return_state=True)
    fresh = model.init_hidden(2, "cpu")
    copy_state_rows(fresh, state, [1])
    assert fresh[2].readers[1].value() == CODES["A"] and fresh[2].readers[0].value() == NONE
    assert torch.equal(fresh[0][:, 1], state[0][:, 1])
    state[2].readers[1].feed(CODES["A"])  # the copy is the row's own: feeding one leaves the other
    assert fresh[2].readers[1].value() == CODES["A"]
    reset_state_rows(fresh, [1])
    assert fresh[2].readers[1].value() == NONE and not fresh[0][:, 1].any()


def test_a_lookback_model_learns_to_restate_a_phrase_a_plain_one_cannot():
    """Tunes of random bars whose bars 5-6 restate bars 1-2: the lookback model predicts the restated
    notes, the same LSTM without it cannot (they are random)."""
    rng = np.random.default_rng(0)

    def tune():
        bars = ["".join(rng.choice(list("GABcdefg"), 4)) for _ in range(4)]
        return HEAD + "|".join(bars + bars[:2] + ["".join(rng.choice(list("GABcdefg"), 4)) for _ in range(2)]) + "|]"

    text = "\n\n".join(tune() for _ in range(300))
    data = ids(text)
    params = {**lab_params.NOTES_PARAMS, "num_training_iterations": 250, "batch_size": 16, "seq_length": 96,
              "learning_rate": 1e-2, "eval_every": 0, "checkpoint_every": 0}
    scores = {}
    for bars in (0, 4):
        torch.manual_seed(0)
        model = LSTMModel(len(VOCAB), 16, 64, lookback_bars=bars, lookback_vocab="".join(VOCAB) if bars else None)
        train(model, data, params, progress=False, threads=1)
        held_out = "\n\n".join(tune() for _ in range(20))
        x = torch.from_numpy(ids(held_out))[None]
        with torch.no_grad():
            logp = torch.log_softmax(model.eval()(x[:, :-1]), -1)[0]
        bits = -logp.gather(1, x[0, 1:, None])[:, 0].numpy() / np.log(2)
        restated = [i - 1 for t in range(20) for i in _restated_notes(held_out, t)]
        scores[bars] = bits[restated].mean()
    assert scores[0] > 2.0  # eight letters drawn at random: 3 bits each, a little less once the meter is known
    assert scores[4] < 0.5 * scores[0]


def _restated_notes(text, number):
    """Positions in `text` of the notes of bars 5 and 6 of tune `number` (the restated ones)."""
    start = [i for i in range(len(text)) if text.startswith("X:", i)][number] + len(HEAD)
    bars, at = [], start
    for _ in range(6):
        end = text.index("|", at)
        bars.append(range(at, end))
        at = end + 1
    return [i for bar in bars[4:6] for i in bar]


def test_training_windows_carry_the_same_windows_of_the_lookback_input():
    model, text = tiny_model(), ids((HEAD + "ABcd|BAGA|B2d2|e2d2|ABcd|BABA|G4|]\n\n") * 20)
    lookbacks = lookback_inputs(model, text, None, None)
    params = {"seq_length": 16, "batch_size": 4}
    x, y, look = training_batch(0, text, None, None, params, np.random.default_rng(3), lookbacks)
    plain_x, plain_y = training_batch(0, text, None, None, params, np.random.default_rng(3))
    assert torch.equal(x, plain_x) and torch.equal(y, plain_y)  # the same windows as without the input
    whole = lookback_ids(text, VOCAB, 4)
    for row in range(4):
        start = next(i for i in range(len(text)) if np.array_equal(text[i:i + 16], x[row].numpy()))
        assert np.array_equal(look[row].numpy(), whole[start:start + 16])
    assert lookback_inputs(LSTMModel(len(VOCAB), 8, 8), text) is None


def test_a_lookback_model_survives_a_checkpoint(tmp_path):
    model = tiny_model(bars=2)
    save_checkpoint(tmp_path / "c.pt", model, step=0, vocab=VOCAB)
    loaded, vocab = model_from_checkpoint(tmp_path / "c.pt")
    assert loaded.lookback_bars == 2 and vocab == VOCAB
    x = torch.from_numpy(ids(HEAD + "ABcd|BAGA|B2d2|"))[None]
    with torch.no_grad():
        assert torch.allclose(loaded.eval()(x), model(x))
    assert "lookback_bars" not in LSTMModel(len(VOCAB), 8, 8).config()  # older checkpoints keep their config


@pytest.mark.parametrize("kwargs, message", [
    ({"lookback_bars": -1}, "whole number"),
    ({"lookback_bars": 4}, "lookback_vocab"),
    ({"lookback_bars": 4, "lookback_vocab": "".join(VOCAB), "cell": "gru"}, "cell='lstm'"),
])
def test_bad_lookback_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LSTMModel(len(VOCAB), 8, 8, **kwargs)


def test_run_settings_refuse_a_lookback_without_an_lstm_or_a_vocabulary():
    with pytest.raises(ValueError, match="LSTM cell"):
        lab_params.check_params(lab_params.with_defaults({**lab_params.CPU_PARAMS, "cell": "gru"}))
    with pytest.raises(ValueError, match="vocabulary"):
        lab_params.model_kwargs(lab_params.CPU_PARAMS)
    assert lab_params.model_kwargs(lab_params.CPU_PARAMS, VOCAB)["lookback_vocab"] == "".join(VOCAB)


def test_a_plain_model_refuses_a_lookback_input():
    with pytest.raises(ValueError, match="no lookback input"):
        LSTMModel(len(VOCAB), 8, 8)(torch.zeros(1, 3, dtype=torch.long), lookback=torch.zeros(1, 3, dtype=torch.long))


@pytest.fixture(scope="module")
def pretrained():
    from labutils.pretrained import load_pretrained

    return load_pretrained(torch.device("cpu"))


def test_the_shipped_model_restates_its_phrases(pretrained):
    model, vocab = pretrained
    assert model.lookback_bars == 4
    tunes = generate_tunes(model, 24, seed=0, vocab=vocab)
    summary = form_summary(tunes)
    assert summary["phrase_return"] >= 0.4 and summary["bar_repetition"] >= 0.15  # real tunes: 73%, 31%
