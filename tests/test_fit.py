"""`archspec fit` and `scale: {fit: …}`: the largest scaling inside a budget, by the exact plan."""

from __future__ import annotations

import pytest

import archspec
from archspec.errors import SpecError


def test_resnet50_at_2g_macs_along_width_is_within_2_percent():
    result = archspec.fit("resnet50", macs="2G", along="width")
    assert result.text == "# 1.992 G MACs of 2 G, 99.6 %\nextends: resnet50\nscale: {width: 0.695}\n"
    assert (result.plan.macs, result.plan.params) == (1_992_170_128, 12_785_792)
    assert 0.98 * 2e9 <= result.plan.macs <= 2e9


def test_the_fit_is_the_largest_width_inside_the_budget():
    # the next width the multiplier can reach (0.7 makes 64 × 0.7 = 45 → 48) is over the budget
    assert archspec.plan("resnet50", overrides={"scale.width": 0.70}).macs > 2 * 10**9
    assert archspec.plan("resnet50", overrides={"scale.width": 0.695}).macs == 1_992_170_128


def test_compound_at_phi_1_gives_the_paper_rule():
    result = archspec.fit("efficientnet_b0", along="compound", phi=1)
    f = result.fitted
    assert (f.depth, f.width, f.size) == (1.2, 1.1, [258, 258])  # α, β, round(224 × γ) with γ = 1.15
    assert result.plan.params == 9_109_994  # torchvision's efficientnet_b2 (width 1.1, depth 1.2) at 260 px


def test_compound_solves_phi_for_a_budget_with_settable_coefficients():
    result = archspec.fit("efficientnet_b0", macs="800M", along="compound")
    assert (result.fitted.phi, result.fitted.width, result.fitted.depth, result.fitted.size) == (0.63, 1.06, 1.12, [245, 245])
    assert result.plan.macs == 793_290_176
    other = archspec.fit("efficientnet_b0", macs="800M", along="compound",
                         compound={"depth": 1.0, "width": 1.0, "resolution": 1.15})
    assert (other.fitted.width, other.fitted.depth) == (1.0, 1.0) and other.plan.macs <= 800 * 10**6


def test_depth_and_resolution_respect_their_rounding():
    depth = archspec.fit("resnet50", macs="3G", along="depth")
    assert depth.text.endswith("scale: {depth: 0.66}\n")  # ceil(3, 4, 6, 3 × 0.66) = 2, 3, 4, 2
    assert [s.depth for s in depth.spec.all_stages] == [2, 3, 4, 2]
    size = archspec.fit("resnet50", macs="1G", along="resolution")
    assert size.text.endswith("extends: resnet50\ninput:\n  size: [100, 100]\n")
    assert size.plan.macs == 997_450_496 < archspec.plan("resnet50", (3, 101, 101)).macs


def test_every_budget_together_memory_at_batch_and_dtype():
    result = archspec.fit("resnet50", params="30M", memory="40GiB", batch=256, dtype="bfloat16")
    assert result.figures() == ["29.97 M parameters of 30 M, 99.9 %", "11.42 GiB of activations of 40.00 GiB, 28.5 %"]
    assert result.plan.activation_memory(256, "bfloat16") == result.fitted.memory <= 40 * 2**30


def test_an_impossible_budget_gives_the_smallest_reachable_figure(cli):
    run = cli("fit", "resnet50", "--macs", "1m")
    assert run.returncode == 1
    assert run.stderr == ("--macs 1M: error: even the smallest network along width has 15.82 M MACs, more than the "
                          "budget of 1 M MACs — the smallest reachable is 15.82 M MACs: raise the budget, or fit "
                          "along another axis\n")
    assert run.stdout == ""


def test_the_spec_key_resolves_like_any_other(write_spec, cli):
    path = write_spec("extends: resnet50\nscale: {fit: {macs: 2G}, along: width}\n")
    assert archspec.plan(path).macs == 1_992_170_128
    shown = cli("show", path).stdout
    assert "  channels: 48  # scale 0.695 of 64 at specs/resnet50.yaml:7, fitted to the budget of `scale.fit`\n" in shown
    sized = write_spec("extends: resnet50\nscale:\n  fit: {macs: 1G}\n  along: resolution\n", "sized.yaml")
    assert f"  size: [100, 100]  # {sized}:3\n" in cli("show", sized).stdout  # where the fit is


def test_cli_writes_a_spec_that_extends_the_input_from_its_folder(tmp_path, cli):
    out = tmp_path / "out" / "fitted.yaml"
    out.parent.mkdir()
    run = cli("fit", "specs/resnet18.yaml", "--params", "5M", "--set", "stages.3.depth=1", "-o", out)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == ["4.921 M parameters of 5 M, 98.4 %", f"wrote {out}"]
    text = out.read_text()
    assert "extends: ../../../../" in text and text.endswith("stages:\n  3: {depth: 1}\nscale: {width: 0.83}\n")
    assert archspec.plan(out).params == 4_920_880


def test_usage_errors_exit_2(cli):
    assert cli("fit", "resnet50").returncode == 2
    assert cli("fit", "resnet50", "--phi", "1").returncode == 2  # φ belongs to compound
    assert cli("fit", "-", "--macs", "1G").returncode == 2
    with pytest.raises(TypeError):
        archspec.fit(archspec.load("resnet18"), macs="1G")


def test_the_fitted_axis_cannot_also_be_given():
    with pytest.raises(SpecError, match="scale.width: fit chooses the width along width"):
        archspec.fit("resnet50", macs="1G", overrides={"scale.width": 2.0})


def test_the_readme_and_docs_show_real_output(cli):
    from conftest import ROOT

    commands = ("archspec fit resnet50 --macs 2G --along width", "archspec fit efficientnet_b0 --along compound --phi 1",
                "archspec fit resnet50 --memory 40GiB --batch 256 --dtype bfloat16 --params 30M")
    for page, shows in (("README.md", 1), ("docs/budgets.md", 2)):
        text = (ROOT / page).read_text()
        shown_here = [c for c in commands if f"$ {c}\n" in text]
        assert len(shown_here) == shows, page
        for command in shown_here:
            shown = text.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
            assert shown == cli(*command.split()[1:]).stdout, (page, command)


def test_a_width_that_does_not_plan_says_why_and_a_divisor_fixes_it():
    with pytest.raises(SpecError) as info:
        archspec.fit("regnet_x_400mf", macs="200M")
    assert str(info.value).endswith("smaller scalings do not plan (layer1.0: group_width 16 does not divide the "
                                    "inner width 8)")
    fitted = archspec.fit("regnet_x_400mf", macs="200M", overrides=["scale.divisor=16"])
    assert fitted.text.endswith("scale: {width: 0.57, divisor: 16}\n") and fitted.plan.macs == 194_806_528
