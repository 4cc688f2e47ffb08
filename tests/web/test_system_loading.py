"""Finding and loading the PRM / refusal / denoise runs under --runs; pages when a run is missing or broken."""

from __future__ import annotations

from fastapi.testclient import TestClient
from webruns import make_denoise_run, make_prm_run

from quartet.web.app import create_app
from quartet.web.services import load_services


def test_no_runs_means_a_clear_503_on_every_system_page(tmp_path):
    (tmp_path / "runs").mkdir()
    app = create_app(runs=tmp_path / "runs", data_dir=tmp_path / "web")
    with TestClient(app, raise_server_exceptions=False) as c:
        for path, command in [("/api/prm/info", "quartet prm pipeline"), ("/api/refusal/info", "quartet refusal pipeline"),
                              ("/api/denoise/info", "quartet denoise train")]:
            r = c.get(path)
            assert r.status_code == 503, path
            assert "no finished" in r.json()["detail"] and command in r.json()["detail"]
        for page in ("/prm", "/refusal", "/denoise"):
            assert c.get(page).status_code == 200  # the page itself loads and shows the message
        titles = [p["title"] for p in c.get("/api/pages").json()]
        assert titles[-3:] == ["PRM", "Refusal", "Denoise"]


def test_a_broken_run_is_reported_and_the_others_still_load(tmp_path):
    runs = tmp_path / "runs"
    make_prm_run(runs / "prm" / "a")
    (runs / "prm" / "a" / "prm" / "er2" / "model" / "model.safetensors").write_bytes(b"not weights")
    make_denoise_run(runs / "denoise" / "d")
    services = load_services(runs, tmp_path / "web")
    assert services.prm is None and services.denoise is not None
    assert services.missing["prm"].startswith("the PRM run a could not be loaded (")
    with TestClient(create_app(services=services), raise_server_exceptions=False) as c:
        assert "could not be loaded" in c.get("/api/prm/info").json()["detail"]
        assert c.get("/api/denoise/info").status_code == 200


def test_picks_override_the_search(tmp_path):
    runs = tmp_path / "runs"
    make_denoise_run(runs / "spa", attention="spa", levels=3)
    other = make_denoise_run(tmp_path / "elsewhere" / "ca", attention="ca", levels=1)
    assert load_services(runs, tmp_path / "web").denoise.info["attention"] == "spa"
    picked = load_services(runs, tmp_path / "web", picks={"denoise": other})
    assert picked.denoise.info["attention"] == "ca"
