"""What the grader writes: grades.csv, grades.json and one feedback file per student."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
from pathlib import Path
from typing import Dict, List

from labutils.files import atomic_write_text
from labutils.grading.similarity import identical_pairs
from labutils.grading.submissions import RUBRIC
from labutils.messages import localize, word

MAX_FILE_STEM = 80  # a feedback file's name before its hash and .txt (a disk allows 255 bytes)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula


def printable(text: object) -> str:
    """`text` with its control and invisible formatting characters (ANSI escapes, newlines, bidi overrides)
    written as escapes (\\x1b, \\n, \\u202e): what a student chose, safe in a terminal, a CSV or a text file."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def spreadsheet_cell(value: object) -> object:
    """A grades.csv cell: numbers as they are; text printable and, when a spreadsheet would read it as a
    formula (=, +, -, @ first), kept as text with a leading quote (the usual guard against CSV injection)."""
    if isinstance(value, (int, float)):
        return value
    text = printable(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _safe_name(name: str) -> str:
    """The name with anything but letters, digits, dots, dashes and underscores replaced (a file name)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "student"


def feedback_names(students: List[str]) -> Dict[str, str]:
    """{student: feedback file name}, one file each: names that map to the same safe name (`a b` and `a_b`, or
    `Ann` and `ann` on a case-blind disk), or one too long for a file name, get a short hash of the real name."""
    groups: Dict[str, List[str]] = {}
    for student in students:
        groups.setdefault(_safe_name(student)[:MAX_FILE_STEM].lower(), []).append(student)
    names = {}
    for student in students:
        safe = _safe_name(student)
        if len(groups[safe[:MAX_FILE_STEM].lower()]) > 1 or len(safe) > MAX_FILE_STEM:
            safe = safe[:MAX_FILE_STEM] + "-" + hashlib.sha256(student.encode("utf-8")).hexdigest()[:8]
        names[student] = safe + ".txt"
    return names


def check_out_folder(out: Path) -> None:
    """Make `out`/feedback and prove a file can be written there, before any grading (OSError if not)."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {str(out)!r} is a file, not a folder")
    try:
        (out / "feedback").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out / "feedback"):
            pass
    except OSError as error:
        raise PermissionError(f"--out {str(out)!r} cannot be written ({error.strerror or error}): "
                              "pick a folder you can write to; nothing was graded") from error


def feedback_text(grade: Dict) -> str:
    """The short feedback a student reads: points per exercise, what failed and the hint.

    In the language of the student's notebooks (grade["language"], e.g. the Chinese edition's)."""
    language = grade.get("language", "en")
    lines = [f"{printable(grade['student'])}: {grade['total']}/{grade['max']} {word('points', language)}", ""]
    for exercise, result in grade["exercises"].items():
        where = f" ({printable(result['notebook'])})" if result.get("notebook") else ""
        lines.append(f"{exercise}: {result['points']}/{result['max']}{where}")
        lines.append(f"    {printable(localize(result['message'], language))}")
    if grade["status"] != "ok":
        lines += ["", f"{word('Notes', language)}: {printable(grade['status'])}"]
    return "\n".join(lines) + "\n"


def grades_csv(grades: List[Dict]) -> str:
    """grades.csv: one row per student, every text cell printable and never a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["student", *RUBRIC, "total", "max", "status", "flags"])
    for grade in grades:
        row = [grade["student"], *(grade["exercises"][e]["points"] for e in RUBRIC), grade["total"], grade["max"],
               grade["status"], "; ".join(grade.get("flags", []))]
        writer.writerow([spreadsheet_cell(value) for value in row])
    return buffer.getvalue()


def write_reports(grades: List[Dict], out: Path, seed: int) -> None:
    """Write grades.csv (first), grades.json and feedback/<student>.txt into `out`.

    A feedback file that cannot be written does not stop the others; an OSError at the end says which
    files are missing and why (a full disk: the one line of labutils.files)."""
    atomic_write_text(out / "grades.csv", grades_csv(grades))
    summary = {"seed": seed, "rubric": RUBRIC, "students": grades,
               "review": {"identical_to_reference": [{"student": g["student"], "flag": f} for g in grades
                                                     for f in g.get("flags", []) if "labutils' reference" in f],
                          "identical_between_students": identical_pairs(grades),
                          "other": [{"student": g["student"], "flag": f} for g in grades for f in g.get("flags", [])
                                    if "review by hand" in f]}}
    atomic_write_text(out / "grades.json", json.dumps(summary, indent=1, default=str))
    names = feedback_names([grade["student"] for grade in grades])
    failed = []
    for grade in grades:
        try:
            atomic_write_text(out / "feedback" / names[grade["student"]], feedback_text(grade))
        except OSError as error:
            failed.append(error)
    if failed:
        error = OSError(f"{len(failed)} of {len(grades)} feedback file(s) in {out / 'feedback'} could not be written "
                        f"({failed[0]}); grades.csv and grades.json were written")
        error.errno = failed[0].errno
        raise error
