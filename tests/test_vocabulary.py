"""The project speaks of itself in its own terms: no words of how the work was organised, no
labels of a work plan, no paths outside the repository, in any tracked text file."""

import re
import subprocess

import pytest

from tests.helpers import REPO

FORBIDDEN = {
    r"\bsessions?\b": "a word of how the work was organised",
    r"\bissues? #?\d+": "a tracker's number instead of what it means",
    r"\b(rooms?|doors?|floors)\b": "a metaphor for modules and layers (say module, package, layer)",
    r"\bE[1-8]\b": "a work-plan label (name the figure or table)",
    r"/work/|\.\./shared\b": "a path outside the repository",
    r"\bin progress\b": "a stale status",
}
ALLOWED = [r'scope="session"']  # pytest's fixture scope


def tracked_text_files():
    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.fail(f"the vocabulary check reads the tracked files through git: {err}")
    for name in names.splitlines():
        path = REPO / name
        if path.name == "test_vocabulary.py" or not path.is_file():
            continue
        try:
            yield name, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file (figure, archive)


def test_only_the_projects_own_vocabulary():
    found = []
    for name, text in tracked_text_files():
        for number, line in enumerate(text.splitlines(), 1):
            line = re.sub("|".join(ALLOWED), "", line)
            for pattern, why in FORBIDDEN.items():
                match = re.search(pattern, line, re.IGNORECASE)
                if match:
                    found.append(f"{name}:{number}: {match.group(0)!r} ({why})")
    assert not found, "\n".join(found)


def test_the_check_catches_each_kind():
    """Each pattern fires on an example, so an edit cannot quietly disable one."""
    examples = ["in a later session", "see issue 13", "one room per dataset", "Fig. 1 (E1)",
                "../shared/data", "work in progress"]
    for pattern, example in zip(FORBIDDEN, examples):
        assert re.search(pattern, example, re.IGNORECASE), pattern
