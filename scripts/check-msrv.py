#!/usr/bin/env python3
"""The declared rust-version is the truth: fail when a locked dependency needs a newer Rust.

Reads `cargo metadata` (all features, the locked versions) and compares every resolved
package's `rust-version` with the one each workspace member declares. Packages that
declare none are not checked. Exit 0 when all fit, 1 otherwise (each offender listed).
"""
import json
import subprocess
import sys


def version(text):
    """`1.88` and `1.88.0` are the same version."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"]
        )
    )
    packages = {p["id"]: p for p in meta["packages"]}
    members = [packages[i] for i in meta["workspace_members"]]
    declared = {m["rust_version"] for m in members if m.get("rust_version")}
    if len(declared) != 1:
        print(f"workspace members declare different rust-versions: {sorted(declared)}")
        return 1
    ours = declared.pop()
    member_ids = set(meta["workspace_members"])
    resolved = [
        packages[n["id"]] for n in meta["resolve"]["nodes"] if n["id"] not in member_ids
    ]
    too_new = sorted(
        (p["name"], p["version"], p["rust_version"])
        for p in resolved
        if p.get("rust_version") and version(p["rust_version"]) > version(ours)
    )
    highest = max(
        (version(p["rust_version"]), p["name"])
        for p in resolved
        if p.get("rust_version")
    )
    for name, ver, needs in too_new:
        print(f"{name} {ver} needs Rust {needs}, above the declared rust-version {ours}")
    if too_new:
        return 1
    print(
        f"rust-version {ours} covers all {len(resolved)} locked packages "
        f"(highest need: {'.'.join(map(str, highest[0][:2]))}, {highest[1]})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
