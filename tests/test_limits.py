"""Size limits: the planner refuses absurd networks from their computed cost, before
planning every block; `build` refuses networks over `max_params` before allocating."""

import argparse
import time

import pytest

import archspec
from archspec import SpecError, limits
from archspec.commands.cli import _count
from archspec.units import count
from conftest import ROOT, TINY_SPEC

SPEC = TINY_SPEC.replace("{depth: 2, channels: 32, stride: 2}", "{depth: DEPTH, channels: CHANNELS, stride: 2}")


def spec(write_spec, depth=2, channels=32):
    return write_spec(SPEC.replace("DEPTH", str(depth)).replace("CHANNELS", str(channels)))


def only_issue(path, **kwargs):
    with pytest.raises(SpecError) as info:
        archspec.plan(path, **kwargs)
    (issue,) = info.value.issues
    return issue


def test_a_depth_of_a_billion_is_refused_at_once_with_its_parameter_count(write_spec):
    path = spec(write_spec, depth=10**9)
    start = time.perf_counter()
    issue = only_issue(path)
    assert time.perf_counter() - start < 0.5  # not 10⁹ blocks
    assert (issue.line, issue.column, issue.code) == (8, 5, "AS601")
    # stem 464 + stage 1 9,344 + stage 2: 14,528 + (10⁹ - 1) × 18,560
    assert issue.message == ("stages.1 (layer2): the network reaches 18,560,000,005,776 parameters here; "
                             "the planning limit is 100,000,000,000")
    assert issue.hint == "check the channels, depths and classes (limit: archspec.limits.MAX_PARAMS)"


def test_a_trillion_channels_is_refused_with_the_parameter_count(write_spec):
    issue = only_issue(spec(write_spec, depth=1, channels=10**12))
    assert issue.message == ("stages.1 (layer2): the network reaches 9.00e+24 parameters here; "
                             "the planning limit is 100,000,000,000")


def test_too_many_blocks_is_refused_before_any_is_planned(write_spec):
    path = spec(write_spec, depth=10**8, channels=1)  # 9,808 + 175 + (10⁸ - 1) × 22 parameters, but 10⁸ blocks
    start = time.perf_counter()
    issue = only_issue(path)
    assert time.perf_counter() - start < 0.5
    assert issue.message == ("stages.1 (layer2): the network reaches 100,000,002 blocks here, with 2,200,009,961 parameters; "
                             "the planning limit is 10,000")


def test_an_input_too_large_is_refused_from_its_multiply_adds(write_spec):
    issue = only_issue(spec(write_spec), input_shape=(3, 10**9, 10**9))
    assert (issue.line, issue.message) == (
        5, "stem: the network reaches 432,000,000,000,000,000,000 multiply-adds here, with 464 parameters; "
           "the planning limit is 1,000,000,000,000,000,000")


@pytest.mark.parametrize("spec_path", ["specs/resnet50.yaml", "specs/cifar/resnet110.yaml", "specs/resnet18.yaml"])
@pytest.mark.parametrize("limit,figure", [("MAX_PARAMS", "params"), ("MAX_MACS", "macs")])
def test_the_costed_totals_are_exact(monkeypatch, spec_path, limit, figure):
    """A limit equal to the network's real total passes and one less fails: the per-stage cost is exact."""
    total = getattr(archspec.plan(spec_path), figure)
    monkeypatch.setattr(limits, limit, total)
    assert getattr(archspec.plan(spec_path), figure) == total
    monkeypatch.setattr(limits, limit, total - 1)
    with pytest.raises(SpecError, match="the planning limit is"):
        archspec.plan(spec_path)


def test_the_block_limit_is_exact(monkeypatch):
    monkeypatch.setattr(limits, "MAX_BLOCKS", 54)  # ResNet-110: 3 stages of 18
    archspec.plan("specs/cifar/resnet110.yaml")
    monkeypatch.setattr(limits, "MAX_BLOCKS", 53)
    with pytest.raises(SpecError, match="the network reaches 54 blocks here"):
        archspec.plan("specs/cifar/resnet110.yaml")


def test_build_refuses_more_parameters_than_max_params():
    with pytest.raises(SpecError) as info:
        archspec.build("specs/resnet50.yaml", max_params=25_557_031)
    (issue,) = info.value.issues
    assert (issue.file, issue.line, issue.code) == ("specs/resnet50.yaml", None, "AS602")
    assert issue.message == "the network has 25,557,032 parameters, more than the build limit of 25,557,031"
    model = archspec.build("specs/resnet50.yaml", max_params=25_557_032, device="meta")
    assert sum(p.numel() for p in model.parameters()) == 25_557_032


def test_the_build_limit_defaults_to_the_one_in_limits(monkeypatch):
    assert limits.MAX_BUILD_PARAMS == 4_000_000_000
    monkeypatch.setattr(limits, "MAX_BUILD_PARAMS", 269_721)
    with pytest.raises(SpecError, match="more than the build limit of 269,721"):
        archspec.build("specs/cifar/resnet20.yaml", device="meta")


@pytest.mark.parametrize("n,text", [
    (0, "0"), (999, "999"), (25_557_032, "25,557,032"), (10**24 - 1, "999,999,999,999,999,999,999,999"),
    (10**24, "1.00e+24"), (27 * 10**24 + 5, "2.70e+25"), (10**300 - 1, "9.99e+299"), (10**8001 * 27, "2.70e+8002"),
], ids=lambda v: v if isinstance(v, str) else "n")  # pytest cannot print an int of 8,000 digits
def test_count(n, text):
    assert count(n) == text


@pytest.mark.parametrize("text,n", [
    ("4000000000", 4_000_000_000), ("4e9", 4_000_000_000), ("4G", 4_000_000_000), ("4g", 4_000_000_000),
    ("25.6M", 25_600_000), ("1.5K", 1_500), ("1T", 10**12), (" 7 ", 7),
])
def test_max_params_counts(text, n):
    assert _count(text) == n


@pytest.mark.parametrize("text", ["0", "1.5", "-3", "4GB", "G", "", "1e999", "nan", "2.5e-1K"])
def test_max_params_refuses_what_is_not_a_whole_count(text):
    with pytest.raises(argparse.ArgumentTypeError, match="expected a whole number"):
        _count(text)


def test_every_limit_is_in_the_safety_table():
    table = (ROOT / "docs" / "safety.md").read_text(encoding="utf-8")
    names = [name for name in vars(limits) if name.startswith("MAX_")]
    assert len(names) >= 17
    assert [name for name in names if f"`archspec.limits.{name}`" not in table] == []
