"""The red-teaming adapter over a real (tiny, untrained) built-in LM and LM-Switch saved in a run folder."""

from __future__ import annotations

import torch
from fastapi.testclient import TestClient

from quartet.web.app import create_app
from quartet.web.infopattern.models import SwitchRedTeam, char_spans, find_switch


def save_tiny_switch(runs):
    from quartet.infopattern.switch import DEFAULT_TEMPLATE, LMSwitch
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.model import ModelConfig
    from quartet.lm.tokenizer import Tokenizer

    texts = ["topic : taxes . message : taxes should go down now", "topic : taxes . message : taxes fund schools"]
    tok = Tokenizer.train(texts, kind="word", vocab_size=100)
    lm = BuiltinLM.create(ModelConfig(vocab_size=tok.vocab_size, dim=32, n_layers=2, n_heads=2, max_seq_len=96), tok)
    base = runs / "infopattern" / "demo" / "argq" / "lm" / "model"
    lm.save(base)
    switch = LMSwitch(32, rank=4, seed=0)
    with torch.no_grad():
        switch.p2.normal_(std=0.5)
    switch_dir = runs / "infopattern" / "demo" / "argq" / "switch"
    switch.save(switch_dir, {"template": DEFAULT_TEMPLATE, "label_field": "stance", "base_model": str(base)})
    return switch_dir


def test_char_spans_in_order_and_missing_dropped():
    assert char_spans("Taxes go down, taxes go up", ["taxes go", "TAXES", "nope", " "]) == [[0, 8], [15, 20]]


def test_switch_red_team_from_a_run_folder(tmp_path):
    runs = tmp_path / "runs"
    switch_dir = save_tiny_switch(runs)
    assert find_switch(runs) == switch_dir
    model = SwitchRedTeam.load(switch_dir)
    model.max_new_tokens = 6
    out = model.generate("Taxes should go down.", -1.0, 2)
    assert len(out) == 2
    for item in out:
        assert isinstance(item["text"], str)
        assert all(0 <= s < e <= len(item["text"]) for s, e in item["evidence"])
    # Through the app: the lifespan finds the switch under --runs and the page's API uses it.
    with TestClient(create_app(runs=runs, data_dir=tmp_path / "data")) as client:
        assert client.get("/api/infopattern/redteam/communities").json() == {"against the topic": -1.0,
                                                                            "for the topic": 1.0}
        r = client.post("/api/infopattern/redteam", json={"message": "Taxes should go down.",
                                                          "community": "for the topic", "k": 3})
        assert r.status_code == 200, r.text
        assert r.json()["stance"] == 1.0 and len(r.json()["responses"]) == 3


def test_a_broken_switch_folder_leaves_the_page_unavailable_not_the_app(tmp_path):
    runs = tmp_path / "runs"
    switch_dir = runs / "x" / "switch"
    switch_dir.mkdir(parents=True)
    (switch_dir / "switch.json").write_text('{"base_model": "/nowhere"}')
    with TestClient(create_app(runs=runs, data_dir=tmp_path / "data")) as client:
        assert client.get("/api/pages").status_code == 200
        assert client.get("/api/infopattern/redteam/communities").status_code == 503
