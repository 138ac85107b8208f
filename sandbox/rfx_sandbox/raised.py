"""Exceptions the candidate raised, raised again in the harness as the harness's own classes.

The candidate sends an exception's state: its class hierarchy (its own classes by key, builtin
bases by name), args, plain attributes, the text of an overridden `__str__` and its cause. Here
each candidate class becomes a class made by the harness with the same name, builtin base and place
in the hierarchy, and none of its methods, so `except ValueError`, `except EmptyError` (a free name
in the tests resolves to the same class) and `type(e).__name__` behave as in-process, while a lying
`__eq__` or `__getattr__` does not exist here. Builtin exceptions keep their exact type and args.
"""

from __future__ import annotations

import builtins

from rfx_sandbox import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_EXC_CLASSES: dict[object, type] = {}  # the candidate's exception classes, rebuilt, by its key


def _builtin_exception(name: object) -> type:
    cls = getattr(builtins, str(name), None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        return cls
    raise wire.WireError(f"no builtin exception {str(name)[:50]!r}")


def exception_class(info: dict[str, Any]) -> type:
    """The harness's own class for the candidate's exception class: same name, builtin base and
    place in the candidate's hierarchy, and no method of the candidate's."""
    for entry in info.get("classes") or []:
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and type(entry[0]) is int
            and isinstance(entry[1], str)
            and isinstance(entry[2], list)
        ):
            raise wire.WireError("bad exception class")
        key, name, bases = entry
        if key in _EXC_CLASSES:
            continue
        if not name.isidentifier():
            name = "CandidateError"
        resolved = tuple(
            _EXC_CLASSES[b] if type(b) is int and b in _EXC_CLASSES else _builtin_exception(b) for b in bases
        ) or (Exception,)
        body = {"__module__": "__submission__", "__str__": _candidate_str}
        try:
            _EXC_CLASSES[key] = type(name, resolved, body)
        except TypeError:  # bases the harness cannot combine (layout conflict): keep the first
            _EXC_CLASSES[key] = type(name, resolved[:1], body)
    top = info.get("cls")
    if type(top) is int:
        if top not in _EXC_CLASSES:
            raise wire.WireError("unknown exception class")
        return _EXC_CLASSES[top]
    return _builtin_exception(top)


def _candidate_str(self: BaseException) -> str:
    """str() of a rebuilt exception: the text the candidate's own __str__ gave, else the args'."""
    text = self.__dict__.get("__rfx_str__")
    return text if isinstance(text, str) else BaseException.__str__(self)


def build_exception(value: Any, info: dict[str, Any], depth: int = 0) -> BaseException:
    """The candidate's exception as a harness exception: its class (see exception_class), args,
    plain attributes and cause. Builtin exceptions keep their exact type and args."""
    cls = exception_class(info)
    args = [value(a) for a in info.get("args") or []][:50]
    try:
        exc = cls(*args)
    except Exception:  # a constructor that wants other arguments: set the args as they were
        exc = cls.__new__(cls)
        exc.args = tuple(args)
    for item in info.get("attrs") or []:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
            try:
                setattr(exc, item[0], value(item[1]))
            except Exception:
                pass
    if isinstance(info.get("str"), str) and cls.__module__ == "__submission__":
        exc.__dict__["__rfx_str__"] = info["str"]
    cause = info.get("cause")
    if isinstance(cause, dict) and depth < 3:
        exc.__cause__ = build_exception(value, cause, depth + 1)
    return exc
