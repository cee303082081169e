"""Whole tunes from a trained model, many at once, with a guide that keeps every bar right.

    from labutils.guided import generate_tunes
    tunes = generate_tunes(model, 16, vocab=vocab, seed=0)   # guided=False: plain sampling
    tunes = generate_tunes(model, 16, vocab=vocab, seed=0, cadence=None)   # parts may close on any note

The files, each using only those below it:
    sampler.py  generate_tunes and TuneBatch: one model call per step for all rows, each row's
                LSTM state and roll-back state, drawing again with characters masked
    guide.py    TuneRow: one row's tune and its verdict on each character (keep, mask and draw
                again, take back, roll back to the bar's start, a fallback bar after
                MAX_RETRIES, draw a part's last note again), and where a tune ends
    parts.py    FormRules: where a part may close and a tune end (phrases, two parts), the
                cadence and the other wishes, counted as labutils.music.form counts
The rhythm is labutils.music.rhythm's; the form, labutils.music.form's; the sampling of one
character, labutils.sampling's.
"""
from labutils import submodule_loader
from labutils.guided.guide import MAX_RETRIES, TuneRow
from labutils.guided.sampler import generate_tunes

__all__ = ["MAX_RETRIES", "TuneRow", "generate_tunes"]

MODULES = ("guide", "parts", "sampler")
__getattr__, __dir__ = submodule_loader(__name__, MODULES)
