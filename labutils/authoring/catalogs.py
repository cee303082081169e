"""The translation catalogs: translations/<lang>/NN_*.yaml, one per solution notebook.

Each entry holds the English text (`en`), its fingerprint (`fp`, translation.fingerprint of `en`)
and the translation (e.g. `zh`). Entries are looked up by the fingerprint of the English the build
meets, so an English sentence that changed finds no translation: the edition keeps the English
there and `problems` lists the entry as missing (with the old English it replaced), until
`updated` adds it (marked fuzzy, with the old translation) and a translator writes the new one.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from labutils.authoring.sources import SOLUTIONS_DIR, BuildError
from labutils.authoring.translation import Lookup, Unit, fingerprint


def languages(translations_dir: Path) -> List[str]:
    """The editions: one per folder of translations_dir that has a catalog."""
    if not translations_dir.is_dir():
        return []
    return sorted(p.name for p in translations_dir.iterdir() if p.is_dir() and any(p.glob("[0-9][0-9]_*.yaml")))


def catalog_for(translations_dir: Path, language: str, solution: Path) -> Catalog:
    """The catalog of one solution notebook in one language (empty when its file does not exist yet)."""
    return Catalog.load(translations_dir / language / f"{solution.stem}.yaml", language,
                        f"{SOLUTIONS_DIR}/{solution.name}")


class Catalog:
    """One notebook's translations: translations/<lang>/<notebook stem>.yaml."""

    def __init__(self, path: Path, language: str, source: str, entries: List[Dict]):
        self.path, self.language, self.source, self.entries = Path(path), language, source, entries

    @classmethod
    def load(cls, path: Path, language: str, source: str) -> Catalog:
        """The catalog in `path` (no entries when the file does not exist); BuildError for a broken file."""
        import yaml

        path = Path(path)
        if not path.is_file():
            return cls(path, language, source, [])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise BuildError(f"{path}: not valid YAML ({error}). Fix the file or restore it from git.") from None
        entries = data.get("entries") or []
        for number, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict) or not isinstance(entry.get("en"), str):
                raise BuildError(f"{path}: entry {number} has no English text ('en'); each entry needs fp, kind, "
                                 "en and zh.")
        return cls(path, language, source, entries)

    def translations(self) -> Dict[Tuple[str, str], str]:
        """{(kind, fingerprint): translation} of the entries that are translated, not fuzzy and not tampered."""
        found = {}
        for entry in self.entries:
            text = entry.get(self.language)
            if text and not entry.get("fuzzy") and entry.get("fp") == fingerprint(entry["en"]):
                found[_entry_key(entry)] = str(text).strip("\n")
        return found

    def lookup(self) -> Lookup:
        """The translation function of this catalog: a unit's text, or None where it has none."""
        found = self.translations()
        return lambda unit: found.get(_unit_key(unit))

    def problems(self, units: Sequence[Unit]) -> List[str]:
        """What keeps the catalog from translating `units`: missing, changed, fuzzy, untranslated, unused entries."""
        lang = self.language
        by_key = {_entry_key(e): e for e in self.entries}
        unused = _unused(by_key, units)
        problems = []
        for entry in self.entries:
            if entry.get("fp") != fingerprint(entry["en"]):
                problems.append(f"entry {_excerpt(entry['en'])}: fp {entry.get('fp')} is not the fingerprint of its "
                                f"English ({fingerprint(entry['en'])}); the English was edited in the catalog")
        for unit in units:
            entry = by_key.get(_unit_key(unit))
            if entry is None:
                old = _closest(unit, unused)
                problems.append(f"{unit.where}: {unit.kind} {_excerpt(unit.en)} has no entry" +
                                (f" (English changed; the entry was for {_excerpt(old['en'])})" if old else ""))
            elif entry.get("fuzzy"):
                problems.append(f"{unit.where}: {unit.kind} {_excerpt(unit.en)} is marked fuzzy: check the {lang} "
                                "text and remove 'fuzzy'")
            elif not entry.get(lang):
                problems.append(f"{unit.where}: {unit.kind} {_excerpt(unit.en)} has no {lang} text yet")
        problems += [f"unused entry {_excerpt(e['en'])} (its English is no longer in {self.source})" for e in unused]
        return problems

    def updated(self, units: Sequence[Unit]) -> Catalog:
        """The catalog with one entry per unit, in order: kept, new (empty) or changed (old translation, fuzzy)."""
        by_key = {_entry_key(e): e for e in self.entries if e.get("fp") == fingerprint(e["en"])}
        unused = _unused(by_key, units)
        entries = []
        for unit in units:
            key = _unit_key(unit)
            if key in by_key:
                entries.append(by_key[key])
                continue
            entry = {"fp": key[1], "kind": unit.kind, "en": unit.en, self.language: ""}
            old = _closest(unit, unused)
            if old is not None and old.get(self.language):
                unused.remove(old)
                entry.update({self.language: old[self.language], "fuzzy": True, "en_before": old["en"]})
            entries.append(entry)
        return Catalog(self.path, self.language, self.source, entries)

    def render(self) -> str:
        """The catalog as YAML: a short header, then one entry per piece of prose, multi-line texts as blocks."""
        import yaml

        class Dumper(yaml.SafeDumper):
            """PyYAML's safe dumper with multi-line texts as blocks (this catalog's own subclass)."""

        def text(dumper, value):
            style = "|" if "\n" in value else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        Dumper.add_representer(str, text)
        header = (f"# {self.language} translation of {self.source}. One entry per paragraph, TODO hint or comment;\n"
                  f"# fp is the fingerprint of en. After an English change: python -m labutils translations update,\n"
                  f"# then translate the new entries and those marked fuzzy (and delete 'fuzzy' and 'en_before').\n")
        body = yaml.dump({"language": self.language, "source": self.source, "entries": self.entries}, Dumper=Dumper,
                         allow_unicode=True, sort_keys=False, width=1000, default_flow_style=False)
        return header + body


def _entry_key(entry: Dict) -> Tuple[str, Optional[str]]:
    """(kind, fp) of a catalog entry (an entry without a kind is markdown)."""
    return entry.get("kind", "markdown"), entry.get("fp")


def _unit_key(unit: Unit) -> Tuple[str, str]:
    """(kind, fingerprint) of a unit: the key of its catalog entry."""
    return unit.kind, fingerprint(unit.en)


def _unused(by_key: Dict[Tuple, Dict], units: Sequence[Unit]) -> List[Dict]:
    """The entries (of `by_key`, {key: entry}) that no unit asks for."""
    wanted = {_unit_key(unit) for unit in units}
    return [entry for key, entry in by_key.items() if key not in wanted]


def _excerpt(text: str, width: int = 60) -> str:
    """A short quoted excerpt of a text, on one line, for messages."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= width else flat[: width - 3] + "...")


def _closest(unit: Unit, entries: Sequence[Dict]) -> Optional[Dict]:
    """The entry of the same kind whose English is most like the unit's (None below 60% alike)."""
    best, score = None, 0.6
    for entry in entries:
        if _entry_key(entry)[0] != unit.kind:
            continue
        ratio = difflib.SequenceMatcher(None, entry["en"], unit.en).ratio()
        if ratio > score:
            best, score = entry, ratio
    return best
