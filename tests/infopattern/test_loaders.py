from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from quartet.core.records import BadRecordError
from quartet.infopattern.cleaning import CleaningConfig, clean_messages, clean_text
from quartet.infopattern.loaders import (
    TextPolicy,
    load_argq,
    load_catalonia,
    load_csv,
    load_jsonl,
    load_rumoureval,
)
from quartet.infopattern.messages import Message, stance_value


def test_cleaning_rules_each_and_all():
    text = "RT @bob: Read this https://t.co/abc and www.x.org, @amy  said"
    assert clean_text(text) == "Read this and , said"
    assert clean_text(text, urls=False, mentions=False) == "Read this https://t.co/abc and www.x.org, @amy said"
    assert clean_text(text, rt=False, urls=False, mentions=True) == "RT : Read this https://t.co/abc and www.x.org, said"
    assert clean_text("mail a@b.com", mentions=True) == "mail a@b.com"  # not a mention
    assert clean_text("x http://u", placeholder_url="<url>") == "x <url>"
    msgs = [Message(id="1", text="@a @b"), Message(id="2", text="@a hi")]
    cleaned = clean_messages(msgs)
    assert [m.text for m in cleaned] == ["@a @b", "hi"]  # all-removed text keeps the original
    assert clean_messages(msgs, CleaningConfig(enabled=False)) == msgs


def test_message_json_roundtrip_and_stance_value():
    m = Message(id="1", text="t", created_at=datetime(2020, 1, 2, tzinfo=UTC), stance="con")
    assert Message.from_json(json.loads(json.dumps(m.to_json()))) == m
    assert stance_value(m.stance) == -1.0
    with pytest.raises(ValueError, match="unknown Message fields"):
        Message.from_json({"id": "1", "text": "t", "bogus": 1})


def test_jsonl_mapping_and_times(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        json.dumps({"body": "hello", "tid": 7, "ts": "2020-01-02T03:04:05"}) + "\n\n"
        + json.dumps({"body": "bye", "tid": 8, "ts": 1577934245}) + "\n"
    )
    msgs = load_jsonl(path, {"text": "body", "id": "tid", "created_at": "ts"})
    assert [m.id for m in msgs] == ["7", "8"]
    assert msgs[0].created_at == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert msgs[1].created_at == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_bad_inputs_get_clear_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(BadRecordError, match="empty"):
        load_csv(empty)
    blank = tmp_path / "blank.csv"
    blank.write_text("text\n   \n")
    with pytest.raises(BadRecordError, match=r"line 2.*empty text"):
        load_csv(blank)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"text\nok\ncaf\xe9\n")
    with pytest.raises(BadRecordError, match=r"line 3.*not UTF-8"):
        load_csv(latin)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("body,who\nhi,me\n")
    with pytest.raises(BadRecordError, match=r"'text'.*header has \['body', 'who'\]"):
        load_csv(wrong)
    jl = tmp_path / "wrong.jsonl"
    jl.write_text(json.dumps({"text": "a"}) + "\n" + json.dumps({"body": "b"}) + "\n")
    with pytest.raises(BadRecordError, match=r"line 2.*'text'.*missing"):
        load_jsonl(jl)
    assert [m.text for m in load_jsonl(jl, skip_bad=True)] == ["a"]
    with pytest.raises(ValueError, match="unknown Message fields"):
        load_csv(wrong, {"text": "body", "nope": "who"})


def test_huge_text_truncated_or_rejected(tmp_path):
    path = tmp_path / "huge.jsonl"
    path.write_text(json.dumps({"text": "x" * 10_001}) + "\n" + json.dumps({"text": "short"}) + "\n")
    msgs = load_jsonl(path)
    assert len(msgs[0].text) == 10_000 and msgs[1].text == "short"
    with pytest.raises(BadRecordError, match="10001 characters, more than the limit 10000"):
        load_jsonl(path, policy=TextPolicy(on_long="error"))


def test_csv_multiline_quoted_line_numbers(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('text,side\n"two\nlines",a\n,b\n')
    with pytest.raises(BadRecordError, match="line 4"):
        load_csv(path, {"text": "text", "community": "side"})


def test_argq_dev(social_root):
    msgs = load_argq("dev", social_root)
    assert len(msgs) == 3208
    assert {m.stance for m in msgs} == {"pro", "con"}
    # the dev topics are unseen in train (ArgQ splits by topic), which makes stance a zero-shot task
    assert len({m.target for m in msgs}) == 7
    assert not {m.target for m in msgs} & {m.target for m in load_argq("train", social_root)}


def test_rumoureval_dev_threads(social_root):
    msgs = load_rumoureval("dev", social_root)
    assert len(msgs) == 281
    by_stance = {s: sum(m.stance == s for m in msgs) for s in ("comment", "support", "deny", "query")}
    assert by_stance == {"comment": 173, "support": 69, "deny": 11, "query": 28}
    roots = [m for m in msgs if m.parent_id is None]
    assert len(roots) == 25 and all(m.id == m.thread_id for m in roots)
    ids = {m.id for m in msgs}
    assert all(m.created_at is not None and m.created_at.tzinfo is not None for m in msgs)
    # a reply's timestamp is not earlier than its (annotated) parent's
    by_id = {m.id: m for m in msgs}
    assert all(by_id[m.parent_id].created_at <= m.created_at for m in msgs if m.parent_id in ids)


def test_catalonia_val(social_root):
    ca = load_catalonia("val", "catalan", social_root)
    es = load_catalonia("dev", "spanish", social_root)
    assert (len(ca), len(es)) == (2010, 2015)
    assert {m.stance for m in ca} == {"favor", "against", "neutral"} and ca[0].lang == "ca"
