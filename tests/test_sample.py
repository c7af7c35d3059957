"""Design spaces and `archspec sample`: distinct networks, each valid and inside every window
by the exact plan (and by a meta-device forward count), the same bytes for the same seed."""

from __future__ import annotations

import csv
import json

import pytest

import archspec
from archspec.errors import SpecError
from conftest import SPECS, hook_macs


def test_regnetx_400mf_draws_are_exact_and_inside_the_window():
    done = archspec.sample("regnetx_400mf", 20, seed=0)
    assert (done.draws, done.rejected) == (537, {"macs window": 182, "rule": 335})
    first = done.samples[0]
    assert first.values == {"stages.depth": 17, "stages.w0": 32, "stages.wa": 16.9, "stages.wm": 2.052,
                            "stages.group_width": 32}
    assert (first.plan.macs, first.plan.params) == (303_752_448, 2_551_560)
    for s in done.samples:
        assert 300 * 10**6 <= s.plan.macs <= 400 * 10**6 and len(s.spec.all_stages) == 4
        assert archspec.plan(archspec.load(_source(s.text))).macs == s.plan.macs  # the text is the network


def _source(text: str):
    from archspec.reading.source import parse_source

    return parse_source(text, "sample.yaml")


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_networks(tmp_path, cli):
    runs = [cli("sample", "mobilenet", "-n", "12", "--seed", seed, "-o", tmp_path / name)
            for seed, name in ((3, "a"), (3, "b"), (4, "c"))]
    assert [r.returncode for r in runs] == [0, 0, 0], runs[0].stderr
    assert runs[0].stderr.startswith("wrote 12 specs, index.json, index.csv and samples.svg to ")
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["index.csv", "index.json", *(f"mobilenet_{i:03d}.yaml" for i in range(12)), "samples.svg"]
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert (tmp_path / "a" / "index.json").read_bytes() != (tmp_path / "c" / "index.json").read_bytes()


def test_the_index_and_the_plot_describe_every_sample(tmp_path, cli):
    assert cli("sample", "mobilenet", "-n", "5", "-o", tmp_path / "s").returncode == 0
    index = json.loads((tmp_path / "s" / "index.json").read_text())
    rows = list(csv.DictReader((tmp_path / "s" / "index.csv").open()))
    assert [r["name"] for r in rows] == [s["name"] for s in index["samples"]] == [f"mobilenet_{i:03d}" for i in range(5)]
    for row, entry in zip(rows, index["samples"]):
        p = archspec.plan(tmp_path / "s" / entry["file"])
        assert (int(row["params"]), int(row["macs"]), int(row["memory"])) == (p.params, p.macs, p.activation_memory())
        assert row["stages.2.kernel"] == str(entry["values"]["stages.2.kernel"]) and row["seed"] == "0"
    svg = (tmp_path / "s" / "samples.svg").read_text()
    assert svg.count("<circle") == 5 and svg.count('stroke-dasharray="4 3"') == 3  # min/max MACs, max params
    assert cli("validate", "--strict", tmp_path / "s").returncode == 0


def test_networks_are_distinct():
    done = archspec.sample("mobilenet", 40, seed=0)
    texts = {s.text.split("\n", 3)[3] for s in done.samples}  # without name and description
    assert len(texts) == 40


def test_set_works_on_a_space():
    done = archspec.sample("mobilenet", 10, seed=1, overrides=["stages.3.depth={range: [5, 5]}"])
    assert [s.spec.all_stages[3].depth for s in done.samples] == [5] * 10


def test_a_space_that_cannot_give_n_networks_stops_after_its_draws(tmp_path, cli):
    run = cli("sample", "regnetx_400mf", "-n", "100", "--max-draws", "50", "-o", tmp_path / "s")
    assert run.returncode == 1
    assert run.stderr == ("spaces/regnetx_400mf.yaml: error: found 0 of 100 networks in 50 draws (acceptance 0.00 %; "
                          "rejected: rule 32, macs window 18) — widen the windows or the ranges, or allow more draws "
                          "(--max-draws)\n")
    assert not (tmp_path / "s").exists()


def test_an_existing_folder_with_files_is_refused(tmp_path, cli):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "keep.txt").write_text("mine")
    run = cli("sample", "mobilenet", "-n", "2", "-o", tmp_path / "s")
    assert (run.returncode, run.stderr) == (1, f"{tmp_path / 's'}: error: already exists and is not an empty "
                                               "folder; give a new folder\n")
    assert [p.name for p in (tmp_path / "s").iterdir()] == ["keep.txt"]


def test_the_shipped_spaces_validate_as_spaces_and_are_not_built_in_specs(cli):
    assert cli("validate", "--strict", SPECS / "spaces").returncode == 0
    assert "regnetx_400mf" not in cli("list").stdout
    with pytest.raises(SpecError, match="this is a design space"):
        archspec.load(SPECS / "spaces" / "mobilenet.yaml")


def test_a_distribution_over_stage_count_and_ties(write_spec):
    path = write_spec("""\
archspec: 1
name: tied
input: {channels: 3, size: 32}
stem: {type: conv, channels: 16, kernel: 3, stride: 1, pool: none}
stages:
  - {depth: {range: [1, 3], tie: d}, channels: 16}
  - {depth: {range: [1, 3], tie: d}, channels: 32, stride: 2}
  - {depth: {range: [1, 3], tie: d}, channels: 64, stride: 2}
stage_count: {choice: [2, 3]}
head: {type: classifier, classes: 10}
""")
    done = archspec.sample(str(path), 6, seed=0)
    for s in done.samples:
        depths = [stage.depth for stage in s.spec.all_stages]
        assert len(set(depths)) == 1 and len(depths) == s.values["stage_count"]
    assert sorted({(len(s.spec.all_stages), s.spec.all_stages[0].depth) for s in done.samples}) == \
        [(2, 1), (2, 2), (2, 3), (3, 1), (3, 2), (3, 3)]


def test_parts_planned_for_earlier_draws_give_the_plans_planned_afresh(write_spec):
    """sample reuses the stems, stages and heads it has planned; the drop-path rates depend on a
    stage's place, and a 0 and a 0.0 are written differently, so neither may be shared wrongly."""
    path = write_spec("""\
archspec: 1
name: reused
input: {channels: 3, size: 32}
defaults: {block: {choice: [basic, bottleneck]}, drop_path: {choice: [0.0, 0.1]}, se: {choice: [0, 0.0, 0.25]}}
stem: {type: conv, channels: {choice: [16, 24]}, kernel: 3, stride: 1, pool: none}
stages:
  - {depth: {range: [1, 3]}, channels: {choice: [16, 32]}}
  - {depth: {range: [1, 3]}, channels: 32, stride: 2}
  - {depth: {range: [1, 2]}, channels: 64, stride: 2}
stage_count: {choice: [2, 3]}
head: {type: classifier, classes: 10}
""")
    done = archspec.sample(str(path), 40, seed=0)
    assert {repr(s.values["defaults.se"]) for s in done.samples} == {"0", "0.0", "0.25"}
    for s in done.samples:
        assert repr(s.plan.root) == repr(archspec.plan(s.spec).root)  # every node, its arguments with their types


def test_a_log_range_must_start_above_zero(write_spec):
    path = write_spec("archspec: 1\nname: x\ninput: {channels: 3, size: 32}\n"
                      "stem: {type: conv, channels: {range: [0, 64], log: true}, kernel: 3, stride: 1, pool: none}\n"
                      "stages: [{depth: 1, channels: 16}]\nhead: {type: classifier, classes: 10}\n")
    with pytest.raises(SpecError) as info:
        archspec.sample(str(path), 1)
    [issue] = info.value.issues
    assert (issue.line, issue.column, issue.code) == (4, 52, "AS930")
    assert issue.message == "stem.channels: a log range must start above 0, not at 0"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_sample_equals_a_meta_device_forward_count(seed):
    torch = pytest.importorskip("torch")
    for space in ("regnetx_400mf", "mobilenet"):
        for s in archspec.sample(space, 3, seed=seed).samples:
            model = archspec.build(s.spec, device="meta")
            macs = hook_macs(model)
            model(torch.empty(1, *s.plan.input_shape, device="meta"))
            assert sum(p.numel() for p in model.parameters()) == s.plan.params
            assert sum(macs.values()) == s.plan.macs


def test_the_readme_shows_real_output(tmp_path, cli):
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    shown = readme.split("$ archspec sample regnetx_400mf -n 100 --seed 0 -o r400\n", 1)[1].split("$ head", 1)[0]
    run = cli("sample", "regnetx_400mf", "-n", "100", "--seed", "0", "-o", tmp_path / "r400")
    assert shown == run.stderr.replace(str(tmp_path / "r400"), "r400")
    csv_lines = (tmp_path / "r400" / "index.csv").read_text().splitlines()[:2]
    assert readme.split("$ head -2 r400/index.csv\n", 1)[1].split("```", 1)[0] == "\n".join(csv_lines) + "\n"


def test_windows_in_a_plain_spec_are_checked_by_validate(write_spec, cli):
    path = write_spec("extends: resnet18\nconstraints:\n  min_params: 12M\n  min_macs: 2G\n"
                      "  max_memory: 512MiB\n  batch: 64\n  dtype: bfloat16\n")
    run = cli("validate", path)
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        f"{path}:3:15: error: the network has 11,689,512 parameters (11.69 M), fewer than min_params 12,000,000 "
        "— make it wider or deeper, or lower min_params",
        f"{path}:4:13: error: the network needs 1,814,073,344 MACs (1.81 G) at 3×224×224, fewer than min_macs "
        "2,000,000,000 — make it wider or deeper, use a larger input, or lower min_macs",
        f"{path}:5:15: error: one training step at batch 64 in bfloat16 saves 725.89 MiB of activations, more than "
        "max_memory 512.00 MiB — make it narrower or shallower, use a smaller input or batch, or raise max_memory"]
