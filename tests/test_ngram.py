"""labutils.ngram: Kneser-Ney probabilities by hand on a tiny text, sums to one, errors, sampling."""
import math

import numpy as np
import pytest

from labutils.ngram import MAX_ORDER, bpc_by_order, estimate_discount, fit_ngram


def test_probabilities_match_a_hand_computation():
    # "abab", order 2, D = 1/2, vocabulary a b c. Bigram counts: ab 2, ba 1. Continuation
    # counts of the unigrams: a 1 (after b) + 1 (the start of the text), b 1 (after a).
    # P1(a) = (2 - 1/2 + 1/2 * 2 * 1/3) / 3 = 11/18, P1(b) = 5/18, P1(c) = 2/18.
    # P2(b|a) = (2 - 1/2 + 1/2 * 1 * 5/18) / 2 = 59/72, P2(a|a) = 11/72, P2(c|a) = 2/72.
    model = fit_ngram("abab", 2, vocab=["a", "b", "c"], discount=0.5)
    assert model.probability("", "a") == pytest.approx(11 / 18)
    assert model.probability("", "c") == pytest.approx(2 / 18)
    assert model.probability("a", "b") == pytest.approx(59 / 72)
    assert model.probability("a", "a") == pytest.approx(11 / 72)
    assert model.probability("a", "c") == pytest.approx(2 / 72)
    # "c" never appeared as a context: the unigram distribution answers unchanged.
    assert model.probability("c", "b") == pytest.approx(5 / 18)
    # Only the last order - 1 characters matter.
    assert model.probability("cba", "b") == pytest.approx(59 / 72)
    assert np.allclose(model.distribution("a"), [11 / 72, 59 / 72, 2 / 72])
    assert model.bits_per_char("ab") == pytest.approx(-math.log2(59 / 72))


def test_estimated_discount_is_ney_formula():
    from collections import Counter

    assert estimate_discount(Counter({"ab": 1, "bc": 1, "cd": 2})) == pytest.approx(2 / (2 + 2))
    assert estimate_discount(Counter({"ab": 3})) == 0.5  # no singletons: the fallback
    model = fit_ngram("abab", 2, vocab=["a", "b", "c"])
    assert model.discounts[2] == pytest.approx(1 / 3)  # bigrams: ab twice, ba once


@pytest.fixture(scope="module")
def lab_model():
    from labutils.corpus import prepare_corpus
    from labutils.data import join_songs, load_training_data

    corpus = prepare_corpus(load_training_data())
    train, val = join_songs(corpus["train_songs"]), join_songs(corpus["val_songs"])
    return fit_ngram(train, 5, corpus["vocab"]), train, val, corpus["vocab"]


def test_probabilities_sum_to_one_at_seen_and_unseen_contexts(lab_model):
    model, train, val, vocab = lab_model
    rng = np.random.default_rng(0)
    seen = [train[i - 4:i] for i in rng.integers(4, len(train), 20)]
    unseen = ["".join(rng.choice(vocab, 4)) for _ in range(20)] + ["", "X", "zz"]
    assert any(model.context_stats[5].get(c) is None for c in unseen)
    for context in seen + unseen:
        probs = model.distribution(context)
        assert probs.shape == (len(vocab),) and (probs > 0).all()
        assert probs.sum() == pytest.approx(1.0, abs=1e-9)
        assert model.probability(context, vocab[7]) == pytest.approx(probs[7])


def test_held_out_bits_per_char_beats_order_one(lab_model):
    _, train, val, vocab = lab_model
    scores = bpc_by_order(train, val, vocab, orders=(1, 5))
    assert 0 < scores[5] < scores[1] < math.log2(len(vocab))


def test_sampling_is_seeded_and_stays_in_the_vocabulary(lab_model):
    model, _, _, vocab = lab_model
    first = model.sample("X", 300, seed=1)
    assert first == model.sample("X", 300, seed=1)
    assert first != model.sample("X", 300, seed=2)
    assert len(first) == 301 and first.startswith("X") and set(first) <= set(vocab)
    assert set(model.sample("X:", 200, seed=0, temperature=0.5)) <= set(vocab)


@pytest.mark.parametrize("order", [0, MAX_ORDER + 1, 2.0, True, "3"])
def test_order_out_of_range_says_the_range(order):
    with pytest.raises(ValueError, match="order must be an integer from 1 to 10"):
        fit_ngram("abc", order)


def test_bad_text_and_characters_raise_clear_errors():
    with pytest.raises(ValueError, match="empty text"):
        fit_ngram("", 3)
    with pytest.raises(ValueError, match=r"training text has characters not in the vocabulary: 'z'"):
        fit_ngram("abz", 2, vocab=["a", "b"])
    model = fit_ngram("abab", 2)
    with pytest.raises(ValueError, match=r"not in the vocabulary: 'q'.*Known characters: 'ab'"):
        model.bits_per_char("abq")
    with pytest.raises(ValueError, match="start_string"):
        model.sample("q", 5)
    with pytest.raises(ValueError, match="at least 2 characters"):
        model.bits_per_char("a")
    with pytest.raises(ValueError, match="discount must be between 0 and 1"):
        fit_ngram("abab", 2, discount=1.0)
