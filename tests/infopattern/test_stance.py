"""Stance detectors: fit / predict / save / load for all three, evidence spans, metrics."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
import torch
from ip_helpers import toy_messages

import quartet.infopattern.redteam
import quartet.infopattern.report
import quartet.infopattern.stance.linear_head
import quartet.infopattern.stance.metrics
import quartet.infopattern.stance.switch_likelihood
import quartet.infopattern.switch
import quartet.infopattern.synthetic
from quartet.infopattern.messages import Message
from quartet.infopattern.stance import EncoderStance, TfidfStance, load_detector, stance_metrics
from quartet.infopattern.stance.switch_likelihood import BIN_NAMES, SwitchLikelihoodStance, best_runs


@pytest.mark.parametrize("module", [
    quartet.infopattern.stance.metrics, quartet.infopattern.stance.linear_head,
    quartet.infopattern.stance.switch_likelihood, quartet.infopattern.switch,
    quartet.infopattern.redteam, quartet.infopattern.report, quartet.infopattern.synthetic,
])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_tfidf_fit_predict_save_load(tmp_path):
    train, test = toy_messages(12), toy_messages(3)
    det = TfidfStance().fit(train)
    assert det.classes_ == ["con", "pro"]
    assert det.predict(test) == [m.stance for m in test]
    det.save(tmp_path / "d")
    assert not list((tmp_path / "d").glob("*.pkl"))
    again = load_detector(tmp_path / "d")
    assert np.allclose(again.predict_proba(test), det.predict_proba(test))
    with pytest.raises(ValueError, match="at least two stance classes"):
        TfidfStance().fit([m for m in train if m.stance == "pro"])
    with pytest.raises(ValueError, match="no stance label"):
        TfidfStance().fit([Message(id="x", text="t")])


def test_three_class_tfidf_round_trip(tmp_path):
    """sklearn keeps a multi-class coef_ in Fortran order; the saved weights must still load back exactly."""
    words = {"favor": "yes good great support", "against": "no bad awful oppose", "neutral": "maybe news today report"}
    train = [Message(id=f"{s}{i}", text=f"{words[s].split()[i % 4]} {words[s].split()[(i + 1) % 4]} x{i}", stance=s)
             for s in words for i in range(12)]
    det = TfidfStance().fit(train)
    det.save(tmp_path / "d")
    again = load_detector(tmp_path / "d")
    assert np.array_equal(again.coef_, det.coef_)
    assert np.allclose(again.decision_function(train), det.decision_function(train), atol=1e-5)
    assert again.predict(train) == det.predict(train) == [m.stance for m in train]


def test_encoder_target_aware_fit_save_load(tmp_path):
    train, test = toy_messages(6), toy_messages(2)
    det = EncoderStance(max_seq_length=32).fit(train)
    assert det.predict(test) == [m.stance for m in test]
    det.save(tmp_path / "e")
    again = load_detector(tmp_path / "e")
    assert np.allclose(again.predict_proba(test), det.predict_proba(test), atol=1e-5)
    meta = json.loads((tmp_path / "e" / "detector.json").read_text())
    assert meta["kind"] == "encoder" and meta["learned"]["classes_"] == ["con", "pro"]


def _gold_nll(detector, messages) -> float:
    proba = detector.predict_proba(messages)
    gold = [detector.classes_.index(m.stance) for m in messages]
    return float(-np.log(proba[np.arange(len(gold)), gold]).mean())


def test_encoder_finetuning_trains_the_encoder_and_round_trips(tmp_path):
    """One epoch of fine-tuning (three AdamW steps of two messages) moves the encoder and the head,
    lowers the training loss of the head-only fit it starts from, and saves as safetensors only."""
    train = toy_messages(3)
    kwargs = {"max_seq_length": 16, "batch_size": 4, "finetune_batch_size": 2}
    before = EncoderStance(**kwargs).fit(train)  # the same head fit that fine-tuning starts from
    det = EncoderStance(finetune_epochs=1, **kwargs).fit(train)
    assert det.finetuned_ and not det.encoder.training
    old, new = before.encoder.state_dict(), det.encoder.state_dict()
    unchanged = [k for k in old if torch.equal(old[k], new[k])]
    # mean pooling never reads BERT's pooler, so it alone gets no gradient
    assert unchanged and all(".pooler." in k for k in unchanged)
    assert not torch.equal(before.head_.weight, det.head_.weight)
    assert _gold_nll(det, train) < _gold_nll(before, train)
    assert det.predict(train) == before.predict(train) == [m.stance for m in train]

    det.save(tmp_path / "e")
    assert (tmp_path / "e" / "encoder" / "model.safetensors").is_file()
    assert not [p for p in (tmp_path / "e").rglob("*") if p.suffix in (".pkl", ".bin", ".pt", ".pth")]
    again = load_detector(tmp_path / "e")
    assert again.finetuned_ and again.finetune_batch_size == 2
    assert np.allclose(again.predict_proba(train), det.predict_proba(train), atol=1e-5)


def test_tfidf_linear_svm(tmp_path):
    """The SVM's scores go through a softmax: rows sum to 1, their argmax is ``predict`` (documented
    as scores, not calibrated probabilities), and a saved SVM gives back the same scores."""
    train, test = toy_messages(12), toy_messages(3)
    det = TfidfStance(model="svm").fit(train)
    assert det.classes_ == ["con", "pro"] and det.coef_.shape[0] == 2
    proba = det.predict_proba(test)
    assert proba.shape == (len(test), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert det.predict(test) == [det.classes_[i] for i in proba.argmax(axis=1)] == [m.stance for m in test]
    det.save(tmp_path / "svm")
    again = load_detector(tmp_path / "svm")
    assert isinstance(again, TfidfStance) and again.model == "svm"
    assert np.array_equal(again.coef_, det.coef_)
    assert np.allclose(again.decision_function(test), det.decision_function(test), atol=1e-6)
    assert again.predict(test) == det.predict(test)


def test_metrics_three_classes_and_errors():
    m = stance_metrics(["favor", "against", "neutral", "favor"], ["favor", "neutral", "neutral", "against"],
                       ["against", "favor", "neutral"])
    # favor: tp1 fn1 -> 2/3; against: tp0 -> 0; neutral: tp1 fp1 -> 2/3
    assert m["per_class_f1"] == pytest.approx({"against": 0.0, "favor": 2 / 3, "neutral": 2 / 3})
    assert m["f_avg"] == pytest.approx(1 / 3) and m["accuracy"] == 0.5
    assert m["confusion"] == [[0, 0, 1], [1, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="no examples"):
        stance_metrics([], [], ["a"])


def test_switch_likelihood_detector(trained_switch, tmp_path):
    root, lm, sw = trained_switch
    train, test = toy_messages(12), toy_messages(3)
    det = SwitchLikelihoodStance(root / "model", root / "switch", lm=lm, switch=sw).fit(train)
    assert det.predict(test) == [m.stance for m in test]
    bins = det.bin_proba(test)
    assert bins.shape == (6, 5) and np.allclose(bins.sum(1), 1.0)
    # a pro message puts more mass on the pro half than a con message does
    pro_mass = bins[:, 3:].sum(1) - bins[:, :2].sum(1)
    assert all(pro_mass[i] > pro_mass[j] for i, m in enumerate(test) if m.stance == "pro"
               for j, n in enumerate(test) if n.stance == "con")
    det.save(tmp_path / "s")
    again = load_detector(tmp_path / "s")  # loads the LM and the switch from their paths
    assert isinstance(again, SwitchLikelihoodStance) and again.template == "topic : {target} . message :"
    assert np.allclose(again.predict_proba(test), det.predict_proba(test), atol=1e-5)
    explained = det.explain(Message(id="x", text="i hate cats they are bad", target="cats"))
    assert set(explained["bins"]) == set(BIN_NAMES) and explained["bin"] in BIN_NAMES
    assert 1 <= len(explained["evidence"]) <= 2
    assert any(span["side"] == "anti" for span in explained["evidence"])
    for span in explained["evidence"]:
        assert span["text"] in "i hate cats they are bad" and span["end"] > span["start"]


def test_the_stance_api_serves_the_switch_detector_as_bins_with_evidence(trained_switch, tmp_path):
    """``quartet serve`` picks the switch-likelihood detector over others in the run folder and the
    Stance API returns its five bins and evidence spans that are character offsets of the message."""
    from fastapi.testclient import TestClient

    from quartet.web.app import create_app

    root, lm, sw = trained_switch
    runs = tmp_path / "runs"
    TfidfStance().fit(toy_messages(12)).save(runs / "a-tfidf")  # sorts first by name; the switch must win
    SwitchLikelihoodStance(root / "model", root / "switch", lm=lm, switch=sw).fit(toy_messages(12)).save(
        runs / "b-switch")
    text = "i hate cats they are bad"
    with TestClient(create_app(runs=runs, data_dir=tmp_path / "data")) as client:
        r = client.post("/api/infopattern/stance", json={"messages": [text], "target": "cats"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bins"] == list(BIN_NAMES)
    [result] = body["results"]
    assert sum(result["probs"]) == pytest.approx(1.0, abs=1e-5)
    assert 1 <= len(result["evidence"]) <= 2
    for start, end in result["evidence"]:
        assert 0 <= start < end <= len(text) and text[start:end].strip()


def test_best_runs_do_not_overlap_and_keep_sign():
    diff = torch.randn(40, generator=torch.Generator().manual_seed(0)).tolist()
    runs = best_runs(diff, n=4, max_width=3)
    assert len(runs) == 4
    for (a, b, score), (c, _, _) in zip(runs, runs[1:], strict=False):
        assert b <= c and score == pytest.approx(sum(diff[a:b]))
    assert best_runs([0.0, 0.0], n=2) == []
