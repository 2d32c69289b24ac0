"""The docs' tables are the committed tables, copied in by iml.docsync and kept equal."""

import pytest

from iml import docsync
from tests.helpers import REPO


def test_committed_docs_match_their_tables():
    assert docsync.stale_docs(REPO) == {}, "run: python3 -m iml.docsync"


def test_an_edited_number_is_found_and_restored(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "t.md").write_text("| a |\n|---|\n| 1.15 |\n")
    doc = tmp_path / "docs" / "x.md"
    doc.write_text("intro\n<!-- table: t.md -->\n| a |\n|---|\n| 1.2 |\n<!-- /table -->\nafter\n")
    assert docsync.main(["--check", "--root", str(tmp_path)]) == 1
    assert docsync.main(["--root", str(tmp_path)]) == 0
    assert doc.read_text() == "intro\n<!-- table: t.md -->\n| a |\n|---|\n| 1.15 |\n<!-- /table -->\nafter\n"
    assert docsync.main(["--check", "--root", str(tmp_path)]) == 0


def test_a_block_naming_a_missing_table_is_refused(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.md").write_text("<!-- table: gone.md -->\n<!-- /table -->\n")
    with pytest.raises(FileNotFoundError, match="gone.md"):
        docsync.stale_docs(tmp_path)
