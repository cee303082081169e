"""What the grader says while it works (one line per notebook graded, on stderr) and when it is done (a
one-screen summary: students, a points histogram, what needs a look). Names are escaped as the reports
escape them (report.printable)."""
from __future__ import annotations

import sys
import time
from typing import Dict, List, Optional, TextIO

from labutils.grading.report import printable

NAMES_SHOWN = 6  # students named per line of the summary, then "and N more"
BAR_WIDTH = 40  # characters of the longest histogram bar


def say(line: str, stream: Optional[TextIO] = None) -> None:
    """Write one line to `stream` (default stderr), never failing: a closed or odd stream only loses the line."""
    try:
        print(line, file=stream or sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


class Progress:
    """Counts the notebooks graded and says, for each, which one of how many, whose, and the time so far."""

    def __init__(self, total: int, quiet: bool = False, stream: Optional[TextIO] = None):
        self.total, self.quiet, self.stream = total, quiet, stream
        self.done = 0
        self.started = time.monotonic()

    def seconds(self) -> float:
        """Seconds since grading started."""
        return time.monotonic() - self.started

    def notebook_done(self, student: str, notebook: str, report: Dict) -> None:
        """'[3/16] alice 03_batches.ipynb: 8.2 s (41 s so far)', unless quiet."""
        self.done += 1
        if self.quiet:
            return
        took = report.get("seconds")
        took = f"{took:.1f} s" if isinstance(took, (int, float)) else "not graded"
        say(f"[{self.done}/{self.total}] {printable(student)} {printable(notebook)}: {took} "
            f"({self.seconds():.0f} s so far)", self.stream)


def _names(students: List[str]) -> str:
    """'ann, bob and 3 more': a few escaped names."""
    shown = ", ".join(printable(s) for s in students[:NAMES_SHOWN])
    return shown + (f" and {len(students) - NAMES_SHOWN} more" if len(students) > NAMES_SHOWN else "")


def _kind(problem: str) -> str:
    """The kind of a notebook's problem, for the summary: timeout, limit, not graded or other."""
    if problem.startswith("not graded"):
        return "not graded"
    if "limit of" in problem and "reached" in problem:
        return "limits reached"
    if "timeout" in problem or "ran over" in problem or "did not finish in time" in problem:
        return "timeouts"
    return "other problems"


def needs_a_look(grades: List[Dict]) -> Dict[str, List[str]]:
    """{what: students}: timeouts, limits reached, notebooks not graded, other problems, flags, errors in cells."""
    found: Dict[str, List[str]] = {}
    for grade in grades:
        kinds = {_kind(p) for r in grade.get("reports", []) for p in r.get("problems", [])}
        if grade.get("flags"):
            kinds.add("flags for review")
        if any(r.get("errors") for r in grade.get("reports", [])):
            kinds.add("cells that raised")
        for kind in kinds:
            found.setdefault(kind, []).append(grade["student"])
    order = ("not graded", "timeouts", "limits reached", "other problems", "flags for review", "cells that raised")
    return {kind: found[kind] for kind in order if kind in found}


def summary(grades: List[Dict], notebooks: int, seconds: float) -> List[str]:
    """The summary's lines: how many, how fast, the points histogram and what needs a look."""
    if not grades:
        return []
    most = grades[0]["max"]
    lines = [f"Summary: {len(grades)} student(s), {notebooks} notebook(s) in {seconds:.0f} s "
             f"({60 * notebooks / max(seconds, 1e-9):.1f} notebooks/min)", f"Points (of {most}):"]
    counts = [sum(g["total"] == points for g in grades) for points in range(most + 1)]
    scale = max(counts) / BAR_WIDTH if max(counts) > BAR_WIDTH else 1
    for points, count in enumerate(counts):
        bar = "#" * round(count / scale) if count else ""
        lines.append(f"  {points:3d} | {bar}{' ' if bar else ''}{count if count else ''}".rstrip())
    look = needs_a_look(grades)
    lines.append("Needs a look:" if look else "Needs a look: nothing")
    lines += [f"  {kind} ({len(students)}): {_names(students)}" for kind, students in look.items()]
    return lines
