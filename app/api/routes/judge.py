"""`POST /v1/judge`: a synchronous verdict for code + tests, for apps that only want the oracle."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import Services, ServicesDep, TenantDep
from app.api.schemas import PROBLEM, JudgeRequest
from app.errors import InvalidInput
from app.judge import submission_problem
from app.reflexion.models import JudgeLimits, Submission, Verdict
from app.settings import Settings

router = APIRouter(tags=["judge"])


def server_limits(settings: Settings) -> JudgeLimits:
    return settings.judge_limits()


def check_limits(asked: JudgeLimits, server: JudgeLimits) -> None:
    """A caller may tighten the sandbox's limits, never loosen them past the server's own (RFX_JUDGE_*)."""
    for field in type(asked).model_fields:
        wanted, allowed = getattr(asked, field), getattr(server, field)
        if wanted > allowed:
            raise InvalidInput(f"limits.{field}: at most {allowed} on this server (asked {wanted})")


@router.post(
    "/judge",
    response_model=Verdict,
    responses={401: PROBLEM, 413: PROBLEM, 422: PROBLEM, 429: PROBLEM, 503: PROBLEM},
    summary="Judge a submission in the sandbox and return the verdict",
)
async def judge(body: JudgeRequest, services: ServicesDep, tenant: TenantDep) -> Verdict:
    return await judge_submission(services, tenant, body)


async def judge_submission(services: Services, tenant: str, body: JudgeRequest) -> Verdict:
    """The route's work, also what the MCP `judge` tool calls: shape checks, limits, rate, a slot."""
    submission = Submission.model_validate(body.model_dump(exclude={"limits"}))
    if not (submission.code.strip() or submission.tests.strip() or submission.asserts or submission.pytest):
        raise InvalidInput("nothing to judge: give code with tests (and entry_point) or asserts")
    problem = submission_problem(submission)
    if problem:
        raise InvalidInput(problem)
    if body.limits is not None:
        check_limits(body.limits, server_limits(services.settings))
    gate = services.judge_gate
    await gate.check_rate(tenant)
    async with gate.slot() as judge_:
        verdict: Verdict = await judge_.judge(submission, body.limits)
    services.observe_judge(verdict)
    return verdict
