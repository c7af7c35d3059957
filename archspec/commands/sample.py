"""`archspec sample SPACE -n 100 --seed 0 -o DIR`: distinct networks drawn from a design space,
each an ordinary spec inside every window by the exact plan, with DIR/index.json,
DIR/index.csv and DIR/samples.svg (MACs against params). The same seed gives the same bytes."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import yaml

from ..errors import Issue, SpecError, printable
from ..planning.plan import Plan, plan_spec, without_cyclic_gc
from ..reading.messages import check_tree
from ..reading.resolve import resolve
from ..reading.source import Source, load_source
from ..reading.space import Space, read_space
from ..reading.spec import Spec
from ..units import count, si

DRAWS_PER_SAMPLE = 200  # the default bound on draws: 200 × n
MAX_CACHED = 512  # parts kept planned between draws: about 15 MB at most (RegNet stages)


@dataclass
class Sample:
    name: str
    draw: int  # which draw of the seed's sequence gave it, from 0
    values: dict[str, Any]  # the values drawn, by dotted key path
    spec: Spec
    plan: Plan
    tree: dict = field(repr=False)
    origin: str = field(repr=False)  # the description: which space, seed and draw

    @cached_property
    def memory(self) -> int:
        """Activation bytes of a training step at the windows' batch and dtype."""
        return self.plan.activation_memory(*self.spec.constraints.memory_at)

    @cached_property
    def text(self) -> str:
        """The spec's YAML: every value written out, nothing to resolve."""
        out = {"archspec": self.tree.get("archspec", 1), "name": self.name, "description": self.origin}
        out.update((k, v) for k, v in self.tree.items() if k not in out and k not in ("extends", "abstract"))
        return yaml.dump(out, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's writer: ten times faster


@dataclass
class Sampling:
    """What `archspec.sample` returns: the samples, and what the draws that failed did."""

    space: Space
    seed: int
    samples: list[Sample] = field(default_factory=list)
    draws: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # why → how many draws

    @property
    def acceptance(self) -> float:
        return len(self.samples) / self.draws if self.draws else 0.0

    def reject(self, why: str) -> None:
        self.rejected[why] = self.rejected.get(why, 0) + 1


def read(ref: Any, overrides: Any = None) -> Space:
    """The design space `ref` names (a path, a built-in space's name, or a Source), checked."""
    return read_space(resolve(builtin_space(ref), overrides))


def builtin_space(ref: Any) -> Any:
    """A name without a path finds the shipped spaces (specs/spaces/NAME.yaml)."""
    from ..reading.resolve import SPACES, is_name

    if isinstance(ref, str) and is_name(ref) and not os.path.lexists(ref):
        path = SPACES / f"{ref}.yaml"
        if path.is_file():  # named as the built-in specs are: from specs/
            return load_source(path, label=f"spaces/{ref}.yaml")
    return ref


def sample(space: Any, n: int = 100, seed: int = 0, max_draws: int | None = None, overrides: Any = None,
           progress: Callable[[Sampling], None] | None = None) -> Sampling:
    """`n` distinct networks drawn from `space` (a path, a shipped space's name or a Space) with
    `seed`, each planned exactly and inside every window; SpecError if `max_draws` (default
    200 × n) draws give fewer."""
    if not (type(n) is int and n >= 1):
        raise ValueError(f"n: expected a whole number ≥ 1, got {n!r}")
    if not (type(seed) is int and 0 <= seed < 2**64):
        raise ValueError(f"seed: expected a whole number from 0 to 2**64 - 1, got {seed!r}")
    space = space if isinstance(space, Space) else read(space, overrides)
    limit = max_draws or DRAWS_PER_SAMPLE * n
    rng, done = random.Random(seed), Sampling(space, seed)
    seen: set[str | bytes] = set()
    planned: dict = {}  # plan_spec's cache: draws share most of their stem, stages and head
    with without_cyclic_gc():
        while len(done.samples) < n and done.draws < limit:
            tree, values = space.draw(rng)
            done.draws += 1
            if len(planned) > MAX_CACHED:
                planned.clear()
            found = _judge(space, tree, seen, done, planned)
            if found is not None:
                spec, p = found
                origin = f"drawn from the design space {space.name} (seed {seed}, draw {done.draws - 1})"
                done.samples.append(Sample(f"{space.name}_{len(done.samples):03d}", done.draws - 1, values, spec, p,
                                           tree, origin))
            if progress is not None and done.draws % 50 == 0:
                progress(done)
    if len(done.samples) < n:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(done.rejected.items(), key=lambda kv: -kv[1]))
        raise SpecError([Issue(space.source.path, None, None,
                               f"found {len(done.samples)} of {n} networks in {done.draws:,} draws "
                               f"(acceptance {100 * done.acceptance:.2f} %; rejected: {reasons or 'none'})",
                               "widen the windows or the ranges, or allow more draws (--max-draws)", "AS932")])
    return done




def _judge(space: Space, tree: dict, seen: set[str | bytes], done: Sampling, planned: dict) -> tuple[Spec, Plan] | None:
    """The spec and plan of a drawn tree inside every window and rule; None (and the
    reason counted) for a draw that is invalid, outside a window, or a network already drawn."""
    try:
        spec = check_tree(Source(space.source.path, "", tree, {}, {}))
        if space.breaks_rules(spec) is not None:  # before planning: a rule costs less
            done.reject("rule")
            return None
        p = plan_spec(spec, cache=planned)
    except SpecError as e:
        done.reject(f"invalid ({e.issues[0].code})")
        return None
    c = space.constraints
    for figure in ("params", "macs"):
        low, high = getattr(c, f"min_{figure}"), getattr(c, f"max_{figure}")
        if (low is not None and getattr(p, figure) < low) or (high is not None and getattr(p, figure) > high):
            done.reject(f"{figure} window")
            return None
    key = _network_key(spec)
    if key in seen:
        done.reject("duplicate")
        return None
    # last: it walks every layer again
    if c.max_memory is not None and p.activation_memory(*c.memory_at) > c.max_memory:
        done.reject("memory window")
        return None
    seen.add(key)
    return spec, p


def _network_key(spec: Spec) -> str | bytes:
    """Two draws are one network when everything but the name is equal, generators written out."""
    if spec.blocks is None:  # pydantic's JSON (4 times faster) keeps mappings in their order: none here
        return b"\n".join([spec.__pydantic_serializer__.to_json(spec, exclude={"name", "description", "stages"}),
                            *(s.__pydantic_serializer__.to_json(s) for s in spec.all_stages)])
    tree = spec.model_dump(mode="json", exclude={"name", "description"})
    tree["stages"] = [s.model_dump(mode="json") for s in spec.all_stages]
    return json.dumps(tree, sort_keys=True)


# ---- files ------------------------------------------------------------------------

def write(done: Sampling, folder: str) -> None:
    """The specs, index.json, index.csv and samples.svg into a new folder `folder`, whole or not at all."""
    if os.path.lexists(folder) and not (os.path.isdir(folder) and not os.listdir(folder)):
        raise OSError(f"{folder}: error: already exists and is not an empty folder; give a new folder")
    parent = os.path.dirname(os.path.abspath(folder))
    if not os.path.isdir(parent):
        raise OSError(f"{folder}: error: folder {parent!r} does not exist")
    try:
        staging = tempfile.mkdtemp(prefix=".archspec-sample-", dir=parent)
    except OSError as e:
        raise OSError(f"{folder}: error: cannot write: {e.strerror or e}") from None
    try:
        files = {f"{s.name}.yaml": s.text for s in done.samples}
        files["index.json"] = json.dumps(index(done), indent=1, ensure_ascii=False) + "\n"
        files["index.csv"] = _index_csv(done)
        files["samples.svg"] = svg(done)
        for name, text in files.items():
            with open(os.path.join(staging, name), "w", encoding="utf-8", newline="") as f:
                f.write(text)
        os.chmod(staging, 0o777 & ~_umask())
        if os.path.isdir(folder):
            os.rmdir(folder)  # empty: checked above
        os.rename(staging, folder)
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise OSError(f"{folder}: error: cannot write: {e.strerror or e}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def index(done: Sampling) -> dict:
    c = done.space.constraints
    return {"space": done.space.name, "seed": done.seed, "draws": done.draws, "accepted": len(done.samples),
            "rejected": dict(sorted(done.rejected.items())), "memory_batch": c.memory_at[0], "memory_dtype": c.memory_at[1],
            "samples": [{"name": s.name, "file": f"{s.name}.yaml", "params": s.plan.params, "macs": s.plan.macs,
                         "memory": s.memory, "draw": s.draw, "values": s.values} for s in done.samples]}


def _index_csv(done: Sampling) -> str:
    columns = list(dict.fromkeys(k for s in done.samples for k in s.values))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "params", "macs", "memory", *columns, "seed", "draw"])
    for s in done.samples:
        writer.writerow([s.name, s.plan.params, s.plan.macs, s.memory,
                         *(json.dumps(s.values[k]) if isinstance(s.values.get(k), (dict, list)) else s.values.get(k, "")
                           for k in columns), done.seed, s.draw])
    return out.getvalue()


def svg(done: Sampling, width: int = 640, height: int = 480) -> str:
    """MACs (x) against parameters (y), one dot per network; the windows as dashed lines."""
    c, pad = done.space.constraints, 60
    xs = [s.plan.macs for s in done.samples] + [v for v in (c.min_macs, c.max_macs) if v]
    ys = [s.plan.params for s in done.samples] + [v for v in (c.min_params, c.max_params) if v]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    x0, x1 = (x0 - 1, x1 + 1) if x0 == x1 else (x0 - (x1 - x0) / 20, x1 + (x1 - x0) / 20)
    y0, y1 = (y0 - 1, y1 + 1) if y0 == y1 else (y0 - (y1 - y0) / 20, y1 + (y1 - y0) / 20)
    px = lambda v: pad + (v - x0) / (x1 - x0) * (width - 2 * pad)  # noqa: E731
    py = lambda v: height - pad - (v - y0) / (y1 - y0) * (height - 2 * pad)  # noqa: E731
    title = printable(f"{done.space.name}: {len(done.samples)} networks, seed {done.seed}")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2:.1f}" y="20" text-anchor="middle">{_escape(title)}</text>',
           f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
           f'<text x="{width / 2:.1f}" y="{height - 15}" text-anchor="middle">MACs</text>',
           f'<text x="15" y="{height / 2:.1f}" text-anchor="middle" transform="rotate(-90 15 {height / 2:.1f})">'
           f'parameters</text>']
    for k in range(5):
        xv, yv = x0 + (x1 - x0) * k / 4, y0 + (y1 - y0) * k / 4
        out.append(f'<text x="{px(xv):.1f}" y="{height - pad + 16}" text-anchor="middle">{si(xv)}</text>')
        out.append(f'<text x="{pad - 6}" y="{py(yv) + 4:.1f}" text-anchor="end">{si(yv)}</text>')
    for name in ("min_macs", "max_macs"):
        if (v := getattr(c, name)) is not None:
            out.append(f'<line x1="{px(v):.1f}" y1="{pad}" x2="{px(v):.1f}" y2="{height - pad}" stroke="#c33" '
                       f'stroke-dasharray="4 3"><title>{name} {count(v)}</title></line>')
    for name in ("min_params", "max_params"):
        if (v := getattr(c, name)) is not None:
            out.append(f'<line x1="{pad}" y1="{py(v):.1f}" x2="{width - pad}" y2="{py(v):.1f}" stroke="#c33" '
                       f'stroke-dasharray="4 3"><title>{name} {count(v)}</title></line>')
    for s in done.samples:
        out.append(f'<circle cx="{px(s.plan.macs):.1f}" cy="{py(s.plan.params):.1f}" r="3" fill="#2563eb">'
                   f'<title>{_escape(s.name)}: {count(s.plan.macs)} MACs, {count(s.plan.params)} parameters</title>'
                   f'</circle>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- command ------------------------------------------------------------------------

def run(args) -> int:
    """`archspec sample`: draw, then write the folder; the acceptance rate on stderr."""
    from .cli import EXIT_INVALID, EXIT_OK, _status

    if os.path.lexists(args.output) and not (os.path.isdir(args.output) and not os.listdir(args.output)):
        print(printable(f"{args.output}: error: already exists and is not an empty folder; give a new folder"),
              file=sys.stderr)
        return EXIT_INVALID
    show = _progress if sys.stderr.isatty() else None
    try:
        done = sample(builtin_space(args.spec), args.n, args.seed, args.max_draws, args.overrides, show)
    except SpecError as e:
        if show:
            print(file=sys.stderr)
        print(e, file=sys.stderr)
        return _status(e.issues)
    if show:
        print(file=sys.stderr)
    try:
        write(done, args.output)
    except OSError as e:
        print(printable(str(e)), file=sys.stderr)
        return EXIT_INVALID
    print(f"wrote {len(done.samples)} specs, index.json, index.csv and samples.svg to {args.output}: "
          f"{len(done.samples)} of {done.draws:,} draws accepted ({100 * done.acceptance:.1f} %)", file=sys.stderr)
    return EXIT_OK


def _progress(done: Sampling) -> None:
    print(f"\rsampling: {len(done.samples)} accepted of {done.draws:,} drawn", end="", file=sys.stderr, flush=True)
