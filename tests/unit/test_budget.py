"""The deadline rule of protocol/budget.py: timeouts nest, and the client follows them.

The client (repl_client, which ships without the server's packages) applies the rule to
the service's documented defaults; these tests hold it to the server's own computation,
so that the client never gives up before the service has answered.
"""

from __future__ import annotations

import itertools

import pytest

from protocol import budget, settings
from protocol.models import EvaluateBatchRequest, EvaluateRequest, RunRequest
from repl_client import deadlines

DEFAULTS = settings.load({})
LIMITS = (None, 0.5, 1, 5, 30, 120)


def _request(op: str, limit: float | None, cases: int) -> RunRequest | EvaluateRequest:
    context = {"config": DEFAULTS}
    if op == "run":
        return RunRequest.model_validate({"id": "s", "cmd": "true", "timeout": limit}, context=context)
    io_cases = [{"input": "", "output": "1"}] * cases
    body = {"id": "s", "code": "x = 1", "entry_point": "x", "io_cases": io_cases,
            "timeout": min(limit, DEFAULTS.max_eval_timeout) if limit else None}
    return EvaluateRequest.model_validate(body, context=context)


@pytest.mark.parametrize(("op", "limit", "cases"), list(itertools.product(("run", "evaluate"), LIMITS, (1, 3, 100))))
def test_the_client_waits_exactly_as_long_as_the_rule_says(op: str, limit: float | None, cases: int) -> None:
    request = _request(op, limit, cases)
    sent_limit = request.timeout
    expected = budget.client_timeout(op, request, DEFAULTS)
    assert deadlines.answer_timeout(op, sent_limit, cases) == pytest.approx(expected)
    assert deadlines.answer_timeout(op, sent_limit, cases) > budget.rpc_timeout(op, request, DEFAULTS)


@pytest.mark.parametrize(("op", "limit", "cases"), list(itertools.product(("run", "evaluate"), LIMITS, (1, 100))))
def test_timeouts_nest(op: str, limit: float | None, cases: int) -> None:
    """sandbox limit < budget + backstop < start-by + budget + backstop < RPC < client."""
    request = _request(op, limit, cases)
    job = budget.job_budget(op, request, DEFAULTS)
    sandbox_limit = float(request.timeout or (DEFAULTS.run_timeout if op == "run" else DEFAULTS.eval_timeout))
    assert sandbox_limit * (cases if op == "evaluate" else 1) <= job
    backstop = job + budget.BACKSTOP_GRACE
    latest_answer = budget.queue_wait(DEFAULTS) + backstop
    assert latest_answer < budget.rpc_timeout(op, request, DEFAULTS) < budget.client_timeout(op, request, DEFAULTS)


@pytest.mark.parametrize("limit", LIMITS)
def test_a_compile_step_counts_as_one_more_case(limit: float | None) -> None:
    timeout = min(limit, DEFAULTS.max_eval_timeout) if limit else None
    body = {"id": "s", "code": "x", "io_cases": [{"stdin": "", "stdout": ""}] * 3, "timeout": timeout}
    plain = EvaluateRequest.model_validate(body, context={"config": DEFAULTS})
    compiled = EvaluateRequest.model_validate({**body, "compile": "true"}, context={"config": DEFAULTS})
    per_case = budget.job_budget("evaluate", plain, DEFAULTS) / 3
    assert budget.job_budget("evaluate", compiled, DEFAULTS) == pytest.approx(4 * per_case)
    assert deadlines.answer_timeout("evaluate", timeout, 4) == pytest.approx(
        budget.client_timeout("evaluate", compiled, DEFAULTS))


@pytest.mark.parametrize(("limit", "compiled"), list(itertools.product((None, 0.5, 7), (False, True))))
def test_a_checker_adds_its_runs_and_the_client_waits_for_them(limit: float | None, compiled: bool) -> None:
    from repl_client.bodies import evaluation_timeout

    checker = {"cmd": "./check", **({"compile": "true"} if compiled else {}), **({"timeout": limit} if limit else {})}
    body = {"id": "s", "code": "x", "io_cases": [{"stdin": "", "stdout": ""}] * 3}
    plain = EvaluateRequest.model_validate(body, context={"config": DEFAULTS})
    checked = EvaluateRequest.model_validate({**body, "checker": checker}, context={"config": DEFAULTS})
    runs = 3 + compiled
    per_run = (limit or DEFAULTS.judge_timeout) + budget.CASE_OVERHEAD
    assert budget.job_budget("evaluate", checked, DEFAULTS) == pytest.approx(
        budget.job_budget("evaluate", plain, DEFAULTS) + runs * per_run)
    assert evaluation_timeout({**body, "checker": checker}) == pytest.approx(
        budget.client_timeout("evaluate", checked, DEFAULTS))


@pytest.mark.parametrize("limit", [None, 0.5, 7])
def test_an_interactors_compile_step_counts_once(limit: float | None) -> None:
    from repl_client.bodies import evaluation_timeout

    body = {"id": "s", "code": "x", "io_cases": [{"stdin": "", "stdout": ""}] * 3}
    interactor = {"cmd": "./interactor", "compile": "true", **({"timeout": limit} if limit else {})}
    plain = EvaluateRequest.model_validate(body, context={"config": DEFAULTS})
    python = EvaluateRequest.model_validate({**body, "interactor": {"code": "x"}}, context={"config": DEFAULTS})
    built = EvaluateRequest.model_validate({**body, "interactor": interactor}, context={"config": DEFAULTS})
    assert budget.job_budget("evaluate", python, DEFAULTS) == budget.job_budget("evaluate", plain, DEFAULTS)
    assert budget.job_budget("evaluate", built, DEFAULTS) == pytest.approx(
        budget.job_budget("evaluate", plain, DEFAULTS) + (limit or DEFAULTS.judge_timeout) + budget.CASE_OVERHEAD)
    assert evaluation_timeout({**body, "interactor": interactor}) == pytest.approx(
        budget.client_timeout("evaluate", built, DEFAULTS))


def test_the_client_defaults_are_the_service_defaults() -> None:
    assert deadlines.DEFAULT_JUDGE_TIMEOUT == DEFAULTS.judge_timeout
    assert deadlines.DEFAULT_RUN_TIMEOUT == DEFAULTS.run_timeout
    assert deadlines.DEFAULT_CASE_TIMEOUT == DEFAULTS.eval_timeout
    assert deadlines.QUEUE_WAIT == budget.queue_wait(DEFAULTS)


def test_the_documented_rule_names_the_constants() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    for phrase in (f"{budget.BACKSTOP_GRACE:g} s", f"{budget.REPLY_MARGIN:g} s", f"{budget.CLIENT_MARGIN:g} s",
                   f"{budget.CASE_OVERHEAD:g} s", "REPL_MAX_QUEUE_WAIT"):
        assert phrase in doc, phrase


def _batch(count: int, limit: float | None, cases: int) -> EvaluateBatchRequest:
    submissions = [_request("evaluate", None, 1).model_dump(exclude_none=True)] * (count - 1)
    submissions.append(_request("evaluate", limit, cases).model_dump(exclude_none=True))
    return EvaluateBatchRequest.model_validate({"submissions": submissions}, context={"config": DEFAULTS})


@pytest.mark.parametrize(("count", "limit", "cases"), list(itertools.product((1, 32, 33, 100), LIMITS, (1, 10))))
def test_a_batch_waits_for_each_of_its_waves(count: int, limit: float | None, cases: int) -> None:
    """Each wave may take a whole submission's time, from queue wait to backstop."""
    batch = _batch(count, limit, cases)
    waves = -(-count // DEFAULTS.max_concurrent_jobs)
    assert budget.batch_waves(count, DEFAULTS) == waves
    longest = max(budget.job_budget("evaluate", s, DEFAULTS) for s in batch.submissions)
    latest_answer = waves * (budget.queue_wait(DEFAULTS) + longest + budget.BACKSTOP_GRACE)
    rpc = budget.rpc_timeout("evaluate_batch", batch, DEFAULTS)
    assert latest_answer < rpc < budget.client_timeout("evaluate_batch", batch, DEFAULTS)


@pytest.mark.parametrize(("count", "limit", "cases"), list(itertools.product((1, 32, 33, 100), LIMITS, (1, 10))))
def test_the_client_waits_for_a_batch_as_the_rule_says(count: int, limit: float | None, cases: int) -> None:
    batch = _batch(count, limit, cases)
    sent = [(s.timeout, len(s.io_cases)) for s in batch.submissions]
    assert deadlines.BATCH_WINDOW == budget.batch_window(DEFAULTS)
    expected = budget.client_timeout("evaluate_batch", batch, DEFAULTS)
    assert deadlines.batch_answer_timeout(sent) == pytest.approx(expected)
