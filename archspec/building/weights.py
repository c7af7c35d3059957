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
- **timm ConvNeXt** (recognised by `stem.0.`, after RegNet): `stem.0`/`stem.1` → `conv1`/`bn1`,
  `stages.I.downsample` → `layer<I+1>.downsample`, `stages.I.blocks.J` → `layer<I+1>.J`, in a block
  `conv_dw` → `conv1`, `mlp.fcK` → `fcK`, `gamma` [C] → `layer_scale.gamma` [C, 1, 1];
  `head.norm`/`head.fc` → `head_norm`/`fc`.
- **timm EfficientNet / MobileNetV2 / MobileNetV3** (recognised by `conv_stem.`): see
  `TimmEfficientNet`.
- **torchvision VGG, SqueezeNet, DenseNet** (recognised by `classifier.6.`,
  `features.3.squeeze.`, `features.denseblock1.`): the modules holding tensors, in order; see `ByOrder`.
- **torchvision MobileNetV2/V3, EfficientNet, ConvNeXt** (recognised by `features.`): see
  `TorchvisionFeatures`.
- **torchvision ShuffleNetV2** (recognised by `stage2`): `conv1.0`/`conv1.1` → `conv1`/`bn1`,
  `stageN` → `layer<N-1>` (its units' `branch1.K`, `branch2.K` as they are: the spec names them
  so), `conv5.0`/`conv5.1` → `conv_head`/`bn_head`; `fc` stays.
- **torchvision MNASNet** (recognised by `layers.`): the flat `layers.N` of the stem, the
  depthwise-separable first block (`layer1.0`) and the head conv by index, each stack
  `layers.S` → `layer<S-6>`, in a unit `layers.K` → the inverted residual's roles
  (`conv1`/`bn1` expansion, `conv2`/`bn2` depthwise, `conv3`/`bn3` projection); `classifier.1` → `fc`.

Loading is strict: every tensor of the source must find a place, every place must get
a tensor, and every shape must agree; otherwise a `WeightsError` lists the problems.
With `strict=False` it loads what fits and returns a `WeightsReport`; `check` makes the
same report from names and shapes alone (`archspec check-weights`, with no model built).
Key translation is pure Python; torch is only touched through the tensors given.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass

from ..naming import stage_name
from ..planning.tensors import Shape, Tensor

END = r"(?=\.|$)"  # a whole name part

Rule = tuple[str, "str | Callable[[re.Match], str]"]


@dataclass(frozen=True)
class Convention:
    name: str
    marker: str  # a key prefix that only this convention uses
    rules: tuple[Rule, ...]  # regex substitutions, applied in order to each name
    fallbacks: tuple[Rule, ...] = ()  # tried when the model has no tensor of the renamed name

    def names(self, keys: list[str], known: Container[str] | None = None) -> dict[str, str]:
        """Each key's archspec name."""
        return {k: self.rename(k, known) for k in keys}

    def rename(self, key: str, known: Container[str] | None = None) -> str:
        for pattern, replacement in self.rules:
            key = re.sub(pattern, replacement, key)
        if known is not None and key not in known:
            for pattern, replacement in self.fallbacks:
                other = re.sub(pattern, replacement, key)
                key = other if other in known else key
        return key


class TorchvisionFeatures(Convention):
    """torchvision's MobileNetV2/V3, EfficientNet (V1, V2) and ConvNeXt: `features.N` indices.

    Which index is which depends on the network, so the names are matched by order against
    the model's: `features.0` is the stem (`conv1`, `bn1`); each block of the reference
    (`features.N` flat, or `features.S.B` nested) is the model's next block `layerI.J`; ConvNeXt's
    downsampling layers between them are the model's `layerI.downsample` in turn; the last
    `features.N` of a network with a head conv is `conv_head`/`bn_head`; and `classifier.N`
    layers with weights are the model's head layers in turn (`head_norm`, `fc1`…, `fc`). In a
    block, the items of its `block` (`conv`) Sequential take the roles the model's block has,
    in order: expansion `conv1`/`bn1`, depthwise `conv2`/`bn2`, `se`, projection `conv3`/`bn3`;
    a ConvNeXt block's `block.0/2/3/5` are `conv1`, `norm`, `fc1`, `fc2` and its
    `layer_scale` is `layer_scale.gamma`."""

    def names(self, keys: list[str], known: Container[str] | None = None) -> dict[str, str]:
        ours = list(known or ())
        blocks = _ordered(re.match(r"layer\d+\.\d+(?=\.)", k) for k in ours)
        downsamples = _ordered(re.match(r"layer\d+\.downsample(?=\.)", k) for k in ours)
        head = [m for m in _ordered(re.match(r"[^.]+(?=\.)", k) for k in ours)
                if not m.startswith("layer") and m not in ("conv1", "bn1", "maxpool", "conv_head", "bn_head")]
        indices = [int(m[1]) for m in (re.match(r"features\.(\d+)\.", k) for k in keys) if m]
        last = max(indices, default=0) if any(k.startswith("conv_head.") for k in ours) else None
        units = _ordered(re.match(r"features\.\d+(\.\d+)?(?=\.(block|conv|layer_scale))", k) for k in keys)
        groups = [g for g in _ordered(re.match(r"features\.\d+(?=\.\d+\.(weight|bias)$)", k) for k in keys)
                  if g not in ("features.0", f"features.{last}")]
        linears = _ordered(re.match(r"classifier\.\d+(?=\.)", k) for k in keys)
        where = {**dict(zip(units, blocks)), **{g: d for g, d in zip(groups, downsamples)},
                 **dict(zip(linears, head))}
        out = {}
        for key in keys:
            stem = re.match(r"features\.0\.([01])\.(.*)", key)
            top = re.match(r"features\.(\d+)\.([01])\.(\w+)$", key)
            if stem:
                out[key] = f"{('conv1', 'bn1')[int(stem[1])]}.{stem[2]}"
            elif top and last is not None and int(top[1]) == last:
                out[key] = f"{('conv_head', 'bn_head')[int(top[2])]}.{top[3]}"
            else:
                prefix = next((p for p in (key.rsplit(".", n)[0] for n in (1, 2, 3, 4)) if p in where), None)
                out[key] = key if prefix is None else f"{where[prefix]}{key[len(prefix):]}"
                out[key] = re.sub(r"\.layer_scale$", ".layer_scale.gamma", out[key])
        return _block_roles(out, ours)


def _ordered(matches) -> list[str]:
    return list(dict.fromkeys(m[0] for m in matches if m))


def _block_roles(names: dict[str, str], ours: list[str]) -> dict[str, str]:
    """Inside each block, torchvision's `block.I…` / `conv.I…` items → the roles of the model's block."""
    known = set(ours)
    by_block: dict[str, list[str]] = {}
    for key, name in names.items():
        m = re.match(r"(layer\d+\.\d+)\.(block|conv)\.(\d+)\.", name)
        if m:
            by_block.setdefault(m[1], []).append(key)
    for block, keys in by_block.items():
        if f"{block}.layer_scale.gamma" in known:  # ConvNeXt
            roles = {"0": "conv1", "2": "norm", "3": "fc1", "5": "fc2"}
            for key in keys:
                m = re.match(rf"{re.escape(block)}\.block\.(\d+)\.(.*)", names[key])
                names[key] = f"{block}.{roles.get(m[1], m[1])}.{m[2]}"
            continue
        pairs = [(f"conv{n}", f"bn{n}") for n in (1, 2, 3)]
        roles = [r for r in (pairs[0], pairs[1], "se", pairs[2])
                 if any(k.startswith(f"{block}.{r if isinstance(r, str) else r[0]}.") for k in known)]
        items = list(dict.fromkeys(re.match(r"layer\d+\.\d+\.\w+\.(\d+)", names[k])[1] for k in keys))
        assigned, r, bare = {}, 0, None
        for item in items:  # a conv-norm-act Sequential, an SE, or a bare conv followed by its bare norm
            if r == len(roles):
                break  # more items than roles: their keys stay unplaced, and load_weights says so
            role = roles[r]
            if role == "se":
                assigned[item], r = (role, None), r + 1
            elif any(re.match(rf"{re.escape(block)}\.\w+\.{item}\.0\.", names[k]) for k in keys):
                assigned[item], r = (None, role), r + 1
            elif bare is None:
                assigned[item], bare = (role[0], None), role
            else:
                assigned[item], bare, r = (bare[1], None), None, r + 1
        for key in keys:
            m = re.match(rf"{re.escape(block)}\.\w+\.(\d+)\.(.*)", names[key])
            whole, pair = assigned.get(m[1], (None, None))
            if whole:
                names[key] = f"{block}.{whole}.{m[2]}"
            elif pair:
                index, rest = m[2].split(".", 1)
                names[key] = f"{block}.{pair[int(index)] if index in ('0', '1') else index}.{rest}"
    return names


class TimmEfficientNet(Convention):
    """timm's EfficientNet and MobileNetV2/V3 (`conv_stem`, `blocks.S.B`, `conv_head`): a block's
    tensors are named by what they are, so the roles follow from the names. `conv_pw` is the
    expansion of a block that has a projection `conv_pwl`, and the projection of a
    depthwise-separable block (no `conv_pwl`), whose norms are then `bn1` (depthwise) and `bn2`;
    a stage of one plain conv block (`conv`, `bn1`: MobileNetV3's last) is the model's head conv,
    and timm's `conv_head` behind the pool then is the model's first head linear `fc1`. timm
    groups blocks into stages its own way (MobileNetV3), so its blocks are the model's in order."""

    INVERTED = {"conv_pw": "conv1", "bn1": "bn1", "conv_dw": "conv2", "bn2": "bn2", "conv_pwl": "conv3", "bn3": "bn3"}
    SEPARABLE = {"conv_dw": "conv2", "bn1": "bn2", "conv_pw": "conv3", "bn2": "bn3"}
    SE = {"se.conv_reduce": "se.fc1", "se.conv_expand": "se.fc2"}

    def names(self, keys: list[str], known: Container[str] | None = None) -> dict[str, str]:
        inverted = {m[1] for m in (re.match(r"(blocks\.\d+\.\d+)\.conv_pwl\.", k) for k in keys) if m}
        plain = {m[1] for m in (re.match(r"(blocks\.\d+\.\d+)\.conv\.", k) for k in keys) if m}
        top = {"conv_stem": "conv1", "bn1": "bn1", "conv_head": "fc1" if plain else "conv_head", "bn2": "bn_head",
               "classifier": "fc"}
        theirs = [b for b in _ordered(re.match(r"blocks\.\d+\.\d+(?=\.)", k) for k in keys) if b not in plain]
        ours = _ordered(re.match(r"layer\d+\.\d+(?=\.)", k) for k in known or ())
        where = dict(zip(theirs, ours)) if ours else {}
        out = {}
        for key in keys:
            block = re.match(r"(blocks\.(\d+)\.(\d+))\.(se\.conv_\w+|\w+)\.(.*)", key)
            first = re.match(r"(\w+)\.(.*)", key)
            if block and block[1] in plain:
                out[key] = f"{({'conv': 'conv_head', 'bn1': 'bn_head'}).get(block[4], block[4])}.{block[5]}"
            elif block:
                roles = {**(self.INVERTED if block[1] in inverted else self.SEPARABLE), **self.SE}
                at = where.get(block[1], f"{stage_name(int(block[2]))}.{block[3]}")
                out[key] = f"{at}.{roles.get(block[4], block[4])}.{block[5]}"
            elif first and first[1] in top:
                out[key] = f"{top[first[1]]}.{first[2]}"
            else:
                out[key] = key
        return out


class ByOrder(Convention):
    """torchvision's VGG (`features.N`, `classifier.N`), SqueezeNet (`features.N.squeeze`…) and DenseNet
    (`features.denseblockI.denselayerJ.*`, `features.transitionI.*`, `features.norm5`, `classifier`):
    their modules come in the order of the model's, so the reference's modules that hold tensors are
    the model's that do, in turn; each tensor keeps its own name in its module (`weight`,
    `running_mean`). Shapes are checked as for any convention, so a network of another layout does
    not load."""

    def names(self, keys: list[str], known: Container[str] | None = None) -> dict[str, str]:
        theirs = _ordered(re.match(r".*(?=\.[^.]+$)", k) for k in keys)
        ours = _ordered(re.match(r".*(?=\.[^.]+$)", k) for k in known or ())
        where = dict(zip(theirs, ours))
        out = {}
        for key in keys:
            module, _, tensor = key.rpartition(".")
            out[key] = f"{where[module]}.{tensor}" if module in where else key
        return out


ARCHSPEC = Convention("archspec (torchvision/timm ResNet)", "", ())

# torchvision MNASNet's flat `layers.N`: stem conv, the depthwise-separable block, the stacks, the head conv.
_MNASNET_FLAT = {0: "conv1", 1: "bn1", 2: "relu", 3: "layer1.0.conv2", 4: "layer1.0.bn2", 5: "layer1.0.relu2",
                 6: "layer1.0.conv3", 7: "layer1.0.bn3", **{s: stage_name(s - 7) for s in range(8, 14)},
                 14: "conv_head", 15: "bn_head", 16: "relu_head"}
# … and an inverted residual's `layers.K`
_MNASNET_UNIT = ("conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3")

# ---- graph models: a backbone and a head written as a block of the spec (`head: {type: block}`) ----
# Their specs name the head's nodes; these map the reference's names onto them.
GRAPH_MODELS = (
    # torchvision resnet_fpn_backbone (specs/examples/resnet50_fpn.yaml): `body.*` is the ResNet,
    # `fpn.inner_blocks.i.0` the 1×1 lateral convs `fpn.inner<i>`, `fpn.layer_blocks.i.0` the 3×3 `fpn.out<i>`
    Convention("torchvision FPN backbone", "fpn.inner_blocks.", (
        (r"^body\.", ""),
        (rf"^fpn\.inner_blocks\.(\d+)\.0{END}", r"fpn.inner\1"),
        (rf"^fpn\.layer_blocks\.(\d+)\.0{END}", r"fpn.out\1"),
    )),
    # segmentation_models_pytorch Unet (specs/examples/unet_resnet34.yaml): `encoder.*` is the ResNet,
    # `decoder.blocks.i` the decoder's block<i>, `segmentation_head.0` its conv `decoder.head`
    Convention("segmentation_models_pytorch U-Net", "decoder.blocks.", (
        (r"^encoder\.", ""),
        (rf"^decoder\.blocks\.(\d+){END}", r"decoder.block\1"),
        (rf"^segmentation_head\.0{END}", "decoder.head"),
    )),
)

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
    Convention("timm ConvNeXt", "stem.0.", (  # after RegNet, whose stem is `stem.0` too
        (rf"^stem\.0{END}", "conv1"), (rf"^stem\.1{END}", "bn1"),
        (rf"^stages\.(\d+)\.blocks\.(\d+){END}", lambda m: f"{stage_name(int(m[1]))}.{m[2]}"),
        (rf"^stages\.(\d+){END}", lambda m: stage_name(int(m[1]))),
        (rf"\.conv_dw{END}", ".conv1"), (rf"\.mlp\.(fc\d){END}", r".\1"),
        (r"\.gamma$", ".layer_scale.gamma"),
        (rf"^head\.norm{END}", "head_norm"), (rf"^head\.fc{END}", "fc"),
    )),
    Convention("timm ResNetV2", "stages.", (
        (rf"^stem\.conv{END}", "conv1"),
        (rf"^stem\.conv(\d){END}", lambda m: f"conv1.{3 * (int(m[1]) - 1)}"),
        (rf"^stem\.norm(\d){END}", lambda m: f"conv1.{3 * (int(m[1]) - 1) + 1}"),
        (rf"^stem\.pool{END}", "maxpool"),
        (rf"^stages\.(\d+)\.blocks\.(\d+){END}", lambda m: f"{stage_name(int(m[1]))}.{m[2]}"),
        (rf"^stages\.(\d+){END}", lambda m: stage_name(int(m[1]))),
        (rf"^(layer\d+\.\d+)\.norm(\d){END}", r"\1.bn\2"),
        (rf"\.downsample\.conv{END}", ".downsample.0"),
        (rf"^head\.fc{END}", "fc"),
    ), fallbacks=(
        (rf"\.downsample\.0{END}", ".downsample.1"),  # the conv behind an avg-pool (timm's DownsampleAvg)
    )),
    TimmEfficientNet("timm EfficientNet/MobileNet", "conv_stem.", ()),
    Convention("torchvision ShuffleNetV2", "stage2", (
        (rf"^conv1\.0{END}", "conv1"), (rf"^conv1\.1{END}", "bn1"), (rf"^conv1\.2{END}", "relu"),
        (rf"^stage(\d+){END}", lambda m: stage_name(int(m[1]) - 2)),
        (rf"^conv5\.0{END}", "conv_head"), (rf"^conv5\.1{END}", "bn_head"), (rf"^conv5\.2{END}", "relu_head"),
        (rf"^conv5{END}", "relu_head"),
    )),
    Convention("torchvision MNASNet", "layers.", (
        (rf"^layers\.(\d+)\.(\d+)\.layers\.([0-7]){END}",
         lambda m: f"{stage_name(int(m[1]) - 7)}.{m[2]}.{_MNASNET_UNIT[int(m[3])]}"),
        (rf"^layers\.(\d+){END}", lambda m: _MNASNET_FLAT.get(int(m[1]), m[0])),
        (rf"^classifier\.0{END}", "dropout"), (rf"^classifier\.1{END}", "fc"),
    )),
    # before the `features.N` of the MobileNets, which they share
    ByOrder("torchvision VGG", "classifier.6.", ()),
    ByOrder("torchvision SqueezeNet", "features.3.squeeze.", ()),
    ByOrder("torchvision DenseNet", "features.denseblock1.", ()),
    TorchvisionFeatures("torchvision features (MobileNet, EfficientNet, ConvNeXt)", "features.", ()),
    *GRAPH_MODELS,
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
    return convention, convention.names(keys, known)


def compatible(source: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Equal shapes, a 1×1 conv weight (out, in, 1, 1) for a linear weight (out, in), or a
    per-channel scale (C) for a (C, 1, 1) one (timm's ConvNeXt `gamma`)."""
    source, target = tuple(source), tuple(target)
    return (source == target or (len(target) == 2 and source == (*target, 1, 1))
            or (len(source) == 1 and target == (*source, 1, 1)))


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
    network: str | None = None  # the network a weights file says it holds (archspec's files record their spec)

    @property
    def ok(self) -> bool:
        """True when a strict load succeeds: every tensor finds a place and every place a tensor."""
        return not (self.unexpected or self.duplicates or self.mismatched or self.missing)

    @property
    def loaded_share(self) -> float:
        """The fraction of the model's parameters that would load."""
        return self.params_loaded / self.params if self.params else 1.0

    def __str__(self) -> str:
        """For print(): what loads, and the first problems (`problems()` has them all)."""
        lines = [f"{self.convention} names: {len(self.fits)} of the model's {self.tensors} tensors fit "
                 f"({self.params_loaded:,} of {self.params:,} parameters)"]
        if self.ok:
            return lines[0] + "; a strict load succeeds"
        problems = self.problems()
        lines.append(f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, "
                     f"{len(self.mismatched)} of the wrong shape, {len(self.duplicates)} duplicated:")
        lines += [f"  {p}" for p in problems[:5]] + ([f"  … and {len(problems) - 5} more"] if len(problems) > 5 else [])
        return "\n".join(lines)

    def __repr__(self) -> str:  # the dataclass's own would print every key
        return (f"WeightsReport(convention={self.convention!r}, ok={self.ok}, fits={len(self.fits)}/{self.tensors}, "
                f"missing={len(self.missing)}, unexpected={len(self.unexpected)}, "
                f"mismatched={len(self.mismatched)}, duplicates={len(self.duplicates)})")

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
            "convention": self.convention, "network": self.network, "ok": self.ok,
            "tensors": self.tensors, "loaded": len(self.fits), "params": self.params,
            "params_loaded": self.params_loaded, "loaded_percent": round(100 * self.loaded_share, 2),
            "missing": [{"name": n, "shape": list(s)} for n, s in self.missing],
            "unexpected": [{"key": k, "name": n} for k, n in self.unexpected],
            "duplicates": [{"key": k, "name": n} for k, n in self.duplicates],
            "mismatched": [{"key": k, "name": n, "shape": list(g), "expected": list(w)}
                           for k, n, g, w in self.mismatched],
        }


def misfit(report: WeightsReport, model: str = "the model", recorded: str | None = None, width: int = 100) -> str:
    """Why a state_dict does not fit, in a few short lines: each kind of problem counted, with
    as many of its first names as fit in `width` characters (`report.problems()` has them all)."""
    def names(items: list[str]) -> str:
        shown = [items[0] if len(items[0]) <= 60 else items[0][:57] + "..."]
        while len(shown) < len(items) and len(", ".join(shown + [items[len(shown)]])) <= width - 40:
            shown.append(items[len(shown)])
        return ", ".join(shown) + (f" and {len(items) - len(shown)} more" if len(items) > len(shown) else "")

    groups = [("missing", [name for name, _ in report.missing]),
              ("unexpected", [key for key, _ in report.unexpected]),
              ("of the wrong shape", [f"{key} {list(given)} for {list(wanted)}"
                                      for key, _, given, wanted in report.mismatched]),
              ("duplicated", [key for key, _ in report.duplicates])]
    network = f"; the file holds {recorded}" if recorded else ""
    return "\n".join([f"state_dict does not fit {model} ({report.convention} names{network}):"]
                     + [f"  {len(items)} {what}: {names(items)}" for what, items in groups if items])


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
    if not (isinstance(state_dict, Mapping) and all(hasattr(v, "shape") for v in state_dict.values())):
        raise WeightsError(f"state_dict: expected a mapping of names to tensors, got a {type(state_dict).__name__}"
                           + (" holding other values" if isinstance(state_dict, Mapping) else ""))
    target = model.state_dict()
    parameters = {name for name, _ in model.named_parameters()}
    report = check({str(k): tuple(v.shape) for k, v in state_dict.items()},
                   {k: Tensor(tuple(v.shape), k in parameters) for k, v in target.items()})
    if strict and not report.ok:
        raise WeightsError(misfit(report))
    model.load_state_dict({name: state_dict[key].reshape(target[name].shape) for key, name in report.fits.items()},
                          strict=strict)
    return report.convention if strict else report
