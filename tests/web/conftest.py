"""Fixtures: the web app's services with fake InfoPattern models and tiny real PRM / refusal / denoise runs."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
import uvicorn
from webfakes import FakeRedTeam, FakeStance, HashEmbedder, demo_graph
from webpage import ARGS, CHROMIUM, free_port
from webruns import make_denoise_run, make_prm_run, make_refusal_run

from quartet.web.app import create_app
from quartet.web.services import GraphStore, Services, load_run_models


@pytest.fixture(scope="session")
def system_runs(tmp_path_factory):
    """Run folders of the three systems (built once) and their models as the app loads them."""
    runs = tmp_path_factory.mktemp("runs")
    make_prm_run(runs / "prm" / "tiny")
    make_refusal_run(runs / "refusal" / "tiny")
    make_denoise_run(runs / "denoise" / "ablation" / "models" / "spa2-s0")
    make_denoise_run(runs / "denoise" / "ablation" / "models" / "ca-s0", attention="ca", levels=1)
    loaded = Services()
    load_run_models(loaded, runs, {})
    assert loaded.missing == {}, loaded.missing
    return {"runs": runs, "prm": loaded.prm, "refusal": loaded.refusal, "denoise": loaded.denoise}


@pytest.fixture
def services(tmp_path, system_runs) -> Services:
    store = GraphStore()
    store.add("demo", demo_graph(), "demo graph")
    return Services(stance=FakeStance(), redteam=FakeRedTeam(), embedder=HashEmbedder(), graphs=store,
                    data_dir=tmp_path / "appdata", max_upload_bytes=20_000, max_upload_messages=100,
                    prm=system_runs["prm"], refusal=system_runs["refusal"], denoise=system_runs["denoise"],
                    max_image_bytes=200_000, max_image_pixels=10_000)


@pytest.fixture
def server(services):
    port = free_port()
    config = uvicorn.Config(create_app(services=services), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    end = time.time() + 20
    while not srv.started:
        if time.time() > end:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
                                    args=ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        browser.close()
