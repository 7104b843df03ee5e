"""A file people keep is written whole or not at all."""

from __future__ import annotations


import pytest

from codemate_cfn import files


def test_the_new_text_replaces_the_old_and_nothing_is_left_beside_it(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("old")
    files.write_whole(readme, "new ✓")
    assert readme.read_text(encoding="utf-8") == "new ✓"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_an_interrupted_write_leaves_the_old_file_as_it_was(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("old")

    def interrupted(source, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_whole(readme, "half of the new")
    assert readme.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
