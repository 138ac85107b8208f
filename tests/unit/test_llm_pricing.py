"""Cost per completion: known list prices, dated snapshots, config overrides, unknown models free."""

from __future__ import annotations

import pytest

from app.llm.config import ProviderConfig
from app.llm.pricing import cost_usd, known_price, prices


def config(model: str, **fields: float) -> ProviderConfig:
    return ProviderConfig(name=model, base_url="http://127.0.0.1:1/v1", model=model, **fields)


def test_known_model_and_its_dated_snapshot() -> None:
    assert known_price("gpt-4o-mini") == (0.15, 0.60)
    assert known_price("gpt-4o-mini-2024-07-18") == (0.15, 0.60)  # longest prefix, not gpt-4o
    assert known_price("openai/gpt-4o") == (2.50, 10.00)
    assert known_price("qwen2.5-coder-0.5b") is None


def test_cost_from_tokens() -> None:
    assert cost_usd(config("gpt-4o"), 1_000_000, 500_000) == pytest.approx(2.50 + 5.00)
    assert cost_usd(config("llama3"), 10_000, 10_000) == 0.0


def test_config_prices_override_the_table_field_by_field() -> None:
    assert prices(config("gpt-4o", price_input_per_1m=1.0)) == (1.0, 10.00)
    assert prices(config("mystery", price_output_per_1m=3.0)) == (0.0, 3.0)
    assert cost_usd(config("mystery", price_input_per_1m=2.0, price_output_per_1m=4.0), 500, 250) == (
        pytest.approx((500 * 2.0 + 250 * 4.0) / 1e6)
    )
