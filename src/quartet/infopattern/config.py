"""Configuration of the InfoPattern stance + red-teaming pipeline (``configs/infopattern/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from quartet.core.trainer import TrainConfig
from quartet.infopattern.prompts import DEFAULT_TEMPLATE, REPLY_TEMPLATE


@dataclass(frozen=True)
class DataConfig:
    datasets: tuple[str, ...] = ("argq", "rumoureval", "catalonia")  # loaders.DATASETS names, or "builtin"
    train_split: str = "train"  # split every detector, LM and switch is trained on
    eval_split: str = "dev"  # split the metrics are reported on (Catalonia's "dev" is its val split)
    max_fit: int = 3000  # cap on training messages for the encoder and switch-likelihood detectors (0: all)
    max_eval: int = 0  # cap on evaluation messages per data set (0: the whole split)
    builtin_train: int = 400  # size of the built-in message set's train split
    builtin_eval: int = 200  # … and of its eval split
    clean: bool = True  # strip URLs, @mentions and RT markers before everything (cleaning.py)


@dataclass(frozen=True)
class LMConfig:
    model: str = ""  # "" trains the built-in LM on each data set's messages; else a model folder (HF or quartet)
    tokenizer: Literal["word", "bpe"] = "bpe"  # built-in LM tokenizer (byte-level BPE: no unknown words)
    vocab_size: int = 2000  # vocabulary of the built-in LM (the output layer dominates its cost on CPU)
    dim: int = 64  # built-in LM width
    n_layers: int = 2  # built-in LM blocks
    n_heads: int = 4  # built-in LM attention heads
    max_seq_len: int = 128  # built-in LM context (messages are truncated from the left to fit)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=600, batch_size=32, lr=3e-3, warmup_steps=20))


@dataclass(frozen=True)
class SwitchConfig:
    rank: int = 8  # rank r of W = P1·P2ᵀ
    epsilon: float = 1.0  # ε, the switch's overall scale
    label_field: Literal["stance", "community"] = "stance"  # which label gives each message its s
    template: str = DEFAULT_TEMPLATE  # prompt a message on its own is written after ({target} is its topic)
    # prompt a reply is written after ({parent}: the text it answers); red teaming answers the source
    # message with it; "" = topic prompts only (the source message is then not seen)
    reply_template: str = REPLY_TEMPLATE
    peer_fraction: float = 0.5  # share of parentless training messages written as a reply to a same-topic peer
    n_dims: int = 1  # stance dimensions K (several: give value_map)
    # label -> s vector (n_dims numbers), e.g. {pro: [1, 0], con: [-1, 0]}; empty: stance_value (+1/−1/0)
    value_map: dict[str, tuple[float, ...]] = field(default_factory=dict)
    dim: int = 0  # the dimension the switch detector scores and red teaming moves
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(steps=300, batch_size=32, lr=1e-2, warmup_steps=10, weight_decay=0.0)
    )


@dataclass(frozen=True)
class StanceConfig:
    detectors: tuple[str, ...] = ("tfidf", "encoder", "switch")  # which detectors to train and report
    tfidf_model: Literal["logreg", "svm"] = "logreg"  # the baseline's linear model
    encoder_finetune_epochs: int = 0  # > 0 fine-tunes MiniLM with the head (slow on CPU)
    encoder_max_seq_length: int = 128  # MiniLM input limit in tokens
    switch_values: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)  # s of the five stance bins
    n_spans: int = 2  # evidence spans per explained message


@dataclass(frozen=True)
class RedTeamConfig:
    dataset: str = "argq"  # whose LM, switch and encoder detector are used
    n_sources: int = 40  # source messages (from the eval split, with a side) to respond to
    k: int = 4  # responses per source and |s|
    magnitudes: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)  # |s| values; 0 is the unswitched base model
    max_new_tokens: int = 40  # generation length limit
    temperature: float = 0.8  # sampling temperature
    top_k: int = 50  # top-k sampling (0: off)
    n_examples: int = 4  # source messages shown with responses and evidence
    flip_detectors: tuple[str, ...] = ("encoder", "tfidf")  # the first gives the headline flip rate


@dataclass(frozen=True)
class InfoPatternConfig:
    name: str = "tiny"  # run directory: runs/infopattern/<name>
    seed: int = 0  # data subsampling, LM, switch and sampling seed
    data: DataConfig = field(default_factory=DataConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    switch: SwitchConfig = field(default_factory=SwitchConfig)
    stance: StanceConfig = field(default_factory=StanceConfig)
    redteam: RedTeamConfig = field(default_factory=RedTeamConfig)
