"""`rfx`: the command line. Each command lives in its own module under app/commands/.

`main()` turns every expected failure into one line on stderr and a non-zero exit code: usage
errors (exit 2), a missing dependency such as Redis or the Docker engine (exit 3), and the rest of
the error taxonomy in app/errors.py. Tracebacks are for bugs only.
"""

from __future__ import annotations

import sys

import typer

from app import __version__
from app.commands import bench, episodes, export, judge, mcp_stdio, model, run, sandbox, serve
from app.errors import ReflexionError

app = typer.Typer(
    name="rfx",
    help="Reflexion episodes for code generation: actor LLM, sandboxed judge, reflector LLM, memory.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """Reflexion episodes for code generation: actor LLM, sandboxed judge, reflector LLM, memory."""


for module in (run, judge, bench, export, sandbox, model, serve, episodes, mcp_stdio):
    module.register(app)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


def fail(message: str, code: int) -> None:
    first_line = " ".join(message.strip().split("\n")[0].split()) or "error"
    sys.stderr.write(f"rfx: error: {first_line}\n")
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="rfx", standalone_mode=False)
        if isinstance(code, int) and code != 0:  # click returns (not raises) typer.Exit's code here
            raise SystemExit(code)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        fail("aborted", 130)
    except typer.TyperException as exc:  # typer's vendored click errors: usage, bad parameter, ...
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help())
            raise SystemExit(0) from None
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        fail(f"{exc.format_message()}{hint}", getattr(exc, "exit_code", 2))
    except ReflexionError as exc:
        fail(exc.detail, exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
