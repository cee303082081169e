"""How good are generated tunes? Clean (abc2midi's verdict), wrong bars, size, copying, and form.

    report = tune_quality(tunes, training_tunes)
    report["clean"], report["copying"], report["tunes"][0]["longest_shared"]
    report["tunes"][0]["form"]["parts"], report["form"]["phrase_return"], report["real_form"]["phrase_return"]

A tune copies a training tune when it shares a run of COPY_RUN (60) or more characters of
tune body (the music after the K: line, line breaks included) with one. Found with an
index of the training bodies' 60-character pieces, then extended both ways: linear in
the length of the generated text.

Each tune's form (`form.tune_form`: parts, repeats, last notes, returning phrases) goes in its
row, the shares of `form.SHARES` over all the tunes in "form", and the same shares of the lab's
own tunes in "real_form" (measured once per process; None when the tune collection is absent).
"""
from __future__ import annotations

import copy
import functools
import re
from typing import Dict, List, Optional, Sequence

from labutils.music.form import SHARES, TuneForm, form_summary, percent, summarize_forms, tune_form

COPY_RUN = 60
_KEY_LINE = re.compile(r"(?m)^K:.*$")


def tune_body(tune: str) -> str:
    """The music of a tune: everything after its K: line (the whole text when it has none)."""
    key = _KEY_LINE.search(tune)
    return (tune[key.end():] if key else tune).strip()


class CopyIndex:
    """Pieces of the training tunes' bodies, to find the longest run a tune shares with one.

    A piece of `run - step` characters is indexed every `step` characters (40 every 20 for
    the default run of 60), so any shared run of `run` or more characters contains a whole
    indexed piece; each hit is then extended both ways to the run's full length.
    """

    def __init__(self, training_tunes: Sequence[str], run: int = COPY_RUN):
        self.run, self.step = run, run // 3
        self.piece = run - self.step
        self.bodies = [tune_body(t) for t in training_tunes]
        self.pieces: Dict[str, List[tuple]] = {}
        for which, body in enumerate(self.bodies):
            for start in range(0, len(body) - self.piece + 1, self.step):
                self.pieces.setdefault(body[start:start + self.piece], []).append((which, start))

    def longest_shared(self, tune: str) -> tuple:
        """(the longest run of body shared with a training tune, that tune's index); (0, None) when
        no run reaches an indexed piece (shorter runs do not matter for copying)."""
        body = tune_body(tune)
        best, best_tune = 0, None
        for i in range(0, len(body) - self.piece + 1):
            for which, start in self.pieces.get(body[i:i + self.piece], ())[:50]:
                source = self.bodies[which]
                before = 0
                while i - before > 0 and start - before > 0 and body[i - before - 1] == source[start - before - 1]:
                    before += 1
                after = self.piece
                while i + after < len(body) and start + after < len(source) and body[i + after] == source[start + after]:
                    after += 1
                if before + after > best:
                    best, best_tune = before + after, which
        return best, best_tune


def tune_quality(tunes: Sequence[str], training_tunes: Optional[Sequence[str]] = None,
                 backend: str = "auto", index: Optional[CopyIndex] = None) -> Dict:
    """Per tune and in total: clean, bars of the wrong length, notes, seconds, copying.

    `training_tunes` defaults to the lab's tune collection; pass `index` (a CopyIndex) to
    reuse one across calls. Returns {"tunes": [per-tune dicts], "count", "clean",
    "clean_share", "copying", "copying_share", "bad_bars", "notes", "seconds"}.
    """
    from labutils.music.play import check_tune

    if isinstance(tunes, str):
        raise TypeError("tune_quality takes a list of tunes; wrap a single tune in a list.")
    if index is None:
        if training_tunes is None:
            from labutils.data import load_training_data

            training_tunes = load_training_data()
        index = CopyIndex(training_tunes)
    rows, forms = [], [tune_form(tune) for tune in tunes]
    for number, tune in enumerate(tunes):
        report = check_tune(tune, backend)
        shared, source = index.longest_shared(tune)
        rows.append({"tune": number, "clean": report.clean, "bad_bars": report.bad_bars, "notes": report.notes,
                     "seconds": report.seconds, "errors": report.errors[:3], "backend": report.backend,
                     "longest_shared": shared, "copies": shared >= index.run, "copies_training_tune": source,
                     "form": form_row(forms[number])})
    count = len(rows)
    clean = sum(r["clean"] for r in rows)
    copying = sum(r["copies"] for r in rows)
    return {"tunes": rows, "count": count, "clean": clean, "clean_share": clean / count if count else 0.0,
            "copying": copying, "copying_share": copying / count if count else 0.0,
            "bad_bars": sum(r["bad_bars"] for r in rows), "notes": sum(r["notes"] for r in rows),
            "seconds": round(sum(r["seconds"] for r in rows), 1),
            "form": form_shares(summarize_forms(forms)), "real_form": real_form()}


def form_row(form: TuneForm) -> Dict:
    """One tune's form as plain data (quality.json): degrees are semitones above the K: tonic."""
    return {"tune_type": form.tune_type, "key": form.key, "parts": form.parts, "bars_per_part": form.bars_per_part,
            "repeated": form.repeated, "endings": form.endings, "bars_played": form.bars_played,
            "pickup": str(form.pickup), "last_bar_complete": form.last_bar_complete,
            "completes_pickup": form.completes_pickup, "last_degree": form.last_degree,
            "last_on_tonic": form.last_on_tonic, "part_degrees": form.part_degrees,
            "parts_on_tonic": form.parts_on_tonic, "phrase_returns": form.phrase_returns,
            "bars_written": form.bars_written, "bars_repeating": form.bars_repeating}


def form_shares(summary: Dict) -> Dict:
    """A form_summary as plain data: the shares of form.SHARES, the counts, the keys (most common first)."""
    keys = {str(key): count for key, count in summary["keys"].most_common()}
    return {**{key: summary[key] for key, _ in SHARES}, "counts": dict(summary["counts"]), "keys": keys}


@functools.lru_cache(maxsize=1)
def _real_form() -> Optional[Dict]:
    """form_shares of the lab's tune collection, measured once per process; None without the collection."""
    from labutils.data import DataNotFoundError, load_training_data

    try:
        songs = load_training_data()
    except DataNotFoundError:
        return None
    return form_shares(form_summary(songs))


def real_form() -> Optional[Dict]:
    """The form shares of the lab's own tunes (see form_shares), a copy to keep; None when they are not installed."""
    return copy.deepcopy(_real_form())


def quality_summary(quality: Dict) -> Dict:
    """The totals of a tune_quality report, for a printed summary or summary.json."""
    return {"tunes_clean": f"{quality['clean']} of {quality['count']} ({quality['clean_share']:.0%})",
            "tunes_copying": f"{quality['copying']} of {quality['count']} (a run of >= {COPY_RUN} characters "
                             f"shared with a training tune)",
            "wrong_bars": quality["bad_bars"], "notes": quality["notes"], "seconds_of_music": quality["seconds"],
            **form_lines(quality)}


def form_lines(quality: Dict) -> Dict:
    """The form shares of a tune_quality report next to the real tunes', one line each: {"form_<share>": text}."""
    ours, real = quality.get("form"), quality.get("real_form")
    if ours is None:
        return {}
    lines = {}
    for key, label in SHARES:
        beside = f" (real tunes {percent(real[key])})" if real is not None else ""
        lines[f"form_{key}"] = f"{percent(ours[key])}{beside}: {label}"
    return lines


def best_tunes(tunes: Sequence[str], quality: Dict, count: int = 3) -> List[str]:
    """The `count` best tunes: clean, not copying, longest music first."""
    ranked = sorted(quality["tunes"], key=lambda r: (not r["clean"], r["copies"], -r["seconds"]))
    return [tunes[r["tune"]] for r in ranked[:count]]
