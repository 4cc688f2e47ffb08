"""What the web app serves: model interfaces, the loaded services, and their FastAPI dependencies.

Models are loaded once in the app's ``lifespan`` (``load_services``) and reach the routes
through ``Depends(get_...)``, so tests replace them with ``app.dependency_overrides`` or by
passing ``Services`` to ``create_app``. The interfaces below are what the pages need; the
adapters wrap the InfoPattern library objects into them. The PRM, refusal and denoise
interfaces and adapters live in ``quartet.web.<system>.models``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import HTTPException, Request

log = logging.getLogger(__name__)


class StanceModel(Protocol):
    """Distribution over stance bins for each text, with evidence spans (character offsets)."""

    bins: list[str]

    def analyze(self, texts: list[str], target: str | None) -> list[dict[str, Any]]:
        """One ``{"probs": [float per bin], "evidence": [[start, end], ...]}`` per text."""
        ...


class RedTeamModel(Protocol):
    """Responses as a community would write them; ``communities`` maps a name to its stance value."""

    communities: dict[str, float]

    def generate(self, message: str, stance: float, k: int, target: str | None = None) -> list[dict[str, Any]]:
        """K ``{"text": str, "evidence": [[start, end], ...]}`` responses to ``message`` (about ``target``,
        its topic, when given) at stance value ``stance``."""
        ...


class Embedder(Protocol):
    def encode(self, texts: list[str]) -> Any: ...


class DetectorStance:
    """A ``quartet.infopattern.stance`` detector behind ``StanceModel``.

    The switch-likelihood detector (InfoPattern's own) is shown as its distribution over the five
    stance bins (``bin_proba``) with evidence spans (``evidence``); any other detector as its
    ``predict_proba`` over its classes, without evidence.
    """

    def __init__(self, detector: Any):
        from quartet.infopattern.stance.switch_likelihood import BIN_NAMES

        self.detector = detector
        self.by_bins = callable(getattr(detector, "bin_proba", None))
        self.bins = list(BIN_NAMES) if self.by_bins else [str(c) for c in detector.classes_]

    def analyze(self, texts: list[str], target: str | None) -> list[dict[str, Any]]:
        from quartet.infopattern.messages import Message

        messages = [Message(id=f"web-{i}", text=t, target=target or None) for i, t in enumerate(texts)]
        proba = self.detector.bin_proba(messages) if self.by_bins else self.detector.predict_proba(messages)
        evidence_fn = getattr(self.detector, "evidence", None)
        spans = evidence_fn(messages) if callable(evidence_fn) else [[] for _ in texts]
        return [{"probs": [float(p) for p in row], "evidence": [list(map(int, s)) for s in sp]}
                for row, sp in zip(proba, spans, strict=True)]


def stance_candidates(runs: Path) -> list[Path]:
    """Saved detectors under ``runs``, the switch-likelihood ones first (they give bins and evidence)."""
    from quartet.infopattern.stance.base import read_detector_json

    folders = sorted(p.parent for p in runs.glob("**/detector.json"))

    def is_switch(folder: Path) -> bool:
        try:
            return read_detector_json(folder)["kind"] == "switch"
        except (OSError, ValueError):  # unreadable or foreign: tried last, and its loading says why
            return False

    return sorted(folders, key=lambda folder: not is_switch(folder))


@dataclass
class GraphStore:
    """Claim graphs by id: those found in run directories plus those built from uploads."""

    graphs: dict[str, dict[str, Any]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)

    def add(self, graph_id: str, graph: dict[str, Any], title: str) -> None:
        self.graphs[graph_id] = graph
        self.titles[graph_id] = title

    def get(self, graph_id: str) -> dict[str, Any]:
        if graph_id not in self.graphs:
            raise HTTPException(404, f"no graph named {graph_id!r}")
        return self.graphs[graph_id]


@dataclass
class Services:
    """Everything the routes use. ``None`` means "not available": its page says so."""

    stance: StanceModel | None = None
    redteam: RedTeamModel | None = None
    embedder: Embedder | None = None  # for graph discovery on uploads; None = MiniLM on first use
    graphs: GraphStore = field(default_factory=GraphStore)
    data_dir: Path = field(default_factory=lambda: Path("runs/web"))
    max_upload_bytes: int = 5 * 1024 * 1024
    max_upload_messages: int = 5000
    jobs: Any = None  # quartet.web.jobs.JobManager, created by the app
    prm: Any = None  # quartet.web.prm.models.PRMModel
    refusal: Any = None  # quartet.web.refusal.models.RefusalModel
    denoise: Any = None  # quartet.web.denoise.models.DenoiseModel
    max_image_bytes: int = 10 * 1024 * 1024  # denoise uploads
    max_image_pixels: int = 4_000_000  # denoise uploads (CPU time grows with the pixels)
    # system -> why its model is missing (what the page says); set by load_services
    missing: dict[str, str] = field(default_factory=dict)


def _services(request: Request) -> Services:
    return request.app.state.services


def get_services(request: Request) -> Services:
    return _services(request)


def get_stance(request: Request) -> StanceModel:
    model = _services(request).stance
    if model is None:
        raise HTTPException(503, "no stance model is loaded: train one with `quartet infopattern stance train` "
                                 "and start `quartet serve --runs` on its run folder")
    return model


def get_redteam(request: Request) -> RedTeamModel:
    model = _services(request).redteam
    if model is None:
        raise HTTPException(503, "no red-teaming model is loaded: train a switch with "
                                 "`quartet infopattern switch train` and serve its run folder")
    return model


# What each page says when its system has no usable run under --runs.
HOW_TO_RUN = {
    "prm": "`quartet prm pipeline --config configs/prm/tiny.yaml` (or `make demo`)",
    "refusal": "`quartet refusal pipeline --config configs/refusal/tiny.yaml` (or `make demo`)",
    "denoise": "`quartet denoise train --config configs/denoise/tiny.yaml` (or `make demo`)",
}
TITLES = {"prm": "PRM", "refusal": "refusal", "denoise": "denoising"}


def _system(request: Request, name: str) -> Any:
    services = _services(request)
    model = getattr(services, name)
    if model is None:
        why = services.missing.get(name, f"no finished {TITLES[name]} run was found")
        raise HTTPException(503, f"{why}. Run {HOW_TO_RUN[name]}, then restart `quartet serve --runs <that folder>`.")
    return model


def get_prm(request: Request) -> Any:
    return _system(request, "prm")


def get_refusal(request: Request) -> Any:
    return _system(request, "refusal")


def get_denoise(request: Request) -> Any:
    return _system(request, "denoise")


def get_graphs(request: Request) -> GraphStore:
    return _services(request).graphs


def load_graphs(runs: Path, store: GraphStore) -> None:
    """Every claim graph under ``runs`` (a ``graph*.json`` holding nodes and links: a run's
    ``artifacts/graph.json``, or the demo's ``infopattern/graph/graph.json``); ids are their relative paths."""
    for path in sorted(runs.glob("**/graph*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            log.warning("skipping %s: %s", path, err)
            continue
        if isinstance(data, dict) and "nodes" in data and "links" in data:
            rel = path.relative_to(runs).with_suffix("").as_posix()
            run_dir = path.parent.parent if path.parent.name == "artifacts" else path.parent
            store.add(rel.replace("/artifacts/", "/").replace("/", "."), data, f"{run_dir.name}: {path.stem}")


def load_run_models(services: Services, runs: Path | None, picks: dict[str, Path | None]) -> None:
    """The PRM, refusal and denoise models: from ``picks[system]`` (a run folder) when given, else
    the first finished run of that system under ``runs``. A failure is logged and kept in
    ``services.missing`` for the page; the other systems still load."""
    from quartet.web.denoise.models import TiledDenoiser, find_denoise_run
    from quartet.web.prm.models import PRMRun, find_prm_run
    from quartet.web.refusal.models import RefusalRun, find_refusal_run

    systems = {"prm": (find_prm_run, PRMRun.load), "refusal": (find_refusal_run, RefusalRun.load),
               "denoise": (find_denoise_run, TiledDenoiser.load)}
    where = f"under {runs}" if runs is not None else "(no --runs folder)"
    for name, (find, load) in systems.items():
        folder = picks.get(name) or (find(runs) if runs is not None and runs.is_dir() else None)
        if folder is None:
            services.missing[name] = f"no finished {TITLES[name]} run was found {where}"
            continue
        try:
            setattr(services, name, load(folder, runs))
        except Exception as err:  # a broken run must not stop the app: its page says so
            log.exception("cannot load the %s run %s", name, folder)
            services.missing[name] = f"the {TITLES[name]} run {folder.name} could not be loaded ({type(err).__name__})"


def load_services(runs: Path | None, data_dir: Path, stance_dir: Path | None = None,
                  switch_dir: Path | None = None, picks: dict[str, Path | None] | None = None) -> Services:
    """Load what the run folder holds: graphs, the first saved stance detector (a switch-likelihood
    one when there is one; or ``stance_dir``),
    the first saved LM-Switch with its base LM for red teaming (or ``switch_dir``), and the
    PRM / refusal / denoise models (``load_run_models``; ``picks`` names run folders)."""
    services = Services(data_dir=data_dir)
    load_run_models(services, runs, picks or {})
    if runs is None or not runs.is_dir():
        return services
    load_graphs(runs, services.graphs)
    candidates = [stance_dir] if stance_dir else stance_candidates(runs)
    for directory in candidates:
        try:
            from quartet.infopattern.stance import load_detector

            services.stance = DetectorStance(load_detector(directory))
            log.info("stance model: %s", directory)
            break
        except Exception as err:  # a broken or foreign folder must not stop the app
            log.warning("cannot load a stance detector from %s: %s", directory, err)
    from quartet.web.infopattern.models import SwitchRedTeam, find_switch

    switch = switch_dir or find_switch(runs)
    if switch is not None:
        try:
            services.redteam = SwitchRedTeam.load(switch)
            log.info("red-teaming model: %s", switch)
        except Exception as err:  # as above: the other pages still work
            log.warning("cannot load a red-teaming switch from %s: %s", switch, err)
    return services
