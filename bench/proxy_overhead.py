"""What the filtering Docker proxy costs the judge: the same judgements direct and through the proxy.

    .venv/bin/python bench/proxy_overhead.py [--runs 20] [--mode fresh|pooled] [--out FILE]

The stack's workers reach the engine only through app/deploy/docker_proxy.py. This runs the real
DockerJudge twice in the same process on the same submission: once on the engine's socket directly,
once with DOCKER_HOST pointing at the proxy on a loopback port. Pairs alternate (direct, proxy, then
proxy, direct, ...) so drift and neighbours on a shared host fall on both arms alike. In `fresh`
mode every judgement starts a container (create, attach, start, wait, remove all pass the proxy);
in `pooled` mode only the judgement's stdio crosses it. Reported: medians and the ratio proxy/direct.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

from app.deploy.docker_proxy import DockerProxy
from app.deploy.proxy_policy import Policy
from app.judge.config import JudgeConfig
from app.judge.docker_judge import DockerJudge
from app.judge.image import ensure_sandbox_image
from app.reflexion.models import Submission
from app.settings import Settings

SUBMISSION = Submission(
    code="def add(a, b):\n    return a + b\n",
    tests="def check(candidate):\n    assert candidate(2, 3) == 5\n",
    entry_point="add",
)


async def timed(judge: DockerJudge) -> float:
    start = time.perf_counter()
    verdict = await judge.judge(SUBMISSION)
    if verdict.status != "passed":
        raise RuntimeError(f"unexpected verdict {verdict.status}: {verdict.detail}")
    return (time.perf_counter() - start) * 1000


def use_engine(docker_host: str | None) -> None:
    """Point the judge's docker CLI (it reads DOCKER_HOST at every spawn) at the proxy or the socket."""
    if docker_host is None:
        os.environ.pop("DOCKER_HOST", None)
    else:
        os.environ["DOCKER_HOST"] = docker_host


async def open_judge(image: str, mode: str, docker_host: str | None) -> DockerJudge:
    use_engine(docker_host)
    judge = DockerJudge(JudgeConfig(mode=mode, workers=1, image=image, labels={"rfx.bench": "proxy"}))
    await judge.start()
    return judge


async def main(runs: int, mode: str) -> dict[str, object]:
    settings = Settings()
    image = ensure_sandbox_image(settings.judge_image, settings.judge_base_image)
    proxy = DockerProxy("/var/run/docker.sock", Policy(label_value="bench"))
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    host = f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    times: dict[str, list[float]] = {"direct": [], "proxy": []}
    direct = await open_judge(image, mode, None)
    via_proxy = await open_judge(image, mode, host)
    try:
        for arm, judge in (("direct", direct), ("proxy", via_proxy)):  # one unmeasured warm-up each
            os.environ.pop("DOCKER_HOST", None) if arm == "direct" else os.environ.update(DOCKER_HOST=host)
            await timed(judge)
        for i in range(runs):
            order = ("direct", "proxy") if i % 2 == 0 else ("proxy", "direct")
            for arm in order:
                # The judge's docker CLI reads DOCKER_HOST at each spawn (fresh mode spawns per run).
                os.environ.pop("DOCKER_HOST", None) if arm == "direct" else os.environ.update(
                    DOCKER_HOST=host
                )
                times[arm].append(await timed(direct if arm == "direct" else via_proxy))
    finally:
        os.environ.pop("DOCKER_HOST", None)
        await direct.aclose()
        os.environ["DOCKER_HOST"] = host
        await via_proxy.aclose()
        os.environ.pop("DOCKER_HOST", None)
        server.close()
        await proxy.sweep()
    med = {arm: statistics.median(values) for arm, values in times.items()}
    return {
        "mode": mode,
        "runs": runs,
        "median_ms": med,
        "ratio_proxy_over_direct": med["proxy"] / med["direct"],
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--mode", choices=["fresh", "pooled"], default="fresh")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = asyncio.run(main(args.runs, args.mode))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
