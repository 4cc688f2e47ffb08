"""The PRM, refusal and denoise pages in headless Chromium, used as a person would (tiny real models)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from webfakes import XSS
from webpage import SKIP, wait_js
from webruns import noisy_png

pytestmark = SKIP


def test_prm_page_scores_steps_and_reranks_samples(page, server, services, tmp_path):
    page.goto(f"{server}/prm")
    page.wait_for_selector("#app:not([hidden])")
    assert page.locator("header nav a.active").inner_text() == "PRM"
    assert "prm/tiny" in page.locator("#model-info").inner_text() and "er2 PRM" in page.locator("#model-info").inner_text()
    # An example fills problem and solution; scoring shows one coloured chip per step.
    ex = services.prm.info["examples"][0]
    page.select_option("#example", "0")
    assert page.input_value("#problem") == ex["question"]
    page.click("#score")
    page.wait_for_selector("#scored:not([hidden])")
    steps = page.locator("#steps li.step")
    assert steps.count() == len(ex["steps"])
    assert steps.locator(".step-text").all_inner_texts() == ex["steps"]
    scores = [float(x) for x in steps.locator(".score").all_inner_texts()]
    assert all(0 <= s <= 1 for s in scores) and page.locator("#steps li.weakest").count() == 1
    assert steps.nth(0).locator(".score").evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert f"solution score {min(scores):.2f}" in page.locator("#scored-total").inner_text()
    # Hostile text in a step is shown as text, never run.
    page.fill("#solution", f"{ex['steps'][0]}\n{XSS}")
    page.click("#score")
    wait_js(page, "document.querySelectorAll('#steps li.step').length === 2")
    assert page.locator("#steps li.step").nth(1).locator(".step-text").inner_text() == XSS
    assert page.locator("#steps img, #steps script").count() == 0 and page.evaluate("window.__xss") is None
    assert "onerror" in page.locator("#unknown").inner_text()  # words the vocabulary lacks, listed as text
    page.screenshot(path=str(tmp_path / "prm_score.png"), full_page=True)
    # Sample 4 and watch the reranking: first as sampled, then best first.
    page.fill("#n", "4")
    page.click("#rerank")
    page.wait_for_selector("#ranked:not([hidden])")
    wait_js(page, "document.getElementById('candidates').dataset.order === 'prm'")
    cards = page.locator("#candidates .cand")
    assert cards.count() == 4
    assert [int(r) for r in cards.evaluate_all("cs => cs.map(c => c.dataset.rank)")] == [1, 2, 3, 4]
    assert cards.nth(0).locator(".tag.best").inner_text() == "PRM's choice"
    assert "of 4 right" in page.locator("#ranked-summary").inner_text()  # an example: its gold answer is known
    page.wait_for_timeout(800)  # the animation ends
    page.screenshot(path=str(tmp_path / "prm_rerank.png"), full_page=True)
    page.click("#order-sampled")
    assert cards.evaluate_all("cs => cs.map(c => c.dataset.sample)") == ["0", "1", "2", "3"]
    assert page.errors == []


class EchoRefusal:
    """Answers with the question itself (hostile text included) and P(sure) = 0.8."""

    info = {"run": "fake", "methods": ["rtuning"], "default_method": "rtuning", "threshold": 0.5, "examples": []}

    def ask(self, question, method):
        return {"prediction": question, "answer_conf": 0.6, "p_sure": 0.8, "refusal": False}

    def unknown_words(self, text):
        return []


def test_refusal_page_answers_declines_and_escapes(page, server, services, tmp_path):
    page.goto(f"{server}/refusal")
    page.wait_for_selector("#app:not([hidden])")
    assert page.locator("#method option").all_inner_texts() == ["rtuning", "vanilla"]
    page.select_option("#example", "0")
    assert page.input_value("#question") == "Where was Ava Lind born?"
    page.locator("#threshold").fill("1")  # every P(sure) is at or below 1: it declines
    page.click("#ask")
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#verdict").inner_text().startswith("Declines")
    assert "at or below the threshold 1.00" in page.locator("#reason").inner_text()
    assert "gold answer: Paris" in page.locator("#expected").inner_text()
    p_sure = float(page.locator("#p-sure").inner_text())
    assert 0 < p_sure < 1
    page.screenshot(path=str(tmp_path / "refusal_declines.png"), full_page=True)
    page.locator("#threshold").fill("0")
    page.press("#question", "Enter")
    wait_js(page, "document.getElementById('verdict').textContent === 'Answers'")
    assert f"P(sure) = {p_sure:.2f} is above the threshold 0.00" in page.locator("#reason").inner_text()
    # The model's answer is text, whatever it contains.
    services.refusal = EchoRefusal()
    page.reload()
    page.wait_for_selector("#app:not([hidden])")
    page.fill("#question", XSS)
    page.click("#ask")
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#answer").inner_text() == " ".join(XSS.split())
    assert page.locator("#result img, #result script").count() == 0 and page.evaluate("window.__xss") is None
    assert page.locator("#verdict").inner_text() == "Answers"
    page.screenshot(path=str(tmp_path / "refusal_answers.png"), full_page=True)
    assert page.errors == []


def test_denoise_page_upload_slider_download_and_bad_file(page, server, tmp_path):
    photo = noisy_png(tmp_path / "street.png", (64, 48))
    page.goto(f"{server}/denoise")
    page.wait_for_selector("#app:not([hidden])")
    assert "spa attention (2 pyramid levels)" in page.locator("#model-info").inner_text()
    assert page.locator("#limits").inner_text() == "0 MiB and 0.0 megapixels"  # the test fixture's tiny limits
    page.set_input_files("#file", str(photo))
    page.click("#denoise")
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#stats").inner_text().startswith("64×48 pixels")
    assert page.locator("#after").evaluate("i => [i.naturalWidth, i.naturalHeight]") == [64, 48]
    assert page.locator("#after").evaluate("i => i.style.clipPath") == "inset(0px 0px 0px 50%)"
    page.screenshot(path=str(tmp_path / "denoise_half.png"), full_page=True)
    page.locator("#split").fill("20")
    assert page.locator("#after").evaluate("i => i.style.clipPath") == "inset(0px 0px 0px 20%)"
    assert page.locator("#divider").evaluate("d => d.style.left") == "20%"
    with page.expect_download() as dl:
        page.click("#download")
    assert dl.value.suggested_filename == "street-denoised.png"
    saved = tmp_path / "saved.png"
    dl.value.save_as(saved)
    out = np.asarray(Image.open(saved))
    assert out.shape == (48, 64, 3) and not np.array_equal(out, np.asarray(Image.open(photo)))
    # Not an image: a clear message, and the last result stays.
    bad = tmp_path / "notes.png"
    bad.write_text("<script>window.__xss=3</script>")
    page.set_input_files("#file", str(bad))
    page.click("#denoise")
    wait_js(page, "document.getElementById('error').textContent.length > 0")
    assert page.locator("#error").inner_text() == "notes.png: not a PNG or JPEG image"
    assert page.evaluate("window.__xss") is None
    assert page.errors == []


def test_pages_say_clearly_when_no_run_exists(page, server, services, tmp_path):
    for name in ("prm", "refusal", "denoise"):
        setattr(services, name, None)
    services.missing = {"prm": "no finished PRM run was found under runs"}
    page.goto(f"{server}/prm")
    wait_js(page, "document.getElementById('unavailable').textContent.length > 0")
    text = page.locator("#unavailable").inner_text()
    assert text.startswith("no finished PRM run was found under runs. Run `quartet prm pipeline")
    assert page.locator("#app").is_hidden()
    page.screenshot(path=str(tmp_path / "prm_missing.png"), full_page=True)
    for name, command in (("refusal", "quartet refusal pipeline"), ("denoise", "quartet denoise train")):
        page.goto(f"{server}/{name}")
        wait_js(page, "document.getElementById('unavailable').textContent.length > 0")
        assert command in page.locator("#unavailable").inner_text()
    assert page.errors == []


