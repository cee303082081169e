"""The grader says which notebook it is on while it works, and sums the run up on one screen when it is done."""
import io

from test_grading import write_notebook

from labutils.grading import cli as grading_cli
from labutils.grading.progress import Progress, summary


def _grade(student, total, problems=(), flags=(), errors=()):
    """A grade as student_grade writes it, with what the summary reads."""
    return {"student": student, "total": total, "max": 12, "flags": list(flags),
            "reports": [{"notebook": "lab.ipynb", "problems": list(problems), "errors": list(errors)}]}


def test_each_notebook_is_one_line_with_its_place_student_and_time():
    stream = io.StringIO()  # not a terminal
    progress = Progress(3, stream=stream)
    progress.notebook_done("alice", "02_vectorization.ipynb", {"seconds": 4.25})
    progress.notebook_done("bob\x1b[2J", "03_batches.ipynb", {"seconds": None})
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/3] alice 02_vectorization.ipynb: 4.2 s (") and lines[0].endswith(" s so far)")
    assert lines[1].startswith("[2/3] bob\\x1b[2J 03_batches.ipynb: not graded (")
    assert "\x1b" not in stream.getvalue()


def test_quiet_says_nothing_and_a_closed_stream_breaks_nothing():
    quiet = io.StringIO()
    Progress(2, quiet=True, stream=quiet).notebook_done("alice", "lab.ipynb", {"seconds": 1.0})
    assert quiet.getvalue() == ""
    closed = io.StringIO()
    closed.close()
    progress = Progress(2, stream=closed)
    progress.notebook_done("alice", "lab.ipynb", {"seconds": 1.0})
    assert progress.done == 1


def test_the_summary_counts_points_and_names_who_needs_a_look():
    grades = [_grade("ann", 12), _grade("ben", 12), _grade("=cal\n", 5, problems=["lab.ipynb: cell 3 ran over the "
                                                                                     "cell timeout of 30 s"]),
              _grade("dee", 0, problems=["not graded: no notebook found"]),
              _grade("eve", 10, flags=["identical_between_students"], errors=[{"cell": 2, "message": "x"}])]
    lines = summary(grades, 8, 60.0)
    assert lines[0] == "Summary: 5 student(s), 8 notebook(s) in 60 s (8.0 notebooks/min)"
    assert "   12 | ## 2" in lines and "    5 | # 1" in lines and "    0 | # 1" in lines and "    3 |" in lines
    look = lines[lines.index("Needs a look:") + 1:]
    assert look == ["  not graded (1): dee", "  timeouts (1): =cal\\n", "  flags for review (1): eve",
                    "  cells that raised (1): eve"]
    assert len(lines) <= 24  # one screen


def test_the_grader_reports_progress_on_stderr_and_a_summary_at_the_end(tmp_path, capsys):
    for student in ("ann", "ben"):  # notebooks without exercises: read, not run (quick)
        write_notebook(tmp_path / "class" / student / "01_intro.ipynb", "x = 1")
    assert grading_cli.main([str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    out, err = capsys.readouterr()
    assert [line.split(": ")[0] for line in err.splitlines() if line.startswith("[")] == [
        "[1/2] ann 01_intro.ipynb", "[2/2] ben 01_intro.ipynb"]
    assert "Summary: 2 student(s), 2 notebook(s) in" in out and "    0 | ## 2" in out
    assert grading_cli.main([str(tmp_path / "class"), "--out", str(tmp_path / "out2"), "--jobs", "1",
                             "--quiet"]) == 0
    assert "[1/2]" not in capsys.readouterr().err
