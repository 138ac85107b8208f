"""How long `rfx --help` takes to answer, against starting the same interpreter with nothing to do.

Every command imports what it uses when it runs (tests/unit/test_cli_imports.py keeps help free of the
service's libraries), so what help costs is the interpreter, typer and its rich help formatter. Each
round runs `python -c pass`, `rfx --help` and `rfx judge --help` once each as fresh processes, in
rotating order so drift and neighbours on a shared host fall on all three alike; the figures are the
medians of the wall times, and the ratios divide each by the `python -c pass` median.

    .venv/bin/python bench/cli_startup.py [--rounds 21] [--out bench/results/cli_startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RFX = str(Path(sys.executable).parent / "rfx")
COMMANDS = {
    "python_pass": [sys.executable, "-c", "pass"],
    "rfx_help": [RFX, "--help"],
    "rfx_judge_help": [RFX, "judge", "--help"],
}


def wall_ms(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return (time.perf_counter() - started) * 1000


def measure(rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    names = list(COMMANDS)
    for command in COMMANDS.values():  # warm the page cache once; not counted
        wall_ms(command)
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            samples[name].append(wall_ms(COMMANDS[name]))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/cli_startup.json")
    args = parser.parse_args()
    if args.rounds < 1:
        raise SystemExit("cli_startup: --rounds must be at least 1")
    samples = measure(args.rounds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    report = {
        "what": "wall time of a fresh process: rfx --help and rfx judge --help against python -c pass",
        "runs": args.rounds,
        "python": platform.python_version(),
        "load_average": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "python_pass_ms": round(medians["python_pass"], 1),
        "rfx_help_ms": round(medians["rfx_help"], 1),
        "rfx_judge_help_ms": round(medians["rfx_judge_help"], 1),
        "ratio": round(medians["rfx_help"] / medians["python_pass"], 2),
        "judge_ratio": round(medians["rfx_judge_help"] / medians["python_pass"], 2),
        "samples_ms": {name: [round(v, 1) for v in values] for name, values in samples.items()},
    }
    text = json.dumps(report, indent=2) + "\n"
    args.out.write_text(text, encoding="utf-8")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
