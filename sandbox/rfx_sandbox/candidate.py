"""The candidate process: runs the submitted code and answers the harness's calls with plain data.

Everything here is untrusted once `exec` has run: the code may patch this module, forge replies or
exit. That is why the harness never believes anything from here except return values (which it
compares itself) and why this process holds nothing worth stealing: it was forked before the
harness read the tests, and its only channels are the request/reply pipes and stdout/stderr.
"""

from __future__ import annotations

import builtins
import os
import sys
import traceback

from rfx_sandbox import wire

REQUEST_FD = 3
REPLY_FD = 4
FILENAME = "<submission>"


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
    another argument comes back as the tests' own object."""
    encoder = wire.Encoder({id(obj): k for k, obj in enumerate(made)})
    try:
        head = ["val", encoder.encode(value)] if failure is None else _describe(failure)
        states = [None if any(obj is o for o in own) else encoder.encode(obj, top=True) for obj in made]
    except RecursionError:
        return ["bad", "return value is nested too deeply"]
    except TypeError as exc:
        return ["bad", str(exc)]
    return [*head, states]


def serve() -> None:
    """Answer requests until told to exit; never returns."""
    namespace: dict[str, object] = {"__name__": "__main__", "__builtins__": builtins}
    while True:
        try:
            raw = wire.read_frame_bytes(REQUEST_FD)
        except BaseException:
            os._exit(0)
        if raw is None:
            os._exit(0)
        request = wire.loads(raw)
        assert isinstance(request, list)
        op = request[0]
        if op == "exec":
            try:
                exec(compile(str(request[1]), FILENAME, "exec"), namespace)
                result: list[object] = ["ok"]
            except BaseException as exc:
                result = _describe(exc)
        elif op == "resolve":
            entries: list[object] = []
            for name in request[1]:  # type: ignore[attr-defined]
                if name not in namespace:
                    entries.append([name, "missing", None])
                    continue
                value = namespace[name]
                if isinstance(value, type) and issubclass(value, BaseException):
                    classes: list[object] = []
                    top = _class_graph(value, classes, set())
                    entries.append([name, "exception", {"cls": top, "classes": classes}])
                    continue
                enum = sys.modules.get("enum")
                if enum is not None and isinstance(value, enum.EnumMeta) and len(value) > 0:
                    entries.append([name, "class", wire.encode(next(iter(value)))])  # type: ignore[arg-type]
                    continue
                if callable(value):
                    entries.append([name, "callable", None])
                    continue
                try:
                    entries.append([name, "value", wire.encode(value)])
                except (TypeError, RecursionError):
                    entries.append([name, "opaque", None])
            result = ["resolved", entries]
        elif op == "call":
            target = namespace.get(str(request[1]))
            decoder = wire.Decoder()
            args, kwargs = decoder.value(request[2]), decoder.value(request[3])
            try:
                if target is None:
                    raise NameError(f"name {request[1]!r} is not defined")
                value = target(*args, **kwargs)  # type: ignore[operator]
                failure = None
            except BaseException as exc:
                value, failure = None, exc
            result = _call_reply(value, failure, decoder.made, (args, kwargs))
        else:  # "exit"
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(0)
        try:
            _reply(result)
        except BaseException:
            os._exit(0)
