"""The check messages in the student's language: "[PASS] <what>" and "[FAIL] <what> — hint: <hint>".

The judges (labutils.exercises.judges) write English. `localize(message)` translates at the
boundary: the frame words, the hint (looked up by its exact English text) and the what-part
(exact, or matched against a template such as "{0} returned a {1}, expected a string", whose
numbered slots carry the dynamic parts over as they are). What has no translation stays English.
The catalogs are package data, labutils/locales/<lang>/checks.yaml, so a Colab install has them.

The language: `set_language("zh")` (the Chinese notebooks call it in their first cell), else the
LABUTILS_LANG environment variable, else English.
"""
from __future__ import annotations

import ast
import functools
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

LANGUAGE_ENV = "LABUTILS_LANG"
LOCALES = Path(__file__).resolve().parent / "locales"
_language: Optional[str] = None
_FRAME = re.compile(r"^\[(PASS|FAIL)\] (.*?)(?: — hint: (.*))?$", re.S)
_SLOT = re.compile(r"\{(\d+)\}")


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
    """{"frame", "words", "whats": {en: text}, "hints": {en: text}, "templates": {kind: [(regex, text)]}}."""
    import yaml

    path = LOCALES / language / "checks.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    table: Dict = {"frame": data.get("frame") or {}, "words": data.get("words") or {}, "templates": {}}
    for kind in ("whats", "hints"):
        exact, templates = {}, []
        for entry in data.get(kind) or []:
            if not entry.get(language):
                continue
            if _SLOT.search(entry["en"]):
                templates.append((template_regex(entry["en"]), entry[language], len(_SLOT.sub("", entry["en"]))))
            else:
                exact[entry["en"]] = entry[language]
        templates.sort(key=lambda t: -t[2])  # the most specific (most fixed text) first
        table[kind] = exact
        table["templates"][kind] = [(regex, text) for regex, text, _ in templates]
    return table


def template_regex(template: str) -> re.Pattern:
    """A regex for an English template: fixed text literally, each {n} any text (a group)."""
    parts = _SLOT.split(template)
    pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<s{part}>.*?)" for i, part in enumerate(parts))
    return re.compile(pattern + r"\Z", re.S)


def _fill(text: str, match: re.Match) -> str:
    return _SLOT.sub(lambda m: match.group(f"s{m.group(1)}") if f"s{m.group(1)}" in match.re.groupindex
                     else m.group(0), text)


def translate_part(text: str, kind: str, language: str) -> str:
    """One what-part ('whats') or hint ('hints') in `language`; English when the catalog lacks it."""
    if language == "en":
        return text
    table = catalog(language)
    if text in table[kind]:
        return table[kind][text]
    for regex, translated in table["templates"][kind]:
        match = regex.match(text)
        if match:
            return _fill(translated, match)
    return text


def localize(message: str, language: Optional[str] = None) -> str:
    """A "[PASS] ..." / "[FAIL] ... — hint: ..." message in `language` (default: get_language())."""
    language = language or get_language()
    match = _FRAME.match(message)
    if language == "en" or not match:
        return message
    frame = catalog(language)["frame"]
    status, what, hint = match.groups()
    out = f"{frame.get(status.lower(), '[' + status + ']')} {translate_part(what, 'whats', language)}"
    if hint is not None:
        out += f"{frame.get('hint', ' — hint: ')}{translate_part(hint, 'hints', language)}"
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


# --- the English the judges write (for the catalog's completeness test and its maintainers) ---------


def _templates(node: ast.AST) -> List[List[Tuple[str, str]]]:
    """The texts an expression can make, as parts ('text', s) / ('slot', ''): f-strings, + and if/else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [[("text", node.value)]]
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            parts.append(("text", value.value) if isinstance(value, ast.Constant) else ("slot", ""))
        return [parts]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _templates(node.left) for b in _templates(node.right)]
    if isinstance(node, ast.IfExp):
        return _templates(node.body) + _templates(node.orelse)
    return [[("slot", "")]]


def _render(parts: List[Tuple[str, str]]) -> str:
    out, slots = [], 0
    for kind, text in parts:
        if kind == "text":
            out.append(text)
        elif not out or not out[-1].startswith("{"):
            out.append(f"{{{slots}}}")
            slots += 1
    return "".join(out)


def judge_strings(path: Optional[Path] = None) -> Dict[str, List[str]]:
    """{"whats": [...], "hints": [...]}: the English templates of the judges' messages, read from judges.py."""
    path = path or Path(__file__).resolve().parent / "exercises" / "judges.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: Dict[str, List[str]] = {"whats": [], "hints": []}

    def add(kind: str, node: ast.AST) -> None:
        for parts in _templates(node):
            text = _render(parts)
            if _SLOT.sub("", text).strip() and text not in found[kind]:
                found[kind].append(text)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = node.args
            if node.func.id == "_require" and len(args) >= 3:
                add("whats", args[1])
                add("hints", args[2])
            elif node.func.id == "only" and len(args) >= 3:  # _judge_lstm_model's one-layer-of-a-kind helper
                add("hints", args[2])
            elif node.func.id == "_Fail" and len(args) >= 2:
                add("whats", args[0])
                add("hints", args[1])
        elif isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["hint"]:
            add("hints", node.value)  # a hint chosen before the _require call that uses it
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            kind = {"PASSES": "whats", "EXCEPTION_HINTS": "hints"}.get(names[0] if names else "")
            if kind:
                for value in node.value.values:
                    add(kind, value)
    return found
