"""Run a solution notebook's code cells as a student would (LABUTILS_SMALL=1) and read what they show."""
from pathlib import Path

import nbformat
import pytest

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def run_cells(tmp_path_factory, keep, solution):
    """Run a solution notebook's code cells for which keep(source) is true, under LABUTILS_SMALL=1; return them."""
    from nbclient import NotebookClient

    nb = nbformat.read(solution, as_version=4)
    nb.cells = [cell for cell in nb.cells if cell.cell_type == "code" and keep(cell.source)]
    work = tmp_path_factory.mktemp(Path(solution).stem)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LABUTILS_SMALL", "1")
        NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    return nb.cells


def printed(cell) -> str:
    """What the cell printed (stdout: progress bars go to stderr)."""
    return "".join(out.get("text", "") for out in cell.outputs if out.get("name") == "stdout")


def shows_progress(cell) -> bool:
    """True when the cell drew a tqdm.auto bar: a widget in Jupyter, text on stderr elsewhere."""
    return any("application/vnd.jupyter.widget-view+json" in out.get("data", {})
               or (out.output_type == "stream" and out.name == "stderr" and "it/s" in out.text)
               for out in cell.outputs)


def errors(cells) -> list:
    """The error outputs of the cells, as 'ename: evalue'."""
    return [f"{out.ename}: {out.evalue}" for cell in cells for out in cell.outputs if out.output_type == "error"]
