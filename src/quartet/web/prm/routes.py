"""PRM APIs: score the steps of a typed solution; sample N solutions and rerank them by the PRM."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from quartet.prm.answers import extract_answer, is_correct
from quartet.prm.best_of_n import aggregate, select
from quartet.prm.data import split_steps
from quartet.web.prm.models import PRMModel
from quartet.web.services import get_prm

router = APIRouter(prefix="/api/prm", tags=["prm: step scores and best-of-N"])
MAX_STEPS = 40


class ScoreRequest(BaseModel):
    problem: str = Field(..., min_length=1, max_length=4000)
    solution: str = Field(..., min_length=1, max_length=8000, description="one step per line")


class Step(BaseModel):
    text: str
    score: float = Field(..., description="P(+) at the step's tag")


class ScoreResponse(BaseModel):
    steps: list[Step]
    score: float = Field(..., description="the steps' scores aggregated as info.aggregate says (min, the paper's; "
                                          "the ORM: last, its only trained tag)")
    weakest: int = Field(..., description="index of the lowest-scoring step")
    unknown_words: list[str] = Field(..., description="words the model's vocabulary does not have")


class RerankRequest(BaseModel):
    problem: str = Field(..., min_length=1, max_length=4000)
    n: int = Field(8, ge=1, le=32, description="solutions to sample")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    gold: str | None = Field(None, max_length=200, description="the right answer, when known: marks each candidate")


class Candidate(BaseModel):
    sample: int = Field(..., description="position in sampling order")
    text: str
    steps: list[Step]
    score: float
    answer: str | None
    correct: bool | None


class RerankResponse(BaseModel):
    candidates: list[Candidate] = Field(..., description="best PRM score first")
    best: int = Field(..., description="sampling index of the PRM's choice")
    majority: str | None = Field(None, description="most frequent answer, for comparison")


def _problem(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise HTTPException(422, "the problem is empty")
    return text


@router.get("/info", summary="The loaded run and PRM, and example problems from its test set")
def info(model: PRMModel = Depends(get_prm)) -> dict:
    return dict(model.info)


@router.post("/score", response_model=ScoreResponse, summary="P(+) at every step of a typed solution")
def score(req: ScoreRequest, model: PRMModel = Depends(get_prm)) -> ScoreResponse:
    problem = _problem(req.problem)
    steps = split_steps(req.solution)
    if not steps:
        raise HTTPException(422, "the solution has no steps: write one step per line")
    if len(steps) > MAX_STEPS:
        raise HTTPException(422, f"the solution has {len(steps)} steps; at most {MAX_STEPS}")
    try:
        [scores] = model.score(problem, [steps])
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    return ScoreResponse(steps=[Step(text=t, score=s) for t, s in zip(steps, scores, strict=True)],
                         score=aggregate(scores, model.info.get("aggregate", "min")), weakest=min(range(len(scores)), key=scores.__getitem__),
                         unknown_words=model.unknown_words(problem + "\n" + req.solution))


@router.post("/rerank", response_model=RerankResponse,
             summary="Sample N solutions from the policy and rank them by the PRM (min over steps; ORM: last)")
def rerank(req: RerankRequest, model: PRMModel = Depends(get_prm)) -> RerankResponse:
    from quartet.prm.best_of_n import majority_vote

    problem = _problem(req.problem)
    fmt = "answer_is"
    try:
        texts = model.sample(problem, req.n, req.seed)
        steps = [split_steps(t) for t in texts]
        scores = model.score(problem, steps)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    gold = req.gold.strip() if req.gold and req.gold.strip() else None
    how = model.info.get("aggregate", "min")
    candidates = []
    for i, (text, st, sc) in enumerate(zip(texts, steps, scores, strict=True)):
        value = aggregate(sc, how)
        candidates.append(Candidate(
            sample=i, text=text, steps=[Step(text=t, score=s) for t, s in zip(st, sc, strict=True)],
            score=value if value != float("-inf") else -1.0, answer=extract_answer(text, fmt),
            correct=is_correct(text, gold, fmt) if gold is not None else None))
    best = select(scores, how)
    # Best first; ties keep sampling order, like best_of_n.select.
    ranked = sorted(candidates, key=lambda c: (-c.score, c.sample))
    return RerankResponse(candidates=ranked, best=best, majority=majority_vote([c.answer for c in candidates]))
