"""More tunes from music21's corpus, rewritten in the lab's format and without the lab's own tunes.

music21 (a dependency) ships ABC collections of fiddle tunes as plain files. `load_extra_tunes`
reads them as text (no music21 import, no network), keeps the tunes that have the header
fields the lab's tunes have (X, T, M, L:1/8, K), rewrites each as the lab's tunes are
written (X, T, Z, M, L, K in that order, "K:D Major" style keys, a "!" at the end of every
music line) with the characters of the lab's vocabulary (grace notes, decorations, bowing
and spacing marks, slurs and chord symbols removed, no spaces around bar lines, "A/2" written "A/";
a tune that still needs another character is dropped), and removes
tunes that are already in the lab's collection or twice in the extra ones (same normalised
title, or same first notes). It says how many it dropped and why.
"""
from __future__ import annotations

import importlib.util
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from labutils.data import load_training_data, split_tunes
from labutils.text import build_vocab

# name -> (folder in music21/corpus, what it is)
COLLECTIONS: Dict[str, Tuple[str, str]] = {
    "oneills": ("oneills1850", "O'Neill's Music of Ireland (1903), Irish"),
    "ryans": ("ryansMammoth", "Ryan's Mammoth Collection (1883), Irish, Scottish and American fiddle tunes"),
    "airds": ("airdsAirs", "Aird's Selection of Scotch, English, Irish and Foreign Airs (1782-1803)"),
}
MODES = {"": "Major", "maj": "Major", "major": "Major", "ion": "Major", "ionian": "Major",
         "m": "Minor", "min": "Minor", "minor": "Minor", "aeo": "Minor", "aeolian": "Minor",
         "dor": "Dorian", "dorian": "Dorian", "mix": "Mixolydian", "mixolydian": "Mixolydian"}
_KEY = re.compile(r"^([A-G][#b]?)\s*([A-Za-z]*)$")
_FIELD = re.compile(r"^([A-Za-z]):\s*(.*)$")
_TUNE_TYPES = re.compile(r"\b(reel|jig|hornpipe|polka|slide|set ?dance|slip ?jig|waltz|march|air|strathspey|"
                         r"clog|fling|quick ?step|schottische|highland)s?\b")
# Marks with no counterpart in the lab's tunes, removed before the vocabulary check:
_REMOVED = [(re.compile(r"\{[^}]*\}"), ""),  # grace notes {ed}
            (re.compile(r"![^!\s|]+!"), ""),  # decorations !4! !trill!
            (re.compile(r"[`~]"), ""),  # beam spacers, rolls
            (re.compile(r"(?<![A-Za-z])[uv](?=[\s(.A-Ga-g^_=|])"), "")]  # up-/down-bow marks (Ryan's)
# The collections' habits of writing that the lab's tunes do not share, rewritten as the lab
# writes the same music (a model then learns one way to write it, not two):
_RESTYLED = [(re.compile(r'"[^"]*"'), ""),  # chord symbols "Am": the lab's tunes have none
             (re.compile(r"\((?!\d)|\)"), ""),  # slurs; a "(3" triplet stays
             (re.compile(r"(?<![\d/])/2(?![\d/])"), "/"),  # A/2 -> A/ (3/2 stays)
             (re.compile(r"[HT.](?=[=^_]?[A-Ga-gz\[])"), ""),  # fermata, trill, staccato
             (re.compile(r"\s*(\[?[:|]*\|[:\]|]*)\s*"), r"\1"),  # no spaces around bar lines
             (re.compile(r"(?<=\|)\[?(\d)\s*"), r"[\1 ")]  # endings |1 as [1 and a space


@dataclass
class ExtraTunes:
    """What `load_extra_tunes` found: the kept tunes, the counts of dropped ones by reason,
    examples of tunes removed as already in the lab's collection (extra title, lab title)."""

    tunes: List[str] = field(default_factory=list)
    read: int = 0
    dropped: Counter = field(default_factory=Counter)
    duplicate_examples: List[Tuple[str, str]] = field(default_factory=list)
    per_collection: Dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: how many tunes were read, kept, and dropped for which reasons."""
        reasons = ", ".join(f"{n} {why}" for why, n in self.dropped.most_common())
        return f"extra tunes: read {self.read}, kept {len(self.tunes)}; dropped: {reasons or 'none'}"


def corpus_folder() -> Path:
    """The folder of music21's corpus (found without importing music21)."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("music21 is not installed; install the lab's requirements "
                                "(pip install -r requirements.txt).")
    return Path(list(spec.submodule_search_locations)[0]) / "corpus"


def parse_names(names) -> List[str]:
    """A list of collection names from "oneills,ryans" or a sequence ("none": no extra tunes);
    an unknown one raises."""
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    names = [n.strip().lower() for n in names if n and n.strip()]
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in COLLECTIONS]
    if unknown:
        known = "; ".join(f"{k} ({v[1]})" for k, v in COLLECTIONS.items())
        raise ValueError(f"Unknown extra tune collection(s): {', '.join(unknown)}. Known: {known}.")
    return list(dict.fromkeys(names))


def collection_files(name: str) -> List[Path]:
    """The .abc files of a collection, sorted."""
    folder = corpus_folder() / COLLECTIONS[parse_names([name])[0]][0]
    files = sorted(folder.glob("*.abc"))
    if not files:
        raise FileNotFoundError(f"No .abc files in {str(folder)!r}: is music21's corpus complete?")
    return files


def normalise_key(value: str) -> Optional[str]:
    """"Gm" -> "G Minor", "Ador" -> "A Dorian", "D" -> "D Major"; None for keys the lab has no words for."""
    match = _KEY.match(value.strip())
    if not match or match.group(2).lower() not in MODES:
        return None
    return f"{match.group(1)} {MODES[match.group(2).lower()]}"


def _meter_value(meter: str) -> float:
    """4/4 -> 1.0, C -> 1.0, C| -> 1.0, 6/8 -> 0.75; 0.0 when not understood."""
    meter = meter.strip()
    if meter in ("C", "C|"):
        return 1.0
    match = re.match(r"^(\d+)/(\d+)$", meter)
    return int(match.group(1)) / int(match.group(2)) if match and int(match.group(2)) else 0.0


def _title(value: str) -> str:
    title = value.split("--")[0].strip().rstrip(".")
    if title.isupper():  # Ryan's writes titles in capitals
        title = " ".join(word[:1] + word[1:].lower() for word in title.split())
    return title


def title_key(title: str) -> str:
    """A title for comparison: lower case, no leading "the", no tune type, letters and digits only."""
    title = title.split("--")[0].split("(")[0].lower().replace("'s", "s")
    title = _TUNE_TYPES.sub(" ", re.sub(r"^\s*the\s+", "", title))
    return re.sub(r"[^a-z0-9]", "", title)


def body_key(tune: str, length: int = 40) -> str:
    """The first `length` note letters of a tune's music, lower case (ignores octave, rhythm, bars)."""
    music = [line for line in tune.split("\n") if not _FIELD.match(line)]
    letters = re.sub(r'"[^"]*"', "", "\n".join(music))
    return "".join(re.findall(r"[A-Ga-g]", letters)).lower()[:length]


def _clean_music_line(line: str) -> List[str]:
    line = line.split("%", 1)[0]
    for pattern, replacement in _REMOVED + _RESTYLED:
        line = pattern.sub(replacement, line)
    # A "!" left inside a line is a line break (abc 1.6); the lab ends each line with one.
    return [re.sub(r"\s+", " ", part).strip() for part in line.split("!") if part.strip()]


def normalise_tune(tune: str, ident: str, alphabet) -> Tuple[Optional[str], Optional[str]]:
    """(the tune in the lab's format, None) or (None, why it was dropped)."""
    header: Dict[str, str] = {}
    lines = tune.replace("\r\n", "\n").split("\n")
    body_start = None
    for i, line in enumerate(lines):
        match = _FIELD.match(line)
        if match and match.group(1) not in header:
            header[match.group(1)] = match.group(2).strip()
        if match and match.group(1) == "K":
            body_start = i + 1
            break
    if not header.get("L") and _meter_value(header.get("M", "")) >= 0.75:
        header["L"] = "1/8"  # the ABC standard's default length for a meter of 3/4 or more
    missing = [f for f in "XTMLK" if not header.get(f)]
    if missing or body_start is None:
        return None, f"no {'/'.join(missing or ['K'])} field"
    if header["L"].replace(" ", "") != "1/8":
        return None, "L: is not 1/8 (all the lab's tunes are)"
    key = normalise_key(header["K"])
    if key is None:
        return None, "a key the lab does not write (e.g. K:HP, K:Ephr)"
    music, text = [], "\n".join(lines[body_start:]).replace("\\\n", " ")  # "\" continues a line
    for line in text.split("\n"):
        match = _FIELD.match(line)
        if match:
            name, value = match.groups()
            if name in "VLP":
                return None, "voices, parts or a length change inside the tune (V:, P:, L:)"
            if name == "K":
                inner = normalise_key(value)
                if inner is None:
                    return None, "a key the lab does not write (e.g. K:HP, K:Ephr)"
                music.append(f"K:{inner}")
            elif name == "M":
                music.append(f"M:{value.strip()}")
            continue  # other fields inside the music (N:, W:, ...) are notes for readers
        music.extend(part + "!" for part in _clean_music_line(line))
    if not any(re.search(r"[A-Ga-g]", line) for line in music if not _FIELD.match(line)):
        return None, "no music"
    kind = re.sub(r"[^a-z]", "", header.get("R", "").lower())
    number = re.sub(r"\D", "", header["X"]).lstrip("0") or "0"
    heads = [f"X:{number}", f"T:{_title(header['T'])}", f"Z: id:{ident}-{kind + '-' if kind else ''}{number}",
             f"M:{header['M']}", "L:1/8", f"K:{key}"]
    normalised = "\n".join(heads + music)
    unknown = sorted(set(normalised) - set(alphabet))
    if unknown:
        return None, "characters outside the vocabulary"
    return normalised, None


def load_extra_tunes(names, lab_songs: Optional[Sequence[str]] = None,
                     vocab: Optional[Sequence[str]] = None, examples: int = 5) -> ExtraTunes:
    """The tunes of music21's collections `names` ("oneills,ryans" or a list; see COLLECTIONS),
    in the lab's format and vocabulary, minus those already in `lab_songs` (default: the lab's
    tunes) by normalised title or first notes, and minus repeats."""
    names = parse_names(names)
    if not names:
        raise ValueError(f"No extra tune collection named; known: {', '.join(COLLECTIONS)}.")
    lab_songs = load_training_data() if lab_songs is None else list(lab_songs)
    alphabet = set(vocab) if vocab is not None else set(build_vocab("\n\n".join(lab_songs))[0])
    lab_titles = {}
    for song in lab_songs:
        title = next((line[2:].strip() for line in song.split("\n") if line.startswith("T:")), "")
        lab_titles.setdefault(title_key(title), title)
    lab_bodies = {body_key(song) for song in lab_songs}
    result = ExtraTunes()
    seen_titles, seen_bodies = set(), set()
    for name in names:
        kept_before = len(result.tunes)
        for path in collection_files(name):
            text = path.read_text(encoding="utf-8", errors="replace")
            for raw in split_tunes(text):
                result.read += 1
                tune, reason = normalise_tune(raw, name, alphabet)
                if tune is None:
                    result.dropped[reason] += 1
                    continue
                title = tune.split("\n")[1][2:]
                tkey, bkey = title_key(title), body_key(tune)
                if (tkey and tkey in lab_titles) or bkey in lab_bodies:
                    how = "same title" if tkey and tkey in lab_titles else "same first notes"
                    result.dropped[f"already in the lab's tunes ({how})"] += 1
                    if len(result.duplicate_examples) < examples:
                        result.duplicate_examples.append((title, lab_titles.get(tkey, "(same first notes)")))
                    continue
                if (tkey and tkey in seen_titles) or bkey in seen_bodies:
                    result.dropped["twice in the extra collections"] += 1
                    continue
                seen_titles.add(tkey)
                seen_bodies.add(bkey)
                result.tunes.append(tune)
        result.per_collection[name] = len(result.tunes) - kept_before
    return result
