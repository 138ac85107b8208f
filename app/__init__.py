"""reflexion-service: Reflexion episodes for code generation, judged by a hardened sandbox."""

__version__ = "0.1.0"
