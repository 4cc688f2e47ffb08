"""``quartet lm`` as library functions: train a built-in model on a corpus, sample from a run.

The corpus is a text file (one document per line, or JSONL with a ``text`` field) or
one of the built-in worlds, so ``quartet lm train`` works offline from nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from quartet.core import distributed
from quartet.core.config import ConfigError
from quartet.core.records import BadRecordError, iter_jsonl
from quartet.core.runs import open_run, runs_root
from quartet.core.seeding import seed_everything
from quartet.core.trainer import TrainConfig
from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.lm.tokenizer import Tokenizer
from quartet.lm.training import train_lm

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorpusConfig:
    source: Literal["arithmetic", "facts", "file"] = "arithmetic"  # a built-in world or a file
    path: str = ""  # for source=file: .txt (a document per line) or .jsonl (field "text")
    n_documents: int = 2000  # arithmetic: number of problems with solutions
    seed: int = 0  # world seed; also picks the held-out documents
    eval_fraction: float = 0.05  # share of documents held out for eval_loss (0: none; at least 1 when > 0)


@dataclass(frozen=True)
class TokenizerConfig:
    kind: Literal["word", "bpe"] = "word"  # word-level for the small worlds, bpe for open text
    vocab_size: int = 4096  # upper bound; word-level stops at the corpus vocabulary


@dataclass(frozen=True)
class ArchConfig:
    dim: int = 64  # residual width
    n_layers: int = 2  # transformer blocks
    n_heads: int = 4  # attention heads
    max_seq_len: int = 256  # longest sequence


@dataclass(frozen=True)
class LMRunConfig:
    name: str = "tiny"  # run directory: runs/lm/<name>
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ArchConfig = field(default_factory=ArchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def read_corpus(cfg: CorpusConfig) -> list[str]:
    if cfg.source == "arithmetic":
        from quartet.worlds import arithmetic

        problems = arithmetic.generate(cfg.n_documents, seed=cfg.seed)
        return [arithmetic.prompt(p) + arithmetic.solution_text(p) for p in problems]
    if cfg.source == "facts":
        from quartet.worlds import facts

        return facts.pretraining_corpus(facts.build_world(facts.WorldSpec(), seed=cfg.seed), seed=cfg.seed)
    path = Path(cfg.path)
    if not path.is_file():
        raise ConfigError(f"corpus.path: {path} does not exist")
    if path.suffix == ".jsonl":
        docs = []
        for line, record in iter_jsonl(path):
            if not isinstance(record.get("text"), str):
                raise BadRecordError(path, line, "text", "missing or not a string")
            docs.append(record["text"])
    else:
        try:
            docs = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError as err:
            raise BadRecordError(path, None, None, f"not UTF-8 text ({err.reason})") from None
    if not docs:
        raise BadRecordError(path, None, None, "no documents")
    return docs


def split_held_out(docs: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, held out): a seeded ``fraction`` of the documents, at least one when > 0.

    >>> split_held_out(["a", "b", "c", "d"], 0.25, seed=0)
    (['b', 'c', 'd'], ['a'])
    """
    if not 0 <= fraction < 1:
        raise ConfigError(f"corpus.eval_fraction: {fraction} is not in [0, 1)")
    if fraction == 0:
        return docs, []
    n_eval = max(1, round(fraction * len(docs)))
    if n_eval >= len(docs):
        raise ConfigError(f"corpus.eval_fraction: {fraction} of {len(docs)} documents leaves none to train on")
    gen = torch.Generator().manual_seed(seed)
    held = set(torch.randperm(len(docs), generator=gen)[:n_eval].tolist())
    return [d for i, d in enumerate(docs) if i not in held], [d for i, d in enumerate(docs) if i in held]


def run_train(cfg: LMRunConfig, runs: Path | None = None) -> Path:
    """Train (or resume) ``runs/lm/<name>``; the final model is saved under ``model/``.

    ``corpus.eval_fraction`` of the documents never reach the tokenizer or the optimizer;
    their loss is logged as ``eval_loss`` every ``train.eval_every`` steps and at the end.
    """
    run = open_run((runs or runs_root()) / "lm" / cfg.name, cfg)
    seed_everything(cfg.train.seed)
    docs, held_out = split_held_out(read_corpus(cfg.corpus), cfg.corpus.eval_fraction, cfg.corpus.seed)
    tokenizer_dir = run.path / "tokenizer"
    if distributed.is_writer() and not (tokenizer_dir / "tokenizer.json").is_file():
        Tokenizer.train(docs, kind=cfg.tokenizer.kind, vocab_size=cfg.tokenizer.vocab_size).save(tokenizer_dir)
    # This rank's device: cuda:LOCAL_RANK (NCCL) on a GPU node, the CPU (gloo) otherwise.
    device = distributed.local_device()
    distributed.setup(device)  # under torchrun: join now, so the barrier below is shared
    distributed.barrier()  # other processes read rank 0's tokenizer
    tokenizer = Tokenizer.load(tokenizer_dir)
    arch = ModelConfig(
        vocab_size=tokenizer.vocab_size,
        dim=cfg.model.dim,
        n_layers=cfg.model.n_layers,
        n_heads=cfg.model.n_heads,
        max_seq_len=cfg.model.max_seq_len,
    )
    lm = BuiltinLM.create(arch, tokenizer, seed=cfg.train.seed, device=device)
    log.info("model: %d parameters, vocabulary %d", lm.module.num_parameters(), tokenizer.vocab_size)
    metrics = train_lm(lm, [("", doc) for doc in docs], cfg.train, run, eval_pairs=[("", doc) for doc in held_out])
    lm.save(run.path / "model")  # every rank: a sharded (FSDP) model is gathered first; rank 0 writes
    log.info("finished %s: %s", run.path, metrics)
    return run.path


def model_dir(run_or_model: Path) -> Path:
    """Accept a run directory (uses its ``model/``) or a model folder."""
    candidate = Path(run_or_model) / "model"
    return candidate if candidate.is_dir() else Path(run_or_model)
