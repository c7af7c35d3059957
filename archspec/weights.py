"""Load a reference implementation's `state_dict` into a spec-built model, whatever its naming.

archspec names modules as torchvision's ResNet does (`conv1`, `bn1`, `layer1.0.conv1`,
`layer1.0.downsample.0`, `fc`), for every block kind. The conventions understood:

- **archspec / torchvision ResNet / timm ResNet** (ResNet, ResNeXt, wide ResNet,
  ResNet-D, SE-ResNet, ...): the names are the same; the keys load as they are.
- **torchvision RegNet** (recognised by `trunk_output.`): `stem.0`/`stem.1` → `conv1`/`bn1`,
  `trunk_output.blockI.blockI-J` → `layerI.J`, and inside a block `f.a.0`/`f.a.1` →
  `conv1`/`bn1`, `f.b.*` → `conv2`/`bn2`, `f.se.*` → `se.*`, `f.c.*` → `conv3`/`bn3`,
  `proj.*` → `downsample.*`; `fc` stays.
- **timm ResNetV2** (pre-activation; recognised by `stages.`): `stem.conv` → `conv1`
  (deep stem: `stem.convK`/`stem.normK` → `conv1.<3(K-1)>`/`conv1.<3(K-1)+1>`),
  `stages.I.blocks.J` → `layer<I+1>.J`, inside a block `normK` → `bnK` and
  `downsample.conv` → `downsample.0` (a projection shortcut; `downsample.1` behind an
  avg-pool, where the model has that), the final `norm` stays, and `head.fc` → `fc`,
  its 1×1 conv weight reshaped for the linear layer.

Loading is strict: every tensor of the source must find a place, every place must get
a tensor, and every shape must agree; otherwise a `WeightsError` lists the problems.
With `strict=False` it loads what fits and returns a `WeightsReport`; `check` makes the
same report from names and shapes alone (`archspec check-weights`, with no model built).
Key translation is pure Python; torch is only touched through the tensors given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass

from .tensors import Shape, Tensor

END = r"(?=\.|$)"  # a whole name part

Rule = tuple[str, "str | Callable[[re.Match], str]"]


@dataclass(frozen=True)
class Convention:
    name: str
    marker: str  # a key prefix that only this convention uses
    rules: tuple[Rule, ...]  # regex substitutions, applied in order to each name
    fallbacks: tuple[Rule, ...] = ()  # tried when the model has no tensor of the renamed name

    def rename(self, key: str, known: Container[str] | None = None) -> str:
        for pattern, replacement in self.rules:
            key = re.sub(pattern, replacement, key)
        if known is not None and key not in known:
            for pattern, replacement in self.fallbacks:
                other = re.sub(pattern, replacement, key)
                key = other if other in known else key
        return key


ARCHSPEC = Convention("archspec (torchvision/timm ResNet)", "", ())

CONVENTIONS = (
    Convention("torchvision RegNet", "trunk_output.", (
        (rf"^stem\.0{END}", "conv1"), (rf"^stem\.1{END}", "bn1"), (rf"^stem\.2{END}", "relu"),
        (rf"^trunk_output\.block(\d+)\.block\1-(\d+){END}", r"layer\1.\2"),
        (rf"^trunk_output\.block(\d+){END}", r"layer\1"),
        (rf"\.proj{END}", ".downsample"),
        (rf"\.f\.a\.0{END}", ".conv1"), (rf"\.f\.a\.1{END}", ".bn1"),
        (rf"\.f\.b\.0{END}", ".conv2"), (rf"\.f\.b\.1{END}", ".bn2"),
        (rf"\.f\.se{END}", ".se"),
        (rf"\.f\.c\.0{END}", ".conv3"), (rf"\.f\.c\.1{END}", ".bn3"),
    )),
    Convention("timm ResNetV2", "stages.", (
        (rf"^stem\.conv{END}", "conv1"),
        (rf"^stem\.conv(\d){END}", lambda m: f"conv1.{3 * (int(m[1]) - 1)}"),
        (rf"^stem\.norm(\d){END}", lambda m: f"conv1.{3 * (int(m[1]) - 1) + 1}"),
        (rf"^stem\.pool{END}", "maxpool"),
        (rf"^stages\.(\d+)\.blocks\.(\d+){END}", lambda m: f"layer{int(m[1]) + 1}.{m[2]}"),
        (rf"^stages\.(\d+){END}", lambda m: f"layer{int(m[1]) + 1}"),
        (rf"^(layer\d+\.\d+)\.norm(\d){END}", r"\1.bn\2"),
        (rf"\.downsample\.conv{END}", ".downsample.0"),
        (rf"^head\.fc{END}", "fc"),
    ), fallbacks=(
        (rf"\.downsample\.0{END}", ".downsample.1"),  # the conv behind an avg-pool (timm's DownsampleAvg)
    )),
)


class WeightsError(ValueError):
    """A state_dict that does not fit the model: unknown, missing or misshapen tensors."""


def convention_of(keys: Iterable[str]) -> Convention:
    """The naming convention of a state_dict's keys (archspec's own when none is recognised)."""
    keys = list(keys)
    for convention in CONVENTIONS:
        if any(k.startswith(convention.marker) for k in keys):
            return convention
    return ARCHSPEC


def translate(keys: Iterable[str], known: Container[str] | None = None) -> tuple[Convention, dict[str, str]]:
    """The convention of `keys` and each key's archspec name (where a name is ambiguous,
    the one among `known`, the model's names, if given)."""
    keys = list(keys)
    convention = convention_of(keys)
    return convention, {k: convention.rename(k, known) for k in keys}


def compatible(source: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Equal shapes, or a 1×1 conv weight (out, in, 1, 1) for a linear weight (out, in)."""
    return tuple(source) == tuple(target) or (len(target) == 2 and tuple(source) == (*target, 1, 1))


@dataclass
class WeightsReport:
    """What loading a state_dict into a model would do: which tensors fit, and every problem."""

    convention: str  # the naming convention recognised
    fits: dict[str, str]  # source key → model name, for each tensor that would load
    unexpected: list[tuple[str, str]]  # (source key, model name looked for): no such tensor in the model
    duplicates: list[tuple[str, str]]  # (source key, model name): a second tensor for one place
    mismatched: list[tuple[str, str, Shape, Shape]]  # (source key, model name, given shape, the model's)
    missing: list[tuple[str, Shape]]  # model names (and shapes) that no tensor fills
    tensors: int  # the model's tensors (parameters and buffers)
    params: int  # the model's parameters (elements)
    params_loaded: int  # of which would load

    @property
    def ok(self) -> bool:
        """True when a strict load succeeds: every tensor finds a place and every place a tensor."""
        return not (self.unexpected or self.duplicates or self.mismatched or self.missing)

    @property
    def loaded_share(self) -> float:
        """The fraction of the model's parameters that would load."""
        return self.params_loaded / self.params if self.params else 1.0

    def problems(self) -> list[str]:
        """One line per problem, in full: what, which key, which shapes."""
        return ([f"{key}: no such tensor in the model" + (f" (looked for {name})" if name != key else "")
                 for key, name in self.unexpected]
                + [f"{key}: a second tensor for {name}" for key, name in self.duplicates]
                + [f"{key}: shape {list(given)} does not fit {name} {list(wanted)}"
                   for key, name, given, wanted in self.mismatched]
                + [f"{name}: missing from the state_dict" for name, _ in self.missing])

    def to_dict(self) -> dict:
        return {
            "convention": self.convention, "ok": self.ok,
            "tensors": self.tensors, "loaded": len(self.fits), "params": self.params,
            "params_loaded": self.params_loaded, "loaded_percent": round(100 * self.loaded_share, 2),
            "missing": [{"name": n, "shape": list(s)} for n, s in self.missing],
            "unexpected": [{"key": k, "name": n} for k, n in self.unexpected],
            "duplicates": [{"key": k, "name": n} for k, n in self.duplicates],
            "mismatched": [{"key": k, "name": n, "shape": list(g), "expected": list(w)}
                           for k, n, g, w in self.mismatched],
        }


def check(source: Mapping[str, Shape], target: Mapping[str, Tensor]) -> WeightsReport:
    """Match a state_dict's keys and shapes (`source`) against a model's tensors (`target`, in
    `state_dict` order), through the naming convention of `source`. Pure Python: no tensor is read."""
    convention, names = translate(source, target)
    fits: dict[str, str] = {}
    unexpected, duplicates, mismatched, taken = [], [], [], set()
    for key, name in names.items():
        shape = tuple(source[key])
        if name in taken:
            duplicates.append((key, name))
        elif name not in target:
            unexpected.append((key, name))
        elif not compatible(shape, target[name].shape):
            mismatched.append((key, name, shape, target[name].shape))
        else:
            fits[key] = name
        taken.add(name)
    given = set(names.values())
    loaded = set(fits.values())
    return WeightsReport(
        convention.name, fits, unexpected, duplicates, mismatched,
        missing=[(name, t.shape) for name, t in target.items() if name not in given],
        tensors=len(target),
        params=sum(t.numel for t in target.values() if t.parameter),
        params_loaded=sum(t.numel for name, t in target.items() if t.parameter and name in loaded),
    )


def load_weights(model, state_dict: Mapping, strict: bool = True) -> str | WeightsReport:
    """Load `state_dict` (from torchvision, timm or archspec) into `model`, a spec-built module
    of the same architecture.

    Strict (the default): returns the name of the convention recognised, or raises
    WeightsError, listing every problem and loading nothing, unless each tensor finds exactly
    one place of a compatible shape and each of the model's places gets one.
    With `strict=False`: loads every tensor that fits and returns the `WeightsReport`."""
    target = model.state_dict()
    parameters = {name for name, _ in model.named_parameters()}
    report = check({k: tuple(v.shape) for k, v in state_dict.items()},
                   {k: Tensor(tuple(v.shape), k in parameters) for k, v in target.items()})
    if strict and not report.ok:
        problems = report.problems()
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise WeightsError(f"state_dict ({report.convention} names) does not fit the model:\n  {shown}")
    model.load_state_dict({name: state_dict[key].reshape(target[name].shape) for key, name in report.fits.items()},
                          strict=strict)
    return report.convention if strict else report
