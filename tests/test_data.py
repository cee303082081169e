import pytest

from labutils import data


@pytest.fixture(scope="module")
def songs():
    return data.load_training_data()


def test_collection_has_804_distinct_tunes(songs):
    assert len(songs) == 804
    assert len(set(songs)) == 804
    assert all(s.startswith("X:") for s in songs)
    assert all(f"\n{field}:" in s for s in songs for field in "TZMLK")


def test_joined_vocabulary_is_83_characters(songs):
    assert len(set(data.join_songs(songs))) == 83


def test_blank_line_after_key_does_not_split_a_tune(songs):
    father = [s for s in songs if "T:Father Dollard's" in s]
    assert len(father) == 1
    assert "K:D Major\n\nA,C|D2" in father[0]


def test_last_tune_of_file_is_kept(songs):
    text = data.find_tune_file().read_text()
    last_x = text.rstrip().rsplit("\nX:", 1)[1]
    assert songs[-1] == ("X:" + last_x).strip()


def test_extract_from_generated_text_without_leading_blank_line():
    text = "X:1\nT:One\nK:D\nabc|def|\n\nX:2\nT:Two\nK:G\nGAB|cde|\n\nX:3\nT:Three\nK:A\nab"
    tunes = data.extract_song_snippet(text)
    assert [t.splitlines()[1] for t in tunes] == ["T:One", "T:Two"]  # the unfinished third is ignored
    assert len(data.extract_song_snippet(text, keep_unfinished=True)) == 3


def test_extract_ignores_text_before_first_tune_and_keeps_blank_after_key():
    text = "garbage |abc\nX:5\nT:Five\nK:D\n\nabc|\nfed|\n\nmore"
    assert data.extract_song_snippet(text) == ["X:5\nT:Five\nK:D\n\nabc|\nfed|"]


def test_extract_finds_all_tunes_of_the_file_when_terminated(songs):
    text = data.join_songs(songs) + "\n\n"
    assert data.extract_song_snippet(text) == songs


def test_extract_rejects_non_text():
    with pytest.raises(TypeError, match="expects a str"):
        data.extract_song_snippet(b"X:1")


def test_load_from_file_and_folder(tmp_path):
    (tmp_path / "a.abc").write_text("X:1\nT:A\nK:C\nCDE|\n\nX:2\nT:B\nK:C\nEDC|\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.abc").write_text("X:1\nT:A\nK:C\nCDE|\n\nX:3\nT:C\nK:C\nGGG|\n")
    assert len(data.load_training_data(tmp_path / "a.abc")) == 2
    assert len(data.load_training_data(tmp_path)) == 3  # the repeated tune counted once


def test_missing_path_and_empty_file_errors(tmp_path):
    with pytest.raises(data.DataNotFoundError, match="No such ABC file"):
        data.load_training_data(tmp_path / "nope.abc")
    (tmp_path / "empty.abc").write_text("no tunes here\n")
    with pytest.raises(ValueError, match="No tunes"):
        data.load_training_data(tmp_path / "empty.abc")


def test_missing_package_error_prints_install_command(monkeypatch):
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(data.DataNotFoundError) as info:
        data.find_tune_file()
    assert "pip install --no-deps --no-build-isolation mitdeeplearning==0.7.5" in str(info.value)
    assert 'setuptools<81' in str(info.value)


def test_split_is_by_tune_seeded_and_disjoint(songs):
    train, val = data.train_val_split(songs, 0.1, seed=0)
    assert len(val) == 80 and len(train) == 724
    assert not set(train) & set(val)
    assert data.train_val_split(songs, 0.1, seed=0) == (train, val)
    assert data.train_val_split(songs, 0.1, seed=1)[1] != val
    with pytest.raises(ValueError, match="val_fraction"):
        data.train_val_split(songs, 1.5)
