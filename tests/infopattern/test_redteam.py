"""Red teaming: generation with the switch, the chat-endpoint backend, and the evaluation metrics."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from ip_helpers import recording_generate, toy_messages

from quartet.infopattern.messages import Message
from quartet.infopattern.redteam import (
    ChatEndpoint,
    distinct_n,
    evaluate_redteam,
    flip_rate,
    generate_responses,
    highlight_html,
    perplexity,
    target_value,
)
from quartet.infopattern.stance import TfidfStance
from quartet.lm.protocol import SamplingParams


def test_distinct_and_perplexity_by_hand(trained_switch):
    assert distinct_n(["a b c", "a b d"], 1) == 4 / 6 and distinct_n(["a b c", "a b d"], 2) == 3 / 4
    assert distinct_n([""], 1) == 0.0
    _, lm, _ = trained_switch
    prompts, texts = ["topic : cats . message :"] * 2, ["i love cats", "cats are bad"]
    lps = lm.loglikelihood(prompts, [" " + t for t in texts])
    expected = math.exp(-sum(map(sum, lps)) / sum(map(len, lps)))
    assert perplexity(lm, prompts, texts + [""][:0]) == pytest.approx(expected)
    assert math.isnan(perplexity(lm, ["p"], ["  "]))


def test_generation_respects_the_length_limit_and_the_switch(trained_switch):
    _, lm, sw = trained_switch
    src = [Message(id="a", text="i love cats", target="cats", stance="pro")]
    assert target_value(src[0]) == -1.0
    with pytest.raises(ValueError, match="no side"):
        target_value(Message(id="b", text="x", stance="comment"))
    params = SamplingParams(max_new_tokens=3, temperature=1.0, seed=0)
    out = generate_responses(lm, sw, src, [-1.0], 5, params)[0]
    assert len(out) == 5 and all(r.finish_reason in ("eos", "length") for r in out)
    assert all(len(lm.tokenizer.encode(r.text)) <= 3 for r in out) and all(r.s == -1.0 for r in out)
    # the same seed with the switch at 0 is the unswitched model: it differs from s = -1 for some sample
    base = generate_responses(lm, sw, src, [0.0], 5, SamplingParams(max_new_tokens=8, seed=0))[0]
    swapped = generate_responses(lm, sw, src, [-2.0], 5, SamplingParams(max_new_tokens=8, seed=0))[0]
    assert [r.text for r in base] != [r.text for r in swapped]
    with pytest.raises(ValueError, match="sources but"):
        generate_responses(lm, sw, src, [1.0, 2.0], 1, params)


def test_evaluate_redteam_rows_and_examples(trained_switch):
    _, lm, sw = trained_switch
    detector = TfidfStance().fit(toy_messages(12))
    sources = toy_messages(2) + [Message(id="n", text="hmm", stance="comment", target="cats")]
    result = evaluate_redteam(lm, sw, detector, sources, [0.0, 2.0], 3, SamplingParams(max_new_tokens=10, seed=0),
                              n_examples=2)
    assert result["n_sources"] == 4  # the side-less message is left out
    assert [r["abs_s"] for r in result["rows"]] == [0.0, 2.0]
    for row in result["rows"]:
        assert row["n_responses"] == 12 and 0 <= row["flip_rate"] <= 1 and 0 < row["distinct_1"] <= 1
    # the trained switch at |s| = 2 writes the opposite side more often than the base model does
    assert result["rows"][1]["flip_rate"] > result["rows"][0]["flip_rate"]
    assert set(result["rows"][0]["flip_rate_by"]) == set()
    assert len(result["examples"]) == 2 and result["examples"][0]["target_side"] == "con"
    assert all(r["s"] == -2.0 for r in result["examples"][0]["responses"])


def test_flip_rate_counts_the_wanted_side_only():
    detector = TfidfStance().fit(toy_messages(12))
    responses = [Message(id="1", text="i love cats they are great", target="cats"),
                 Message(id="2", text="i hate cats they are bad", target="cats"),
                 Message(id="3", text="(empty)", target="cats")]
    # wanted sides: con (-1) for the first two, pro (+1) for the empty one
    assert flip_rate(detector, responses, [-1.0, -1.0, 1.0]) == pytest.approx(1 / 3)
    assert flip_rate(detector, responses[:2], [1.0, -1.0]) == 1.0


def test_highlight_escapes_user_text():
    out = highlight_html("<b>cats</b> are bad", [{"text": "are bad", "side": "anti"}])
    assert out == '&lt;b&gt;cats&lt;/b&gt; <mark class="anti">are bad</mark>'


class _FakeChat(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeChat.seen.append({"body": body, "auth": self.headers.get("Authorization")})
        # a server that ignores n and answers one choice at a time
        reply = {"choices": [{"message": {"content": f" reply {len(_FakeChat.seen)} "}, "finish_reason": "stop"}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_chat_endpoint_persona_and_retries():
    server = HTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = ChatEndpoint(f"http://127.0.0.1:{server.server_port}/v1", "m", api_key="k", timeout=5)
        source = Message(id="s", text="ban it now", target="gambling", stance="pro")
        out = endpoint.respond(source, "con", 2, SamplingParams(max_new_tokens=20, temperature=0.5, seed=3))
    finally:
        server.shutdown()
    assert [r.text for r in out] == ["reply 1", "reply 2"]
    first = _FakeChat.seen[0]
    assert first["auth"] == "Bearer k" and first["body"]["n"] == 2 and first["body"]["max_tokens"] == 20
    system, user = first["body"]["messages"]
    assert "con" in system["content"] and "gambling" in system["content"] and user["content"] == "ban it now"
    with pytest.raises(ValueError, match="chat endpoint"):
        ChatEndpoint("http://127.0.0.1:9", "m", timeout=1).respond(source, "con", 1, SamplingParams())


def test_chat_endpoint_writes_from_a_topic_alone():
    _FakeChat.seen.clear()
    server = HTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = ChatEndpoint(f"http://127.0.0.1:{server.server_port}/v1", "m", timeout=5)
        out = endpoint.respond(Message(id="t", text="", target="gambling"), "con", 1, SamplingParams())
    finally:
        server.shutdown()
    assert [r.text for r in out] == ["reply 1"] and out[0].target == "gambling"
    system, user = _FakeChat.seen[0]["body"]["messages"]
    assert "new post" in system["content"] and "con" in system["content"] and user["content"] == "gambling"
    with pytest.raises(ValueError, match="neither text nor a target"):
        endpoint.respond(Message(id="x", text=" "), "con", 1, SamplingParams())


def test_responses_answer_the_source_message(trained_switch):
    """The LM is prompted with the source text (the reply template), and the text changes what it writes."""
    from quartet.infopattern.redteam import reply_prompt

    _, lm, sw = trained_switch
    seen: list[str] = []
    lm.generate = recording_generate(lm, seen)
    try:
        love = Message(id="a", text="i love cats they are great", target="cats", stance="pro")
        hate = Message(id="b", text="i hate cats they are bad", target="cats", stance="pro")
        params = SamplingParams(max_new_tokens=8, seed=0)
        out_love = generate_responses(lm, sw, [love], [-1.0], 4, params)[0]
        out_hate = generate_responses(lm, sw, [hate], [-1.0], 4, params)[0]
        topic_only = generate_responses(lm, sw, [love], [-1.0], 1, params, reply_template="")[0]
    finally:
        del lm.generate
    assert seen[0] == reply_prompt(love) == "topic : cats . message : i love cats they are great . reply :"
    assert seen[1] == "topic : cats . message : i hate cats they are bad . reply :"
    assert seen[2] == "topic : cats . message :" and len(topic_only) == 1  # an older, topic-only switch
    assert len(out_love) == len(out_hate) == 4
    # the source text reaches the model: the same reply is scored differently after the two sources
    reply = [" cats are terrible awful pets"]
    assert lm.loglikelihood([seen[0]], reply)[0] != pytest.approx(lm.loglikelihood([seen[1]], reply)[0])


def test_chat_endpoint_replies_get_evidence_from_a_local_switch(trained_switch):
    from quartet.infopattern.redteam import Response, add_evidence

    _, lm, sw = trained_switch
    source = Message(id="s", text="i love cats they are great", target="cats", stance="pro")
    replies = [Response("s", "cats", 0.0, "i hate cats they are bad", "stop"), Response("s", "cats", 0.0, "", "stop")]
    scored = add_evidence(lm, sw, source, replies, s=-1.0)
    assert scored[1].evidence == []  # an empty reply has nothing to highlight
    spans = scored[0].evidence
    assert 1 <= len(spans) <= 2 and all(sp["text"] and sp["side"] in ("pro", "anti") for sp in spans)
    assert all(sp["text"] in "i hate cats they are bad" for sp in spans)
    # the switch was trained on con texts at s = -1: the strongest span in a con reply reads as anti
    assert max(spans, key=lambda sp: abs(sp["score"]))["side"] == "anti"
