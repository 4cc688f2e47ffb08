"""Red-teaming API: a message and a target community (or stance value) -> K responses with evidence."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from quartet.web.services import RedTeamModel, get_redteam

router = APIRouter(prefix="/api/infopattern/redteam", tags=["infopattern: red teaming"])


class RedTeamRequest(BaseModel):
    message: str = Field(..., min_length=1, max_length=10_000)
    community: str | None = Field(None, description="target community; overrides stance when given")
    stance: float = Field(-1.0, ge=-1.0, le=1.0, description="switch value s of the responses")
    k: int = Field(3, ge=1, le=10, description="number of responses")
    target: str | None = Field(None, max_length=500, description="topic of the message (default: the message)")


class Response(BaseModel):
    text: str
    evidence: list[list[int]]


class RedTeamResponse(BaseModel):
    stance: float
    responses: list[Response]


@router.get("/communities", summary="Communities a response can be written as, with their stance values")
def communities(model: RedTeamModel = Depends(get_redteam)) -> dict[str, float]:
    return dict(model.communities)


@router.post("", response_model=RedTeamResponse, summary="K responses as the target community would write them")
def generate(req: RedTeamRequest, model: RedTeamModel = Depends(get_redteam)) -> RedTeamResponse:
    if not req.message.strip():
        raise HTTPException(422, "the message is empty")
    stance = req.stance
    if req.community is not None:
        if req.community not in model.communities:
            raise HTTPException(422, f"unknown community {req.community!r} (known: {sorted(model.communities)})")
        stance = float(model.communities[req.community])
    out = []
    for item in model.generate(req.message, stance, req.k, target=(req.target or "").strip() or None)[: req.k]:
        text = item["text"]
        spans = [[max(0, s), min(len(text), e)] for s, e in item.get("evidence", []) if e > s]
        out.append(Response(text=text, evidence=spans))
    return RedTeamResponse(stance=stance, responses=out)
