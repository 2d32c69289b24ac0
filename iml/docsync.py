"""Numbers in the docs come from the committed tables, never typed twice: a block

    <!-- table: docs/runs/offline/tables/mnist_table1.md -->
    ...
    <!-- /table -->

in README.md or a Markdown file under docs/ is replaced by that table file's contents (its caption and table).

    python3 -m iml.docsync           # rewrite the blocks
    python3 -m iml.docsync --check   # exit 1, naming the files, when a block is out of date
"""

import argparse
import re
import sys
from pathlib import Path

from iml.io import save_text

BLOCK = re.compile(r"(<!-- table: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)


def synced(text, root):
    """`text` with every block's body replaced by the table file it names (relative to `root`)."""
    def body(match):
        source = Path(root, match.group("path"))
        if not source.is_file():
            raise FileNotFoundError(f"a docs block names {match.group('path')}, which does not exist")
        return match.group(1) + source.read_text().rstrip("\n") + "\n" + match.group(4)
    return BLOCK.sub(body, text)


def stale_docs(root):
    """{docs file: its synced text} for every file whose blocks differ from their tables."""
    out = {}
    for path in [Path(root, "README.md"), *sorted(Path(root, "docs").glob("*.md"))]:
        if not path.is_file():
            continue
        text = path.read_text()
        new = synced(text, root)
        if new != text:
            out[path] = new
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date blocks")
    parser.add_argument("--root", default=".", help="the repository root")
    args = parser.parse_args(argv)
    stale = stale_docs(args.root)
    for path, text in stale.items():
        if args.check:
            print(f"{path}: a table block differs from the committed table it names", file=sys.stderr)
        else:
            save_text(path, text)
            print(f"{path}: table blocks updated")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
