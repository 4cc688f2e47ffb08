"""Refusal API: ask a tuned model a question; its answer, confidence and whether it declines."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from quartet.refusal.evaluate import declined, headline_confidence
from quartet.web.refusal.models import RefusalModel
from quartet.web.services import get_refusal

router = APIRouter(prefix="/api/refusal", tags=["refusal: ask the tuned model"])


class AskRequest(BaseModel):
    question: str = Field(..., min_length=1, max_length=2000)
    method: str | None = Field(None, max_length=40, description="which tuned model (default: the run's R-Tuning)")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="declines when P(sure) <= threshold")


class AskResponse(BaseModel):
    method: str
    answer: str
    answer_confidence: float = Field(..., description="geometric mean of the answer tokens' probabilities")
    p_sure: float = Field(..., description='P("sure") / (P("sure") + P("unsure")) after "Are you sure ...? I am"')
    confidence: float = Field(..., description="the paper's ranking confidence (mean of the two; Vanilla: the first)")
    threshold: float
    declines: bool
    reason: str = Field(..., description="why it declines or answers, in words")
    unknown_words: list[str]


@router.get("/info", summary="The loaded run, its tuned models, the threshold and example questions")
def info(model: RefusalModel = Depends(get_refusal)) -> dict:
    return dict(model.info)


@router.post("/ask", response_model=AskResponse, summary="Answer a question, with P(sure) and the decision")
def ask(req: AskRequest, model: RefusalModel = Depends(get_refusal)) -> AskResponse:
    question = " ".join(req.question.split())
    if not question:
        raise HTTPException(422, "the question is empty")
    method = req.method or model.info["default_method"]
    if method not in model.info["methods"]:
        raise HTTPException(422, f"unknown method {method!r} (this run has {', '.join(model.info['methods'])})")
    threshold = model.info["threshold"] if req.threshold is None else req.threshold
    try:
        record = model.ask(question, method)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    declines = declined(record, method, threshold)
    if method == "vanilla":
        reason = ("it answered with a refusal phrase" if declines else
                  "Vanilla was never taught to be unsure: it declines only with a refusal phrase")
    elif record["p_sure"] <= threshold:
        reason = f"P(sure) = {record['p_sure']:.2f} is at or below the threshold {threshold:.2f}"
    elif declines:
        reason = "it answered with a refusal phrase"
    else:
        reason = f"P(sure) = {record['p_sure']:.2f} is above the threshold {threshold:.2f}"
    return AskResponse(method=method, answer=record["prediction"], answer_confidence=record["answer_conf"],
                       p_sure=record["p_sure"], confidence=headline_confidence(record, method), threshold=threshold,
                       declines=declines, reason=reason, unknown_words=model.unknown_words(question))
