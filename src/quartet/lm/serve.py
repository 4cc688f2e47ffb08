"""An OpenAI-compatible HTTP server over any quartet ``LanguageModel``.

``/v1/completions`` and ``/v1/chat/completions`` follow the OpenAI API closely enough for
the official ``openai`` client, for quartet's own ``openai`` backend and for tools built on
them. Supported: ``n``, ``temperature``, ``top_p``, ``stop``, ``seed``, ``max_tokens``,
``logprobs`` (the sampled tokens' log-probs) and ``echo`` (with ``max_tokens: 0`` it scores
the prompt: this is how a remote model computes log-likelihoods). Not supported, and
refused with a 400 rather than ignored: streaming, ``top_logprobs`` beyond the sampled token.

The model is not thread-safe, so requests run one at a time under a lock; at most
``max_queue`` requests wait, further ones get 429 so a client backs off instead of timing out.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from quartet.lm.protocol import Completion, LanguageModel, SamplingParams

MAX_NEW_TOKENS = 4096  # a request asking for more is refused (400), not truncated


class CompletionRequest(BaseModel):
    model: str | None = None
    prompt: str | list[str]
    max_tokens: int = Field(16, ge=0, le=MAX_NEW_TOKENS)
    temperature: float = Field(1.0, ge=0.0, le=10.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=128)
    stop: str | list[str] | None = None
    seed: int | None = None
    logprobs: int | None = Field(None, ge=0, le=1)
    echo: bool = False
    stream: bool = False


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int = Field(64, ge=1, le=MAX_NEW_TOKENS)
    temperature: float = Field(1.0, ge=0.0, le=10.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=128)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False


def chat_prompt(messages: list[ChatMessage]) -> str:
    """The plain-text chat template of quartet's own models (they have no chat template of their own).

    >>> chat_prompt([ChatMessage(role="user", content="hi")])
    'user: hi\\nassistant:'
    """
    return "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant:"


def _stops(stop: str | list[str] | None) -> tuple[str, ...]:
    return (stop,) if isinstance(stop, str) else tuple(stop or ())


def _finish(c: Completion) -> str:
    return "length" if c.finish_reason == "length" else "stop"


class Gate:
    """One request at a time; at most ``max_queue`` waiting."""

    def __init__(self, max_queue: int):
        self.lock = threading.Lock()
        self.waiting = threading.BoundedSemaphore(max_queue + 1)

    def __enter__(self):
        if not self.waiting.acquire(blocking=False):
            raise HTTPException(429, "too many requests in flight; retry later")
        self.lock.acquire()

    def __exit__(self, *exc):
        self.lock.release()
        self.waiting.release()


def create_openai_app(lm: LanguageModel, model_name: str, max_queue: int = 32) -> FastAPI:
    app = FastAPI(title="quartet OpenAI-compatible server", version="1")
    gate = Gate(max_queue)

    # Errors in OpenAI's shape, so clients show the message rather than just the status.
    @app.exception_handler(HTTPException)
    async def openai_error(request: Request, err: HTTPException) -> JSONResponse:
        return JSONResponse({"error": {"message": err.detail, "type": "invalid_request_error", "code": err.status_code}},
                            status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in err.errors())
        return JSONResponse({"error": {"message": problems, "type": "invalid_request_error", "code": 400}},
                            status_code=400)

    def check(model: str | None, stream: bool) -> None:
        if stream:
            raise HTTPException(400, "stream: streaming responses are not supported by this server")
        if model not in (None, model_name):
            raise HTTPException(404, f"model {model!r} is not served here; this server has {model_name!r}")

    def sample(prompts: list[str], req, stop: tuple[str, ...]) -> list[list[Completion]]:
        params = SamplingParams(max_new_tokens=req.max_tokens, temperature=req.temperature, top_p=req.top_p,
                                stop=stop, seed=req.seed)
        try:
            with gate:
                return lm.generate(prompts, params, n=req.n)
        except ValueError as err:  # e.g. a prompt longer than the model's context
            raise HTTPException(400, str(err)) from None

    def prompt_scores(prompt: str) -> dict:
        """``echo`` with ``max_tokens: 0``: the prompt's tokens, their log-probs and text offsets."""
        tok = lm.tokenizer
        ids = tok.encode(prompt)
        with gate:
            scores = lm.loglikelihood([""], [prompt])[0]
        tokens = [tok.decode(ids[: i + 1])[len(tok.decode(ids[:i])):] for i in range(len(ids))]
        offsets = [len(tok.decode(ids[:i])) for i in range(len(ids))]
        return {"tokens": tokens, "token_logprobs": scores, "text_offset": offsets, "top_logprobs": None}

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "quartet"}]}

    @app.post("/v1/completions")
    def completions(req: CompletionRequest) -> dict:
        check(req.model, req.stream)
        prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
        choices, generated = [], 0
        if req.max_tokens == 0:
            if not req.echo:
                raise HTTPException(400, "max_tokens: 0 is only meaningful with echo: true (prompt scoring)")
            for i, prompt in enumerate(prompts):
                logprobs = prompt_scores(prompt) if req.logprobs is not None else None
                choices.append({"index": i, "text": prompt, "logprobs": logprobs, "finish_reason": "length"})
        else:
            for p, group in enumerate(sample(prompts, req, _stops(req.stop))):
                for j, c in enumerate(group):
                    generated += len(c.token_ids)
                    logprobs = None
                    if req.logprobs is not None:
                        toks = [lm.tokenizer.decode(c.token_ids[: k + 1])[len(lm.tokenizer.decode(c.token_ids[:k])):]
                                for k in range(len(c.token_ids))]
                        logprobs = {"tokens": toks, "token_logprobs": list(c.logprobs), "top_logprobs": None}
                    text = prompts[p] + c.text if req.echo else c.text
                    choices.append({"index": p * req.n + j, "text": text, "logprobs": logprobs,
                                    "finish_reason": _finish(c)})
        prompt_tokens = sum(len(lm.tokenizer.encode(p)) for p in prompts)
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": model_name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": generated,
                          "total_tokens": prompt_tokens + generated}}

    @app.post("/v1/chat/completions")
    def chat(req: ChatRequest) -> dict:
        check(req.model, req.stream)
        prompt = chat_prompt(req.messages)
        # A turn ends where the model starts writing the next speaker's line.
        stop = _stops(req.stop) + ("\nuser:", "\nsystem:")
        group = sample([prompt], req, stop)[0]
        generated = sum(len(c.token_ids) for c in group)
        prompt_tokens = len(lm.tokenizer.encode(prompt))
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": model_name,
                "choices": [{"index": j, "message": {"role": "assistant", "content": c.text.strip()},
                             "finish_reason": _finish(c)} for j, c in enumerate(group)],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": generated,
                          "total_tokens": prompt_tokens + generated}}

    return app
