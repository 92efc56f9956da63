"""Releases: a frozen copy of the code a `make run` process runs.

`make run` and `make deploy` never run the services from the checkout itself: each snapshots
the source of every workspace member (`libs/*/src`, `services/*/src`, about 1.5 MB) into
`.run/releases/<id>/` and starts processes with `PYTHONPATH` pointing there (it comes before
the editable installs' `.pth` paths). So a crash restart brings back the code that was
running, not whatever is checked out by then, and a roll back can start the previous version
again after the checkout moved on. The id reads `<UTC time>-<commit>[-dirty]`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

KEEP = 3  # releases kept besides the ones in use


@dataclass(frozen=True)
class Release:
    id: str
    path: Path

    @property
    def pythonpath(self) -> str:
        """Every member's copied `src`, for `PYTHONPATH`."""
        return os.pathsep.join(str(p) for p in sorted(self.path.glob("*/*/src")))

    def describe(self) -> str:
        info = json.loads((self.path / "release.json").read_text())
        dirty = ", with uncommitted changes" if info["dirty"] else ""
        return f"release {self.id} (commit {info['commit'] or 'unknown'}{dirty})"


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def snapshot(root: Path, releases: Path) -> Release:
    """Copy the checkout's code into a new release directory."""
    commit = _git(root, "rev-parse", "--short", "HEAD")
    dirty = bool(
        _git(root, "status", "--porcelain", "--untracked-files=no", "--", "libs", "services")
    )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    base = f"{stamp}-{commit or 'nogit'}{'-dirty' if dirty else ''}"
    release_id, n = base, 1
    while (releases / release_id).exists():
        n += 1
        release_id = f"{base}.{n}"
    target = releases / release_id
    partial = releases / f".{release_id}.partial"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for src in sorted([*root.glob("libs/*/src"), *root.glob("services/*/src")]):
        shutil.copytree(src, partial / src.relative_to(root), ignore=ignore)
    info = {"id": release_id, "commit": commit, "dirty": dirty, "source": str(root)}
    (partial / "release.json").write_text(json.dumps(info, indent=2))
    partial.rename(target)  # a release directory is complete or absent
    return Release(release_id, target)


def load(releases: Path, release_id: str) -> Release:
    path = releases / release_id
    if not (path / "release.json").is_file():
        raise ValueError(f"no release {release_id!r} in {releases}")
    return Release(release_id, path)


def prune(releases: Path, in_use: set[str]) -> None:
    """Delete old releases: keep those in use and the newest KEEP others."""
    if not releases.is_dir():
        return
    done = sorted(p for p in releases.iterdir() if (p / "release.json").is_file())
    spare = [p for p in done if p.name not in in_use]
    for path in spare[: max(0, len(spare) - KEEP)]:
        shutil.rmtree(path, ignore_errors=True)
