"""The candidate process: runs the submitted code and answers the harness's requests.

Everything here is untrusted once `exec` has run: the code may patch this module, forge replies or
exit. That is why the harness never believes anything from here except values it decodes with its
own types (and checks) and why this process holds nothing worth stealing: it was forked before the
harness read the tests, and its only channels are the request/reply pipes and stdout/stderr. A
request is a call of a submission function or an operation on one of its objects (by reference
number); while one runs, the code may call a function of the tests (a Callback), which sends a
request the other way and serves the harness's nested requests until its reply comes.
"""

from __future__ import annotations

import builtins
import os
import reprlib
import sys
import traceback

from rfx_sandbox import wire

REQUEST_FD = 3
REPLY_FD = 4
FILENAME = "<submission>"
MAX_LOCALS_CHARS = 1800  # about 600 tokens: the facts must fit a 4,096-token context with the task
MAX_REPR_CHARS = 160
MAX_LOCALS = 30
_source: list[str] = []  # the submission's lines, for the source text of a failing line


def error_facts(exc: BaseException) -> list[object] | None:
    """["facts", line, source text, [[name, short repr], ...]] of the submission's deepest frame in
    the traceback of `exc`, or None when the exception was not raised inside the submission.

    The reprs are made here, in the candidate's process, and are only ever text for the model
    (the harness never compares them); reprlib bounds big containers and any repr that raises or
    is too long is replaced, so a hostile object cannot flood the reply.
    """
    try:
        found = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == FILENAME:
                found = tb
            tb = tb.tb_next
        if found is None:
            return None
        line = found.tb_lineno
        source = _source[line - 1].strip()[:300] if 0 < line <= len(_source) else ""
        short = reprlib.Repr()
        short.maxlevel, short.maxstring, short.maxother = 3, 80, 80
        short.maxlist = short.maxtuple = short.maxset = short.maxdict = short.maxfrozenset = 8
        values: list[object] = []
        room = MAX_LOCALS_CHARS
        for name, value in list(found.tb_frame.f_locals.items()):
            if not isinstance(name, str) or name.startswith("__"):
                continue
            try:
                text = str(short.repr(value))[:MAX_REPR_CHARS]
            except BaseException:
                text = "<unprintable>"
            room -= len(name) + len(text) + 2
            if room < 0 or len(values) == MAX_LOCALS:
                values.append(["...", "more locals not shown"])
                break
            values.append([name[:60], text])
        return ["facts", line, source, values]
    except BaseException:
        return None


def _class_graph(cls: type, classes: list[object], seen: set[int]) -> object:
    """A builtin exception class by name; any other by key, appended to `classes` after its bases
    as [key, name, [bases]] (the harness rebuilds the hierarchy as its own classes)."""
    if getattr(builtins, cls.__name__, None) is cls:
        return cls.__name__
    key = id(cls)
    if key not in seen:
        seen.add(key)
        bases = [_class_graph(b, classes, seen) for b in cls.__bases__ if issubclass(b, BaseException)]
        classes.append([key, str(cls.__name__)[:100], bases or ["Exception"]])
    return key


def _plain(value: object) -> object:
    try:
        return wire.encode(value)
    except (TypeError, RecursionError):
        return wire.encode(repr(value)[:2000])


def exception_info(exc: BaseException, depth: int = 0) -> dict[str, object]:
    """What the harness needs to raise the same exception as its own: class hierarchy, args,
    plain attributes, the text of an overridden __str__, and the cause (a few levels)."""
    classes: list[object] = []
    top = _class_graph(type(exc), classes, set())
    args = exc.args if isinstance(exc.args, tuple) else ()
    attrs = [[str(k), _plain(v)] for k, v in list(vars(exc).items())[:50] if isinstance(k, str)]
    text = str(exc)[:2000] if type(exc).__str__ is not BaseException.__str__ else None
    cause = exc.__cause__
    return {
        "cls": top,
        "classes": classes,
        "args": [_plain(a) for a in args[:50]],
        "attrs": attrs,
        "str": text,
        "cause": exception_info(cause, depth + 1) if cause is not None and depth < 3 else None,
    }


def _describe(exc: BaseException) -> list[object]:
    """["exc", type name, message, is-base-exception, short traceback of the submission's frames,
    the exception's state (see exception_info)]."""
    try:
        name = type(exc).__name__
        message = str(exc)[:2000]
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == FILENAME]
        where = "".join(traceback.format_list(frames[-5:]))
        if isinstance(exc, SyntaxError) and exc.lineno:
            where = f"  line {exc.lineno}: {(exc.text or '').strip()}\n"
        try:
            info: object = exception_info(exc)
        except BaseException:
            info = None
        return ["exc", name, message, not isinstance(exc, Exception), where[-4000:], info]
    except BaseException:  # a hostile __str__ must not break the reply
        return ["exc", "Exception", "unprintable exception", True, "", None]


def _reply(obj: list[object]) -> None:
    wire.write_all(REPLY_FD, wire.frame(wire.dumps(obj)))


def _call_reply(
    value: object, failure: BaseException | None, made: list[object], own: tuple[object, ...]
) -> list[object]:
    """The call's outcome, then the state of every container the harness passed (None for the
    argument list and keyword dict themselves), so the tests see the call's changes in place.
    Containers passed in are sent as references ("p"), so an argument returned or stored in
    another argument comes back as the tests' own object. What is not plain data crosses as a
    reference to this process's object (see Refs)."""
    encoder = wire.Encoder({id(obj): k for k, obj in enumerate(made)}, REFS)
    try:
        head = ["val", encoder.encode(value)] if failure is None else _describe(failure)
        states = [None if any(obj is o for o in own) else encoder.encode(obj, top=True) for obj in made]
    except RecursionError:
        return ["bad", "return value is nested too deeply"]
    except TypeError as exc:
        return ["bad", str(exc)]
    return [*head, states]


_REFUSED = ("Future", "Task", "Lock", "Event", "Semaphore", "BoundedSemaphore", "Condition", "Queue",
            "AbstractEventLoop")


class Callback:
    """A function of the tests: a number the harness gave it, callable only while the tests are
    calling this program (from the thread serving them). Holds nothing of the harness's."""

    __slots__ = ("_handle",)

    def __init__(self, handle: int) -> None:
        self._handle = handle

    def __call__(self, *args: object, **kwargs: object) -> object:
        if _STATE["depth"] == 0 or _thread_id() != _STATE["thread"]:
            raise RuntimeError("a function of the tests can only be called while the tests call the program")
        encoder = wire.Encoder(refs=REFS)
        message = ["cb", self._handle, encoder.encode(list(args)), encoder.encode(dict(kwargs))]
        _reply(message)
        reply = _wait_reply()
        decoder = wire.Decoder(encoder.alive, REFS)
        if reply[0] == "val":
            value = decoder.value(reply[1])
            _mirror(reply[2], encoder.alive, decoder)
            return value
        _mirror(reply[4], encoder.alive, decoder)
        cls = getattr(builtins, str(reply[1]), None)
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            cls = Exception
        raw_args = wire.Decoder().value(reply[3]) if reply[3] is not None else [str(reply[2])]
        try:
            exc = cls(*raw_args)  # type: ignore[misc]
        except Exception:
            exc = Exception(str(reply[2]))
        raise exc

    def __repr__(self) -> str:
        return f"<function {self._handle} of the tests>"


def _mirror(states: object, sent: list[object], decoder: wire.Decoder) -> None:
    if not isinstance(states, list):
        return
    for old, state in zip(sent, states, strict=False):
        if state is not None:
            new = decoder.value(state)
            if type(new) is type(old):
                wire.replace_contents(old, new)


def _thread_id() -> int:
    import _thread

    return _thread.get_ident()


class Refs:
    """This process's objects the harness holds references to (numbers, from 1), and the
    classes whose stand-ins it was told about."""

    def __init__(self) -> None:
        self.objects: dict[int, object] = {}
        self.numbers: dict[int, int] = {}
        self.described: set[int] = set()
        self.callbacks: dict[int, Callback] = {}

    def number(self, value: object) -> int:
        number = self.numbers.get(id(value))
        if number is None:
            number = self.numbers[id(value)] = len(self.objects) + 1
            self.objects[number] = value
        return number

    def _graph(self, cls: type, out: list[object]) -> int:
        """Describe `cls` and its bases once: [number, name, bases, plain methods]. The method names
        let the harness call `obj.method(...)` in one request (the candidate still looks the name up
        on the object then, so an instance attribute of that name wins as it would)."""
        number = self.number(cls)
        if number not in self.described:
            self.described.add(number)
            bases = [self._graph(b, out) for b in cls.__bases__ if b is not object]
            function = type(_call_reply)
            methods = [str(n) for n, v in list(vars(cls).items())[:500]
                       if type(v) is function and isinstance(n, str) and not n.startswith("__")]
            out.append([number, str(cls.__name__)[:100], bases, methods[:200]])
        return number

    def encode(self, value: object) -> object:
        if isinstance(value, Callback):
            return {"h": value._handle}
        asyncio = sys.modules.get("asyncio")
        if asyncio is not None:
            for name in _REFUSED:
                kind = getattr(asyncio, name, None)
                if isinstance(kind, type) and isinstance(value, kind):
                    raise TypeError(f"an asyncio {name} cannot be shared with the tests")
        graph: list[object] = []
        if isinstance(value, type):
            self._graph(value, graph)
            return {"o": [self.number(value), None, graph, "class"]}
        number = self.number(value)
        key = self._graph(type(value), graph)
        types = sys.modules.get("types")
        flag = "coroutine" if types is not None and isinstance(value, types.CoroutineType) else None
        return {"o": [number, key, graph, flag]}

    def decode(self, tag: str, data: object) -> object:
        if tag == "h":
            if type(data) is not int:
                raise wire.WireError("bad handle")
            if data not in self.callbacks:
                self.callbacks[data] = Callback(data)
            return self.callbacks[data]
        if type(data) is not list or not data or data[0] not in self.objects:
            raise wire.WireError("unknown reference")
        return self.objects[data[0]]


REFS = Refs()
_STATE: dict[str, int] = {"depth": 0, "thread": 0}


def _await(value: object) -> object:
    import asyncio

    async def run() -> object:
        return await value  # type: ignore[misc]

    return asyncio.run(run())


def _exit(obj: object, name: object, message: object) -> object:
    if name is None:
        return type(obj).__exit__(obj, None, None, None)  # type: ignore[attr-defined]
    cls = getattr(builtins, str(name), Exception)
    exc = cls(message) if isinstance(cls, type) and issubclass(cls, BaseException) else Exception(message)
    return type(obj).__exit__(obj, type(exc), exc, None)  # type: ignore[attr-defined]


_OPS: dict[str, object] = {
    "call": lambda o, *a, **k: o(*a, **k),
    "callmethod": lambda o, name, *a, **k: getattr(o, name)(*a, **k),
    "getattr": getattr, "setattr": setattr, "delattr": delattr,
    "iter": iter, "next": next, "len": len, "bool": bool, "hash": hash, "repr": repr, "str": str,
    "contains": lambda o, x: x in o,
    "getitem": lambda o, k: o[k],
    "setitem": lambda o, k, v: o.__setitem__(k, v),
    "delitem": lambda o, k: o.__delitem__(k),
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "enter": lambda o: type(o).__enter__(o), "exit": _exit,
    "await": _await, "close": lambda o: o.close(),
}


def _target(namespace: dict[str, object], spec: object) -> object:
    if isinstance(spec, str):
        target = namespace.get(spec)
        if target is None:
            raise NameError(f"name {spec!r} is not defined")
        return target
    if not (isinstance(spec, list) and len(spec) == 2 and spec[0] in REFS.objects and spec[1] in _OPS):
        raise wire.WireError("bad call target")
    obj, op = REFS.objects[spec[0]], _OPS[spec[1]]
    return lambda *a, **k: op(obj, *a, **k)  # type: ignore[operator]


def _resolve(namespace: dict[str, object], names: list[object]) -> list[object]:
    entries: list[object] = []
    for name in names:
        if name not in namespace:
            entries.append([name, "missing", None])
            continue
        value = namespace[name]  # type: ignore[index]
        if isinstance(value, type) and issubclass(value, BaseException):
            classes: list[object] = []
            top = _class_graph(value, classes, set())
            entries.append([name, "exception", {"cls": top, "classes": classes}])
            continue
        enum = sys.modules.get("enum")
        if enum is not None and isinstance(value, enum.EnumMeta) and len(value) > 0:
            entries.append([name, "class", wire.encode(next(iter(value)))])  # type: ignore[arg-type]
            continue
        if callable(value) and not isinstance(value, type):
            entries.append([name, "callable", None])
            continue
        try:
            entries.append([name, "value", wire.Encoder(refs=REFS).encode(value)])
        except (TypeError, RecursionError):
            entries.append([name, "opaque", None])
    return entries


_NAMESPACE: dict[str, object] = {"__name__": "__main__", "__builtins__": builtins}


def handle(request: list[object]) -> list[object]:
    """One request of the harness (at the top, or nested inside a call to one of its functions)."""
    op = request[0]
    if op == "exec":
        try:
            _source[:] = str(request[1]).split("\n")
            exec(compile(str(request[1]), FILENAME, "exec"), _NAMESPACE)
            return ["ok"]
        except BaseException as exc:
            return _describe(exc)
    if op == "resolve":
        return ["resolved", _resolve(_NAMESPACE, request[1])]  # type: ignore[arg-type]
    if op == "call":
        decoder = wire.Decoder(refs=REFS)
        args, kwargs = decoder.value(request[2]), decoder.value(request[3])
        outer = _STATE["thread"]
        _STATE["depth"] += 1
        _STATE["thread"] = _thread_id()
        try:
            value = _target(_NAMESPACE, request[1])(*args, **kwargs)  # type: ignore[operator]
            failure = None
        except wire.WireError:
            raise
        except BaseException as exc:
            value, failure = None, exc
        finally:
            _STATE["depth"] -= 1
            _STATE["thread"] = outer
        reply = _call_reply(value, failure, decoder.made, (args, kwargs))
        # where the exception came from, for the model's feedback (never compared by the judge)
        return reply if failure is None or reply[0] != "exc" else [*reply, error_facts(failure)]
    try:  # "exit"
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)


def _read() -> list[object]:
    try:
        raw = wire.read_frame_bytes(REQUEST_FD)
    except BaseException:
        os._exit(0)
    if raw is None:
        os._exit(0)
    request = wire.loads(raw)
    if not (isinstance(request, list) and request):
        os._exit(0)
    return request


def _wait_reply() -> list[object]:
    """Inside a call to a function of the tests: serve the harness's nested requests until the
    reply to that call comes."""
    while True:
        message = _read()
        if message[0] in ("val", "exc"):
            return message
        _answer(message)


def _answer(request: list[object]) -> None:
    try:
        result = handle(request)
    except wire.WireError:
        os._exit(0)
    try:
        _reply(result)
    except BaseException:
        os._exit(0)


def serve() -> None:
    """Answer requests until told to exit; never returns."""
    while True:
        _answer(_read())
