"""`quartet demo` ends by telling the user `quartet serve --runs runs/demo`: every page must find
its model in that folder, also when the server starts from another working directory."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi.testclient import TestClient

from quartet.report.pipeline import DEMO_MODULES
from quartet.web.app import create_app

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TEST_CONFIG = {"prm": "prm/test.yaml", "refusal": "refusal/test.yaml", "infopattern": "infopattern/test.yaml",
               "denoise": "denoise/test.yaml"}


def test_every_page_serves_the_demo_runs_from_another_folder(tmp_path, monkeypatch):
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(repo)
    root = Path("runs/demo")  # relative, as `quartet demo` lays it out
    for system, module in DEMO_MODULES.items():
        importlib.import_module(module).run_demo(root / system, CONFIGS / TEST_CONFIG[system])
    monkeypatch.chdir(elsewhere)
    with TestClient(create_app(runs=repo / root, data_dir=tmp_path / "data")) as client:
        for info in ("/api/prm/info", "/api/refusal/info", "/api/denoise/info"):
            assert client.get(info).status_code == 200, info
        stance = client.post("/api/infopattern/stance", json={"messages": ["this is a fine idea"]})
        assert stance.status_code == 200, stance.text
        communities = client.get("/api/infopattern/redteam/communities")
        assert communities.status_code == 200, communities.text
        community = next(iter(communities.json()))
        red = client.post("/api/infopattern/redteam", json={"message": "this is a fine idea", "community": community,
                                                            "k": 1})
        assert red.status_code == 200 and len(red.json()["responses"]) == 1, red.text
        graphs = client.get("/api/infopattern/graphs").json()
        assert graphs, "the demo's claim graph is not on the Propagation graph page"
