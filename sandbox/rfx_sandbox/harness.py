"""The harness: one per run, forked by the runner. Runs the tests; the candidate runs the code.

Order matters for secrecy: the harness forks the candidate *before* it reads the submission from
stdin, so the candidate's memory never holds the tests (it cannot read expected values out of its
own heap), and the runner never holds either. The harness is non-dumpable (inherited from the
runner), so the candidate, which shares its uid, cannot ptrace it or open its /proc files.
"""

from __future__ import annotations

import builtins
import codecs
import io
import json
import math
import operator
import os
import resource
import signal
import sys
import time

from rfx_sandbox import candidate, raised, refs, wire
from rfx_sandbox.rewrite import AssertSite, free_names, rewrite_assert_line, rewrite_module

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs a fresh judgement ~4 ms
if TYPE_CHECKING:
    from typing import Any

STREAM_KEEP = 16 * 1024  # bytes of each stream kept for the report (the limit is enforced on all)
MAX_REPLY = 32 * 1024 * 1024
MAX_DEPTH = 50  # calls nested across the boundary, both ways (a callback calling the program...)


class Fatal(BaseException):
    """Ends the run now with a status (timeout, output_limit, error, memory)."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class CandidateAbort(BaseException):
    """The candidate raised SystemExit/KeyboardInterrupt/...: the program ends, like it would."""


class CandidateError(Exception):
    """The candidate raised an exception that is not a builtin exception type."""


class CandidateValueError(Exception):
    """The candidate returned something that is not plain data."""


class Capture(io.TextIOBase):
    """The harness's sys.stdout/sys.stderr: what the candidate prints is written to the harness's
    *current* stream at the moment it arrives (so a test that redirects stdout sees it), and what
    reaches these default streams (the tests' own prints too) is kept for the report. Nothing may
    reach the harness's real fd 1: in the container that is the runner's channel to the host."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.parts: list[str] = []
        self.kept = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.kept < STREAM_KEEP:
            part = text[: STREAM_KEEP - self.kept]
            self.parts.append(part)
            self.kept += len(part)
        return len(text)

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def text(self) -> str:
        return "".join(self.parts)


def _short(value: object, limit: int = 200) -> str:
    """repr for the report; stand-ins are named, not asked (their repr would be candidate text)."""
    try:
        text = refs.named(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_facts(reply: list[Any], exception: str) -> dict[str, Any] | None:
    """The candidate's account of where its exception was raised, checked for shape and clipped.

    Untrusted text for the model only (the feedback never depends on it for a verdict)."""
    # a call's exception reply: ["exc", name, message, is-base, where, info, states, facts]
    found = reply[7] if len(reply) > 7 and isinstance(reply[7], list) and reply[7][:1] == ["facts"] else None
    if found is None or len(found) != 4 or type(found[1]) is not int or not isinstance(found[3], list):
        return None
    local_values = {
        str(pair[0])[:60]: str(pair[1])[:160]
        for pair in found[3][:40]
        if isinstance(pair, list) and len(pair) == 2
    }
    return {"exception": exception[:600], "line": found[1], "source": str(found[2])[:300],
            "locals": local_values}


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


class Session:
    """The harness's side of the candidate's pipes: requests, replies, output, deadline."""

    def __init__(self, pid: int, req_w: int, rep_r: int, out_r: int, err_r: int,
                 deadline: float, output_limit: int) -> None:
        self.pid, self.req_w, self.rep_r = pid, req_w, rep_r
        self.decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in (out_r, err_r)}
        self.out_r, self.err_r = out_r, err_r
        self.open_streams = {out_r, err_r}
        self.total_output = 0
        self.deadline = deadline
        self.output_limit = output_limit
        self.buffer = bytearray()
        self.calls: list[str] = []
        self.facts: dict[str, Any] | None = None
        self.alive = True
        self.recorder: Recorder | None = None
        self.refs = refs.Table()
        self.depth = 0
        self.answered = False  # candidate code answered something in the current assert
        refs.bind(self)

    # -- plumbing ---------------------------------------------------------------------------
    def _drain(self, fd: int) -> None:
        chunk = os.read(fd, 65536)
        if not chunk:
            self.open_streams.discard(fd)
            self._emit(fd, self.decoders[fd].decode(b"", final=True))
            return
        self.total_output += len(chunk)
        if self.total_output > self.output_limit:
            self.kill()
            raise Fatal("output_limit", f"output exceeded {self.output_limit} bytes")
        self._emit(fd, self.decoders[fd].decode(chunk))

    def _emit(self, fd: int, text: str) -> None:
        """Write the candidate's output to the harness's current stream (a test may have
        redirected it); a stream the tests broke does not end the run."""
        if not text:
            return
        target = sys.stdout if fd == self.out_r else sys.stderr
        try:
            target.write(text)
        except Exception:
            pass

    def drain_ready(self) -> None:
        """Everything the candidate wrote before its reply, so it lands before the call returns."""
        while self.open_streams:
            ready = wire.readable(list(self.open_streams), 0)
            if not ready:
                return
            for fd in ready:
                self._drain(fd)

    def kill(self) -> None:
        if self.alive:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass

    def _death(self) -> Fatal:
        """The reply channel closed: find out how the candidate ended."""
        end = time.monotonic() + 0.2
        status = 0
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid = self.pid
            if pid:
                break
            if time.monotonic() > end:
                self.kill()
                self.alive = False
                return Fatal("error", "the program closed the harness channel")
            time.sleep(0.002)
        self.alive = False
        if os.WIFEXITED(status):
            code = os.WEXITSTATUS(status)
            return Fatal("error", f"the program exited with code {code} before the tests finished")
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU:
                return Fatal("timeout", "CPU time limit reached")
            if sig == signal.SIGXFSZ:
                return Fatal("error", "file size limit exceeded")
            return Fatal("error", f"the program was killed by {_signal_name(sig)} before the tests finished")
        return Fatal("error", "the program ended before the tests finished")

    def _frame(self) -> bytes | None:
        if len(self.buffer) < wire.HEADER.size:
            return None
        (size,) = wire.HEADER.unpack_from(self.buffer)
        if size > MAX_REPLY:
            self.kill()
            raise Fatal("error", "the program sent an oversized reply on the harness channel")
        end = wire.HEADER.size + size
        if len(self.buffer) < end:
            return None
        data = bytes(self.buffer[wire.HEADER.size:end])
        del self.buffer[:end]
        return data

    def request(self, message: list[object]) -> list[Any]:
        """Send a request and wait for its reply, serving the calls the candidate makes to the
        tests' functions meanwhile (nested calls, both ways, up to MAX_DEPTH)."""
        self.depth += 1
        try:
            return self._request(message)
        finally:
            self.depth -= 1

    def _request(self, message: list[object]) -> list[Any]:
        if not self.alive:
            raise Fatal("error", "the program is no longer running")
        if self.depth > MAX_DEPTH:
            raise self.too_deep()
        try:
            wire.write_all(self.req_w, wire.frame(wire.dumps(message)))
        except OSError:
            raise self._death() from None
        while True:
            data = self._frame()
            if data is not None:
                try:
                    reply = wire.loads(data)
                except wire.WireError as exc:
                    self.kill()
                    raise Fatal("error", f"protocol violation on the harness channel: {exc}") from None
                if not isinstance(reply, list) or not reply or not isinstance(reply[0], str):
                    self.kill()
                    raise Fatal("error", "protocol violation on the harness channel")
                self.drain_ready()
                if reply[0] == "cb":
                    self.serve_callback(reply)
                    continue
                return reply
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise Fatal("timeout", "time limit reached")
            ready = wire.readable([self.rep_r, *self.open_streams], remaining)
            for fd in ready:
                if fd == self.rep_r:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        raise self._death()
                    self.buffer += chunk
                else:
                    self._drain(fd)

    def finish(self) -> None:
        """Ask the candidate to exit and collect the rest of its output (briefly: children may hold it)."""
        if self.alive:
            try:
                wire.write_all(self.req_w, wire.frame(wire.dumps(["exit"])))
            except OSError:
                pass
        end = min(self.deadline, time.monotonic() + 0.5)
        while self.open_streams:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            ready = wire.readable(list(self.open_streams), remaining)
            for fd in ready:
                self._drain(fd)
        self.kill()

    # -- calls --------------------------------------------------------------------------------
    def mirror(self, states: object, sent: list[object], decoder: wire.Decoder) -> None:
        """Make the containers the tests passed show the candidate's changes, in place: their new
        contents, where a passed container is the tests' own object again (aliases hold)."""
        if states is None:
            return
        if not isinstance(states, list) or len(states) != len(sent):
            self.kill()
            raise Fatal("error", "protocol violation on the harness channel: bad argument states")
        for old, state in zip(sent, states, strict=True):
            if state is None:
                continue
            new = self.value(state, decoder)
            if type(new) is not type(old):
                self.kill()
                raise Fatal("error", "protocol violation on the harness channel: an argument changed type")
            wire.replace_contents(old, new)

    def serve_callback(self, message: list[Any]) -> None:
        """The candidate calls a function the tests passed it: run it here with the arguments it
        sent (plain data and stand-ins), and reply by the same rules as a call the other way."""
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.too_deep()
            if len(message) != 4:
                self.kill()
                raise Fatal("error", "protocol violation on the harness channel: bad callback")
            function = self.value({"h": message[1]})
            decoder = wire.Decoder(refs=self.refs)
            args, kwargs = self.value(message[2], decoder), self.value(message[3], decoder)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                self.kill()
                raise Fatal("error", "protocol violation on the harness channel: bad callback")
            encoder = wire.Encoder({id(obj): k for k, obj in enumerate(decoder.made)}, self.refs)
            try:
                result = function(*args, **kwargs)  # type: ignore[operator]
                head: list[object] = ["val", encoder.encode(result)]
            except Exception as exc:
                base = next(c for c in type(exc).__mro__ if getattr(builtins, c.__name__, None) is c)
                try:
                    plain_args: object = wire.encode(list(exc.args))
                except (TypeError, RecursionError):
                    plain_args = None
                head = ["exc", base.__name__, str(exc)[:2000], plain_args]
            states = [None if obj is args or obj is kwargs else encoder.encode(obj, top=True)
                      for obj in decoder.made]
        finally:
            self.depth -= 1
        try:
            wire.write_all(self.req_w, wire.frame(wire.dumps([*head, states])))
        except OSError:
            raise self._death() from None

    def too_deep(self) -> Fatal:
        self.kill()
        return Fatal("error", f"calls between the tests and the program nested deeper than {MAX_DEPTH}")

    def ref_op(self, ref: int, kind: str, args: tuple[object, ...], kwargs: dict[str, object]) -> object:
        """One operation on a candidate object, run by the candidate (see refs.py)."""
        if kind in refs.ANSWERS:
            self.answered = True
        return self.call([ref, kind], "", args, kwargs)

    def value(self, data: object, decoder: wire.Decoder | None = None) -> object:
        """A value from the candidate, rebuilt from its plain state with the harness's own types."""
        try:
            return (decoder or wire.Decoder(refs=self.refs)).value(data)
        except (wire.WireError, RecursionError) as exc:
            self.kill()
            raise Fatal("error", f"protocol violation on the harness channel: {exc}") from None

    def raise_for(self, reply: list[Any], what: str) -> None:
        kind = reply[0]
        if kind == "exc":
            name, message = str(reply[1])[:100], str(reply[2])[:2000]
            if name == "MemoryError":
                raise Fatal("memory", f"MemoryError in {what}")
            info = reply[5] if len(reply) > 5 else None
            if isinstance(info, dict):
                try:
                    exc = raised.build_exception(self.value, info)
                except (wire.WireError, RecursionError) as problem:
                    self.kill()
                    raise Fatal("error", f"protocol violation on the harness channel: {problem}") from None
                raise exc
            if reply[3] is True:
                raise CandidateAbort(f"{name}: {message}" if message else name)
            cls = getattr(builtins, name, None)
            if isinstance(cls, type) and issubclass(cls, Exception) and cls is not AssertionError:
                try:
                    exc = cls(message)
                except Exception:
                    exc = CandidateError(f"{name}: {message}")
                raise exc
            raise CandidateError(f"{name}: {message}")
        if kind == "bad":
            raise CandidateValueError(f"{what} {str(reply[1])[:300]}")
        raise Fatal("error", f"protocol violation: unexpected reply {kind!r}")

    def call(
        self, name: object, shown: str, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> object:
        try:
            encoder = wire.Encoder(refs=self.refs)
            encoded = [encoder.encode(list(args)), encoder.encode(dict(kwargs))]
        except (TypeError, RecursionError) as exc:
            raise TypeError(f"cannot pass this argument to the submission: {exc}") from None
        reply = self.request(["call", name, *encoded])
        call_text = f"{shown}({', '.join(_short(a, 80) for a in args)})"
        sent = encoder.alive
        if reply[0] == "val":
            decoder = wire.Decoder(sent, self.refs)
            value = self.value(reply[1], decoder)
            self.mirror(reply[2] if len(reply) > 2 else None, sent, decoder)
            if shown:
                self.calls.append(f"{call_text} returned {_short(value)}")
            return value
        if reply[0] == "exc":
            self.mirror(reply[6] if len(reply) > 6 else None, sent, wire.Decoder(sent, self.refs))
            if shown:
                self.calls.append(f"{call_text} raised {reply[1]}: {_short(reply[2], 200)[1:-1]}")
            name, message = str(reply[1])[:100], str(reply[2])[:400]
            self.facts = error_facts(reply, f"{name}: {message}" if message else name)
        self.raise_for(reply, f"{call_text}")
        raise AssertionError("unreachable")


class Proxy:
    """Stands for a function of the submission inside the tests; calls cross the pipe."""

    def __init__(self, session: Session, name: str, shown: str) -> None:
        self._session, self._name, self.__name__ = session, name, shown

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._session.call(self._name, self.__name__, args, kwargs)

    def __repr__(self) -> str:
        return f"<submission function {self._name}>"


class Recorder:
    """Per-assert results, in source order; failures keep the first message."""

    def __init__(self, session: Session, sites: list[AssertSite]) -> None:
        self.session = session
        self.sites = sites
        self.results: dict[int, dict[str, Any]] = {}
        self.errored = False
        self.failed = False
        self.current: int | None = None
        session.recorder = self
        self.ops = {
            "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge, "is": operator.is_, "is not": operator.is_not,
            "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
        }

    def _record(self, index: int, passed: bool, message: str = "",
                facts: dict[str, Any] | None = None) -> None:
        entry = self.results.get(index)
        if entry is None:
            entry = self.results[index] = {"name": self.sites[index].name, "passed": True, "message": ""}
        if self.session.answered:
            entry["answered_by_candidate"] = True
        if not passed and entry["passed"]:
            entry["passed"], entry["message"] = False, message[:2000]
            if facts is not None:
                entry["facts"] = facts

    def _calls(self) -> str:
        return "; ".join(self.session.calls[-3:])

    def _error(self, index: int, exc: Exception) -> None:
        self.current = None
        self.errored = True
        message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, CandidateError) else str(exc)
        if isinstance(exc, CandidateValueError):
            message = str(exc)
        calls = self._calls()
        after = f" (after {calls})" if calls and calls not in message else ""
        self._record(index, False, message + after, self.session.facts)

    def _evaluate(self, index: int, evaluate: Any, failed_assert: str) -> Any:
        """Run one assert's evaluation as the current test; None when it raised (recorded here).
        A fatal end of the run (the candidate died, the time is up) goes on up."""
        self.session.calls.clear()
        self.session.facts = None
        self.session.answered = False
        self.current = index
        try:
            return evaluate()
        except (Fatal, CandidateAbort):
            raise
        except AssertionError as exc:
            self.current = None
            self.failed = True
            self._record(index, False, f"{failed_assert}: {exc}")
        except Exception as exc:
            self._error(index, exc)
        return None

    def _passed(self, index: int, ok: bool) -> bool:
        """Close the current test; record it as passed if `ok`, else mark the run failed."""
        self.current = None
        if ok:
            self._record(index, True)
        else:
            self.failed = True
        return ok

    def cmp(self, index: int, left_fn: Any, right_fn: Any, msg_fn: Any) -> None:
        site = self.sites[index]

        def evaluate() -> tuple[Any, Any, bool]:
            left = left_fn()
            right = right_fn()
            return left, right, bool(self.ops[site.op](left, right))

        outcome = self._evaluate(index, evaluate, f"assertion failed inside {site.left_src}")
        if outcome is None or self._passed(index, outcome[2]):
            return
        left, right = outcome[0], outcome[1]
        if site.right_is_call and not site.left_is_call:
            shown, value, other, verb = site.right_src, right, left, "returned"
        else:
            shown, value, other = site.left_src, left, right
            verb = "returned" if site.left_is_call else "was"
        if site.op == "==":
            message = f"{shown} {verb} {_short(value)}, expected {_short(other)}"
        else:
            message = f"{shown} {verb} {_short(value)}; expected {site.left_src} {site.op} {site.right_src}"
            if site.right_is_call or not site.left_is_call:
                message = f"{site.left_src} was {_short(left)}, {site.right_src} was {_short(right)}"
        calls = self._calls()
        if calls and not site.left_is_call and not site.right_is_call:
            message += f" ({calls})"
        self._record(index, False, message + self._user_message(msg_fn))

    def check(self, index: int, test_fn: Any, msg_fn: Any) -> None:
        site = self.sites[index]
        ok = self._evaluate(index, lambda: bool(test_fn()), "assertion failed")
        if ok is None or self._passed(index, ok):
            return
        calls = self._calls()
        message = "assertion failed" + (f": {calls}" if calls else f": {site.name}")
        self._record(index, False, message + self._user_message(msg_fn))

    @staticmethod
    def _user_message(msg_fn: Any) -> str:
        try:
            extra = msg_fn()
        except Exception:
            return ""
        return f" ({_short(extra, 200)})" if extra is not None else ""

    def tests(self) -> list[dict[str, Any]]:
        seen: dict[str, int] = {}
        out = []
        for index in sorted(self.results):
            entry = dict(self.results[index])
            count = seen.get(entry["name"], 0) + 1
            seen[entry["name"]] = count
            if count > 1:
                entry["name"] = f"{entry['name']} (#{count})"
            out.append(entry)
        return out


class Opaque:
    """A value of the submission that is not plain data; using it in a test is an error."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        raise TypeError(f"{self._name} from the submission is not plain data")


def _abort_unless_exception(exc: BaseException) -> None:
    """SystemExit, KeyboardInterrupt and other BaseExceptions a test did not catch end the
    program, as they would in-process (raised inside a call, a test may catch them first)."""
    if not isinstance(exc, Exception):
        raise CandidateAbort(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None


def bind_names(session: Session, wanted: list[str], namespace: dict[str, Any]) -> dict[str, str]:
    """Resolve `wanted` in the candidate and put what stands for each name into `namespace`
    (a reference for a callable or class, the value for plain data); returns each name's kind."""
    resolved = session.request(["resolve", wanted]) if wanted else ["resolved", []]
    if resolved[0] != "resolved" or not isinstance(resolved[1], list):
        raise Fatal("error", "protocol violation while resolving names")
    kinds: dict[str, str] = {}
    for item in resolved[1]:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)):
            raise Fatal("error", "protocol violation while resolving names")
        name, kind, value = item
        kinds[name] = str(kind)
        if kind == "callable":
            namespace[name] = Proxy(session, name, name)
        elif kind == "value":
            namespace[name] = session.value(value)
        elif kind == "class":  # an enum: its state, rebuilt here (a member's type is the class)
            namespace[name] = type(session.value(value))
        elif kind == "exception" and isinstance(value, dict):  # `except EmptyError` in the tests
            try:
                namespace[name] = raised.exception_class(value)
            except wire.WireError as exc:
                raise Fatal("error", f"protocol violation while resolving names: {exc}") from None
        elif kind == "opaque":
            namespace[name] = Opaque(name)
    return kinds


def run_submission(sub: dict[str, Any], session: Session) -> dict[str, Any]:
    """Load the code in the candidate, run the tests here, and build the report."""
    code = str(sub.get("code") or "")
    tests = str(sub.get("tests") or "")
    entry_point = sub.get("entry_point") or None
    asserts = [str(a) for a in sub.get("asserts") or []]
    report: dict[str, Any] = {"status": "error", "complete": False, "tests": [], "detail": ""}

    reply = session.request(["exec", code])
    if reply[0] != "ok":
        if reply[0] != "exc":
            raise Fatal("error", "protocol violation while loading the program")
        name, message, where = str(reply[1])[:100], str(reply[2])[:2000], str(reply[4])[-2000:]
        report["status"] = "memory" if name == "MemoryError" else "error"
        text = f"{name}: {message}" if message else name
        report["detail"] = f"the program raised {text} while loading" + (f"\n{where}" if where else "")
        report["tests"] = [{"name": "program loads", "passed": False, "message": text}]
        return report

    pytest_module = str(sub.get("pytest") or "")
    if pytest_module:  # imported only here: a check or asserts run never pays for pytest
        from rfx_sandbox import pytest_run

        return pytest_run.run(pytest_module, lambda names, ns: bind_names(session, names, ns))

    sites: list[AssertSite] = []
    recorder = Recorder(session, sites)
    namespace: dict[str, Any] = {"__name__": "__rfx_tests__", "__builtins__": builtins,
                                 "__rfx_cmp": recorder.cmp, "__rfx_check": recorder.check}

    def run_plain(source: str) -> bool:
        try:
            exec(compile(source, "<visible test>", "exec"), namespace)
        except AssertionError:
            return False
        return True

    namespace["__rfx_run_plain"] = run_plain
    wanted = free_names([tests, *asserts])
    if entry_point and entry_point not in wanted:
        wanted.append(entry_point)
    kinds = bind_names(session, wanted, namespace)

    extra_tests: list[dict[str, Any]] = []
    if tests:
        try:
            compiled = rewrite_module(tests, sites, "<tests>")
        except SyntaxError as exc:
            report["detail"] = f"the tests do not compile: {exc}"
            report["tests"] = [{"name": "tests compile", "passed": False, "message": str(exc)}]
            return report
        shown = f"check({entry_point})" if entry_point else "tests"
        try:
            exec(compiled, namespace)  # type: ignore[arg-type]
            if entry_point:
                check = namespace.get("check")
                if not callable(check):
                    raise NameError("the tests define no check(candidate) function")
                if kinds.get(entry_point) == "callable":
                    check(Proxy(session, entry_point, "candidate"))
                elif isinstance(namespace.get(entry_point), refs.RefMeta):  # a class
                    check(namespace[entry_point])
                else:
                    raise NameError(f"the program does not define {entry_point}()")
        except (Fatal, CandidateAbort):
            raise
        except AssertionError as exc:
            recorder.failed = True
            extra_tests.append({"name": shown, "passed": False, "message": f"assertion failed: {exc}"})
        except BaseException as exc:
            _abort_unless_exception(exc)
            recorder.errored = True
            calls = "; ".join(session.calls[-3:])
            plain = isinstance(exc, CandidateError | CandidateValueError)
            text = str(exc) if plain else f"{type(exc).__name__}: {exc}"
            extra_tests.append({"name": shown, "passed": False,
                                "message": text[:2000] + (f" (after {calls})" if calls else "")})
        else:
            if not recorder.results:
                extra_tests.append({"name": shown, "passed": True, "message": ""})

    for line in asserts:
        try:
            compiled_line = rewrite_assert_line(line, sites)
        except SyntaxError as exc:
            recorder.errored = True
            extra_tests.append({"name": " ".join(line.split())[:300], "passed": False,
                                "message": f"not a valid assert statement: {exc.msg}"})
            continue
        try:
            exec(compiled_line, namespace)  # type: ignore[arg-type]
        except (Fatal, CandidateAbort):
            raise
        except BaseException as exc:  # the rewrite reports inside; this is a failure around it
            _abort_unless_exception(exc)
            recorder.errored = True
            extra_tests.append({"name": " ".join(line.split())[:300], "passed": False,
                                "message": f"{type(exc).__name__}: {exc}"})

    results = recorder.tests() + extra_tests
    if not tests and not asserts:
        results = [{"name": "program runs to the end", "passed": True, "message": ""}]
    report["tests"] = results
    if recorder.errored:
        report["status"] = "error"
        report["detail"] = "a test raised an exception"
    elif recorder.failed or not all(t["passed"] for t in results):
        report["status"] = "failed"
    elif results:
        report["status"], report["complete"] = "passed", True
    else:
        report["detail"] = "no test ran"
    return report


# ---- process setup ----------------------------------------------------------------------------

def _set_limits(limits: dict[str, Any]) -> None:
    timeout = float(limits.get("timeout_s", 10))
    cpu = math.ceil(timeout) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
    tmpfs = int(limits.get("tmpfs_mb", 64)) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (tmpfs, tmpfs))
    try:
        with open("/proc/self/statm", "rb") as handle:
            vsize = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        vsize = 64 * 1024 * 1024
    address_space = vsize + int(limits.get("memory_mb", 256)) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    nproc = int(limits.get("nproc", 0))
    if nproc:  # only under gVisor, whose kernel counts the sandbox's own processes per uid
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


CANDIDATE_UID = 65534  # nobody: the code under test
HARNESS_UID = 65533  # the tests, in split-uid mode only


def become(uid: int) -> None:
    """Drop to `uid` for good (split-uid mode): all capabilities go with uid 0, and a different uid
    is what keeps the candidate out of the harness's and runner's /proc entries under gVisor."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("could not change uid")


def _spawn_candidate(split_uid: bool) -> tuple[int, int, int, int, int]:
    """Fork the candidate before anything of the run is known; its first request is the limits."""
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the candidate: only its pipes survive, then it waits for code
        try:
            os.setpgid(0, 0)
            keep = [os.dup(fd) for fd in (out_w, err_w, req_r, rep_w)]
            high = [os.dup2(fd, 200 + i) for i, fd in enumerate(keep)]
            devnull = os.open("/dev/null", os.O_RDONLY)
            os.dup2(devnull, 0)
            for target, fd in zip((1, 2, candidate.REQUEST_FD, candidate.REPLY_FD), high, strict=True):
                os.dup2(fd, target)
            os.closerange(candidate.REPLY_FD + 1, 65536)
            if split_uid:
                become(CANDIDATE_UID)
            try:
                with open("/proc/self/oom_score_adj", "w") as handle:
                    handle.write("1000")
            except OSError:
                pass
            _set_limits(_await_limits())
            candidate.serve()
        finally:
            os._exit(70)
    for fd in (req_r, rep_w, out_w, err_w):
        os.close(fd)
    return pid, req_w, rep_r, out_r, err_r


def _await_limits() -> dict[str, Any]:
    """In the candidate, before any code (nothing untrusted has run yet): the run's limits."""
    raw = wire.read_frame_bytes(candidate.REQUEST_FD)
    if raw is None:  # the harness was discarded before a run
        os._exit(0)
    message = wire.decode(raw)
    if not (isinstance(message, list) and len(message) == 2 and message[0] == "limits"
            and isinstance(message[1], dict)):
        os._exit(70)
    return message[1]


def main(control_fd: int, result_fd: int, split_uid: bool) -> int:
    """Entry point in a harness the runner forked ahead of its run; returns its exit code.

    In pooled mode the runner forks it right after the previous run's cleanup, so the fork of the
    harness and of its candidate, and their first page faults (most of a small run's CPU), happen
    while the judge is idle instead of on the run's clock. Nothing is known about the run yet, and
    the candidate is forked before anything is read: neither process can hold another run's code or
    tests. The runner then sends the run's limits and body length on `control_fd`, or closes it to
    discard this harness.
    """
    spawned = _spawn_candidate(split_uid)
    wire.SIDE = "h"
    if split_uid:
        become(HARNESS_UID)
        _nondumpable()
    try:
        message = wire.read_frame(control_fd, limit=1 << 20)
    except wire.WireError:
        message = None
    os.close(control_fd)
    if not isinstance(message, dict) or not isinstance(message.get("limits"), dict):
        os.kill(spawned[0], signal.SIGKILL)
        return 0
    limits = message["limits"]
    try:
        wire.write_all(spawned[1], wire.frame(wire.dumps(["limits", wire.encode(limits)])))
    except OSError:
        pass  # the candidate is gone: the run reports it like any candidate death
    return _run(limits, int(message.get("body_len", 0)), result_fd, spawned)


def _run(
    limits: dict[str, Any], body_len: int, result_fd: int, spawned: tuple[int, int, int, int, int]
) -> int:
    """Read the submission, run it against its candidate (pid, request, reply, stdout, stderr fds)
    and write the report."""
    started = time.monotonic()
    deadline = started + float(limits.get("timeout_s", 10))
    pid, req_w, rep_r, out_r, err_r = spawned
    body = wire.read_exact(0, body_len) if body_len else b"{}"
    os.close(0)
    wire.write_all(result_fd, b"B")  # stdin is free again: the runner may watch it for an abort
    session = Session(pid, req_w, rep_r, out_r, err_r, deadline, int(limits.get("output_bytes", 65536)))
    out, err = Capture("<stdout>"), Capture("<stderr>")
    sys.stdout, sys.stderr = out, err
    try:
        submission = json.loads(body or b"{}")
        del body
        report = run_submission(submission, session)
        session.finish()
    except Fatal as fatal:
        session.kill()
        report = {"status": fatal.status, "complete": False, "detail": fatal.detail,
                  "tests": _partial(session, fatal.detail)}
        _collect_after_kill(session)
    except CandidateAbort as abort:
        session.kill()
        detail = f"the program raised {abort} during the tests"
        report = {"status": "error", "complete": False, "detail": detail, "tests": _partial(session, detail)}
        _collect_after_kill(session)
    sys.stdout, sys.stderr = out, err  # the tests may have left a redirection in place
    report["stdout"] = out.text()
    report["stderr"] = err.text()
    report["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
    wire.write_all(result_fd, wire.dumps(report))
    return 0


def _nondumpable() -> None:
    """A uid change resets the dumpable flag: set it again."""
    import ctypes

    try:
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _partial(session: Session, detail: str) -> list[dict[str, Any]]:
    """Tests finished before a fatal end, plus the one that was running, marked failed."""
    recorder = session.recorder
    if recorder is None:
        return []
    if recorder.current is not None:
        recorder._record(recorder.current, False, detail)
    return recorder.tests()


def _collect_after_kill(session: Session) -> None:
    """Read what the killed candidate had already written, without waiting on its children."""
    end = time.monotonic() + 0.05
    while session.open_streams and time.monotonic() < end:
        ready = wire.readable(list(session.open_streams), max(0.0, end - time.monotonic()))
        if not ready:
            break
        for fd in ready:
            try:
                session._drain(fd)
            except Fatal:
                return
