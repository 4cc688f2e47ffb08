"""Stance API: messages -> distribution over stance bins and evidence spans."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from quartet.web.services import StanceModel, get_stance

router = APIRouter(prefix="/api/infopattern/stance", tags=["infopattern: stance"])
MAX_TEXT = 10_000


class StanceRequest(BaseModel):
    messages: list[str] = Field(..., min_length=1, max_length=200, description="one text per message")
    target: str | None = Field(None, max_length=500, description="topic the stance is about")


class StanceResult(BaseModel):
    text: str
    label: str
    probs: list[float]
    evidence: list[list[int]]


class StanceResponse(BaseModel):
    bins: list[str]
    distribution: list[float]  # mean probability per bin over the messages
    results: list[StanceResult]


@router.post("", response_model=StanceResponse, summary="Stance distribution and evidence for messages")
def analyze(req: StanceRequest, model: StanceModel = Depends(get_stance)) -> StanceResponse:
    from fastapi import HTTPException

    texts = [t for t in req.messages if t.strip()]
    if not texts:
        raise HTTPException(422, "every message is empty: type at least one message")
    too_long = next((i for i, t in enumerate(texts) if len(t) > MAX_TEXT), None)
    if too_long is not None:
        raise HTTPException(422, f"message {too_long + 1} has {len(texts[too_long])} characters (limit {MAX_TEXT})")
    rows = model.analyze(texts, req.target)
    bins = list(model.bins)
    results = []
    for text, row in zip(texts, rows, strict=True):
        probs = row["probs"]
        best = max(range(len(probs)), key=probs.__getitem__)
        spans = [[max(0, s), min(len(text), e)] for s, e in row.get("evidence", []) if e > s]
        results.append(StanceResult(text=text, label=bins[best], probs=probs, evidence=spans))
    distribution = [sum(r.probs[i] for r in results) / len(results) for i in range(len(bins))]
    return StanceResponse(bins=bins, distribution=distribution, results=results)
