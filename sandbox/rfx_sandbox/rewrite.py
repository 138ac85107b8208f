"""Rewrite test code so each `assert` reports itself: name, pass/fail, expected vs actual.

`assert left OP right, msg` becomes `__rfx_cmp(i, lambda: left, lambda: right, lambda: msg)` and any
other `assert test, msg` becomes `__rfx_check(i, lambda: test, lambda: msg)`. The helpers record a
result per assert statement (asserts inside loops are aggregated) and do not raise on failure, so
one wrong answer does not hide the others. Asserts the rewrite cannot express (walrus, await,
yield) are left alone and surface through the enclosing check.
"""

from __future__ import annotations

import ast
import builtins

OPS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in",
}


class AssertSite:
    """What the report says about one assert statement (a plain class: `dataclasses` would cost a
    fresh-mode judgement several milliseconds of import time)."""

    __slots__ = ("left_is_call", "left_src", "name", "op", "right_is_call", "right_src")

    def __init__(self, name: str) -> None:
        self.name = name
        self.left_src = ""
        self.right_src = ""
        self.op = ""
        self.left_is_call = False
        self.right_is_call = False


def _lambda(body: ast.expr) -> ast.Lambda:
    args = ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                         kwarg=None, defaults=[])
    return ast.Lambda(args=args, body=body)


def _src(source: str, node: ast.AST, limit: int = 300) -> str:
    text = ast.get_source_segment(source, node) or ast.unparse(node)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Rewriter(ast.NodeTransformer):
    def __init__(self, source: str, sites: list[AssertSite], name: str | None) -> None:
        self.source = source
        self.sites = sites
        self.fixed_name = name

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        if any(isinstance(n, ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom) for n in ast.walk(node)):
            return node
        index = len(self.sites)
        site = AssertSite(name=self.fixed_name or _src(self.source, node))
        msg: ast.expr = node.msg if node.msg is not None else ast.Constant(value=None)
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in OPS:
            site.op = OPS[type(test.ops[0])]
            site.left_src = _src(self.source, test.left, 200)
            site.right_src = _src(self.source, test.comparators[0], 200)
            site.left_is_call = isinstance(test.left, ast.Call)
            site.right_is_call = isinstance(test.comparators[0], ast.Call)
            call = ast.Call(
                func=ast.Name(id="__rfx_cmp", ctx=ast.Load()),
                args=[ast.Constant(value=index), _lambda(test.left), _lambda(test.comparators[0]),
                      _lambda(msg)],
                keywords=[],
            )
        else:
            call = ast.Call(
                func=ast.Name(id="__rfx_check", ctx=ast.Load()),
                args=[ast.Constant(value=index), _lambda(test), _lambda(msg)],
                keywords=[],
            )
        self.sites.append(site)
        return ast.copy_location(ast.Expr(value=call), node)


def rewrite_module(source: str, sites: list[AssertSite], filename: str) -> object:
    """Compile `source` with every assert rewritten; raises SyntaxError as compile() would."""
    tree = ast.parse(source, filename=filename)
    tree = _Rewriter(source, sites, None).visit(tree)
    ast.fix_missing_locations(tree)
    return compile(tree, filename, "exec")


def rewrite_assert_line(line: str, sites: list[AssertSite]) -> object:
    """Compile one visible-test line, which must be a single assert statement."""
    tree = ast.parse(line.strip(), filename="<visible test>")
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        raise SyntaxError("a visible test must be one assert statement")
    before = len(sites)
    module = _Rewriter(line.strip(), sites, " ".join(line.split())).visit(tree)
    if len(sites) == before:  # not rewritable: still run it, as a plain assert under its own name
        sites.append(AssertSite(name=" ".join(line.split())))
        wrapper = f"__rfx_check({before}, lambda: __rfx_run_plain({line.strip()!r}), lambda: None)"
        return compile(wrapper, "<visible test>", "exec")
    ast.fix_missing_locations(module)
    return compile(module, "<visible test>", "exec")


def free_names(sources: list[str]) -> list[str]:
    """Names the tests read but never bind: they must come from the submission (e.g. `poly`)."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                bound.add(node.name)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.alias):
                bound.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.ExceptHandler) and node.name:
                bound.add(node.name)
    return sorted(loaded - bound - set(dir(builtins)))
