"""A character n-gram baseline: interpolated Kneser-Ney smoothing, scored in bits per character.

How good is the LSTM? Compare it with the classic model it replaced: count which character
follows each context of up to `order - 1` characters in the training text, and predict from
those counts. Kneser-Ney smoothing (Chen & Goodman 1998, "interpolated Kneser-Ney" with one
absolute discount per order) mixes each order with the next shorter context:

    P_k(w | h) = max(c_k(h w) - D_k, 0) / c_k(h)  +  D_k * N1+(h .) / c_k(h) * P_{k-1}(w | h[1:])

where c_k(h w) is the count of the k-gram "h w" at the top order and its *continuation
count* (how many different characters precede it) at the lower orders, c_k(h) their sum
over w, N1+(h .) the number of different characters seen after h, and P_0 = 1 / vocab_size.
A context never seen at order k hands its whole probability to order k - 1. So every
character of the vocabulary gets a probability above zero, and they sum to one everywhere.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from labutils.sampling import check_temperature

MAX_ORDER = 10

__all__ = ["MAX_ORDER", "NGramModel", "fit_ngram", "bpc_by_order"]


def _unknown_message(text: str, alphabet: Dict[str, int], what: str) -> Optional[str]:
    unknown = sorted(set(text) - alphabet.keys())
    if not unknown:
        return None
    return (f"The {what} has characters not in the vocabulary: {', '.join(repr(c) for c in unknown)}. "
            f"Known characters: {''.join(sorted(alphabet))!r}")


def estimate_discount(counts: Counter) -> float:
    """Ney's estimate n1 / (n1 + 2 n2) from how many grams occur once (n1) and twice (n2);
    0.5 when either is zero (tiny texts), so the discount stays strictly between 0 and 1."""
    n1 = sum(1 for c in counts.values() if c == 1)
    n2 = sum(1 for c in counts.values() if c == 2)
    return n1 / (n1 + 2 * n2) if n1 and n2 else 0.5


class NGramModel:
    """A character n-gram model with interpolated Kneser-Ney smoothing over a fixed vocabulary.

    Build it with `fit_ngram(text, order, vocab)`. `followers[k][h]` maps each context h of
    k - 1 characters to {next character: count} at order k; `context_stats[k][h]` is
    (sum of those counts, how many different next characters); `discounts[k]` is D_k.
    """

    def __init__(self, order: int, vocab: Sequence[str], followers, context_stats, discounts):
        self.order = order
        self.vocab = list(vocab)
        self.char2idx = {c: i for i, c in enumerate(self.vocab)}
        self.followers: List[Dict[str, Dict[str, int]]] = followers
        self.context_stats: List[Dict[str, Tuple[int, int]]] = context_stats
        self.discounts: List[float] = discounts

    def __repr__(self) -> str:
        contexts = sum(len(f) for f in self.followers[1:])
        return f"NGramModel(order={self.order}, vocab_size={len(self.vocab)}, contexts={contexts})"

    def _check(self, text: str, what: str) -> None:
        message = _unknown_message(text, self.char2idx, what)
        if message:
            raise ValueError(message)

    def _probability(self, context: str, char: str) -> float:
        """P(char | the last order - 1 characters of context), with no argument checks."""
        prob = 1.0 / len(self.vocab)
        for k in range(1, self.order + 1):
            if k - 1 > len(context):
                break
            history = context[len(context) - (k - 1):] if k > 1 else ""
            stats = self.context_stats[k].get(history)
            if stats is None:  # an unseen context passes the lower order's probability on unchanged
                continue
            total, types = stats
            discount = self.discounts[k]
            count = self.followers[k][history].get(char, 0)
            prob = (max(count - discount, 0.0) + discount * types * prob) / total
        return prob

    def probability(self, context: str, char: str) -> float:
        """P(char | context): the probability that `char` follows `context` (only its last
        order - 1 characters matter; a shorter one is used as it is)."""
        if len(char) != 1:
            raise ValueError(f"char must be one character, got {char!r}.")
        self._check(context + char, "context or character")
        return self._probability(context, char)

    def distribution(self, context: str) -> np.ndarray:
        """The probabilities (vocab_size,) of each vocabulary character following `context`."""
        self._check(context, "context")
        probs = np.full(len(self.vocab), 1.0 / len(self.vocab))
        for k in range(1, self.order + 1):
            if k - 1 > len(context):
                break
            history = context[len(context) - (k - 1):] if k > 1 else ""
            stats = self.context_stats[k].get(history)
            if stats is None:
                continue
            total, types = stats
            discount = self.discounts[k]
            probs = probs * (discount * types / total)
            for char, count in self.followers[k][history].items():
                probs[self.char2idx[char]] += (count - discount) / total
        return probs

    def bits_per_char(self, text: str) -> float:
        """Cross-entropy in bits per character of `text`: each character from the second on,
        given the (up to order - 1) characters before it within `text`."""
        if len(text) < 2:
            raise ValueError(f"Need at least 2 characters to score, got {len(text)}.")
        self._check(text, "text")
        width = self.order - 1
        total = 0.0
        for i in range(1, len(text)):
            total -= math.log2(self._probability(text[max(0, i - width):i], text[i]))
        return total / (len(text) - 1)

    def sample(self, start_string: str = "X", length: int = 1000, seed: Optional[int] = 0,
               temperature: float = 1.0) -> str:
        """`start_string` continued by `length` sampled characters (seeded; numpy's generator)."""
        if not start_string:
            raise ValueError("start_string must not be empty (the lab uses 'X', the start of a tune).")
        if length < 0:
            raise ValueError(f"length must be 0 or more, got {length}.")
        check_temperature(temperature)
        self._check(start_string, "start_string")
        rng = np.random.default_rng(seed)
        text = list(start_string)
        width = self.order - 1
        for _ in range(length):
            context = "".join(text[len(text) - width:]) if width else ""
            probs = self.distribution(context)
            if temperature != 1.0:
                probs = probs ** (1.0 / temperature)
            text.append(self.vocab[rng.choice(len(probs), p=probs / probs.sum())])
        return "".join(text)


def fit_ngram(text: str, order: int, vocab: Optional[Sequence[str]] = None,
              discount: Optional[float] = None) -> NGramModel:
    """Count the 1..order-grams of `text` and return its Kneser-Ney `NGramModel`.

    `vocab` defaults to the characters of `text`; pass the lab's vocabulary (`corpus["vocab"]`) to
    score held-out text that has characters the training text lacks. `discount` fixes D at
    every order (default: Ney's estimate per order, `estimate_discount`).
    """
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be an integer from 1 to {MAX_ORDER}, got {order!r}.")
    if not isinstance(text, str) or not text:
        raise ValueError("Cannot fit an n-gram model on empty text: pass the training tunes joined "
                         "(labutils.data.join_songs).")
    if discount is not None and not 0.0 < discount < 1.0:
        raise ValueError(f"discount must be between 0 and 1 (exclusive), got {discount}.")
    vocab = sorted(set(text)) if vocab is None else list(vocab)
    if len(set(vocab)) != len(vocab) or any(len(c) != 1 for c in vocab):
        raise ValueError("vocab must be a sequence of distinct single characters.")
    message = _unknown_message(text, {c: i for i, c in enumerate(vocab)}, "training text")
    if message:
        raise ValueError(message)
    # Raw counts at the top order; at each lower order k, the continuation count of a k-gram g:
    # how many different characters come before g, i.e. how many (k+1)-grams end with g.
    grams: List[Counter] = [Counter() for _ in range(order + 1)]
    grams[order] = Counter(text[i:i + order] for i in range(len(text) - order + 1))
    for k in range(order - 1, 0, -1):
        continuation = Counter(gram[1:] for gram in grams[k + 1])
        if len(text) >= k:  # the start of the text precedes its first k-gram: one more "character"
            continuation[text[:k]] += 1
        grams[k] = continuation
    followers: List[Dict[str, Dict[str, int]]] = [{} for _ in range(order + 1)]
    context_stats: List[Dict[str, Tuple[int, int]]] = [{} for _ in range(order + 1)]
    discounts = [0.0] * (order + 1)
    for k in range(1, order + 1):
        for gram, count in grams[k].items():
            followers[k].setdefault(gram[:-1], {})[gram[-1]] = count
        context_stats[k] = {h: (sum(f.values()), len(f)) for h, f in followers[k].items()}
        discounts[k] = discount if discount is not None else estimate_discount(grams[k])
    return NGramModel(order, vocab, followers, context_stats, discounts)


def bpc_by_order(train_text: str, val_text: str, vocab: Sequence[str],
                 orders: Sequence[int] = tuple(range(1, MAX_ORDER + 1))) -> Dict[int, float]:
    """Held-out bits/char of a Kneser-Ney model fitted on `train_text` at each order."""
    return {order: fit_ngram(train_text, order, vocab).bits_per_char(val_text) for order in orders}
