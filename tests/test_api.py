"""The Python API: arguments of the wrong form get a message naming them; the head returns logits."""

import pytest
import torch

import archspec
from conftest import ROOT, TINY_SPEC


@pytest.mark.parametrize("shape, expected", [
    ((3, 160, 160), (3, 160, 160)), ((160, 128), (3, 160, 128)), (160, (3, 160, 160)), ([1, 64, 64], (1, 64, 64)),
])
def test_plan_takes_an_input_as_c_h_w_or_h_w_or_h(shape, expected):
    assert archspec.plan("specs/resnet18.yaml", shape).input_shape == expected


@pytest.mark.parametrize("call, error, message", [
    (lambda: archspec.plan("specs/resnet18.yaml", (3, 1, 160, 160)), TypeError,
     "input_shape: expected (C, H, W), (H, W) or H, in whole numbers, got (3, 1, 160, 160)"),
    (lambda: archspec.plan("specs/resnet18.yaml", "160"), TypeError,
     "input_shape: expected (C, H, W), (H, W) or H, in whole numbers, got '160'"),
    (lambda: archspec.plan("specs/resnet18.yaml", (160.0, 160)), TypeError,
     "input_shape: expected (C, H, W), (H, W) or H, in whole numbers, got (160.0, 160)"),
    (lambda: archspec.plan("specs/resnet18.yaml", (0, 160)), ValueError,
     "input_shape: sizes must be at least 1, got (0, 160)"),
    (lambda: archspec.plan({"archspec": 1}), TypeError, "spec: expected a Spec, a path, a built-in spec's name or '-', got dict"),
    (lambda: archspec.build("specs/resnet18.yaml", seed="0"), ValueError,
     "seed: expected a whole number from 0 to 2**64 - 1, got '0'"),
    (lambda: archspec.build("specs/resnet18.yaml", max_params=2.5e7), ValueError,
     "max_params: expected a whole number ≥ 1, got 25000000.0"),
])
def test_an_argument_of_the_wrong_form_is_named_with_the_forms_it_takes(call, error, message):
    with pytest.raises(error) as e:
        call()
    assert str(e.value) == message


def test_the_classifier_head_returns_logits_as_the_docs_say(write_spec):
    model = archspec.build(write_spec(TINY_SPEC), seed=0).eval()
    assert isinstance(list(model.children())[-1], torch.nn.Linear)
    with torch.no_grad():
        logits = model(torch.randn(4, 3, 32, 32))
    assert logits.shape == (4, 10) and (logits < 0).any()  # no softmax: not probabilities
    doc = (ROOT / "docs/spec.md").read_text(encoding="utf-8")
    assert "The classifier returns **logits**" in doc and "CrossEntropyLoss" in doc
