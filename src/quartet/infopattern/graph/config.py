"""Configuration of claim-graph discovery and its evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Window = Literal["hour", "day", "week", "month"]
Stream = Literal["author", "thread", "community"]
EdgeSource = Literal["sequence", "reply"]
CommunityField = Literal["community", "stance", "target", "source", "author"]


@dataclass(frozen=True)
class GraphConfig:
    language: str = "en"  # pysbd language code for sentence splitting
    min_words: int = 3  # a sentence needs this many words (2+ letters) to count as a claim
    community_field: CommunityField = "community"  # Message attribute that colours the graph
    threshold: float = 0.7  # cosine similarity at which two claim groups are one claim
    max_claims: int = 20000  # refuse larger inputs (clustering is O(N^2) in memory)
    keywords: int = 5  # c-TF-IDF keywords per claim cluster
    window: Window = "day"  # time window for the per-community counts and the replay slider
    stream: Stream = "author"  # claim sequences for the transition matrix: per author, thread or community
    edge_sources: tuple[EdgeSource, ...] = ("sequence", "reply")  # which evidence makes edges
    self_loops: bool = False  # keep transitions from a claim cluster to itself
    min_weight: float = 0.1  # prune edges whose transition probability is below this
    min_count: int = 1  # prune edges seen fewer times than this
    messages_per_node: int = 50  # example messages stored per node (click-to-list in the web app)


@dataclass(frozen=True)
class ArgKPEvalConfig:
    max_topics: int = 0  # 0 = every topic in the file; else the first N topics (sorted by name)
    thresholds: tuple[float, ...] = (0.5, 0.6, 0.7)  # cosine thresholds reported side by side


@dataclass(frozen=True)
class RumourEvalConfig:
    split: str = "dev"  # folder under rumoureval2017/
    max_threads: int = 0  # 0 = all threads of the split
    recency_weight: float = 0.3  # score = cos(reply, candidate) + w * exp(-dt / tau)
    recency_tau_s: float = 3600.0  # tau of the recency term, seconds
    mention_weight: float = 1.0  # weight of the @-handle overlap between reply and candidate (the "+mentions" methods)
    root_weight: float = 0.5  # prior bonus for the thread's first message (the "+root prior" method)
    # The "+addressee" methods: a bonus when the reply's text names the candidate's author (@handle).
    # Defaults chosen by a small grid on the train split (text 0/0.3/1, recency 0.3/1, tau 600/3600 s).
    addressee_weight: float = 1.0  # bonus when the reply's text contains the candidate author's @handle
    addressee_text_weight: float = 0.3  # weight of the cosine term in "text+time+addressee"
    addressee_recency_weight: float = 1.0  # weight of the recency term in the "+addressee" methods
    graph_method: str = "text+time+addressee"  # whose inferred links build the graph compared with the true one


@dataclass(frozen=True)
class GraphEvalConfig:
    name: str = "graph_eval"  # run name under runs/infopattern/
    data_dir: str = ""  # social data folder; "" = $QUARTET_DATA/social or ../shared/data/social
    seed: int = 0
    graph: GraphConfig = field(default_factory=GraphConfig)
    argkp: ArgKPEvalConfig = field(default_factory=ArgKPEvalConfig)
    rumoureval: RumourEvalConfig = field(default_factory=RumourEvalConfig)


@dataclass(frozen=True)
class GraphBuildConfig:
    name: str = ""  # run name under runs/infopattern/; "" = graph_<input file stem>
    input: str = ""  # the messages file (.jsonl or .csv) to build the graph from
    since: str = ""  # keep messages created at or after this ISO time ("" = no lower bound)
    until: str = ""  # keep messages created before this ISO time ("" = no upper bound)
    formats: tuple[str, ...] = ("json", "graphml", "gexf")  # export files written to artifacts/
    graph: GraphConfig = field(default_factory=GraphConfig)
