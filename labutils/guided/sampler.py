"""generate_tunes: whole tunes from a model, many rows at once, each row with the bar guide.

The batch (`TuneBatch`) makes one model call per step for all rows and keeps each row's LSTM
state, the state at its roll-back point, and the last step's probabilities; each row's TuneRow
(guide.py) says what becomes of the character drawn for it, and `TuneBatch._follow` carries
that out: keep it, draw again with characters masked, take the last one back, roll back, or
start the next tune.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from tqdm.auto import tqdm

from labutils.guided.guide import KEEP, MAX_MASKED, MAX_UNDOS, NOTE_AGAIN, REJECT, ROLL_BACK, TUNE_DONE, UNDO, TuneRow
from labutils.guided.parts import check_cadence
from labutils.model import clone_state, copy_state_rows, reset_state_rows
from labutils.params import GENERATION_DEFAULTS
from labutils.sampling import check_temperature, next_probabilities, step_kernels, vocab_maps


def generate_tunes(
    model,
    num_tunes: int,
    *,
    temperature: Optional[float] = None,
    top_k: Optional[int] = None,
    guided: bool = True,
    header_temperature: Optional[float] = GENERATION_DEFAULTS["header_temperature"],
    seed: Optional[int] = None,
    max_chars: int = 1500,
    vocab: Optional[Sequence[str]] = None,
    batch_size: int = 64,
    start: str = "X",
    cadence: Optional[str] = "tonic",
    progress: bool = False,
) -> List[str]:
    """Sample `num_tunes` complete tunes, each from "X:" to its end, many rows at once.

    Each batch row writes a tune; a row whose tune ends starts the next one, so the batch
    stays full. With `guided=True` (guide.py) no bar ends at the wrong length, no note
    overflows its bar, and abc2midi reads every tune without error: a character that would
    break the bar is masked and the position drawn again from the same step's logits (no
    extra model call); a bar line or note that proves wrong only at the next character is
    taken back and drawn again from the previous step's logits; only when masking cannot
    help does the row go back to its bar's start (its LSTM state too), and after a few such
    tries it writes a fallback bar. The guide also keeps the form (parts.py): a repeat that
    does not fit rolls its bar back instead of ending the tune, a reel's, jig's, ... part
    closes after 8 or 16 bars as played (16 after a first part of 16), a tune after its second.
    `cadence` is a choice, on by default: "tonic" steers a part's last note to the key's tonic,
    "triad" to its tonic chord, None leaves it to the model. Steering only masks and draws
    again from the model's own probabilities: it never copies a bar. Every limit is a small
    constant; a seed reproduces the tunes. `guided=False` is plain sampling (each row's first
    tune is what generate_text writes with the same seed; no cadence). A tune that reaches
    `max_chars` without ending is dropped and its row starts afresh. Temperature defaults to
    labutils.params.GENERATION_DEFAULTS. A guided tune's header (its title, meter and key) is drawn
    at `header_temperature` (1.0 by default: the keys and tune types as often as the model learnt
    them; None: `temperature` throughout), its music at `temperature`."""
    temperature, header_temperature = _check_arguments(num_tunes, temperature, header_temperature, top_k, max_chars,
                                                       batch_size)
    vocab, char2idx = vocab_maps(vocab, None)
    unknown = sorted(set(start + "X:\n |") - char2idx.keys())
    if not start or unknown:
        raise ValueError(f"start {start!r} (and the characters a tune needs, X: | and newline) must be in the "
                         f"vocabulary; missing: {''.join(unknown)!r}. Known characters: {''.join(vocab)!r}")
    rows = [TuneRow(guided, max_chars, start, check_cadence(cadence)) for _ in range(min(num_tunes, batch_size))]
    tunes, starts = _sample(model, num_tunes, progress, lambda: TuneBatch(
        model, rows, start, vocab, char2idx, seed=seed, temperature=temperature, top_k=top_k,
        header_temperature=header_temperature))
    if len(tunes) < num_tunes:
        warnings.warn(f"generate_tunes: only {len(tunes)} of {num_tunes} tunes ended within {max_chars} "
                      f"characters after {starts} starts (an untrained model?); returning those.", stacklevel=2)
    return tunes[:num_tunes]


def _sample(model, num_tunes: int, progress: bool, make_batch) -> Tuple[List[str], int]:
    """Step the batch `make_batch()` makes (in eval and inference mode) until it has `num_tunes` tunes or has
    begun 4 per tune asked and 2 per row (a model that never ends a tune stops there); (tunes, tunes begun)."""
    tunes: List[str] = []
    was_training = model.training
    model.eval()
    bar = tqdm(total=num_tunes, disable=not progress, desc="tunes")
    try:
        with torch.inference_mode(), step_kernels(next(model.parameters()).device):
            batch = make_batch()
            max_starts = 4 * num_tunes + 2 * len(batch.rows)
            while len(tunes) < num_tunes and batch.starts <= max_starts:
                ended = batch.step()
                tunes += ended
                bar.update(len(ended))
    finally:
        bar.close()
        model.train(was_training)
    return tunes, batch.starts


def _check_arguments(num_tunes, temperature, header_temperature, top_k, max_chars: int, batch_size: int):
    """Refuse arguments that cannot give tunes; returns the temperatures to use (music, header)."""
    if isinstance(num_tunes, bool) or not isinstance(num_tunes, int) or num_tunes < 1:
        raise ValueError(f"num_tunes must be a whole number >= 1, got {num_tunes!r}.")
    temperature = check_temperature(GENERATION_DEFAULTS["temperature"] if temperature is None else temperature)
    header_temperature = temperature if header_temperature is None else check_temperature(
        header_temperature, "header_temperature")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}.")
    if max_chars < 50 or batch_size < 1:
        raise ValueError(f"max_chars must be >= 50 and batch_size >= 1, got {max_chars} and {batch_size}.")
    return temperature, header_temperature


@dataclass
class _Moves:
    """Rows whose model state changes other than by the step itself, after one step."""

    keep: List[int] = field(default_factory=list)  # set a roll-back point: save the state before this step
    undone: List[int] = field(default_factory=list)  # drew their last position again: the state before it
    back: List[int] = field(default_factory=list)  # rolled back: the saved state and input
    fresh: List[int] = field(default_factory=list)  # start a new tune from scratch: a zero state
    note: List[int] = field(default_factory=list)  # began a note: keep the step's state and probabilities
    renoted: List[int] = field(default_factory=list)  # drew their last note's first character again: its state


class TuneBatch:
    """Rows sampled together: their TuneRows, and the model's state for each (LSTM (h, c), GRU h, or a
    lookback model's (h, c, readers): labutils.model's state helpers copy and reset each kind)."""

    def __init__(self, model, rows: List[TuneRow], start: str, vocab: List[str], char2idx: Dict[str, int], *,
                 seed: Optional[int], temperature: float, top_k: Optional[int],
                 header_temperature: Optional[float] = None):
        self.model, self.rows, self.start, self.vocab, self.char2idx = model, rows, start, vocab, char2idx
        self.temperature, self.top_k = temperature, top_k
        self.header_temperature = temperature if header_temperature is None else header_temperature
        self.device = next(model.parameters()).device
        self.generator = None
        if seed is not None:
            self.generator = torch.Generator(device=self.device)
            self.generator.manual_seed(seed)
        prime = torch.tensor([[char2idx[c] for c in start]], dtype=torch.long, device=self.device).repeat(len(rows), 1)
        self.state = model.init_hidden(len(rows), self.device)
        if len(start) > 1:
            _, self.state = model(prime[:, :-1], self.state, return_state=True)
        self.inp = prime[:, -1:]  # (rows, 1): the last character each row has written
        self.saved = clone_state(self.state)
        self.saved_inp = self.inp.clone()  # (rows, 1): the state and input at each row's roll-back point
        self.note_state = clone_state(self.state)
        self.note_probs = torch.zeros(len(rows), len(vocab), dtype=torch.float64, device=self.device)
        # (rows, vocab): each row's state after the character before its last note, and that note's probabilities
        self.prev_probs: Optional[torch.Tensor] = None  # (rows, vocab): the last step's probabilities
        self.drawn = [False] * len(rows)  # the row's last character was drawn from its prev_probs row
        self.starts = len(rows)  # tunes begun

    def step(self) -> List[str]:
        """One model call for all rows, one character for each; returns the tunes that ended."""
        logits, new_state = self.model(self.inp, self.state, return_state=True)  # (rows, 1, vocab)
        probs = next_probabilities(logits[:, -1, :], self.temperature, self.top_k)  # (rows, vocab)
        if self.header_temperature != self.temperature:
            heads = [r for r, row in enumerate(self.rows) if row.in_header]
            if heads:
                probs[heads] = next_probabilities(logits[heads, -1, :], self.header_temperature, self.top_k)
        chars = torch.multinomial(probs, num_samples=1, generator=self.generator)[:, 0].tolist()
        moves, ended = _Moves(), []
        for r, row in enumerate(self.rows):
            chars[r] = self._follow(r, row, chars[r], probs, moves, ended)
        self._next_states(new_state, chars, moves, probs)
        if moves.undone or moves.renoted:  # their last character came from older probabilities: keep those
            probs = probs.clone()
            probs[moves.undone] = self.prev_probs[moves.undone]
            probs[moves.renoted] = self.note_probs[moves.renoted]
        self.prev_probs = probs
        return ended

    def _follow(self, r: int, row: TuneRow, char: int, probs: torch.Tensor, moves: _Moves, ended: List[str]) -> int:
        """Row r's verdict on the character drawn for it (an index); returns the character it wrote."""
        forced = bool(row.forced)
        if forced:
            char = self.char2idx.get(row.forced.pop(0), char)
        row.undoable = self.drawn[r]
        verdict, redone = row.accept(self.vocab[char]), False
        if verdict in (REJECT, UNDO):
            if forced:
                verdict = ROLL_BACK
            else:
                previous = self.prev_probs[r] if self.drawn[r] else None
                verdict, char, redone = self._draw_again(row, verdict, char, probs[r], previous)
                if redone:
                    moves.undone.append(r)
        if verdict == NOTE_AGAIN:
            verdict, char = self._note_again(row, r)
            if verdict == KEEP:
                moves.renoted.append(r)
                redone = True
        self.drawn[r] = verdict == KEEP and not forced  # (drawn again: from what step() keeps in prev_probs)
        if verdict == KEEP:
            if row.guided:
                char = self.char2idx[row.text[-1]]  # (the guide writes "X:" for "X" + anything)
            if row.new_rollback_point:
                moves.keep.append(r)  # the state before the bar line's last character
            if row.new_note_point and self.drawn[r] and not redone:
                moves.note.append(r)  # the state and probabilities the note's first character was drawn from
            elif row.new_note_point and r not in moves.renoted:
                row.note_point = None  # (not drawn from this step's probabilities: nothing kept to draw again)
        elif verdict == ROLL_BACK:
            (moves.back if row.roll_back() else moves.fresh).append(r)
        elif verdict == TUNE_DONE:
            ended.append(row.tune())
            self.starts += 1
            row.restart("X:" if row.ended_by == "new tune" else "")
            row.forced = list(self.start)  # also after "new tune", whose text starts "X:" already (as it was)
        else:  # the tune ran past max_chars: start afresh
            moves.fresh.append(r)
        return char

    def _note_again(self, row: TuneRow, r: int):
        """Follow NOTE_AGAIN: take back the row's last note and draw its first character again from the
        probabilities it was drawn from, only row.note_letters allowed. Returns (verdict, character)."""
        allowed = [self.char2idx[c] for c in row.take_back_note() if c in self.char2idx]
        probs = torch.zeros_like(self.note_probs[r])
        probs[allowed] = self.note_probs[r, allowed]
        if not probs.sum() > 0:
            return ROLL_BACK, allowed[0] if allowed else 0
        char = int(torch.multinomial(probs, num_samples=1, generator=self.generator))
        verdict = row.accept(self.vocab[char])
        return (verdict if verdict == KEEP else ROLL_BACK), char

    def _draw_again(self, row: TuneRow, verdict: str, char: int, probs: torch.Tensor,
                    previous: Optional[torch.Tensor]):
        """Follow a guided row's REJECT / UNDO: draw again from this step's probabilities (vocab,) with
        the refused characters masked, or take back the row's last character and draw its position
        again from the previous step's (`previous`, None when that character was not drawn there).
        Returns (verdict, character, whether the row's last position was drawn again); ROLL_BACK
        when masking cannot help."""
        masked, tries = [char], 0
        while verdict == REJECT and tries < MAX_MASKED:
            masked += [self.char2idx[c] for c in row.refused if c in self.char2idx]
            char = _draw_masked(probs, masked, self.generator)
            if char is None:
                return ROLL_BACK, masked[0], False
            verdict = row.accept(self.vocab[char])
            masked.append(char)
            tries += 1
        if verdict == REJECT or (verdict == UNDO and (previous is None or row.undos >= MAX_UNDOS)):
            return ROLL_BACK, char, False
        if verdict != UNDO:
            return verdict, char, False
        masked = [self.char2idx[row.undo_last()]]
        for _ in range(MAX_MASKED):
            char = _draw_masked(previous, masked, self.generator)
            if char is None:
                break
            verdict = row.accept(self.vocab[char])
            if verdict not in (REJECT, UNDO):
                return verdict, char, True
            masked += [char] + [self.char2idx[c] for c in row.refused if c in self.char2idx]
        return ROLL_BACK, masked[0], False

    def _next_states(self, new_state, chars: List[int], moves: _Moves, probs: torch.Tensor) -> None:
        """Each row's state and input for the next step: the step's own, unless `moves` says otherwise."""
        nxt = torch.tensor(chars, dtype=torch.long, device=self.device).unsqueeze(1)  # (rows, 1)
        copy_state_rows(self.saved, self.state, moves.keep)
        self.saved_inp[moves.keep] = self.inp[moves.keep]
        copy_state_rows(self.note_state, new_state, moves.note)
        if moves.note:
            self.note_probs[moves.note] = probs[moves.note]
        copy_state_rows(new_state, self.state, moves.undone)  # these rows wrote their last position again
        self.state = new_state
        copy_state_rows(self.state, self.saved, moves.back)
        copy_state_rows(self.state, self.note_state, moves.renoted)
        nxt[moves.back] = self.saved_inp[moves.back]
        for r in moves.fresh:
            self.starts += 1
            row = self.rows[r]
            row.restart("")
            row.forced = list(self.start[1:])
            row.accept(self.start[0])
            nxt[r] = self.char2idx[self.start[0]]
            self.drawn[r] = False
        reset_state_rows(self.state, moves.fresh)
        self.inp = nxt


def _draw_masked(probs: torch.Tensor, masked: List[int], generator) -> Optional[int]:
    """One index from a row's probabilities (vocab,) with the masked indices left out; None when nothing is left."""
    probs = probs.clone()
    probs[masked] = 0
    if not probs.sum() > 0:
        return None
    return int(torch.multinomial(probs, num_samples=1, generator=generator))
