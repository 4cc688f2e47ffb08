"""Baseline: TF-IDF word and character n-grams with a linear model (logistic regression or linear SVM).

The message text alone is featurized: on ArgQ the dev topics are unseen in training, so
topic words would only add noise to a linear model (no feature crosses here). The
linear SVM's scores become probabilities through a softmax, so ``predict_proba`` exists
for both models (for the SVM they are scores, not calibrated probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from quartet.infopattern.messages import Message
from quartet.infopattern.stance.base import (
    argmax_labels,
    check_fit_input,
    gold_labels,
    read_detector_json,
    write_detector_json,
)


def _softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TfidfStance:
    """TF-IDF (word 1-2 grams + char_wb 2-5 grams, sublinear tf) + linear model."""

    kind = "tfidf"

    def __init__(
        self,
        model: Literal["logreg", "svm"] = "logreg",
        C: float = 1.0,
        max_features: int = 50_000,
        class_weight: Literal["balanced", "none"] = "balanced",
    ):
        self.model, self.C, self.max_features, self.class_weight = model, C, max_features, class_weight

    def _params(self) -> dict:
        return {"model": self.model, "C": self.C, "max_features": self.max_features, "class_weight": self.class_weight}

    def _vectorizers(self, vocab_word=None, vocab_char=None) -> tuple[TfidfVectorizer, TfidfVectorizer]:
        common = {"sublinear_tf": True, "lowercase": True}
        word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, max_features=self.max_features,
                               vocabulary=vocab_word, **common)
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, max_features=self.max_features,
                               vocabulary=vocab_char, **common)
        return word, char

    def _features(self, messages: Sequence[Message]) -> sp.csr_matrix:
        texts = [m.text for m in messages]
        return sp.hstack([self.word_.transform(texts), self.char_.transform(texts)]).tocsr()

    def fit(self, messages: Sequence[Message], y: Sequence[str] | None = None) -> TfidfStance:
        labels = gold_labels(messages, y)
        self.classes_ = check_fit_input(messages, labels)
        texts = [m.text for m in messages]
        self.word_, self.char_ = self._vectorizers()
        # min_df=2 needs at least two documents sharing a term; tiny sets fall back to min_df=1.
        if len(texts) < 20:
            self.word_.min_df = self.char_.min_df = 1
        self.word_.fit(texts)
        self.char_.fit(texts)
        x = self._features(messages)
        cw = None if self.class_weight == "none" else "balanced"
        if self.model == "svm":
            clf = LinearSVC(C=self.C, class_weight=cw)
        else:
            clf = LogisticRegression(C=self.C, class_weight=cw, max_iter=2000)
        clf.fit(x, labels)
        # Store a (C, F) weight matrix for every case: binary sklearn models keep one row for classes_[1].
        coef, bias = clf.coef_, clf.intercept_
        if len(self.classes_) == 2:
            coef, bias = np.vstack([-coef / 2, coef / 2]), np.array([-bias[0] / 2, bias[0] / 2])
        assert list(clf.classes_) == self.classes_
        self.coef_, self.intercept_ = coef.astype(np.float32), bias.astype(np.float32)
        return self

    def decision_function(self, messages: Sequence[Message]) -> np.ndarray:
        return np.asarray(self._features(messages) @ self.coef_.T) + self.intercept_

    def predict_proba(self, messages: Sequence[Message]) -> np.ndarray:
        # A binary logistic model's probability is sigmoid(w.x+b) = softmax([-(w.x+b)/2, (w.x+b)/2]).
        return _softmax(self.decision_function(messages))

    def predict(self, messages: Sequence[Message]) -> list[str]:
        return argmax_labels(self.decision_function(messages), self.classes_)

    def save(self, directory: Path | str) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"coef": self.coef_, "intercept": self.intercept_, "idf_word": self.word_.idf_.astype(np.float64),
                  "idf_char": self.char_.idf_.astype(np.float64)}
        # safetensors writes the raw buffer: a Fortran-ordered array (sklearn's multi-class coef_) must be
        # made C-contiguous first, or it loads back scrambled.
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(directory / "tfidf.safetensors"))
        vocab = {
            "word": {k: int(v) for k, v in self.word_.vocabulary_.items()},
            "char": {k: int(v) for k, v in self.char_.vocabulary_.items()},
        }
        write_detector_json(directory, self.kind, self._params(), {"classes_": self.classes_, "vocabulary": vocab})

    @classmethod
    def load(cls, directory: Path | str) -> TfidfStance:
        meta = read_detector_json(directory, cls.kind)
        self = cls(**meta["params"])
        arrays = load_file(str(Path(directory) / "tfidf.safetensors"))
        vocab = meta["learned"]["vocabulary"]
        self.word_, self.char_ = self._vectorizers(vocab["word"], vocab["char"])
        self.word_.idf_, self.char_.idf_ = arrays["idf_word"], arrays["idf_char"]
        self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]
        self.classes_ = list(meta["learned"]["classes_"])
        if self.coef_.shape != (len(self.classes_), len(vocab["word"]) + len(vocab["char"])):
            raise ValueError(f"{directory}: weight shape {self.coef_.shape} does not match vocabulary and classes")
        return self
