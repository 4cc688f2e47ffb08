"""Helpers shared by the InfoPattern tests (a plain module: pytest puts this folder on sys.path)."""

from __future__ import annotations

from quartet.infopattern.messages import Message


def toy_messages(n_per_side: int = 12) -> list[Message]:
    """Two clearly separable sides on one target, for fast detector tests."""
    pro = ["cats are wonderful loving pets", "i love cats they are great", "cats make life better and happy"]
    con = ["cats are terrible awful pets", "i hate cats they are bad", "cats ruin life and make it sad"]
    out = []
    for i in range(n_per_side):
        out.append(Message(id=f"p{i}", text=pro[i % 3], stance="pro", community="pro", target="cats"))
        out.append(Message(id=f"c{i}", text=con[i % 3], stance="con", community="con", target="cats"))
    return out


def recording_generate(lm, seen: list[str]):
    """``lm.generate`` that also appends every prompt it is given to ``seen`` (to check what the model saw)."""
    real = lm.generate

    def recording(prompts, params, n=1):
        seen.extend(prompts)
        return real(prompts, params, n=n)

    return recording
