"""labutils.files: atomic writes and the checks before a file or folder is written."""
import pytest

from labutils import files


def test_atomic_write_leaves_old_file_on_failure_and_normal_permissions(tmp_path):
    target = tmp_path / "keep.txt"
    files.atomic_write_text(target, "old")

    def broken(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        files.atomic_write_bytes(target, broken)
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]
    assert target.stat().st_mode & 0o044  # readable by group/others like any file the user writes


def test_check_writable_folder(tmp_path, monkeypatch):
    import os

    (tmp_path / "afile").write_text("mine")
    with pytest.raises(NotADirectoryError, match="^--out 'x' is a file"):
        files.check_writable_folder(tmp_path / "afile", "--out 'x'")
    later = tmp_path / "new" / "deeper"
    assert files.check_writable_folder(later, "runs") == later and not (tmp_path / "new").exists()
    real_access = os.access  # root may write anywhere: make the check see tmp_path as read-only
    monkeypatch.setattr(os, "access", lambda p, mode: os.fspath(p) != os.fspath(tmp_path) and real_access(p, mode))
    with pytest.raises(PermissionError, match=f"^runs: cannot write in '{tmp_path}' \\(read-only\\)"):
        files.check_writable_folder(later, "runs")
    with pytest.raises(PermissionError, match="read-only"):
        files.check_output(tmp_path / "out.wav")
