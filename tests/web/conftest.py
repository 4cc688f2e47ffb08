"""Fixtures: the web app's services with fake models injected."""

from __future__ import annotations

import pytest
from webfakes import FakeRedTeam, FakeStance, HashEmbedder, demo_graph

from quartet.web.services import GraphStore, Services


@pytest.fixture
def services(tmp_path) -> Services:
    store = GraphStore()
    store.add("demo", demo_graph(), "demo graph")
    return Services(stance=FakeStance(), redteam=FakeRedTeam(), embedder=HashEmbedder(), graphs=store,
                    data_dir=tmp_path / "appdata", max_upload_bytes=20_000, max_upload_messages=100)
