"""The module names archspec gives a network's stages: the one place `layer{i+1}` is spelled.
Reading (messages), planning, weights conversion and eject all name stages through it."""


def stage_name(i: int) -> str:
    """The module name of stage `i` (from 0): `layer1`, `layer2`, ... (torchvision's)."""
    return f"layer{i + 1}"


def stage_label(i: int) -> str:
    """Stage `i` as messages name it: its data path and its module name, `stages.1 (layer2)`."""
    return f"stages.{i} ({stage_name(i)})"
