"""Grade student notebooks against the solutions: `python -m labutils grade SUBMISSION...`.

cli.py (the command), intake.py (find the submissions, never through a link, and the first gate on
each file: size, cells, nesting), pool.py (the grader's pool processes, --jobs), submissions.py (judge,
one grade per student), phases.py (one notebook's two sandboxed phases),
sandbox.py (isolation, limits), cgroups.py (a notebook's memory bound), view.py (labutils without
the references), processes.py (bounded talk, kill), worker.py (the kernel phase, inside the sandbox),
kernel.py (its kernel run), analysis.py (reading the notebook, inside the worker), probe_process.py
(the probe process, loaded as text), similarity.py (flags), report.py (grades.csv, grades.json,
feedback/), gradescope.py (the autograder zip and results.json). The inputs, probes and judges of
the exercises are labutils.exercises, the same the notebook checks use.

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

How. Every notebook is run in two phases, each in a sandbox of its own (sandbox.py: bubblewrap,
else unshare as root, else a new session; the grader says what is not isolated) with an allowlisted
environment, limits per process (--memory, --cpu-time, --max-file-size, --max-processes), a cgroup
bounding the whole notebook's memory and processes where the machine offers one, and, as root, a
fresh unprivileged uid per phase. The kernel phase (worker.py) reads the notebook and runs the cells
(LABUTILS_SMALL=1, CUDA hidden, per-cell and total timeouts, capped output and messages; a cell that
kills the kernel, or ignores the interrupt at its timeout, is skipped on a re-run). Then a fresh
process in a new sandbox (phases.py, probe_process.py) re-runs only the notebook's definitions and
probes them on inputs drawn afresh (--seed to repeat), its channel bound before any student code
runs; the labutils it sees has the exercises' references replaced by stubs (view.py); the grader
judges the data in its own process, with its own imports of the reference. Only definitions made in the notebook count: labutils'
reference, imported, wrapped or called at run time, counts as not implemented. Identical code (to
the reference, between students) is flagged, not zeroed.
How each limit works and the residual risks: README.md in this folder.

Output in --out (default ./grades): grades.csv (one row per student), grades.json (details)
and feedback/<student>.txt. The exit status is non-zero only when the grader could not grade a
notebook (its own error, or its process died twice).
"""
import importlib

from labutils import submodule_loader

MODULES = ("analysis", "cgroups", "cli", "gradescope", "intake", "kernel", "phases", "pool", "probe_process",
           "processes", "report", "sandbox", "similarity", "submissions", "view", "worker")
# The package's own names, loaded with their module on first use: the sandboxed worker (worker.py) imports
# this package on every notebook and needs none of them (submissions.py brings numpy)
NAMES = {"RUBRIC": "submissions", "grade_notebook": "submissions", "grade_student": "submissions",
         "find_submissions": "intake"}
_submodule, _ = submodule_loader(__name__, MODULES)


def __getattr__(name: str):
    """A submodule, or one of NAMES from its module."""
    if name in NAMES:
        return getattr(importlib.import_module(f"{__name__}.{NAMES[name]}"), name)
    return _submodule(name)


def __dir__():
    """The package's names, its submodules and NAMES."""
    return sorted({*globals(), *MODULES, *NAMES})


__all__ = ["RUBRIC", "find_submissions", "grade_notebook", "grade_student"]
