"""The expressions of a block written in the spec: `squeeze * 4`, `make_divisible(c * 0.25)`,
`stride > 1 or in_channels != channels`.

A small language, not Python: numbers, the block's parameters and derived values by name,
`+ - * / // % **`, comparisons, `and or not`, `a if c else b`, parentheses, and the
functions in FUNCTIONS. Text is parsed with `ast.parse(mode="eval")` and the tree is walked
here over a whitelist of node types: nothing is compiled or executed. Everything is bounded
before it costs anything: the text's length, the number of parts, their nesting, every
value's size (an exponent is checked before the power is taken). Every problem is a
`SpecError` with one Issue located at the expression's YAML value.
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import Issue, SpecError, did_you_mean
from ..units import count
from .source import Origin

Value = int | float | bool

MAX_CHARS = 500  # an expression is a line; a block's longest is a few dozen characters
MAX_PARTS = 200  # AST nodes
MAX_NESTING = 24  # parts within parts
MAX_VALUE = 10**15  # every value, and every intermediate one, stays within ±MAX_VALUE
MAX_EXPONENT = 64  # `a ** b` with |b| beyond this is refused before it is computed
MAX_DIGITS = 15  # of round(x, n)


def _round(x: int | float, digits: int | None = None) -> int | float:
    if digits is not None and not (type(digits) is int and abs(digits) <= MAX_DIGITS):
        raise _Refused(f"gives round() {digits!r} digits; it takes a whole number from -{MAX_DIGITS} to {MAX_DIGITS}")
    return round(x) if digits is None else round(x, digits)


def _make_divisible(value: int | float, divisor: int = 8) -> int:
    if type(divisor) is not int or divisor < 1:
        raise _Refused(f"gives make_divisible() the divisor {divisor!r}; it takes a whole number of at least 1")
    from .resolve import make_divisible  # resolve → messages → spec → blockdefs → here: imported when used

    return make_divisible(value, divisor)


# name -> (function, least and most positional arguments, keyword arguments it takes)
FUNCTIONS: dict[str, tuple[Callable, int, int, tuple[str, ...]]] = {
    "min": (min, 2, 64, ()),
    "max": (max, 2, 64, ()),
    "round": (_round, 1, 2, ()),
    "ceil": (math.ceil, 1, 1, ()),
    "floor": (math.floor, 1, 1, ()),
    "int": (int, 1, 1, ()),
    "make_divisible": (_make_divisible, 1, 2, ("divisor",)),
}

_OPERATIONS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
               ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARE = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
            ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b}
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Name,
            ast.Constant, ast.keyword, ast.Load, ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
            *_OPERATIONS, *_COMPARE)
_SAYS = {ast.Subscript: "indexing ([...])", ast.Attribute: "attributes (a.b)", ast.Lambda: "lambda",
         ast.List: "lists", ast.Tuple: "tuples (a, b)", ast.Dict: "mappings", ast.Set: "sets",
         ast.ListComp: "comprehensions", ast.GeneratorExp: "comprehensions", ast.Starred: "*",
         ast.NamedExpr: ":=", ast.JoinedStr: "f-strings", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
         ast.LShift: "<<", ast.RShift: ">>", ast.Invert: "~", ast.MatMult: "@", ast.Is: "is", ast.IsNot: "is not",
         ast.In: "in", ast.NotIn: "not in", ast.Await: "await", ast.Yield: "yield"}
SYNTAX_HINT = ("write numbers, names, + - * / // % **, comparisons, and/or/not, `a if c else b` and "
               + ", ".join(f"{f}()" for f in FUNCTIONS))


class _Refused(Exception):
    """A value the language does not allow; the message says which."""


@dataclass(frozen=True)
class Expr:
    """A parsed expression: its text, where it is written, and the names it reads."""

    text: str
    origin: Origin
    label: str = ""  # the key path that holds it, as messages show it: `blocks.fire.let.mid`
    names: frozenset[str] = frozenset()
    tree: ast.Expression | None = field(default=None, repr=False, compare=False)

    def value(self, names: Mapping[str, Value], where: str = "") -> Value:
        """The value with `names` bound; a SpecError (AS902) located at the expression, its
        message beginning with `where` (e.g. the module that uses the block), if given."""
        try:
            return _bounded(self._eval(self.tree.body, names))
        except _Refused as e:
            raise self.error(str(e), "", "AS902", where) from None

    def error(self, what: str, hint: str = "", code: str = "AS902", where: str = "") -> SpecError:
        """A SpecError about this expression, located where it is written."""
        subject = f"{self.label}: " if self.label else ""
        used = f" (in {where})" if where else ""
        return SpecError([Issue(*self.origin, f"{subject}`{_clip(self.text)}` {what}{used}", hint, code)])

    def _eval(self, node: ast.AST, names: Mapping[str, Value]) -> Value:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return names[node.id]  # checked when parsed; a caller that binds fewer names made a mistake
        if isinstance(node, ast.BinOp):
            return _arithmetic(node, self._number(node.left, names), self._number(node.right, names), self.text)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return not self._truth(node.operand, names)
            value = self._number(node.operand, names)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BoolOp):  # and/or, short-circuit as in Python
            want = isinstance(node.op, ast.Or)
            for part in node.values:
                if self._truth(part, names) == want:
                    return want
            return not want
        if isinstance(node, ast.Compare):
            left = self._number(node.left, names)
            for op, part in zip(node.ops, node.comparators):
                right = self._number(part, names)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self._eval(node.body if self._truth(node.test, names) else node.orelse, names)
        if isinstance(node, ast.Call):
            function = FUNCTIONS[node.func.id][0]
            args = [self._number(a, names) for a in node.args]
            kwargs = {k.arg: self._number(k.value, names) for k in node.keywords}
            return _bounded(function(*args, **kwargs), node, self.text)
        raise AssertionError(f"unchecked node {type(node).__name__}")  # _check refuses every other node

    def _number(self, node: ast.AST, names: Mapping[str, Value]) -> int | float:
        value = self._eval(node, names)
        if isinstance(value, bool):
            raise _Refused(f"uses true/false as a number{_part(self.text, node)}")
        return value

    def _truth(self, node: ast.AST, names: Mapping[str, Value]) -> bool:
        value = self._eval(node, names)
        if not isinstance(value, bool):
            raise _Refused(f"uses the number {value!r} as a condition{_part(self.text, node)}: "
                           "compare it, e.g. `x > 0`")
        return value


def parse(text: str, origin: Origin, known: Iterable[str], label: str = "") -> Expr:
    """`text` as an expression over the names `known`; a SpecError located at `origin`:
    AS900 for what cannot be read, AS901 for a name that is not known."""
    text = text.strip()
    expr = Expr(text, origin, label)
    if len(text) > MAX_CHARS:
        raise expr.error(f"is {count(len(text))} characters long; an expression may have {MAX_CHARS}",
                         "split it into several `let:` values", "AS900")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise expr.error(f"cannot be read: {e.msg}", SYNTAX_HINT, "AS900") from None
    except (ValueError, RecursionError, MemoryError):  # NUL characters; absurd nesting
        raise expr.error("cannot be read", SYNTAX_HINT, "AS900") from None
    known = set(known)
    names = _check(tree, text, expr, known)
    return Expr(text, origin, label, frozenset(names), tree)


def _check(tree: ast.Expression, text: str, expr: Expr, known: set[str]) -> set[str]:
    """The names `tree` reads; a SpecError for any node outside the language, a name not in
    `known`, or a tree too big or too deep."""
    names: set[str] = set()
    parts = 0
    stack = [(tree, 0)]
    while stack:  # iterative: the depth is what is being checked
        node, depth = stack.pop()
        parts += 1
        if parts > MAX_PARTS:
            raise expr.error(f"has more than {MAX_PARTS} parts", "split it into several `let:` values", "AS900")
        if depth > MAX_NESTING:
            raise expr.error(f"nests deeper than {MAX_NESTING} levels", "split it into several `let:` values",
                             "AS900")
        if not isinstance(node, _ALLOWED):
            what = _SAYS.get(type(node), type(node).__name__)
            raise expr.error(f"uses {what}, which expressions do not have", SYNTAX_HINT, "AS900")
        if isinstance(node, ast.Constant) and (type(node.value) not in (int, float, bool)):
            what = "text" if isinstance(node.value, (str, bytes)) else repr(node.value)
            raise expr.error(f"uses {what}, which expressions do not have",
                             "write numbers and names; a name needs no quotes", "AS900")
        if isinstance(node, ast.Constant) and type(node.value) is not bool:
            _literal(node.value, expr)
        if isinstance(node, ast.Name):
            if node.id not in known:
                raise _unknown_name(node.id, known, expr)
            names.add(node.id)
        if isinstance(node, ast.Call):
            _check_call(node, text, expr)
            stack += [(a, depth + 1) for a in node.args] + [(k.value, depth + 1) for k in node.keywords]
            continue
        stack += [(child, depth + 1) for child in ast.iter_child_nodes(node)]
    return names


def _check_call(node: ast.Call, text: str, expr: Expr) -> None:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        named = isinstance(node.func, ast.Name)
        called = f"{_clip(node.func.id, 40)}()" if named else f"`{_segment(text, node.func)}`"
        close = difflib.get_close_matches(node.func.id, FUNCTIONS, n=1) if named else []
        hint = f"did you mean {close[0]}()? " if close else ""
        raise expr.error(f"calls {called}, which is not a function expressions have",
                         hint + "functions: " + ", ".join(FUNCTIONS), "AS900")
    name = node.func.id
    _, least, most, keywords = FUNCTIONS[name]
    wrong = [k.arg for k in node.keywords if k.arg not in keywords]
    if wrong:
        takes = f"takes only {', '.join(k + '=' for k in keywords)}" if keywords else "takes no keyword arguments"
        raise expr.error(f"gives {name}() {wrong[0] or '**'}=, but {name}() {takes}", SYNTAX_HINT, "AS900")
    if not least <= len(node.args) <= most or (len(node.args) + len(node.keywords) > most):
        many = str(least) if least == most else f"{least} to {most}"
        given = len(node.args) + len(node.keywords)
        raise expr.error(f"gives {name}() {given} argument{'s' * (given != 1)}; it takes {many}", "", "AS900")


def _unknown_name(name: str, known: set[str], expr: Expr) -> SpecError:
    available = ", ".join(sorted(known)) if known else "none"
    hint = did_you_mean(name, known, then=f"names here: {available}" if len(available) < 300 else "")
    return expr.error(f"uses the unknown name '{_clip(name, 40)}'", hint, "AS901")


def _literal(value: int | float, expr: Expr) -> None:
    if not (isinstance(value, int) or math.isfinite(value)) or abs(value) > MAX_VALUE:
        raise expr.error("has a number beyond ±10^15", "expressions compute sizes: use smaller numbers", "AS900")


def _arithmetic(node: ast.BinOp, a: int | float, b: int | float, text: str) -> int | float:
    op = type(node.op)
    if op is ast.Pow:
        if abs(b) > MAX_EXPONENT and abs(a) != 1 and a != 0:
            raise _Refused(f"raises to the power {b!r}{_part(text, node)}; the limit is {MAX_EXPONENT}")
        if a < 0 and not float(b).is_integer():
            raise _Refused(f"takes a fractional power of a negative number{_part(text, node)}")
    try:
        value = _OPERATIONS[op](a, b)
    except ZeroDivisionError:
        raise _Refused(f"divides by zero{_part(text, node)}") from None
    except OverflowError:  # a float power
        raise _Refused(f"gives a number beyond ±10^15{_part(text, node)}") from None
    return _bounded(value, node, text)


def _bounded(value: Value, node: ast.AST | None = None, text: str = "") -> Value:
    """`value` if it is a finite number within ±MAX_VALUE (or a bool)."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, (int, float)) or isinstance(value, complex):
        raise _Refused("does not give a number")
    if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_VALUE:
        raise _Refused(f"gives a number beyond ±10^15{_part(text, node) if node is not None else ''}")
    return value


def _part(text: str, node: ast.AST) -> str:
    """` (at `a // b`)`: the part of `text` at fault, unless it is the whole."""
    segment = ast.get_source_segment(text, node) or text
    return "" if segment == text else f" (at `{_clip(segment, 60)}`)"


def _segment(text: str, node: ast.AST) -> str:
    return _clip(ast.get_source_segment(text, node) or "…", 60)


def _clip(text: str, most: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[:most - 3] + "..."
