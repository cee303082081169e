"""Grade student notebooks against the solutions: `python -m labutils grade SUBMISSION...`.

cli.py (the command), submissions.py (find, run, judge), kernel.py (one notebook in a fresh
kernel), probe.py (run in the student's kernel, injected as text), judges.py (the verdicts and
the probes' inputs), report.py (grades.csv, grades.json, feedback/).

Submissions. Each SUBMISSION argument is one of:
  * a notebook file (.ipynb): one student, named after the file (alice.ipynb -> alice);
  * a folder with .ipynb files in it: one student, named after the folder, whose notebooks are
    those files (e.g. submissions/alice/03_batches.ipynb, .../06_sampling.ipynb);
  * a folder with no .ipynb files of its own but sub-folders that have some (a class): each such
    sub-folder is one student (submissions/alice/, submissions/bob/, ...).
A student's exercise may live in any of their notebooks; each exercise counts once, from the
notebook where it did best.

How. Every notebook runs in a fresh kernel (this Python) in its own temporary folder, with
LABUTILS_SMALL=1, CUDA hidden, per-cell and total timeouts and capped output; errors in one
cell do not stop the rest, and a cell that kills the kernel is skipped on a re-run. Then the
probes of probe.py, read as text, run in that kernel on inputs drawn
afresh (--seed to repeat) and write plain data to a file; this process judges the data with
its own imports of the reference (judges.py). Only definitions made in the notebook
count (labutils' reference, imported or wrapped, counts as not implemented), so redefining the
checks, the rubric or the reference inside a notebook changes nothing.

Output in --out (default ./grades): grades.csv (one row per student), grades.json (details)
and feedback/<student>.txt. The exit status is non-zero only when the grader itself fails.
The notebooks run with your user's rights: grade untrusted work in a throwaway account or VM.
"""
from labutils.grading.submissions import RUBRIC, find_submissions, grade_notebook, grade_student

__all__ = ["RUBRIC", "find_submissions", "grade_notebook", "grade_student"]
