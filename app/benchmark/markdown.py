"""report.md: the figures of report.json as tables, with the plots embedded by relative links.

Rendered from the report document only (never from the run's live state), so the markdown shows
exactly the numbers in report.json.
"""

from __future__ import annotations

from typing import Any

from app.benchmark.plots import ACCURACY_PNG, BUDGET_PNG, FLIP_KEYS, FLIPS_PNG
from app.reflexion.comparison import ERROR_KINDS, FLIPS


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def code_lines(code: list[dict[str, Any]] | dict[str, list[dict[str, Any]]] | None) -> list[str]:
    """The code the run's processes ran (provenance.py): per behaviour digest, the commits that had it;
    one line per run, or for the whole run. A frozen run shows one digest."""
    if not code:
        return []

    def versions(entries: list[dict[str, Any]]) -> str:
        by_digest: dict[str, list[str]] = {}
        for e in entries:
            digest = f"`{str(e.get('behaviour'))[:12]}`" + (" (modified)" if e.get("modified") else "")
            by_digest.setdefault(digest, []).append(f"`{str(e.get('commit'))[:12]}`")
        return "; ".join(f"behaviour {d} at {', '.join(dict.fromkeys(c))}" for d, c in by_digest.items())

    if isinstance(code, list):
        return [f"- code: {versions(code)}"]
    return [f"- code of {label}: {versions(entries) or 'not recorded'}" for label, entries in code.items()]


def variant_lines(variants: dict[str, dict[str, Any]] | None) -> list[str]:
    """The settings of each variant run of a combined report (`rfx bench report`)."""
    if not variants:
        return []
    columns = list(next(iter(variants.values())))
    rows = [[name, *(str(v.get(c)) for c in columns)] for name, v in variants.items()]
    return ["", *table(["run", *columns], rows)]


def render(report: dict[str, Any]) -> str:
    run = report["run"]
    strategies: dict[str, dict[str, Any]] = report["strategies"]
    ks = sorted(
        {k for s in strategies.values() for k in s if k.startswith("pass@")}, key=lambda k: int(k[5:])
    )
    out = ["# Benchmark report", ""]
    if "variants" in run:  # `rfx bench report`: the runs' own settings are in the table below
        dropped = ", ".join(f"{name} {count}" for name, count in run.get("dropped_episodes", {}).items())
        out += [
            f"- {run.get('problems', 0)} problems that every run finished; baseline: "
            f"`{run.get('baseline')}`; episodes left out: {dropped or 'none'}",
        ]
    else:
        out += [
            f"- dataset: `{run.get('dataset', '?')}` ({run.get('problems', 0)} problems)",
            f"- actor: `{run.get('actor_model', '?')}`, reflector: `{run.get('reflector_model', '?')}`",
            f"- max trials: {run.get('max_trials')}, samples: {run.get('samples')}, "
            f"feedback: {run.get('feedback') or 'default per strategy'}",
        ]
    out += code_lines(run.get("code"))
    out += variant_lines(run.get("variants"))
    budget = run.get("budget") or {}
    if budget.get("exceeded"):
        out.append(f"- **budget exceeded**: {budget.get('skipped', 0)} (strategy, problem) pairs not run")
    out += ["", "## Summary", ""]
    header = [
        "strategy",
        "problems",
        "solved",
        "accuracy",
        *ks,
        "tokens/solved",
        "cost/solved (USD)",
        "wall s/solved",
    ]
    rows = []
    for name, s in strategies.items():
        rows.append(
            [
                name,
                str(s["problems"]),
                str(s["solved"]),
                pct(s["accuracy"]),
                *[pct(s.get(k)) for k in ks],
                num(s["tokens_per_solved"], 0),
                num(s["cost_usd_per_solved"], 4),
                num(s["wall_s_per_solved"], 2),
            ]
        )
    out += table(header, rows)
    out += [
        "",
        "pass@1 of reflexion, self_refine, single and tree_search is the accuracy of their first "
        "attempt; pass@k for k > 1 is estimated from best_of_n's independent samples.",
        "",
    ]

    out += ["## Accuracy after each trial", "", f"![accuracy by trial]({ACCURACY_PNG})", ""]
    horizon = max((len(s["accuracy_by_trial"]) for s in strategies.values()), default=0)
    out += table(
        ["strategy", *[f"trial {i}" for i in range(1, horizon + 1)]],
        [
            [n, *[pct(v) for v in s["accuracy_by_trial"]], *[""] * (horizon - len(s["accuracy_by_trial"]))]
            for n, s in strategies.items()
        ],
    )

    out += ["", "## Flips between first and final answer", "", f"![flips]({FLIPS_PNG})", ""]
    out += table(
        ["strategy", *[k.replace("_to_", " → ") for k in FLIP_KEYS]],
        [[n, *[str(s["flips"][k]) for k in FLIP_KEYS]] for n, s in strategies.items()],
    )

    out += ["", "## False positives of the feedback tests", ""]
    fp_rows = []
    for name, s in strategies.items():
        for source, c in s["false_positives"]["by_feedback"].items():
            fp_rows.append(
                [
                    name,
                    source,
                    f"{c['attempts']} / {c['attempts_feedback_passed']}",
                    f"{c['episodes']} / {c['episodes_solved']}",
                ]
            )
    out += table(
        ["strategy", "feedback", "attempts (false / feedback passed)", "episodes (false / stopped solved)"],
        fp_rows,
    )
    oracle = {n: s["feedback"].get("oracle", 0) for n, s in strategies.items() if s["feedback"].get("oracle")}
    if oracle:
        where = ", ".join(f"{n} on {c} problems" for n, c in oracle.items())
        out += [
            "",
            "Note: with `oracle` feedback (asked for with `--feedback oracle`; problems without "
            "visible tests get `self_tests` otherwise) the model saw the results of the hidden tests: "
            f"{where}. Those problems measure repair with the answer key, not self-correction.",
        ]

    out += ["", "## Cost", ""]
    out += table(
        ["strategy", "attempts", "LLM failures", "tokens", "cost (USD)", "wall s", "stop reasons"],
        [
            [
                n,
                str(s["attempts"]),
                str(s["llm_failures"]),
                f"{s['tokens']:,}",
                num(s["cost_usd"], 4),
                num(s["wall_s"], 2),
                ", ".join(f"{k}: {v}" for k, v in sorted(s["stop_reasons"].items())),
            ]
            for n, s in strategies.items()
        ],
    )

    out += budget_sections(report.get("comparison"))

    out += ["", "## Definitions", ""]
    out += [f"- **{k}**: {v}" for k, v in report["definitions"].items()]
    out += ["", f"Raw per-attempt rows: `report.json` → `rows` ({len(report['rows'])} rows).", ""]
    return "\n".join(out)


def first_attempts_cell(first: dict[str, int] | None) -> str:
    if not first:
        return "-"
    return f"{first['equal']} / {first['problems']} ({first['replayed']})"


def equal_tokens_cell(versus: dict[str, Any] | None) -> str:
    """best_of_n's accuracy at a strategy's tokens; marked when the strategy spent past its curve."""
    if not versus:
        return "-"
    return pct(versus["best_of_n_accuracy"]) + ("" if versus["within_curve"] else " (all samples spent)")


def noise_line(what: str, spread: dict[str, Any]) -> list[str]:
    """One noise band (comparison.Spread) as a sentence: each run's accuracy, mean, sd and range."""
    runs = ", ".join(pct(a) for a in spread["accuracies"])
    return [
        "",
        f"{what} scored {runs} (mean {pct(spread['mean'])}, sd {100 * spread['stdev']:.1f} points, "
        f"range {pct(spread['low'])}-{pct(spread['high'])}).",
    ]


def budget_sections(comparison: dict[str, Any] | None) -> list[str]:
    """Accuracy at equal budget, flips against single with McNemar, retries, errors fixed, noise band."""
    if not comparison:
        return []
    per: dict[str, dict[str, Any]] = comparison["strategies"]
    out = ["", "## Accuracy against tokens and wall time", "", f"![accuracy vs cost]({BUDGET_PNG})", ""]
    out += table(
        ["strategy", "accuracy", "tokens / problem", "wall s / problem", "best_of_n at these tokens"],
        [
            [
                n,
                pct(c["accuracy"]),
                num(c["tokens_per_problem"], 0),
                num(c["wall_s_per_problem"], 2),
                equal_tokens_cell(c.get("vs_best_of_n")),
            ]
            for n, c in per.items()
        ],
    )
    paired = {n: c["vs_single"] for n, c in per.items() if c["vs_single"]}
    if paired:
        out += ["", "## Against single, problem by problem", ""]
        out += table(
            [
                "strategy",
                "problems",
                "gained (wrong → right)",
                "lost (right → wrong)",
                "both right",
                "both wrong",
                "McNemar exact p",
                "first attempt = single's (replayed)",
            ],
            [
                [
                    n,
                    str(f["problems"]),
                    str(f["gained"]),
                    str(f["lost"]),
                    str(f["both_right"]),
                    str(f["both_wrong"]),
                    f"{f['p_value']:.3g}",
                    first_attempts_cell(per[n].get("first_attempts")),
                ]
                for n, f in paired.items()
            ],
        )
        out += ["", "## Where the budget went (tokens per problem, by flip against single)", ""]
        out += table(
            ["strategy", *(f"{flip.replace('_', ' ')}: problems, tokens" for flip in FLIPS)],
            [
                [n, *(f"{b[f]['problems']}, {num(b[f]['tokens_per_problem'], 0)}" for f in FLIPS)]
                for n, b in ((n, per[n]["budget_by_flip"]) for n in paired)
                if b
            ],
        )
    out += ["", "## Retries: repeats and resamples", ""]
    out += table(
        ["strategy", "retries", "duplicate rate", "draws", "resample rate", "stuck"],
        [
            [
                n,
                str(d["retries"]),
                pct(d["duplicate_rate"]),
                str(d["draws"]),
                pct(d["resample_rate"]),
                str(d["stuck"]),
            ]
            for n, d in ((n, c["draws"]) for n, c in per.items())
        ],
    )
    out += ["", "## Errors of the first answer, and how many got fixed", ""]
    fixed = {n: c["errors_fixed"] for n, c in per.items()}
    out += table(
        ["strategy", *[f"{k} (fixed / first wrong)" for k in ERROR_KINDS]],
        [[n, *[f"{f[k]['fixed']} / {f[k]['first_wrong']}" for k in ERROR_KINDS]] for n, f in fixed.items()],
    )
    split = [(n, src, f) for n, c in per.items() for src, f in c["by_feedback"].items()]
    if len({src for _, src, _ in split}) > 1:
        out += ["", "## By feedback source (problems without visible tests apart)", ""]
        out += table(
            ["strategy", "feedback", "problems", "accuracy"],
            [[n, src, str(int(f["problems"])), pct(f["accuracy"])] for n, src, f in split],
        )
    sampled = comparison.get("sampled_spread")
    if sampled:
        out += noise_line(
            f"Noise band of a sampled single: the {sampled['runs']} samples of {sampled['run']}", sampled
        )
    spread = comparison.get("single_spread")
    if spread:
        out += noise_line(f"Noise band: single over {spread['runs']} runs", spread)
    return out
