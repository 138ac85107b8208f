"""Cost of a completion from its token usage: a small table of known list prices plus config overrides.

Prices change and vendors differ, so the table is only a convenience for common hosted models; a
ProviderConfig's `price_input_per_1m`/`price_output_per_1m` always win, and an unknown model costs 0
(local models are free to call; a wrong guess would be worse than no figure).
"""

from __future__ import annotations

from app.llm.config import ProviderConfig

# USD per 1M tokens (input, output), list prices as published by the vendor in 2025.
KNOWN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
}


def known_price(model: str) -> tuple[float, float] | None:
    """Exact name first, then the longest known name the model id starts with (dated snapshots)."""
    name = model.lower().rsplit("/", 1)[-1]
    if name in KNOWN_PRICES:
        return KNOWN_PRICES[name]
    prefixes = [k for k in KNOWN_PRICES if name.startswith(k + "-")]
    return KNOWN_PRICES[max(prefixes, key=len)] if prefixes else None


def prices(config: ProviderConfig) -> tuple[float, float]:
    """(input, output) USD per 1M tokens for this config: overrides, else the table, else free."""
    table = known_price(config.model) or (0.0, 0.0)
    price_in = config.price_input_per_1m if config.price_input_per_1m is not None else table[0]
    price_out = config.price_output_per_1m if config.price_output_per_1m is not None else table[1]
    return price_in, price_out


def cost_usd(config: ProviderConfig, prompt_tokens: int, completion_tokens: int) -> float:
    price_in, price_out = prices(config)
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1_000_000
