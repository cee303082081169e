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
