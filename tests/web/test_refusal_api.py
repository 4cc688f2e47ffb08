"""The refusal page's API on a tiny real run: answer, P(sure) as the evaluation computes it, the decision."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from quartet.refusal.certainty import certainty_prompt, certainty_token_ids, p_sure_batch
from quartet.web.app import create_app


@pytest.fixture
def client(services):
    with TestClient(create_app(services=services), raise_server_exceptions=False) as c:
        yield c


def test_info_lists_the_tuned_models_rtuning_first(client):
    info = client.get("/api/refusal/info").json()
    assert info["run"] == "refusal/tiny" and info["methods"] == ["rtuning", "vanilla"]
    assert info["default_method"] == "rtuning" and info["threshold"] == 0.5
    assert [e["question"] for e in info["examples"]] == ["Where was Ava Lind born?", "Which company did Omar Vance found?"]


def test_p_sure_is_the_certainty_probability_and_the_threshold_decides(client, services):
    q = "Where was Ava Lind born?"
    body = client.post("/api/refusal/ask", json={"question": q}).json()
    lm = services.refusal.models.get("rtuning")
    text = certainty_prompt(f"Question: {q} Answer:", body["answer"])
    [expected] = p_sure_batch(lm.next_token_logprobs([text], list(certainty_token_ids(lm.tokenizer))))
    assert body["method"] == "rtuning" and body["p_sure"] == pytest.approx(expected, abs=1e-6)
    assert body["confidence"] == pytest.approx((body["answer_confidence"] + body["p_sure"]) / 2)
    assert body["declines"] is (body["p_sure"] <= 0.5)
    low = client.post("/api/refusal/ask", json={"question": q, "threshold": 0.0}).json()
    high = client.post("/api/refusal/ask", json={"question": q, "threshold": 1.0}).json()
    assert (low["declines"], high["declines"]) == (False, True)
    assert "above the threshold 0.00" in low["reason"] and "at or below the threshold 1.00" in high["reason"]


def test_vanilla_declines_only_with_a_refusal_phrase(client):
    body = client.post("/api/refusal/ask", json={"question": "Where was Ava Lind born?", "method": "vanilla",
                                                 "threshold": 1.0}).json()
    assert body["declines"] is False and "never taught to be unsure" in body["reason"]
    assert body["confidence"] == pytest.approx(body["answer_confidence"])


def test_bad_questions_are_422(client):
    r = client.post("/api/refusal/ask", json={"question": "Where?", "method": "rtuning_u"})
    assert r.status_code == 422 and "this run has rtuning, vanilla" in r.json()["detail"]
    assert client.post("/api/refusal/ask", json={"question": "   "}).status_code == 422
    assert client.post("/api/refusal/ask", json={"question": "x", "threshold": 1.5}).status_code == 422
    r = client.post("/api/refusal/ask", json={"question": "Where was Ava Lind born? " * 30})
    assert r.status_code == 422 and "too long for this model" in r.json()["detail"]
    body = client.post("/api/refusal/ask", json={"question": "Where was Zorblax born?"}).json()
    assert body["unknown_words"] == ["Zorblax"]
