"""Grade student notebooks against the solutions: `python -m labutils grade SUBMISSION...`.

cli.py (the command), intake.py (find and read the submissions, within limits, never through a link),
pool.py (the grader's worker processes, --jobs), submissions.py (run, judge), sandbox.py (isolation, limits), worker.py
(one notebook inside the sandbox), kernel.py (its kernel run), probe_process.py (the probe process,
loaded as text), similarity.py (flags), report.py (grades.csv, grades.json, feedback/),
gradescope.py (the autograder zip and results.json). The inputs, probes and judges of the exercises
are labutils.exercises, the same the notebook checks use.

Submissions. Each SUBMISSION argument is one of:
  * a notebook file (.ipynb): one student, named after the file (alice.ipynb -> alice);
  * a folder with .ipynb files in it: one student, named after the folder, whose notebooks are
    those files (e.g. submissions/alice/03_batches.ipynb, .../06_sampling.ipynb);
  * a folder with no .ipynb files of its own but sub-folders that have some (a class): each such
    sub-folder is one student (submissions/alice/, submissions/bob/, ...).
Inside them, a link (a notebook or a student folder) is never followed and a notebook over the size,
cell and nesting limits is never parsed: each is a row with the reason (intake.py).
A student's exercise may live in any of their notebooks; each exercise counts once, from the
notebook where it did best.

How. Every notebook is run by a worker in a sandbox (sandbox.py: bubblewrap, else unshare as root,
else a new session; the grader says what is not isolated) with an allowlisted environment, limits
per process (--memory, --cpu-time, --max-file-size, --max-processes) and, as root, a fresh
unprivileged uid. The kernel runs the cells (LABUTILS_SMALL=1, CUDA hidden, per-cell and total
timeouts, capped output; a cell that kills the kernel is skipped on a re-run). Then a fresh
process (worker.py, probe_process.py) re-runs only the notebook's definitions and probes them on
inputs drawn afresh (--seed to repeat), its channel bound before any student code runs; the
grader judges the data in its own process, with its own imports of the reference. Only
definitions made in the notebook count: labutils' reference, imported, wrapped or called at run
time, counts as not implemented. Identical code (to the reference, between students) is flagged,
not zeroed.
How each limit works and the residual risks: README.md in this folder.

Output in --out (default ./grades): grades.csv (one row per student), grades.json (details)
and feedback/<student>.txt. The exit status is non-zero only when the grader could not grade a
notebook (its own error, or its process died twice).
"""
from labutils import submodule_loader
from labutils.grading.intake import find_submissions
from labutils.grading.submissions import RUBRIC, grade_notebook, grade_student

MODULES = ("cli", "gradescope", "intake", "kernel", "pool", "probe_process", "report", "sandbox", "similarity",
           "submissions", "worker")
__getattr__, __dir__ = submodule_loader(__name__, MODULES)

__all__ = ["RUBRIC", "find_submissions", "grade_notebook", "grade_student"]
