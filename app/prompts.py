"""The PromptBook adapter: prompt templates are jinja2 files under prompts/ (`NAME.md`).

Templates are files so prompts can be read, reviewed and changed without touching code; StrictUndefined
turns a variable the code forgot to pass into an error instead of a silently empty prompt; and each
template's version is a short hash of its bytes, which the episode record keeps so a result can be
tied to the exact prompt text that produced it.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import jinja2

from app.errors import ConfigError
from app.paths import prompts_dir

SUFFIX = ".md"


class FilePromptBook:
    """Renders `prompts/<name>.md`; `name` is a slash-separated path without the suffix."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or prompts_dir()
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.root)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # prompts are plain text for a model, not HTML
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._cache: dict[str, tuple[jinja2.Template, str]] = {}

    def _load(self, name: str) -> tuple[jinja2.Template, str]:
        """Read a template once: the text that is rendered is exactly the text that is versioned."""
        if name not in self._cache:
            path = self.root / (name + SUFFIX)
            try:
                data = path.read_bytes()
            except OSError:
                raise ConfigError(f"prompt template {name!r} not found under {self.root}") from None
            try:
                template = self._env.from_string(data.decode("utf-8"))
            except jinja2.TemplateSyntaxError as exc:
                raise ConfigError(f"prompt template {name!r} line {exc.lineno}: {exc.message}") from None
            self._cache[name] = (template, hashlib.sha256(data).hexdigest()[:12])
        return self._cache[name]

    def render(self, name: str, **variables: object) -> str:
        template, _ = self._load(name)
        try:
            return template.render(**variables).strip() + "\n"
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"prompt template {name!r}: {exc.message}") from None

    def version(self, name: str) -> str:
        return self._load(name)[1]


@lru_cache(maxsize=1)
def default_prompt_book() -> FilePromptBook:
    """The project's own prompts/ directory (one shared instance: templates are cached by jinja2)."""
    return FilePromptBook()
