"""What the grader writes: grades.csv, grades.json and one feedback file per student."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Dict, List

from labutils.grading.submissions import RUBRIC


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "student"


def feedback_text(grade: Dict) -> str:
    """The short feedback a student reads: points per exercise, what failed and the hint."""
    lines = [f"{grade['student']}: {grade['total']}/{grade['max']} points", ""]
    for exercise, result in grade["exercises"].items():
        where = f" ({result['notebook']})" if result.get("notebook") else ""
        lines.append(f"{exercise}: {result['points']}/{result['max']}{where}")
        lines.append(f"    {result['message']}")
    if grade["status"] != "ok":
        lines += ["", f"Notes: {grade['status']}"]
    return "\n".join(lines) + "\n"


def write_reports(grades: List[Dict], out: Path, seed: int) -> None:
    """Write grades.csv, grades.json and feedback/<student>.txt into `out`."""
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *RUBRIC, "total", "max", "status"])
        for grade in grades:
            writer.writerow([grade["student"], *(grade["exercises"][e]["points"] for e in RUBRIC),
                             grade["total"], grade["max"], grade["status"]])
    summary = {"seed": seed, "rubric": RUBRIC, "students": grades}
    (out / "grades.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    for grade in grades:
        (out / "feedback" / f"{_safe_name(grade['student'])}.txt").write_text(feedback_text(grade), encoding="utf-8")
