"""`archspec diff OLD NEW`: what changed, what it costs, which weights carry over — text, JSON, markdown."""

import json

import pytest

import archspec

from conftest import ROOT, run_cli

R50, R101 = "specs/resnet50.yaml", "specs/resnet101.yaml"
STAGE3 = 1_117_184  # parameters of one more ResNet-50 layer3 bottleneck
MACS3 = 218_365_952  # its multiply-adds at 224×224
MEMORY3 = 2_420_736  # the bytes it saves for backward (batch 1, float32; see test_memory)


def test_resnet50_to_resnet101_as_text(cli):
    r = cli("diff", R50, R101)
    assert (r.returncode, r.stderr) == (0, "")
    lines = r.stdout.splitlines()
    assert lines[0] == "resnet50 (specs/resnet50.yaml) → resnet101 (specs/resnet101.yaml)"
    assert lines[2].split() == ["part", "key", "change", "output", "Δparams", "ΔMACs", "Δmemory"]
    assert lines[3].split() == ["layer3", "stages.2", "depth", "6", "→", "23", "1024×14×14", "+18,992,128", "+3.71", "G",
                                "+39.25", "MiB"]
    assert lines[5] == ("total: +18,992,128 parameters (25,557,032 → 44,549,160), +3.71 G MACs (4.09 G → 7.80 G), "
                        "+39.25 MiB activation memory (82.13 MiB → 121.38 MiB, batch 1, float32), output 1000")
    assert lines[6] == ("weights: 320 of resnet50's 320 tensors carry over (100.00% of its parameters, 57.37% of the "
                        "new network's); 0 reshaped, 0 dropped, 306 new")
    assert lines[7:9] == ["new (first 10 of 306):", "  layer3.6.conv1.weight: 256×1024×1×1"]
    assert len(lines) == 7 + 1 + 10


def test_resnet50_to_resnet101_as_json_field_by_field(cli):
    r = cli("diff", R50, R101, "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["old"] == {"name": "resnet50", "file": R50, "params": 25_557_032, "macs": 4_089_184_256,
                        "input": [3, 224, 224], "output": [1000]}
    assert d["new"] == {"name": "resnet101", "file": R101, "params": 44_549_160, "macs": 7_801_405_440,
                        "input": [3, 224, 224], "output": [1000]}
    assert d["identical"] is False
    assert d["params"] == {"old": 25_557_032, "new": 44_549_160, "delta": 18_992_128}
    assert d["params"]["delta"] == 17 * STAGE3
    assert d["macs"] == {"old": 4_089_184_256, "new": 7_801_405_440, "delta": 17 * MACS3}
    assert d["memory"] == {"old": 86_121_984, "new": 86_121_984 + 17 * MEMORY3, "delta": 17 * MEMORY3, "batch": 1,
                           "dtype": "float32"}
    assert d["output"] == {"old": [1000], "new": [1000]}
    assert d["parts"] == [{
        "part": "layer3", "key": "stages.2", "changes": [{"setting": "depth", "old": 6, "new": 23}],
        "params": {"old": 7_098_368, "new": 7_098_368 + 17 * STAGE3, "delta": 17 * STAGE3},
        "macs": {"old": 1_464_336_384, "new": 1_464_336_384 + 17 * MACS3, "delta": 17 * MACS3},
        "memory": {"old": 16_539_648, "new": 16_539_648 + 17 * MEMORY3, "delta": 17 * MEMORY3},
        "output": {"old": [1024, 14, 14], "new": [1024, 14, 14]},
    }]
    w = d["weights"]
    assert (w["compatible"], w["old_tensors"], w["new_tensors"], w["carried"]) == (True, 320, 626, 320)
    assert (w["carried_params"], w["carried_percent_of_old"], w["carried_percent_of_new"]) == (25_557_032, 100.0, 57.37)
    assert (w["reshaped"], w["dropped"]) == ([], [])
    assert len(w["new"]) == 306 == 17 * 18  # 17 blocks of 3 convs and 3 batch norms (5 tensors each)
    assert w["new"][0] == {"key": "layer3.6.conv1.weight", "shape": [256, 1024, 1, 1]}
    assert w["new"][-1] == {"key": "layer3.22.bn3.num_batches_tracked", "shape": []}


def test_resnet50_to_resnet101_as_markdown_field_by_field(cli):
    r = cli("diff", R50, R101, "--format", "markdown")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "### archspec diff: resnet50 (specs/resnet50.yaml) → resnet101 (specs/resnet101.yaml)"
    table = [line for line in lines if line.startswith("|")]
    assert table == ["| part | key | change | output | Δparams | ΔMACs | Δmemory |",
                     "|---|---|---|---|---:|---:|---:|",
                     "| layer3 | `stages.2` | depth 6 → 23 | 1024×14×14 | +18,992,128 | +3.71 G | +39.25 MiB |"]
    assert ("**Weights:** 320 of resnet50's 320 tensors carry over (100.00% of its parameters, 57.37% of the new "
            "network's); 0 reshaped, 0 dropped, 306 new.") in lines
    details = lines.index("<details><summary>306 new tensors</summary>")
    assert lines[details + 2] == "- `layer3.6.conv1.weight: 256×1024×1×1`"
    assert lines[details + 12] == "- … and 296 more (`--format json` lists all)"
    assert lines[-1] == "</details>"


def test_a_deep_stem_and_avgpool_shortcuts_reshape_drop_and_add_tensors(cli):
    r = cli("diff", R50, "specs/resnet50d.yaml", "--format", "json")
    d = json.loads(r.stdout)
    assert [(p["part"], p["changes"]) for p in d["parts"]] == [
        ("stem", [{"setting": "type", "old": "conv", "new": "deep"},
                  {"setting": "channels", "old": 64, "new": [32, 32, 64]},
                  {"setting": "kernel", "old": 7, "new": None}]),
        *((f"layer{i + 1}", [{"setting": "shortcut", "old": "auto", "new": "avgpool"}]) for i in range(4))]
    assert [p["params"]["delta"] for p in d["parts"]] == [19_232, 0, 0, 0, 0]
    w = d["weights"]
    assert (w["carried"], len(w["reshaped"]), len(w["dropped"]), len(w["new"])) == (295, 4, 21, 33)
    assert w["reshaped"][0] == {"key": "layer1.0.downsample.1.weight", "old": [256], "new": [256, 64, 1, 1]}
    assert w["dropped"][0] == {"key": "conv1.weight", "shape": [64, 3, 7, 7]}
    assert w["compatible"] is False


@pytest.mark.parametrize("new,code", [(R101, 0), ("specs/resnet50d.yaml", 1)])
def test_fail_on_incompatible_exits_1_only_when_old_weights_do_not_all_fit(cli, new, code):
    assert cli("diff", R50, new, "--fail-on", "incompatible").returncode == code
    assert cli("diff", R50, new).returncode == 0


def test_identical_networks_say_so_in_one_line(cli, write_spec):
    same = write_spec((ROOT / "specs/resnet18.yaml").read_text().replace("{block: basic}", "{block: basic, act: relu}"))
    r = cli("diff", "specs/resnet18.yaml", same)
    assert (r.returncode, r.stdout) == (0, f"identical networks: resnet18 (specs/resnet18.yaml) → resnet18 ({same}) "
                                           "(11,689,512 parameters, 1.81 G MACs)\n")
    md = cli("diff", "specs/resnet18.yaml", same, "--format", "markdown").stdout
    assert md.splitlines()[-1] == "Identical networks (11,689,512 parameters, 1.81 G MACs)."
    assert json.loads(cli("diff", same, same, "--format", "json").stdout)["identical"] is True


def test_an_input_size_change_shows_on_every_part_and_keeps_every_weight(cli, write_spec):
    small = write_spec((ROOT / "specs/resnet18.yaml").read_text().replace("size: 224", "size: 160"))
    d = json.loads(cli("diff", "specs/resnet18.yaml", small, "--format", "json").stdout)
    assert d["parts"][0] == {"part": "input", "key": "input",
                             "changes": [{"setting": "size", "old": [224, 224], "new": [160, 160]}],
                             "params": {"old": 0, "new": 0, "delta": 0}, "macs": {"old": 0, "new": 0, "delta": 0},
                             "memory": {"old": 0, "new": 0, "delta": 0},
                             "output": {"old": [3, 224, 224], "new": [3, 160, 160]}}
    assert [p["part"] for p in d["parts"]] == ["input", "stem", "layer1", "layer2", "layer3", "layer4"]
    assert [p["output"]["new"] for p in d["parts"][1:]] == [[64, 40, 40], [64, 40, 40], [128, 20, 20],
                                                            [256, 10, 10], [512, 5, 5]]
    assert d["weights"]["compatible"] and d["weights"]["carried"] == 122 and not d["weights"]["new"]


def test_a_removed_stage_and_the_head_it_reshapes(cli, write_spec):
    short = write_spec((ROOT / "specs/resnet18.yaml").read_text().replace("  - {depth: 2, channels: 512, stride: 2}\n", ""))
    r = cli("diff", "specs/resnet18.yaml", short)
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[3:5]}
    assert rows["layer4"].split()[2:13] == ["removed:", "basic", "×2,", "512", "channels,", "stride", "2", "512×7×7",
                                            "→", "—", "-8,393,728"]
    assert rows["head"].split()[2:7] == ["(follows", "from", "above)", "1000", "-256,000"]
    assert "reshaped (1):\n  fc.weight: 1000×512 → 1000×256\n" in r.stdout


def test_an_invalid_spec_gives_its_located_error(cli, write_spec):
    bad = write_spec((ROOT / "specs/resnet18.yaml").read_text().replace("depth: 2, channels: 64", "depth: 0, channels: 64"))
    r = cli("diff", "specs/resnet18.yaml", bad)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"{bad}:9:13: error: stages.0.depth: 0 is too small — use a number ≥ 1\n"


def test_built_in_names_and_stdin_give_the_same_diff(cli):
    by_path = json.loads(cli("diff", R50, R101, "--format", "json").stdout)
    by_name = json.loads(cli("diff", "resnet50", "resnet101", "--format", "json").stdout)
    assert (by_name["old"]["file"], by_name["new"]["file"]) == ("specs/resnet50.yaml", "specs/resnet101.yaml")
    for side in ("old", "new"):
        by_path[side].pop("file"), by_name[side].pop("file")
    assert by_name == by_path
    # as in `git show main:specs/resnet50.yaml | archspec diff - specs/resnet101.yaml`
    piped = run_cli("diff", "-", R101, "--format", "json", stdin=(ROOT / R50).read_text())
    from_stdin = json.loads(piped.stdout)
    assert from_stdin["old"]["file"] == "<stdin>"
    assert from_stdin["parts"] == by_path["parts"] and from_stdin["weights"] == by_path["weights"]


def test_activation_memory_at_another_batch_and_dtype(cli):
    d = json.loads(cli("diff", R50, R101, "--batch", "8", "--dtype", "bfloat16", "--format", "json").stdout)
    assert (d["memory"]["batch"], d["memory"]["dtype"]) == (8, "bfloat16")
    old, new = (archspec.plan(p).activation_memory(8, "bfloat16") for p in (R50, R101))
    assert d["memory"]["delta"] == d["parts"][0]["memory"]["delta"] == new - old
    assert 0.99 < (new - old) / (8 * 17 * MEMORY3 / 2) < 1  # about half of float32 (memory.py says what is kept)
