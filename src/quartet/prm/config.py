"""The PRM pipeline's configuration (``configs/prm/*.yaml`` are serialized instances)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from quartet.core.trainer import TrainConfig
from quartet.worlds.arithmetic import WorldConfig


@dataclass(frozen=True)
class DataConfig:
    """Which problems the pipeline uses."""

    source: str = "world"  # "world" (generated), "gsm8k" or "math500" (files under path)
    world: WorldConfig = field(default_factory=WorldConfig)  # shape of generated problems
    seed: int = 0  # world seed (train/test disjoint)
    n_train: int = 3000  # problems for SFT
    n_test: int = 100  # problems for best-of-N and RAFT evaluation
    path: str = ""  # gsm8k: folder with train/test.jsonl; math500: its test.jsonl; empty: $QUARTET_DATA/math/...


@dataclass(frozen=True)
class PolicyConfig:
    """The policy: a built-in transformer trained here, or a model loaded from a path."""

    model: str = ""  # built-in checkpoint dir or HF model dir; empty: train a built-in model on the world
    generation_backend: Literal["auto", "vllm"] = "auto"  # sampling and rollouts: quartet/transformers, or vLLM (GPU)
    dim: int = 64  # built-in width
    n_layers: int = 2  # built-in depth
    n_heads: int = 4  # built-in heads
    max_seq_len: int = 256  # built-in context
    sft: TrainConfig = field(default_factory=lambda: TrainConfig(steps=100, lr=3e-3, schedule="constant"))
    sft_rounds: int = 4  # at most this many rounds of sft.steps each ...
    target_acc: float = 0.3  # ... stopping once greedy validation accuracy reaches this (some, not most)
    val_problems: int = 100  # train problems held out of SFT (the last ones) for that stopping check
    eval_problems: int = 100  # test problems for RAFT's greedy accuracy (the SFT policy's is iteration 0)


@dataclass(frozen=True)
class PromptConfig:
    """How every problem is put to the policy; the instruction names the answer format that
    ``answers.extract_answer`` reads for the problem's ``answer_format``. The PRM reads the same prompt."""

    template: str = "Question : {question}\n{instruction}\nAnswer :\n"  # literal braces: {{ }}
    # below: the instruction per answer format (answers.FORMATS); quartet reads one step per line
    answer_is: str = 'Write one step per line, and end with "The answer is N".'  # world, GSM8K
    gsm8k: str = 'Write one step per line, and end with "#### N".'  # problems whose answers are "#### N"
    boxed: str = "Write one step per line, and put the final answer in \\boxed{}."  # MATH500


@dataclass(frozen=True)
class RolloutConfig:
    """Candidates and Monte-Carlo rollouts."""

    prm_problems: int = 200  # train problems whose sampled solutions get step labels
    solutions_per_problem: int = 4  # sampled solutions per such problem
    k: int = 8  # rollouts per step prefix (the paper: 16)
    candidates: int = 64  # best-of-N pool per test problem
    temperature: float = 1.0  # sampling temperature everywhere
    max_new_tokens: int = 80  # longest solution
    chunk_size: int = 32  # prompts per generate call (and per resumable unit)
    last_from_final: bool = True  # last step's label = final-answer correctness
    ray: str = ""  # Ray cluster address for sampling and rollouts ("auto", "ray://host:10001", "local"); empty: here
    ray_workers: int = 2  # Ray workers, each with its own copy of the policy


@dataclass(frozen=True)
class PRMConfig:
    """Labellings, PRM training and best-of-N."""

    etas: tuple[float, ...] = (0.5, 2.0, 8.0)  # ER labelling strengths, one PRM each
    methods: tuple[str, ...] = ("hard", "soft", "er")  # labellings (er: once per eta)
    orm: bool = True  # also train an outcome reward model
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=150, lr=1e-3, batch_size=32))
    aggregate: str = "min"  # step-score aggregation of every PRM for best-of-N and RAFT
    orm_aggregate: str = "last"  # the ORM's: it is trained on its final tag only, so it is read there
    step_tag: str = "<step>"  # written after every step; one token (added to an HF tokenizer that lacks it)
    good_token: str = "+"  # reward token of a right step; must be one token of the tokenizer
    bad_token: str = "-"  # reward token of a wrong step; must be one token of the tokenizer
    value_head: bool = False  # train a linear value head with BCE instead of the reward-token CE
    trl_threshold: float = 0.5  # TRL's PRMTrainer casts labels to int: its export writes label >= this
    ns: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)  # best-of-N sizes
    seeds: tuple[int, ...] = (0, 1, 2)  # candidate-subsampling seeds
    n_boot: int = 1000  # bootstrap resamples for the 95% intervals


@dataclass(frozen=True)
class RaftConfig:
    """Rejection-sampling fine-tuning with each PRM."""

    enabled: bool = True
    iterations: int = 2  # T
    prompts: int = 100  # train problems per iteration
    samples: int = 8  # n solutions per prompt; the best by PRM score is kept
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=40, lr=1e-3, schedule="constant"))
    lr_decay: float = 0.5  # iteration t uses train.lr * lr_decay**t
    prms: tuple[str, ...] = ()  # which PRMs drive RAFT (empty: every labelling and the ORM)


@dataclass(frozen=True)
class PipelineConfig:
    """``quartet prm pipeline``: everything, each stage resumable."""

    name: str = "prm-tiny"  # run directory name under runs/prm/
    run_dir: str = ""  # explicit run directory (overrides name)
    seed: int = 0  # model init and sampling
    data: DataConfig = field(default_factory=DataConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    prm: PRMConfig = field(default_factory=PRMConfig)
    raft: RaftConfig = field(default_factory=RaftConfig)
