"""benchmarks/restate.py: which characters of a tune belong to a returning, repeated or fresh bar, and the scores."""
import numpy as np
import torch

from benchmarks import restate
from labutils.model import LSTMModel
from labutils.ngram import fit_ngram
from tests.test_form import REEL


def test_bar_roles_of_a_reel():
    roles = restate.bar_roles(REEL)
    texts = [(REEL[start:end], role) for start, end, role in roles]
    assert len(roles) == 16  # the pickups are not bars a listener counts
    assert texts[4] == ("d2fd AdFA|", "return") and texts[5] == ("G2BG FGAB|", "return")
    assert texts[6] == ("c2ec dcBA|", "repeat") and texts[7] == ("d2f2 d3:|", "fresh")
    assert [role for _, role in texts].count("fresh") == 16 - 7


def test_character_roles_line_up_with_the_joined_text():
    other = REEL.replace("d2fd AdFA", "d2fd AdFB")
    text, roles, places = restate.character_roles([REEL, other])
    assert text == REEL + "\n\n" + other
    start = text.index("d2fd AdFB")  # the second tune's first bar
    assert roles[start] == restate.ROLES.index("fresh") and places[start] == 0 and places[start + 3] == 3
    assert roles[text.index("X:1")] == -1  # headers are no bar


def test_scores_are_bits_of_the_right_characters():
    torch.manual_seed(0)
    vocab = sorted(set(REEL + "\n"))
    model = LSTMModel(len(vocab), 8, 16).eval()
    with torch.no_grad():
        model.lstm.bias_hh_l0[16:32] = 10.0  # forget gates open: the state remembers everything it read
    ids = np.array([vocab.index(c) for c in REEL])
    full = restate.full_context_bits(model, ids, chunk=7)
    assert np.isnan(full[0]) and np.all(full[1:] > 0)
    assert np.allclose(full[1:], restate.full_context_bits(model, ids)[1:], atol=1e-5)  # chunks carry the state
    positions = np.array([30, 31, 60])
    short = restate.short_context_bits(model, ids, positions, window=30)
    assert np.isclose(short[0], full[30], atol=1e-5)  # 30 characters back: the tune's start, all it had
    assert not np.isclose(short[2], full[60], atol=1e-3)  # 60 back: it lacks the first 30
    ngram = fit_ngram(REEL, 3, vocab)
    bits = restate.ngram_bits(ngram, REEL, positions)
    assert bits[0] == -np.log2(ngram.probability(REEL[28:30], REEL[30]))

