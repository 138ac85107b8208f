"""The candidate process: runs the submitted code and answers the harness's calls with plain data.

Everything here is untrusted once `exec` has run: the code may patch this module, forge replies or
exit. That is why the harness never believes anything from here except return values (which it
compares itself) and why this process holds nothing worth stealing: it was forked before the
harness read the tests, and its only channels are the request/reply pipes and stdout/stderr.
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


def _describe(exc: BaseException) -> list[object]:
    """["exc", type name, message, is-base-exception, short traceback of the submission's frames]."""
    try:
        name = type(exc).__name__
        message = str(exc)[:2000]
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == FILENAME]
        where = "".join(traceback.format_list(frames[-5:]))
        if isinstance(exc, SyntaxError) and exc.lineno:
            where = f"  line {exc.lineno}: {(exc.text or '').strip()}\n"
        return ["exc", name, message, not isinstance(exc, Exception), where[-4000:]]
    except BaseException:  # a hostile __str__ must not break the reply
        return ["exc", "Exception", "unprintable exception", True, ""]


def _reply(obj: list[object]) -> None:
    wire.write_all(REPLY_FD, wire.frame(wire.dumps(obj)))


def _value_reply(value: object) -> list[object]:
    try:
        return ["val", wire.encode(value)]
    except RecursionError:
        return ["bad", "return value is nested too deeply"]
    except TypeError as exc:
        return ["bad", str(exc)]


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
        request = wire.decode(raw)
        assert isinstance(request, list)
        op = request[0]
        if op == "exec":
            try:
                _source[:] = str(request[1]).split("\n")
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
            try:
                if target is None:
                    raise NameError(f"name {request[1]!r} is not defined")
                result = _value_reply(target(*request[2], **request[3]))  # type: ignore[operator]
            except BaseException as exc:
                result = [*_describe(exc), error_facts(exc)]
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
