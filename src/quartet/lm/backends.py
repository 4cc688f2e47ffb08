"""Open a language model from a path: a quartet checkpoint or a Hugging Face model folder."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from quartet.core.distributed import local_device
from quartet.lm.protocol import LanguageModel


def default_device() -> str:
    """This process's device: ``cuda:LOCAL_RANK`` under ``torchrun`` on a GPU node, ``cuda``, or ``cpu``."""
    return str(local_device())


def _holds_model(path: Path) -> bool:
    return (path / "model.json").is_file() or (path / "config.json").is_file()


def _resolve_run(path: Path) -> Path:
    """A folder holding a saved model is that model, even when it also keeps training checkpoints;
    a run directory stands for its finished model (``model/``), else for its latest checkpoint."""
    if _holds_model(path) or not (path / "checkpoints").is_dir():
        return path
    if _holds_model(path / "model"):
        return path / "model"
    from quartet.core.runs import RunDir

    latest = RunDir(path).latest_checkpoint()
    if latest is None:
        raise FileNotFoundError(f"run {path} has no checkpoint yet")
    return latest


def load_lm(
    path: str | Path,
    backend: Literal["auto", "builtin", "hf", "vllm", "openai"] = "auto",
    device: str | None = None,
    batch_size: int = 16,
    compile_decoding: bool = False,
) -> LanguageModel:
    """``model.json`` in the folder means the built-in model; ``config.json`` means transformers.

    A run directory is accepted too: its latest checkpoint is used. With ``backend="openai"``,
    ``path`` is the base URL of an OpenAI-compatible server (``http://127.0.0.1:8000/v1``).
    With ``backend="vllm"`` a built-in model is exported to a Hugging Face folder beside it
    first (``quartet.lm.vllm_backend.hf_folder_for``). ``compile_decoding`` (built-in model
    only) runs each decoding step through ``torch.compile``.
    """
    if str(path).startswith(("http://", "https://")):
        backend = "openai"
    if backend != "openai":
        path = _resolve_run(Path(path))
    if backend == "auto":
        if (path / "model.json").is_file():
            backend = "builtin"
        elif (path / "config.json").is_file():
            backend = "hf"
        else:
            raise FileNotFoundError(f"{path} holds neither a quartet model (model.json) nor a HF model (config.json)")
    if compile_decoding and backend != "builtin":
        raise ValueError(f"compile_decoding applies to the built-in model, not to the {backend} backend ({path})")
    if backend == "openai":
        from quartet.lm.remote import OpenAICompatibleLM

        return OpenAICompatibleLM(str(path))
    if backend == "vllm":
        from quartet.lm.vllm_backend import VLLMLM

        return VLLMLM.load(path)
    device = device or default_device()
    if backend == "builtin":
        from quartet.lm.builtin import BuiltinLM

        return BuiltinLM.load(path, device=device, batch_size=batch_size, compile_decoding=compile_decoding)
    from quartet.lm.hf import HFCausalLM

    return HFCausalLM.load(path, device=device, batch_size=batch_size)
