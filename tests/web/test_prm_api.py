"""The PRM page's API on a tiny real run (policy + PRM built in code), and with a fake PRM for exact values."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from webfakes import XSS

from quartet.prm.answers import numeric_equal
from quartet.prm.rollout import policy_prompt
from quartet.prm.scoring import step_scores
from quartet.web.app import create_app
from quartet.web.services import get_prm


@pytest.fixture
def client(services):
    with TestClient(create_app(services=services), raise_server_exceptions=False) as c:
        yield c


def test_info_names_the_run_the_er_prm_and_examples(client):
    info = client.get("/api/prm/info").json()
    assert info["run"] == "prm/tiny"
    assert info["prm"] == "er2" and info["prms"] == ["er2", "hard"]  # soft never finished training
    assert len(info["examples"]) == 4 and info["examples"][0]["steps"][-1].startswith("The answer is")


def test_score_gives_the_library_scores_per_step_and_their_min(client, services):
    ex = services.prm.info["examples"][0]
    solution = "\n".join(ex["steps"]) + "\n\n"
    body = client.post("/api/prm/score", json={"problem": ex["question"], "solution": solution}).json()
    expected = step_scores(services.prm.prm, [policy_prompt(ex["question"])], [ex["steps"]])[0]
    assert [s["text"] for s in body["steps"]] == ex["steps"]  # blank lines are not steps
    assert [s["score"] for s in body["steps"]] == pytest.approx(expected, abs=1e-6)
    assert body["score"] == pytest.approx(min(expected))
    assert body["weakest"] == expected.index(min(expected))
    assert body["unknown_words"] == []


def test_score_reports_unknown_words_and_returns_text_verbatim(client):
    body = client.post("/api/prm/score", json={"problem": "Zebra has 3 apples.", "solution": XSS}).json()
    assert body["steps"][0]["text"] == XSS  # the page shows it with textContent (browser test)
    assert "Zebra" in body["unknown_words"]


def test_bad_inputs_are_422_with_a_reason(client):
    assert client.post("/api/prm/score", json={"problem": "x", "solution": " \n \n"}).json()["detail"].startswith(
        "the solution has no steps")
    assert client.post("/api/prm/score", json={"problem": "  ", "solution": "a"}).status_code == 422
    r = client.post("/api/prm/score", json={"problem": "x", "solution": "\n".join(["a"] * 41)})
    assert r.status_code == 422 and "41 steps" in r.json()["detail"]
    r = client.post("/api/prm/score", json={"problem": "x", "solution": "one two " * 100})
    assert r.status_code == 422 and "this PRM reads at most 160" in r.json()["detail"]
    assert client.post("/api/prm/rerank", json={"problem": "x", "n": 33}).status_code == 422
    r = client.post("/api/prm/rerank", json={"problem": "word " * 200, "n": 2})
    assert r.status_code == 422 and "too long for this policy" in r.json()["detail"]


def test_rerank_samples_n_and_orders_by_min_step_score(client, services):
    ex = services.prm.info["examples"][1]
    req = {"problem": ex["question"], "n": 4, "seed": 3, "gold": ex["gold"]}
    body = client.post("/api/prm/rerank", json=req).json()
    cands = body["candidates"]
    assert sorted(c["sample"] for c in cands) == [0, 1, 2, 3]
    assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)
    assert body["best"] == cands[0]["sample"]
    for c in cands:
        if c["steps"]:
            assert c["score"] == pytest.approx(min(s["score"] for s in c["steps"]))
        assert c["correct"] is numeric_equal(c["answer"], ex["gold"])
    # Same seed, same samples and ranking.
    assert client.post("/api/prm/rerank", json=req).json() == body


class FakePRM:
    """Samples fixed solutions; a step's score is 0.1 × its number of words (hand-checkable)."""

    info = {"run": "fake", "prm": "er2", "prms": ["er2"], "aggregate": "min", "examples": []}
    texts = ["a b c\nThe answer is 4", "a b c d e\nx y z w v u\nThe answer is 5", "", "a\nThe answer is 5"]

    def score(self, question, solutions):
        return [[0.1 * len(s.split()) for s in steps] for steps in solutions]

    def sample(self, question, n, seed):
        return self.texts[:n]

    def unknown_words(self, text):
        return []


def test_rerank_with_a_fake_prm_gives_hand_computed_ranks(services):
    app = create_app(services=services)
    app.dependency_overrides[get_prm] = FakePRM
    with TestClient(app) as c:
        body = c.post("/api/prm/rerank", json={"problem": "q", "n": 4, "gold": "5"}).json()
    # min over steps: sample 0 -> min(0.3, 0.4) = 0.3; 1 -> 0.4; 2 -> no steps (last); 3 -> 0.1
    assert [c["sample"] for c in body["candidates"]] == [1, 0, 3, 2]
    assert [c["score"] for c in body["candidates"]] == pytest.approx([0.4, 0.3, 0.1, -1.0])
    assert [c["correct"] for c in body["candidates"]] == [True, False, True, False]
    assert body["best"] == 1 and body["majority"] == "5"
