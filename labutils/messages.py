"""The check messages in the student's language: "[PASS] <what>" and "[FAIL] <what> — hint: <hint>".

The judges write English from the keyed tables of labutils/exercises/texts.py. `localize(message)`
translates at the boundary: it finds the key whose English template matches the what-part (and
the hint), and fills that key's translation with the template's {slots}, which carry the dynamic
parts over as they are. What has no translation stays English. The catalogs are package data,
labutils/locales/<lang>/checks.yaml (each key's English and its translation), so a Colab install
has them.

The language: `set_language("zh")` (the Chinese notebooks call it in their first cell), else the
LABUTILS_LANG environment variable, else English.
"""
from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from labutils.exercises.texts import FRAME, HINTS, WHATS

LANGUAGE_ENV = "LABUTILS_LANG"
LOCALES = Path(__file__).resolve().parent / "locales"
_language: Optional[str] = None
_FRAME = re.compile(f"^({re.escape(FRAME['pass'])}|{re.escape(FRAME['fail'])}) (.*?)(?:{re.escape(FRAME['hint'])}(.*))?$",
                    re.S)
_SLOT = re.compile(r"\{(\w+)\}")


def languages() -> List[str]:
    """The languages check messages can be shown in: English and every labutils/locales/<lang>/."""
    return ["en"] + sorted(p.parent.name for p in LOCALES.glob("*/checks.yaml"))


def set_language(language: Optional[str]) -> None:
    """Show check messages in `language` ('en', 'zh'); None goes back to LABUTILS_LANG or English."""
    if language is not None and language not in languages():
        raise ValueError(f"No check messages in {language!r}. Known languages: {', '.join(languages())}.")
    global _language
    _language = language


def get_language() -> str:
    """The language check messages are shown in now."""
    if _language:
        return _language
    wanted = os.environ.get(LANGUAGE_ENV, "").strip()
    return wanted if wanted in languages() else "en"


@functools.cache
def catalog(language: str) -> Dict:
    """{"frame", "words", "whats": {key: text}, "hints": {key: text}}: the translations whose English is current."""
    import yaml

    path = LOCALES / language / "checks.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    table: Dict = {"frame": data.get("frame") or {}, "words": data.get("words") or {}}
    for kind, english in (("whats", WHATS), ("hints", HINTS)):
        table[kind] = {key: entry[language] for key, entry in (data.get(kind) or {}).items()
                       if entry.get(language) and entry.get("en") == english.get(key)}
    return table


def template_regex(template: str) -> re.Pattern:
    """A regex for an English template: fixed text literally, each {slot} any text (a slot met again, the same)."""
    parts, seen = _SLOT.split(template), set()
    pattern = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            pattern.append(re.escape(part))
        else:
            pattern.append(f"(?P={part})" if part in seen else f"(?P<{part}>.*?)")
            seen.add(part)
    return re.compile("".join(pattern) + r"\Z", re.S)


@functools.cache
def _templates(kind: str) -> List[Tuple[re.Pattern, str]]:
    """(regex, key) for each English template of WHATS or HINTS, the most specific (most fixed text) first."""
    english = WHATS if kind == "whats" else HINTS
    ranked = sorted(english, key=lambda key: -len(_SLOT.sub("", english[key])))
    return [(template_regex(english[key]), key) for key in ranked]


def _fill(text: str, match: re.Match) -> str:
    """`text` with each {slot} replaced by what the English template's slot matched."""
    return _SLOT.sub(lambda slot: match.group(slot.group(1)) if slot.group(1) in match.re.groupindex
                     else slot.group(0), text)


def translate_part(text: str, kind: str, language: str) -> str:
    """One what-part ('whats') or hint ('hints') in `language`; English when the catalog lacks it."""
    if language == "en":
        return text
    translations = catalog(language)[kind]
    for regex, key in _templates(kind):
        match = regex.match(text) if key in translations else None
        if match:
            return _fill(translations[key], match)
    return text


def localize(message: str, language: Optional[str] = None) -> str:
    """A "[PASS] ..." / "[FAIL] ... — hint: ..." message in `language` (default: get_language())."""
    language = language or get_language()
    match = _FRAME.match(message)
    if language == "en" or not match:
        return message
    frame = catalog(language)["frame"]
    status = "pass" if match.group(1) == FRAME["pass"] else "fail"
    what, hint = match.group(2), match.group(3)
    out = f"{frame.get(status, FRAME[status])} {translate_part(what, 'whats', language)}"
    if hint is not None:
        out += f"{frame.get('hint', FRAME['hint'])}{translate_part(hint, 'hints', language)}"
    return out


def word(english: str, language: Optional[str] = None) -> str:
    """A short word of the grader's feedback ('points', 'Notes') in `language`."""
    language = language or get_language()
    return english if language == "en" else catalog(language)["words"].get(english, english)


def notebook_language(nb) -> str:
    """The language a notebook asks for: its labutils metadata, or a set_language("..") call in its code."""
    marks = nb.get("metadata", {}).get("labutils") or {}
    if isinstance(marks, dict) and marks.get("language") in languages():
        return marks["language"]
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            found = re.search(r"set_language\(\s*['\"](\w+)['\"]\s*\)", "".join(cell.get("source", "")))
            if found and found.group(1) in languages():
                return found.group(1)
    return "en"
