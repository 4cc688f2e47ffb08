"""Each page in headless Chromium (Debian's), driven by Playwright: used as a person would use it."""

from __future__ import annotations

import json

from webfakes import XSS
from webpage import SKIP, wait_js

pytestmark = SKIP


def test_stance_page_chart_evidence_and_escaping(page, server, tmp_path):
    page.goto(f"{server}/infopattern/stance")
    assert page.locator("header nav a.active").inner_text() == "Stance"
    page.fill("#messages", f"good plan, good people\nbad idea\n{XSS}")
    page.click("#analyze")
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator(".bar").count() == 3
    assert page.locator(".bar-labels span").all_inner_texts() == ["against", "neutral", "favor"]
    rows = page.locator("#list .msg")
    assert rows.count() == 3
    assert rows.nth(0).locator(".tag").inner_text() == "favor"
    assert rows.nth(0).locator("mark").all_inner_texts() == ["good", "good"]
    assert rows.nth(1).locator(".tag").inner_text() == "against"
    # The markup is shown as text and never runs.
    assert XSS in rows.nth(2).inner_text()
    assert rows.nth(2).locator("img, script").count() == 0
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(tmp_path / "stance.png"), full_page=True)
    page.fill("#messages", "")
    page.click("#analyze")
    assert page.locator("#error").inner_text() == "Type at least one message."
    assert page.errors == []


def test_redteam_page_generates_k_responses(page, server, tmp_path):
    page.goto(f"{server}/infopattern/redteam")
    page.wait_for_selector("#community option[value=right]", state="attached")
    page.fill("#message", "Taxes should go down.")
    page.fill("#k", "2")
    page.locator("#stance").fill("0.5")  # a range input accepts fill() with a value
    assert page.locator("#stance-value").inner_text() == "0.5"
    page.click("#generate")
    page.wait_for_selector("#result:not([hidden])")
    responses = page.locator("#responses .response")
    assert responses.count() == 2
    assert "reply 0 at +0.5: not Taxes should go down." in responses.nth(0).inner_text()
    assert responses.nth(0).locator("mark").inner_text() == "reply"
    page.select_option("#community", "right")
    assert page.locator("#stance-value").inner_text() == "1.0"  # the slider follows the community
    page.fill("#k", "3")
    page.click("#generate")
    wait_js(page, "document.querySelectorAll('#responses .response').length === 3")
    assert page.locator("#used-stance").inner_text() == "1.0"
    page.screenshot(path=str(tmp_path / "redteam.png"), full_page=True)
    assert page.errors == []


def test_graph_page_slider_hover_click_and_export(page, server, tmp_path):
    page.goto(f"{server}/infopattern/graph")
    wait_js(page, "window.qgraph && window.qgraph.cy && window.qgraph.cy.nodes().length === 3")
    assert page.locator("#cy").get_attribute("data-visible-nodes") == "3"
    assert page.locator("#legend div").all_inner_texts() == ["left", "right"]
    page.screenshot(path=str(tmp_path / "graph_end.png"), full_page=True)
    # Drag the time slider to its left end: only the claim seen on day 1 is there.
    box = page.locator("#time").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 4, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    assert page.locator("#time").input_value() == "0"
    assert page.locator("#cy").get_attribute("data-visible-nodes") == "1"
    assert page.locator("#time-label").inner_text().startswith("2024-05-01")
    page.screenshot(path=str(tmp_path / "graph_start.png"), full_page=True)
    page.locator("#time").press("End")
    assert page.locator("#cy").get_attribute("data-visible-nodes") == "3"
    # Hover and click the node holding the <script> claim: tooltip and list show it as text.
    xy = page.evaluate("""() => { const n = window.qgraph.cy.getElementById('c2'); const p = n.renderedPosition();
        const b = document.getElementById('cy').getBoundingClientRect(); return [b.left + p.x, b.top + p.y]; }""")
    page.mouse.move(*xy)
    page.wait_for_selector("#tooltip", state="visible")
    assert "onerror" in page.locator("#tooltip").inner_text()
    page.mouse.click(*xy)
    page.wait_for_selector("#node-messages .node-message")
    assert XSS in page.locator("#node-messages").inner_text()
    assert page.locator("#node-messages img, #node-messages script").count() == 0
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(tmp_path / "graph_click.png"), full_page=True)
    with page.expect_download() as dl:
        page.click("#export-graphml")
    assert dl.value.suggested_filename == "demo.graphml"
    with page.expect_download() as dl:
        page.click("#export-png")
    png = tmp_path / "export.png"
    dl.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.errors == []


def test_data_page_upload_progress_then_explore(page, server, tmp_path):
    good = tmp_path / "mine.jsonl"
    good.write_text("\n".join(json.dumps({"id": f"u{i}", "text": t, "community": c, "author": "a",
                                          "created_at": f"2024-06-0{i + 1}T10:00:00Z"})
                              for i, (t, c) in enumerate([("Good schools need more funding now.", "left"),
                                                          ("Bad schools waste the funding now.", "right")])))
    page.goto(f"{server}/infopattern/data")
    page.set_input_files("#file", str(good))
    page.click("#upload")
    page.wait_for_selector("#explore:not([hidden])")
    assert page.locator("#stage").inner_text() == "done" and page.locator("#percent").inner_text() == "100%"
    assert page.locator("#summary").inner_text().startswith("2 messages")
    assert page.locator("#chart .value").all_inner_texts() == ["1 messages", "0 messages", "1 messages"]
    page.screenshot(path=str(tmp_path / "data.png"), full_page=True)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,body\n1,hello\n")
    page.set_input_files("#file", str(bad))
    page.click("#upload")
    wait_js(page, "document.getElementById('error').textContent.length > 0")
    assert "needs a 'text' column" in page.locator("#error").inner_text()
    page.set_input_files("#file", str(good))
    page.click("#upload")
    page.wait_for_selector("#explore:not([hidden])")
    page.click("#explore-link")
    wait_js(page, "window.qgraph && window.qgraph.cy && window.qgraph.cy.nodes().length > 0")
    assert page.locator("#graph-select").input_value().startswith("upload.")
    page.screenshot(path=str(tmp_path / "data_graph.png"), full_page=True)
    assert page.errors == []


def test_home_and_api_docs_pages_render_without_a_network(page, server, tmp_path):
    page.goto(f"{server}/")
    wait_js(page, "document.querySelectorAll('header nav a').length === 8")
    assert page.locator("header nav a").all_inner_texts() == ["Stance", "Red teaming", "Propagation graph",
                                                              "Your data", "PRM", "Refusal", "Denoise", "API"]
    page.goto(f"{server}/docs")  # Swagger UI from node_modules, not a CDN
    page.wait_for_selector("text=infopattern: propagation graphs", timeout=20_000)
    page.wait_for_selector("text=denoise: photos")
    assert page.locator(".opblock").count() == 17  # 16 system operations and /api/pages
    page.screenshot(path=str(tmp_path / "docs.png"))
    assert page.errors == []
