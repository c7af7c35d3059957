"""The pull-request job in docs/review.md, run as GitHub would run it: in a repository with a base branch
and a change, with `archspec` on the PATH, writing to a step summary."""

import os
import stat
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT


def documented_job() -> dict:
    doc = (ROOT / "docs/review.md").read_text(encoding="utf-8")
    text = doc.split("# .github/workflows/spec-review.yml\n", 1)[1].split("```", 1)[0]
    return yaml.safe_load(text)


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.mark.slow  # git and three CLI runs: a few seconds
def test_the_review_job_validates_the_changed_specs_and_posts_their_diffs(tmp_path):
    step = next(s for s in documented_job()["jobs"]["review"]["steps"] if s.get("name", "").startswith("validate"))
    repo, runner = tmp_path / "repo", tmp_path / "runner"
    (repo / "specs").mkdir(parents=True)
    runner.mkdir()
    resnet50 = (ROOT / "specs/resnet50.yaml").read_text()
    (repo / "specs/resnet50.yaml").write_text(resnet50)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    git(repo, "checkout", "-qb", "change")
    (repo / "specs/resnet50.yaml").write_text(resnet50.replace("depth: 6", "depth: 23"))
    (repo / "specs/resnet18.yaml").write_text((ROOT / "specs/resnet18.yaml").read_text())
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "change")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    shim = bin_ / "archspec"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m archspec "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    summary = runner / "summary.md"
    env = {**os.environ, "PATH": f"{bin_}{os.pathsep}{os.environ['PATH']}", "BASE": "origin/main",
           "RUNNER_TEMP": str(runner), "GITHUB_STEP_SUMMARY": str(summary)}
    # GitHub's default shell for `run:` steps
    r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    text = summary.read_text(encoding="utf-8")
    assert "### new spec: `specs/resnet18.yaml`" in text
    assert "| layer3 | `stages.2` | depth 6 → 23 | 1024×14×14 | +18,992,128 | +3.71 G | +39.25 MiB |" in text
    assert f"### archspec diff: resnet50 ({runner}/base/specs/resnet50.yaml) → resnet50 (specs/resnet50.yaml)" in text
