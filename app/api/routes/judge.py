"""`POST /v1/judge`: a synchronous verdict for code + tests, for apps that only want the oracle."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ServicesDep, TenantDep
from app.api.schemas import PROBLEM, JudgeRequest
from app.errors import InvalidInput
from app.judge import submission_problem
from app.reflexion.models import Submission, Verdict

router = APIRouter(tags=["judge"])


@router.post("/judge", response_model=Verdict,
             responses={401: PROBLEM, 413: PROBLEM, 422: PROBLEM, 429: PROBLEM, 503: PROBLEM},
             summary="Judge a submission in the sandbox and return the verdict")
async def judge(body: JudgeRequest, services: ServicesDep, tenant: TenantDep) -> Verdict:
    submission = Submission.model_validate(body.model_dump(exclude={"limits"}))
    if not (submission.code.strip() or submission.tests.strip() or submission.asserts):
        raise InvalidInput("nothing to judge: give code with tests (and entry_point) or asserts")
    problem = submission_problem(submission)
    if problem:
        raise InvalidInput(problem)
    gate = services.judge_gate
    await gate.check_rate(tenant)
    async with gate.slot() as judge_:
        verdict: Verdict = await judge_.judge(submission, body.limits)
    services.extras["observe_judge"](verdict)
    return verdict
