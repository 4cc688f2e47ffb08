"""The OpenAI-compatible server and the ``openai`` backend, talking over loopback."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from openai import OpenAI

from quartet.lm.backends import load_lm
from quartet.lm.protocol import SamplingParams
from quartet.lm.serve import create_openai_app

PROMPTS = ["tom has 3 apples", "question : what is 5 plus"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tiny_lm):
    """A running server over ``tiny_lm``; its first request answers 503 once (to exercise retries)."""
    app = create_openai_app(tiny_lm, model_name="tiny")
    hits = {"n": 0}

    @app.middleware("http")
    async def flaky_once(request, call_next):
        hits["n"] += 1
        if hits["n"] == 1 and request.url.path == "/v1/completions":
            from fastapi.responses import JSONResponse

            return JSONResponse({"error": "warming up"}, status_code=503)
        return await call_next(request)

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/v1", hits
    server.should_exit = True
    thread.join(10)


def test_remote_backend_matches_the_local_model(served, tiny_lm):
    url, hits = served
    remote = load_lm(url, backend="openai")
    assert remote.model == "tiny"  # discovered from /v1/models
    greedy = SamplingParams(max_new_tokens=6, temperature=0.0)
    local = tiny_lm.generate(PROMPTS, greedy)
    over_http = remote.generate(PROMPTS, greedy)
    assert hits["n"] >= 3  # the 503 was retried, not surfaced
    assert [g[0].text for g in over_http] == [g[0].text for g in local]
    for theirs, ours in zip(over_http, local, strict=True):
        assert theirs[0].logprobs == pytest.approx(ours[0].logprobs, abs=1e-5)
    continuations = [" and buys 4 more", " 9 ?"]
    assert remote.loglikelihood(PROMPTS, continuations) == [
        pytest.approx(x, abs=1e-5) for x in tiny_lm.loglikelihood(PROMPTS, continuations)
    ]
    sampled = SamplingParams(max_new_tokens=5, temperature=1.0, seed=3)
    first = remote.generate(PROMPTS, sampled, n=3)
    assert [len(g) for g in first] == [3, 3]
    assert [[c.text for c in g] for g in first] == [[c.text for c in g] for g in remote.generate(PROMPTS, sampled, n=3)]


def test_official_client_chat_and_errors(served):
    url, _ = served
    client = OpenAI(base_url=url, api_key="none", max_retries=2)
    chat = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "tom has"}],
                                          max_tokens=5, temperature=0)
    assert chat.choices[0].message.role == "assistant" and chat.usage.prompt_tokens > 0
    import openai

    with pytest.raises(openai.NotFoundError, match="not served here"):
        client.completions.create(model="gpt-9", prompt="hi", max_tokens=2)
    with pytest.raises(openai.BadRequestError, match="stream"):
        client.completions.create(model="tiny", prompt="hi", max_tokens=2, stream=True).close()
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        client.completions.create(model="tiny", prompt="hi", max_tokens=10**6)
    remote = load_lm(url, backend="openai")
    with pytest.raises(NotImplementedError, match="builtin or hf"):
        remote.next_token_logprobs(["hi"], [1])
