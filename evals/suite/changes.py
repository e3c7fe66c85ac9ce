"""Which changes call for the quality tier in CI: prompts, guardrail policies and their defaults, route
definitions, the golden set or the baseline, changed against the merge base (or uncommitted).

The base is `git merge-base HEAD origin/main`, else `HEAD~1`, else none (a fresh clone of one commit: only
uncommitted changes count). `.ci/run` and the GitHub workflow call the module:

    python -m evals.suite.changes [--base REF]   # prints the changed paths that matter;
                                                 # exit 0: run the quality tier, 3: no need, 2: not a git tree

Example:
    quality_paths(changed_paths(Path(".")))      # ["gateway/prompts/system.txt"]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

__all__ = ["WATCHED", "GitError", "changed_paths", "main", "merge_base", "quality_paths"]

WATCHED = (
    "gateway/prompts/",  # the prompt templates
    "gateway/prompting.py",  # how they are assembled
    "infra/policies/",  # guardrail policies
    "guardrails/policy.py",  # the built-in default policy
    "guardrails/output.py",  # the canary and the output scanners' defaults
    "gateway/settings.py",  # the default routes
    "routing/table.py",  # route definitions
    "infra/netops.example.yaml",
    "evals/data/golden/",
    "evals/baseline/",
    "evals/suite/",
)
NEEDED, NOT_NEEDED, NO_GIT = 0, 3, 2


class GitError(RuntimeError):
    """git failed (not a work tree, or git missing)."""


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise GitError(f"git: {exc}") from exc
    return done.stdout if done.returncode == 0 else None


def merge_base(repo: Path, upstream: str = "origin/main") -> str | None:
    """The commit to compare with: the merge base with `upstream`, else HEAD~1, else None."""
    if _git(repo, "rev-parse", "--is-inside-work-tree") is None:
        raise GitError(f"{repo} is not a git work tree")
    for args in (("merge-base", "HEAD", upstream), ("rev-parse", "--verify", "--quiet", "HEAD~1")):
        out = _git(repo, *args)
        if out and out.strip():
            return out.strip()
    return None


def changed_paths(repo: Path, base: str | None = None, *, upstream: str = "origin/main") -> list[str]:
    """Paths changed since `base` (default: `merge_base`), committed or not, untracked files included."""
    base = base or merge_base(repo, upstream)
    paths: set[str] = set()
    if base is not None:
        paths.update((_git(repo, "diff", "--name-only", base, "HEAD") or "").split())
    if _git(repo, "rev-parse", "--verify", "--quiet", "HEAD"):
        paths.update((_git(repo, "diff", "--name-only", "HEAD") or "").split())
    paths.update((_git(repo, "ls-files", "--others", "--exclude-standard") or "").split())
    return sorted(paths)


def quality_paths(paths: list[str]) -> list[str]:
    """The paths among `paths` that call for the quality tier."""
    return [p for p in paths if any(p == w or (w.endswith("/") and p.startswith(w)) for w in WATCHED)]


def main(argv: list[str] | None = None) -> int:
    """Print the paths that call for the quality tier; exit 0 (run it), 3 (no need) or 2 (no git tree)."""
    parser = argparse.ArgumentParser(prog="python -m evals.suite.changes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=None, help="Compare with this commit (default: the merge base).")
    parser.add_argument("--repo", type=Path, default=Path("."), help="The work tree (default: here).")
    args = parser.parse_args(argv)
    try:
        hits = quality_paths(changed_paths(args.repo, args.base))
    except GitError as exc:
        print(f"changes: {exc}", file=sys.stderr)
        return NO_GIT
    for path in hits:
        print(path)
    return NEEDED if hits else NOT_NEEDED


if __name__ == "__main__":
    sys.exit(main())
