#!/usr/bin/env python3
"""Fails (exit 1) when a tracked file links to a page of docs/ that does not exist, or to
an anchor that no heading of that page produces.

Checked: every `docs/PAGE.md#anchor` (bare, in backticks, or inside a
`https://github.com/tracewire/tracewire/blob/main/docs/...` URL) anywhere in the tracked
text files, and every relative Markdown link inside docs/ (`](PAGE.md#anchor)`,
`](#anchor)`). Anchors follow GitHub's rules: the heading text lowercased, everything but
letters, digits, `_`, `-` and spaces removed, spaces turned into `-`, and `-1`, `-2`, ...
appended to repeated headings. Prints every broken link as FILE:LINE: link (reason).
"""

import re
import subprocess
import sys
import unicodedata
from pathlib import Path

ROOT = Path(subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip())
DOCS = ROOT / "docs"

# `docs/page.md` with an optional `#anchor`: at the start of a path, after `../` (a crate
# README's relative link) or after `/blob/main/` (the repository URL); never inside another
# path such as `fuzz/docs/x.md`.
REPO_REF = re.compile(
    r"(?:(?<=\.\./)|(?<=/blob/main/)|(?<![\w./-]))docs/([A-Za-z0-9_.-]+\.md)(#[\w-]*)?"
)
# A Markdown link target relative to a page of docs/.
MD_LINK = re.compile(r"\]\(([^)\s]*)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def slug(text: str) -> str:
    """GitHub's anchor of a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    out = []
    for ch in text.lower():
        cat = unicodedata.category(ch)
        if ch in "-_" or cat[0] in "LNM":
            out.append(ch)
        elif ch == " ":
            out.append("-")
    return "".join(out)


def anchors(page: Path) -> set:
    seen = {}
    result = set()
    in_fence = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def main() -> int:
    pages = {p.name: anchors(p) for p in sorted(DOCS.glob("*.md"))}
    files = subprocess.check_output(["git", "ls-files", "-z"], cwd=ROOT).split(b"\0")
    broken = []
    checked = 0

    def check(where: str, page: str, anchor: str) -> None:
        nonlocal checked
        checked += 1
        if page not in pages:
            broken.append(f"{where}: docs/{page}{anchor} (no such page)")
        elif anchor and anchor != "#" and anchor[1:] not in pages[page]:
            broken.append(f"{where}: docs/{page}{anchor} (no such heading)")

    for raw in files:
        if not raw:
            continue
        rel = raw.decode()
        path = ROOT / rel
        if rel == "scripts/check-doc-anchors.py" or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        in_docs = rel.startswith("docs/") and rel.endswith(".md")
        for no, line in enumerate(text.splitlines(), 1):
            for m in REPO_REF.finditer(line):
                check(f"{rel}:{no}", m.group(1), m.group(2) or "")
            if not in_docs:
                continue
            for m in MD_LINK.finditer(line):
                target = m.group(1)
                if re.match(r"^[a-z]+:", target) or target.startswith("../"):
                    continue  # external URL or a file outside docs/
                page, _, frag = target.partition("#")
                if page and not page.endswith(".md"):
                    continue
                check(f"{rel}:{no}", page or Path(rel).name, f"#{frag}" if frag else "")

    for b in broken:
        print(b)
    if broken:
        print(f"check-doc-anchors: {len(broken)} broken link(s) to docs/ out of {checked}")
        return 1
    print(f"check-doc-anchors: {checked} links to docs/ pages and headings resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
