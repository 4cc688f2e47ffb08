"""The web API through FastAPI's TestClient, with tiny fake models injected."""

from __future__ import annotations

import json
import time

import networkx as nx
import pytest
from fastapi.testclient import TestClient
from webfakes import XSS, FakeStance

from quartet.web.app import create_app, node_modules
from quartet.web.services import get_stance


@pytest.fixture
def client(services):
    with TestClient(create_app(services=services), raise_server_exceptions=False) as c:
        yield c


def wait_job(client, job_id, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        job = client.get(f"/api/infopattern/jobs/{job_id}").json()
        if job["state"] in ("done", "error"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_stance_distribution_and_evidence(client):
    r = client.post("/api/infopattern/stance", json={"messages": ["good good stuff", "bad idea", "  "]})
    assert r.status_code == 200
    body = r.json()
    assert body["bins"] == ["against", "neutral", "favor"]
    assert [x["label"] for x in body["results"]] == ["favor", "against"]  # the blank line is dropped
    assert body["results"][0]["evidence"] == [[0, 4], [5, 9]]
    means = [(a + b) / 2 for a, b in zip(body["results"][0]["probs"], body["results"][1]["probs"], strict=True)]
    assert body["distribution"] == pytest.approx(means)
    assert client.post("/api/infopattern/stance", json={"messages": [" "]}).status_code == 422
    assert client.post("/api/infopattern/stance", json={"messages": []}).status_code == 422
    too_long = client.post("/api/infopattern/stance", json={"messages": ["x" * 10_001]})
    assert too_long.status_code == 422 and "10001 characters" in too_long.json()["detail"]


def test_stance_text_comes_back_verbatim_as_json(client):
    r = client.post("/api/infopattern/stance", json={"messages": [XSS]})
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["results"][0]["text"] == XSS  # escaping is the page's job (textContent), tested in the browser


def test_missing_model_is_a_clear_503(services):
    services.stance = None
    services.redteam = None
    with TestClient(create_app(services=services)) as c:
        r = c.post("/api/infopattern/stance", json={"messages": ["hi"]})
        assert r.status_code == 503 and "quartet infopattern stance train" in r.json()["detail"]
        assert c.get("/api/infopattern/redteam/communities").status_code == 503


def test_dependency_override_replaces_the_model(services):
    app = create_app(services=services)
    other = FakeStance()
    other.bins = ["a", "b", "c"]
    app.dependency_overrides[get_stance] = lambda: other
    with TestClient(app) as c:
        assert c.post("/api/infopattern/stance", json={"messages": ["good"]}).json()["bins"] == ["a", "b", "c"]
    assert other.calls == 1


def test_internal_errors_do_not_leak_traces(services):
    class Broken:
        bins = ["x"]

        def analyze(self, texts, target):
            raise RuntimeError("secret internal detail")

    services.stance = Broken()
    with TestClient(create_app(services=services), raise_server_exceptions=False) as c:
        r = c.post("/api/infopattern/stance", json={"messages": ["hi"]})
    assert r.status_code == 500
    assert "secret" not in r.text and "Traceback" not in r.text and "internal error" in r.json()["detail"]


def test_redteam_community_and_slider(client):
    assert client.get("/api/infopattern/redteam/communities").json() == {"left": -1.0, "right": 1.0}
    r = client.post("/api/infopattern/redteam", json={"message": "taxes", "community": "right", "k": 2}).json()
    assert r["stance"] == 1.0 and [x["text"] for x in r["responses"]] == [
        "reply 0 at +1.0: not taxes", "reply 1 at +1.0: not taxes"]
    r = client.post("/api/infopattern/redteam", json={"message": "taxes", "stance": -0.5, "k": 1}).json()
    assert r["stance"] == -0.5 and len(r["responses"]) == 1 and r["responses"][0]["evidence"] == [[0, 5]]
    bad = client.post("/api/infopattern/redteam", json={"message": "x", "community": "martians"})
    assert bad.status_code == 422 and "martians" in bad.json()["detail"]
    assert client.post("/api/infopattern/redteam", json={"message": "x", "stance": 3}).status_code == 422
    assert client.post("/api/infopattern/redteam", json={"message": "x", "k": 99}).status_code == 422


def test_graph_list_get_node_messages_and_exports(client):
    assert client.get("/api/infopattern/graphs").json() == [
        {"id": "demo", "title": "demo graph", "nodes": 3, "links": 2}]
    graph = client.get("/api/infopattern/graphs/demo").json()
    assert [n["id"] for n in graph["nodes"]] == ["c0", "c1", "c2"]
    msgs = client.get("/api/infopattern/graphs/demo/nodes/c0/messages").json()
    assert [m["id"] for m in msgs["messages"]] == ["m1", "m3"] and msgs["total"] == 2
    assert client.get("/api/infopattern/graphs/demo/nodes/c9/messages").status_code == 404
    assert client.get("/api/infopattern/graphs/nope").status_code == 404
    r = client.get("/api/infopattern/graphs/demo/export?format=graphml")
    assert r.status_code == 200 and 'filename="demo.graphml"' in r.headers["content-disposition"]
    g = nx.parse_graphml(r.text)
    assert sorted(g.edges) == [("c0", "c1"), ("c1", "c2")] and g.nodes["c0"]["size"] == 2
    assert json.loads(client.get("/api/infopattern/graphs/demo/export?format=json").text)["links"][0]["weight"] == 1.0
    assert client.get("/api/infopattern/graphs/demo/export?format=gexf").text.startswith("<?xml")
    assert client.get("/api/infopattern/graphs/demo/export?format=pdf").status_code == 422


def test_upload_jsonl_runs_a_background_job(client, services):
    lines = [{"id": f"u{i}", "text": t, "community": c, "created_at": f"2024-06-0{1 + i}T10:00:00Z", "author": a}
             for i, (t, c, a) in enumerate([("Good schools need more funding now.", "left", "x"),
                                            ("Bad schools waste the funding now.", "right", "y"),
                                            ("Good schools need funding soon.", "right", "x")])]
    body = "\n".join(json.dumps(x) for x in lines).encode()
    r = client.post("/api/infopattern/uploads?filename=mine.jsonl", content=body)
    assert r.status_code == 202
    job = wait_job(client, r.json()["job_id"])
    assert job["state"] == "done" and job["progress"] == 1.0, job
    res = job["result"]
    assert res["messages"] == 3 and res["stance"] == {"bins": ["against", "neutral", "favor"], "counts": [1, 0, 2]}
    graph = client.get(f"/api/infopattern/graphs/{res['graph_id']}").json()
    assert graph["meta"]["messages"] == 3 and graph["meta"]["communities"] == ["left", "right"]
    saved = list((services.data_dir / "uploads").iterdir())
    assert [p.name for p in saved] == [f"{job['id']}.jsonl"]


def test_upload_csv_and_bad_files(client, services):
    ok = client.post("/api/infopattern/uploads?filename=a.csv", content=b"id,text\n1,Schools need more money now.\n")
    assert wait_job(client, ok.json()["job_id"])["state"] == "done"
    bad_json = client.post("/api/infopattern/uploads?filename=b.jsonl", content=b'{"text": "fine one here"}\n{oops\n')
    job = wait_job(client, bad_json.json()["job_id"])
    assert job["state"] == "error" and job["error"].startswith("b.jsonl, line 2: not valid JSON")
    assert str(services.data_dir) not in job["error"]  # the server's paths stay on the server
    no_text = client.post("/api/infopattern/uploads?filename=c.csv", content=b"id,body\n1,hello\n")
    assert "needs a 'text' column" in wait_job(client, no_text.json()["job_id"])["error"]
    empty_text = client.post("/api/infopattern/uploads?filename=d.jsonl", content=b'{"text": "  "}\n')
    assert wait_job(client, empty_text.json()["job_id"])["error"] == "d.jsonl, line 1, field 'text': empty text"
    latin1 = client.post("/api/infopattern/uploads?filename=e.csv", content="text\ncaf\u00e9\n".encode("latin-1"))
    assert "not UTF-8" in wait_job(client, latin1.json()["job_id"])["error"]
    big = client.post("/api/infopattern/uploads?filename=f.jsonl", content=b"x" * 20_001)
    assert big.status_code == 413 and "limit" in big.json()["detail"]
    assert client.post("/api/infopattern/uploads?filename=g.exe", content=b"MZ").status_code == 415
    assert client.post("/api/infopattern/uploads?filename=h.csv", content=b"").status_code == 422
    assert client.get("/api/infopattern/jobs/nope").status_code == 404


def test_upload_names_cannot_escape_the_data_folder(client, services, tmp_path):
    r = client.post("/api/infopattern/uploads?filename=../../../evil.jsonl", content=b'{"text": "a b c d"}\n')
    assert r.status_code == 202
    wait_job(client, r.json()["job_id"])
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    job = r.json()["job_id"]
    assert written == [f"appdata/jobs/{job}/graph.json", f"appdata/uploads/{job}.jsonl"]


def test_pages_docs_and_vendor_files(client):
    for url in ("/", "/infopattern/stance", "/infopattern/redteam", "/infopattern/graph", "/infopattern/data",
                "/prm", "/refusal", "/denoise"):
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), url
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "<script>" not in r.text  # no inline scripts anywhere
    assert [p["title"] for p in client.get("/api/pages").json()] == [
        "Stance", "Red teaming", "Propagation graph", "Your data", "PRM", "Refusal", "Denoise"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/vendor/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/infopattern/stance", "/api/infopattern/redteam", "/api/infopattern/uploads"} <= set(paths)
    assert client.get("/vendor/..%2Fpackage.json").status_code == 404
    assert client.get("/vendor/evil.js").status_code == 404
    if not (node_modules() / "cytoscape").is_dir():
        pytest.skip("node_modules missing: run `npm ci`")
    assert client.get("/vendor/cytoscape.min.js").status_code == 200


def test_lifespan_loads_graphs_from_a_run_folder(tmp_path):
    from webfakes import demo_graph

    art = tmp_path / "runs" / "infopattern" / "graph_eval" / "artifacts"
    art.mkdir(parents=True)
    (art / "graph_rumoureval.json").write_text(json.dumps(demo_graph()))
    (art / "graph_eval.json").write_text(json.dumps({"argkp": {}}))  # not a graph: ignored
    app = create_app(runs=tmp_path / "runs", data_dir=tmp_path / "data")
    with TestClient(app) as c:
        assert [(g["id"], g["title"]) for g in c.get("/api/infopattern/graphs").json()] == [
            ("infopattern.graph_eval.graph_rumoureval", "graph_eval: graph_rumoureval")]
        assert c.post("/api/infopattern/stance", json={"messages": ["x"]}).status_code == 503


def test_serve_cli_defaults_to_loopback():
    import argparse

    from quartet.web.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="system"), "serve", "the web app")
    args = parser.parse_args(["serve", "--runs", "somewhere", "--port", "8123"])
    assert (args.host, args.port, str(args.runs)) == ("127.0.0.1", 8123, "somewhere")
