"""generate_text: sample characters one at a time from a trained model, carrying its state."""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Dict, List, Optional, Sequence, Union

import torch
from tqdm.auto import tqdm

from labutils.text import lab_vocab

# At most this many characters are generated per sample, and a start string may be this long:
# 100,000 characters take minutes on a CPU (a tune is ~300); more is a typo, not a wish.
MAX_GENERATION_LENGTH = 100_000
PRIME_CHUNK = 1024  # the start string primes the state this many characters at a time (bounded memory)


def check_temperature(temperature, name: str = "temperature") -> float:
    """`temperature` as a float; a ValueError naming `name` unless it is a finite number above 0."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"{name} must be a finite number above 0 (the lab uses 0.6 to 1.0), got {temperature!r}")
    return float(temperature)


def _vocab_maps(vocab: Optional[Sequence[str]], char2idx: Optional[Dict[str, int]]):
    if vocab is None and char2idx is None:
        vocab = lab_vocab()[0]
    if vocab is None:
        vocab = [c for c, _ in sorted(char2idx.items(), key=lambda item: item[1])]
    return list(vocab), {c: i for i, c in enumerate(vocab)}


def next_probabilities(logits: torch.Tensor, temperature: float = 1.0, top_k: Optional[int] = None) -> torch.Tensor:
    """Sampling probabilities (batch, vocab), float64, from logits (batch, vocab) with temperature and top-k."""
    temperature = check_temperature(temperature)
    # Shift so the largest logit is 0, and divide in float64 (float32 rounds 1e-300 to 0): a tiny
    # temperature then gives 0 and -inf (the likeliest character for sure), never NaN.
    logits = (logits - logits.max(dim=-1, keepdim=True).values).double() / temperature
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}.")
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[:, -1:]  # (batch, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits, dim=-1)  # (batch, vocab)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: Optional[int] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Draw one index per row from logits (batch, vocab) -> (batch, 1), with temperature and top-k."""
    probs = next_probabilities(logits, temperature, top_k)  # (batch, vocab)
    return torch.multinomial(probs, num_samples=1, generator=generator)  # (batch, 1)


def generate_text(
    model,
    start_string: str,
    generation_length: int = 1000,
    *,
    vocab: Optional[Sequence[str]] = None,
    char2idx: Optional[Dict[str, int]] = None,
    temperature: float = 1.0,
    top_k: Optional[int] = None,
    num_samples: int = 1,
    seed: Optional[int] = None,
    progress: bool = False,
) -> Union[str, List[str]]:
    """Continue `start_string` by `generation_length` sampled characters.

    The whole start string primes the model's state, then each sampled character is fed
    back in with the carried state. `num_samples` > 1 samples that many texts at once in
    one batch and returns a list. The vocabulary defaults to the lab's 83 characters.
    """
    vocab, char2idx = _vocab_maps(vocab, char2idx)
    if not start_string:
        raise ValueError("start_string must not be empty (the lab uses 'X', the start of a tune).")
    unknown = sorted(set(start_string) - char2idx.keys())
    if unknown:
        raise ValueError(
            f"start_string has characters not in the vocabulary: {''.join(unknown)!r}. "
            f"Known characters: {''.join(vocab)!r}"
        )
    if generation_length < 0 or num_samples < 1:
        raise ValueError("generation_length must be >= 0 and num_samples >= 1.")
    for what, size in (("generation_length", generation_length), ("the start string", len(start_string))):
        if size > MAX_GENERATION_LENGTH:
            raise ValueError(f"{what} is {size:,} characters; the limit is {MAX_GENERATION_LENGTH:,} "
                             "(a tune is about 300): ask for fewer")
    device = next(model.parameters()).device
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
    was_training = model.training
    model.eval()
    start = torch.tensor([[char2idx[c] for c in start_string]], dtype=torch.long, device=device)
    input_idx = start.repeat(num_samples, 1)  # (num_samples, len(start_string))
    generated = torch.empty(num_samples, generation_length, dtype=torch.long)
    try:
        with torch.inference_mode():
            state = model.init_hidden(num_samples, device)
            while input_idx.size(1) > PRIME_CHUNK:  # prime with all but the last chunk, keeping only the state
                _, state = model(input_idx[:, :PRIME_CHUNK], state, return_state=True)
                input_idx = input_idx[:, PRIME_CHUNK:]
            for i in tqdm(range(generation_length), disable=not progress, desc="generating"):
                logits, state = model(input_idx, state, return_state=True)  # (num_samples, seq, vocab)
                input_idx = sample_next(logits[:, -1, :], temperature, top_k, generator)  # (num_samples, 1)
                generated[:, i] = input_idx[:, 0].cpu()
    finally:
        model.train(was_training)
    texts = [start_string + "".join(vocab[j] for j in row) for row in generated.tolist()]
    return texts[0] if num_samples == 1 else texts


def generate_tunes(
    model,
    num_tunes: int,
    *,
    temperature: Optional[float] = None,
    top_k: Optional[int] = None,
    guided: bool = True,
    seed: Optional[int] = None,
    max_chars: int = 1500,
    vocab: Optional[Sequence[str]] = None,
    batch_size: int = 64,
    start: str = "X",
    progress: bool = False,
) -> List[str]:
    """Sample `num_tunes` complete tunes, each from "X:" to its end, many rows at once.

    Each batch row writes a tune; a row whose tune ends starts the next one, so the batch
    stays full. With `guided=True` (labutils.guide) no bar ends at the wrong length, no note
    overflows its bar, and abc2midi reads every tune without error: a character that would
    break the bar is masked and the position drawn again from the same step's logits (no
    extra model call); a bar line or note that proves wrong only at the next character is
    taken back and drawn again from the previous step's logits; only when masking cannot
    help does the row go back to its bar's start (its LSTM state too), and after a few such
    tries it writes a fallback bar. Every limit is a small constant, and a seed reproduces
    the tunes. `guided=False` is plain sampling (each row's first tune is what generate_text
    writes with the same seed). A tune that reaches `max_chars` without ending is dropped and
    its row starts afresh. Temperature defaults to GENERATION_DEFAULTS (0.7).
    """
    from labutils.guide import KEEP, REJECT, ROLL_BACK, TUNE_DONE, UNDO, TuneRow
    from labutils.params import GENERATION_DEFAULTS

    if isinstance(num_tunes, bool) or not isinstance(num_tunes, int) or num_tunes < 1:
        raise ValueError(f"num_tunes must be a whole number >= 1, got {num_tunes!r}.")
    temperature = check_temperature(GENERATION_DEFAULTS["temperature"] if temperature is None else temperature)
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}.")
    if max_chars < 50 or batch_size < 1:
        raise ValueError(f"max_chars must be >= 50 and batch_size >= 1, got {max_chars} and {batch_size}.")
    vocab, char2idx = _vocab_maps(vocab, None)
    unknown = sorted(set(start + "X:\n |") - char2idx.keys())
    if not start or unknown:
        raise ValueError(f"start {start!r} (and the characters a tune needs, X: | and newline) must be in the "
                         f"vocabulary; missing: {''.join(unknown)!r}. Known characters: {''.join(vocab)!r}")
    device = next(model.parameters()).device
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
    rows = min(num_tunes, batch_size)
    tunes: List[str] = []
    was_training = model.training
    model.eval()
    row_state = [TuneRow(guided, max_chars, start) for _ in range(rows)]
    max_starts = 4 * num_tunes + 2 * rows  # bound: a model that never ends a tune stops here
    starts = rows
    bar = tqdm(total=num_tunes, disable=not progress, desc="tunes")
    try:
        with torch.inference_mode():
            prime = torch.tensor([[char2idx[c] for c in start]], dtype=torch.long, device=device).repeat(rows, 1)
            state = model.init_hidden(rows, device)
            logits, state = model(prime[:, :-1], state, return_state=True) if len(start) > 1 else (None, state)
            inp = prime[:, -1:]  # (rows, 1): the last character each row has written
            saved = tuple(s.clone() for s in state) if isinstance(state, tuple) else state.clone()
            saved_inp = inp.clone()
            prev_probs, drawn = None, [False] * rows  # drawn: the row's last character came from prev_probs
            while len(tunes) < num_tunes and starts <= max_starts:
                logits, new_state = model(inp, state, return_state=True)  # (rows, 1, vocab)
                if guided:
                    probs = next_probabilities(logits[:, -1, :], temperature, top_k)  # (rows, vocab)
                    chars = torch.multinomial(probs, num_samples=1, generator=generator)[:, 0].tolist()
                else:
                    chars = sample_next(logits[:, -1, :], temperature, top_k, generator)[:, 0].tolist()
                keep, back, fresh, undone = [], [], [], []
                for r, row in enumerate(row_state):
                    forced = bool(row.forced)
                    if forced:
                        chars[r] = char2idx.get(row.forced.pop(0), chars[r])
                    verdict = row.accept(vocab[chars[r]])
                    if verdict in (REJECT, UNDO):
                        if forced:
                            verdict = ROLL_BACK
                        else:
                            verdict, chars[r], redone = _guide_row(
                                row, verdict, chars[r], probs[r], prev_probs[r] if drawn[r] else None,
                                vocab, char2idx, generator)
                            if redone:
                                undone.append(r)
                    drawn[r] = verdict == KEEP and not forced and not (undone and undone[-1] == r)
                    if verdict == KEEP:
                        if guided:
                            chars[r] = char2idx[row.text[-1]]  # (the guide writes "X:" for "X" + anything)
                        if row.new_checkpoint:
                            keep.append(r)  # the state before the bar line's last character
                    elif verdict == ROLL_BACK:
                        if row.roll_back():
                            back.append(r)
                        else:
                            fresh.append(r)
                    elif verdict == TUNE_DONE:
                        tunes.append(row.tune())
                        bar.update(1)
                        starts += 1
                        row.restart("X:" if row.ended_by == "new tune" else "")
                        if row.ended_by != "new tune":
                            row.forced = list(start)
                    else:  # the tune ran past max_chars: start afresh
                        fresh.append(r)
                nxt = torch.tensor(chars, dtype=torch.long, device=device).unsqueeze(1)  # (rows, 1)
                _copy_rows(saved, state, keep)
                saved_inp[keep] = inp[keep]
                _copy_rows(new_state, state, undone)  # these rows wrote their last position again
                state = new_state
                _copy_rows(state, saved, back)
                nxt[back] = saved_inp[back]
                for r in fresh:
                    starts += 1
                    row_state[r].restart("")
                    row_state[r].forced = list(start[1:])
                    row_state[r].accept(start[0])
                    nxt[r] = char2idx[start[0]]
                    drawn[r] = False
                _zero_rows(state, fresh)
                inp = nxt
                prev_probs = probs if guided else None
    finally:
        bar.close()
        model.train(was_training)
    if len(tunes) < num_tunes:
        warnings.warn(f"generate_tunes: only {len(tunes)} of {num_tunes} tunes ended within {max_chars} "
                      f"characters after {starts} starts (an untrained model?); returning those.", stacklevel=2)
    return tunes[:num_tunes]


def _draw_again(probs: torch.Tensor, masked: List[int], generator) -> Optional[int]:
    """One index from a row's probabilities (vocab,) with the masked indices left out; None when nothing is left."""
    probs = probs.clone()
    probs[masked] = 0
    if not probs.sum() > 0:
        return None
    return int(torch.multinomial(probs, num_samples=1, generator=generator))


def _guide_row(row, verdict, char, probs, prev_probs, vocab, char2idx, generator):
    """Follow a guided row's REJECT / UNDO: draw again from this step's probabilities with the refused
    characters masked, or take back the row's last character and draw its position again from the
    previous step's (`prev_probs`, None when that character was not drawn there). Returns (verdict,
    character, whether the row's last position was drawn again); ROLL_BACK when masking cannot help.
    """
    from labutils.guide import MAX_MASKED, MAX_UNDOS, REJECT, ROLL_BACK, UNDO

    masked, tries = [char], 0
    while verdict == REJECT and tries < MAX_MASKED:
        masked += [char2idx[c] for c in row.refused if c in char2idx]
        char = _draw_again(probs, masked, generator)
        if char is None:
            return ROLL_BACK, masked[0], False
        verdict = row.accept(vocab[char])
        masked.append(char)
        tries += 1
    if verdict == REJECT or (verdict == UNDO and (prev_probs is None or row.undos >= MAX_UNDOS)):
        return ROLL_BACK, char, False
    if verdict != UNDO:
        return verdict, char, False
    masked = [char2idx[row.undo_last()]]
    for _ in range(MAX_MASKED):
        char = _draw_again(prev_probs, masked, generator)
        if char is None:
            break
        verdict = row.accept(vocab[char])
        if verdict not in (REJECT, UNDO):
            return verdict, char, True
        masked += [char] + [char2idx[c] for c in row.refused if c in char2idx]
    return ROLL_BACK, masked[0], False


def _copy_rows(target, source, rows: List[int]) -> None:
    """target[:, rows] = source[:, rows] for an LSTM (h, c) or GRU h state."""
    if not rows:
        return
    for t, s in zip(*((target, source) if isinstance(target, tuple) else ((target,), (source,)))):
        t[:, rows] = s[:, rows]


def _zero_rows(state, rows: List[int]) -> None:
    if rows:
        for s in state if isinstance(state, tuple) else (state,):
            s[:, rows] = 0
