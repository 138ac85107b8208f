"""References across the boundary, harness side: stand-ins for the candidate's objects and classes.

What is not plain data stays in the candidate and crosses as a reference (its number in the
candidate's table). Here it becomes a *stand-in*: an instance of a harness class named like the
candidate's class, whose every operation (attribute, call, iteration, len, bool, `==` with another
stand-in...) is a request to the candidate. No candidate code runs here; a stand-in holds a number.

Rules that keep verdicts unforgeable:
* `==`/`!=` between a stand-in and anything that is not a stand-in is decided here, without asking:
  unequal (`NotImplemented` both ways ends in identity). Ordering against test data is a TypeError.
  So an object compared with test-built data cannot lie, whatever its `__eq__` says.
* an answer that came from candidate code (`==` between two of its objects, `bool`, `in`, `len`,
  `hash`, a call, `next`) marks the current assert as answered by the candidate in the report.
* a function of the tests crosses the other way as a call-only handle: the candidate holds a
  number, never the function, so no attribute of a harness object (`__globals__`, `__code__`)
  reaches it. Stand-ins crossing back are the candidate's own objects again (identity holds).

One stand-in type per candidate class, with the candidate's class hierarchy, so `isinstance` and
`type(r).__name__` work against the classes the tests name. Calling a stand-in type constructs in
the candidate. A stand-in for a coroutine is a `collections.abc.Coroutine`: awaiting it (or
`asyncio.run`) runs the coroutine to completion in the candidate.
"""

from __future__ import annotations

import builtins

from rfx_sandbox import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The operations whose answer is candidate code deciding something the tests check.
ANSWERS = frozenset({
    "call", "callmethod", "eq", "ne", "lt", "le", "gt", "ge", "bool", "contains", "len", "hash", "next",
    "iter", "getitem", "await", "enter", "exit",
})

_session: Any = None  # the run's Session (one run per harness process)
_naming = [False]  # True while the harness writes its report: stand-ins are named, not asked


def named(value: object) -> str:
    """repr() for the report: stand-ins anywhere inside are `<Name object of the submission>`, so
    no candidate code runs (or loops, or writes the report's text) while a failure is described."""
    _naming[0] = True
    try:
        return repr(value)
    finally:
        _naming[0] = False


def bind(session: Any) -> None:
    global _session
    _session = session


def _op(ref: int, kind: str, *args: object, **kwargs: object) -> Any:
    return _session.ref_op(ref, kind, args, kwargs)


class RefMeta(type):
    """The type of stand-in types: calling one constructs in the candidate; a class attribute the
    stand-in type lacks is read from the candidate's class."""

    _rfx_ref: int

    def __call__(cls, *args: object, **kwargs: object) -> Any:
        return _op(cls._rfx_ref, "call", *args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_rfx") or name in ("__origin__", "__args__", "__parameters__"):
            raise AttributeError(name)
        return _op(cls._rfx_ref, "getattr", name)

    def __repr__(cls) -> str:
        return f"<class '{cls.__name__}' of the submission>"


def _other(value: object) -> bool:
    return isinstance(value, Reference)


class Method:
    """`obj.method` for a plain method of the candidate's class: calling it is one request, in
    which the candidate looks the name up on its object (an instance attribute still wins)."""

    __slots__ = ("__name__", "_rfx_ref")

    def __init__(self, ref: int, name: str) -> None:
        self._rfx_ref, self.__name__ = ref, name

    def __call__(self, *args: object, **kwargs: object) -> Any:
        return _op(self._rfx_ref, "callmethod", self.__name__, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<method {self.__name__} of an object of the submission>"


class Reference(metaclass=RefMeta):
    """Base of every stand-in instance: holds the reference number, forwards everything."""

    __slots__ = ("_rfx_id",)
    _rfx_ref = 0
    _rfx_methods: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_rfx"):
            raise AttributeError(name)
        if name in type(self)._rfx_methods:
            return Method(self._rfx_id, name)
        return _op(self._rfx_id, "getattr", name)

    def __setattr__(self, name: str, value: object) -> None:
        _op(self._rfx_id, "setattr", name, value)

    def __delattr__(self, name: str) -> None:
        _op(self._rfx_id, "delattr", name)

    def __call__(self, *args: object, **kwargs: object) -> Any:
        return _op(self._rfx_id, "call", *args, **kwargs)

    def __iter__(self) -> Any:
        return _op(self._rfx_id, "iter")

    def __next__(self) -> Any:
        return _op(self._rfx_id, "next")

    def __len__(self) -> int:
        return _checked(_op(self._rfx_id, "len"), int, "len")

    def __bool__(self) -> bool:
        return _checked(_op(self._rfx_id, "bool"), bool, "bool")

    def __contains__(self, item: object) -> bool:
        return _checked(_op(self._rfx_id, "contains", item), bool, "in")

    def __getitem__(self, key: object) -> Any:
        return _op(self._rfx_id, "getitem", key)

    def __setitem__(self, key: object, value: object) -> None:
        _op(self._rfx_id, "setitem", key, value)

    def __delitem__(self, key: object) -> None:
        _op(self._rfx_id, "delitem", key)

    def __hash__(self) -> int:
        return _checked(_op(self._rfx_id, "hash"), int, "hash")

    def __repr__(self) -> str:
        if _naming[0]:
            return f"<{type(self).__name__} object of the submission>"
        return _checked(_op(self._rfx_id, "repr"), str, "repr")

    def __str__(self) -> str:
        if _naming[0]:
            return f"<{type(self).__name__} object of the submission>"
        return _checked(_op(self._rfx_id, "str"), str, "str")

    def __enter__(self) -> Any:
        return _op(self._rfx_id, "enter")

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        if exc is None:
            return bool(_op(self._rfx_id, "exit", None, ""))
        base = next(c for c in type(exc).__mro__ if getattr(builtins, c.__name__, None) is c)
        return bool(_op(self._rfx_id, "exit", base.__name__, str(exc)[:2000]))

    def __eq__(self, other: object) -> Any:
        return _op(self._rfx_id, "eq", other) if _other(other) else NotImplemented

    def __ne__(self, other: object) -> Any:
        return _op(self._rfx_id, "ne", other) if _other(other) else NotImplemented

    def __lt__(self, other: object) -> Any:
        return _op(self._rfx_id, "lt", other) if _other(other) else NotImplemented

    def __le__(self, other: object) -> Any:
        return _op(self._rfx_id, "le", other) if _other(other) else NotImplemented

    def __gt__(self, other: object) -> Any:
        return _op(self._rfx_id, "gt", other) if _other(other) else NotImplemented

    def __ge__(self, other: object) -> Any:
        return _op(self._rfx_id, "ge", other) if _other(other) else NotImplemented


class CoroutineReference(Reference):
    """A candidate coroutine: a Coroutine to asyncio (send/throw/close/__await__), run to completion
    in the candidate's own event loop when first sent None."""

    __slots__ = ()

    def send(self, value: object) -> Any:
        if value is not None:
            raise TypeError("can't send non-None value to a just-started coroutine")
        raise StopIteration(_op(self._rfx_id, "await"))

    def throw(self, kind: Any, value: Any = None, tb: Any = None) -> Any:
        raise value if isinstance(value, BaseException) else kind

    def close(self) -> None:
        _op(self._rfx_id, "close")

    def __await__(self) -> Any:
        return self

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        return self.send(None)


def _checked(value: Any, kind: type, what: str) -> Any:
    if type(value) is not kind and not (kind is int and type(value) is bool):
        raise TypeError(f"{what}() of the submission's object returned {type(value).__name__}")
    return value


class Table:
    """The run's references in both directions: stand-ins for the candidate's objects (by its
    numbers) and handles for the tests' functions (by ours). Strong references on both sides keep
    the numbers valid for the whole run."""

    def __init__(self) -> None:
        self.standins: dict[int, Reference] = {}
        self.types: dict[int, type] = {}
        self.handles: list[object] = []
        self.handle_of: dict[int, int] = {}

    # -- harness -> candidate ----------------------------------------------------------------
    def encode(self, value: object) -> object:
        if isinstance(value, Reference):
            return {"o": [object.__getattribute__(value, "_rfx_id")]}
        if isinstance(value, RefMeta) and value._rfx_ref:
            return {"o": [value._rfx_ref]}
        if callable(value):
            handle = self.handle_of.get(id(value))
            if handle is None:
                handle = self.handle_of[id(value)] = len(self.handles)
                self.handles.append(value)
            return {"h": handle}
        raise TypeError(f"unsupported value of type {type(value).__name__} (only plain data and "
                        "functions can be passed to the submission)")

    # -- candidate -> harness ----------------------------------------------------------------
    def decode(self, tag: str, data: object) -> object:
        if tag == "h":
            if type(data) is not int or not 0 <= data < len(self.handles):
                raise wire.WireError("bad handle")
            return self.handles[data]
        if type(data) is not list or not data or type(data[0]) is not int:
            raise wire.WireError("bad reference")
        ref = data[0]
        if ref in self.standins:
            return self.standins[ref]
        if ref in self.types:
            return self.types[ref]
        if len(data) != 4 or type(data[2]) is not list:
            raise wire.WireError("unknown reference")
        flag = data[3]
        for entry in data[2]:
            self._define(entry, flag)
        if flag == "class":
            if ref not in self.types:
                raise wire.WireError("unknown class")
            return self.types[ref]
        cls = self.types.get(data[1]) if type(data[1]) is int else None  # type: ignore[arg-type]
        if cls is None:
            raise wire.WireError("unknown class")
        if flag == "coroutine" and not issubclass(cls, CoroutineReference):
            raise wire.WireError("a coroutine of a class that is not one")
        standin = object.__new__(cls)
        object.__setattr__(standin, "_rfx_id", ref)
        self.standins[ref] = standin  # type: ignore[assignment]
        return standin

    def _define(self, entry: object, flag: object) -> None:
        if not (type(entry) is list and len(entry) == 4 and type(entry[0]) is int
                and type(entry[1]) is str and type(entry[2]) is list and type(entry[3]) is list):
            raise wire.WireError("bad class")
        key, name, bases, methods = entry
        if key in self.types:
            return
        parents = tuple(self.types[b] for b in bases if type(b) is int and b in self.types)
        root = CoroutineReference if flag == "coroutine" and name == "coroutine" else Reference
        own = frozenset(m for m in methods if type(m) is str)
        inherited = frozenset().union(*(p._rfx_methods for p in parents)) if parents else frozenset()
        body = {"__slots__": (), "__module__": "__submission__", "_rfx_ref": key,
                "_rfx_methods": own | inherited}
        safe = name if name.isidentifier() else "SubmissionObject"
        try:
            self.types[key] = RefMeta(safe, parents or (root,), body)
        except TypeError:  # a hierarchy the harness cannot lay out: keep the name, drop the bases
            self.types[key] = RefMeta(safe, (root,), body)
