"""The state_dict worked out from the plan is the built model's, key for key."""

import pytest

import archspec
from archspec.planning.tensors import state_dict_of
from conftest import shipped_specs, spec_id


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_the_plan_knows_every_key_shape_and_parameter_of_the_state_dict(path):
    plan = archspec.plan(path)
    model = archspec.build(plan, device="meta")
    ours = state_dict_of(plan)
    assert list(ours) == list(model.state_dict())  # same keys, same order
    assert {k: t.shape for k, t in ours.items()} == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k for k, t in ours.items() if t.parameter} == {k for k, _ in model.named_parameters()}
    assert sum(t.numel for t in ours.values() if t.parameter) == plan.params


def test_state_dict_of_resnet50_in_numbers():
    ours = state_dict_of(archspec.plan("specs/resnet50.yaml"))
    assert len(ours) == 320  # 161 parameters, 106 running statistics, 53 batch counters
    assert sum(t.parameter for t in ours.values()) == 161
    assert ours["layer3.0.downsample.0.weight"].shape == (1024, 512, 1, 1)
    assert ours["bn1.num_batches_tracked"].shape == ()
