"""A world of fictional facts whose knowledge gap is known by construction.

Entities (persons, companies, countries, cities) get attributes (birthplace, employer,
founding year, capital, ...). A pretraining corpus states a controlled subset of the facts
(``stated``) in varied sentence templates, so a model pretrained on it knows exactly those
facts and can only guess the rest. Question–answer data covers stated and unstated facts
alike; the out-of-domain test set uses relations and question wordings that tuning never
sees; a multiple-choice variant adds distractors of the right type. Everything is a pure
function of the seed.

The vocabulary is small and regular (capitalized made-up names, a few dozen template
words), so a tiny word-level model learns the world in minutes on a CPU.

>>> w = build_world(WorldSpec(n_persons=4, n_companies=2, n_countries=2, n_cities=3), seed=0)
>>> sorted({f.relation for f in w.facts}) == sorted(RELATIONS)
True
>>> build_world(WorldSpec(n_persons=4, n_companies=2, n_countries=2, n_cities=3), seed=0) == w
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

QA_PROMPT = "Question: {question} Answer:"  # the prompt every QA item is asked in
OPTION_LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class Relation:
    """One attribute: which kinds it links, how the corpus states it, how it is asked."""

    subject_kind: str
    object_kind: str
    statements: tuple[str, ...]  # declarative templates with {s} and {o}
    questions: tuple[str, ...]  # question wordings with {s}
    ood: bool  # True: never used in tuning, only in the out-of-domain test


RELATIONS: dict[str, Relation] = {
    "birthplace": Relation(
        "person", "city",
        ("{s} was born in {o}.", "The birthplace of {s} is {o}.", "{o} is where {s} was born."),
        ("Where was {s} born?", "In which city was {s} born?", "What is the birthplace of {s}?"),
        ood=False,
    ),
    "employer": Relation(
        "person", "company",
        ("{s} works for {o}.", "{s} is employed by {o}.", "The employer of {s} is {o}."),
        ("Who is the employer of {s}?", "Which company does {s} work for?", "Who employs {s}?"),
        ood=False,
    ),
    "founded": Relation(
        "company", "year",
        ("{s} was founded in {o}.", "The company {s} was founded in the year {o}.", "In {o}, {s} was founded."),
        ("When was {s} founded?", "In which year was {s} founded?", "What is the founding year of {s}?"),
        ood=False,
    ),
    "capital": Relation(
        "country", "city",
        ("The capital of {s} is {o}.", "{o} is the capital of {s}.", "{s} has its capital in {o}."),
        ("What is the capital of {s}?", "Which city is the capital of {s}?", "Name the capital of {s}?"),
        ood=False,
    ),
    # Out of domain: these relations and wordings appear in pretraining only.
    "profession": Relation(
        "person", "job",
        ("{s} works as a {o}.", "{s} is a {o} by profession.", "The profession of {s} is {o}."),
        ("What does {s} do for a living?", "What is the job of {s}?"),
        ood=True,
    ),
    "headquarters": Relation(
        "company", "city",
        ("{s} has its headquarters in {o}.", "The headquarters of {s} are in {o}."),
        ("Where are the headquarters of {s}?", "In which city is {s} based?"),
        ood=True,
    ),
    "language": Relation(
        "country", "language",
        ("People in {s} speak {o}.", "The language of {s} is {o}."),
        ("What language do people speak in {s}?", "Which language is spoken in {s}?"),
        ood=True,
    ),
}

JOBS = ("farmer", "baker", "painter", "doctor", "teacher", "pilot", "singer", "writer", "nurse", "sailor")
_ONSETS = "b d f g k l m n p r s t v z".split()
_VOWELS = "a e i o u".split()
_CODAS = ["", "n", "r", "l", "s", "k"]


@dataclass(frozen=True)
class WorldSpec:
    """Sizes of a world; the number of facts grows linearly with them."""

    n_persons: int = 40  # persons: birthplace, employer, profession
    n_companies: int = 12  # companies: founded, headquarters
    n_countries: int = 8  # countries: capital, language
    n_cities: int = 16  # cities: objects of birthplace, capital, headquarters
    n_languages: int = 6  # languages: objects of language
    stated_fraction: float = 0.5  # share of facts the pretraining corpus states
    test_fraction: float = 0.5  # share of subjects whose ID facts form the ID test set
    first_year: int = 1850  # founding years are drawn from [first_year, last_year]
    last_year: int = 1899


@dataclass(frozen=True)
class Fact:
    relation: str
    subject: str
    object: str
    stated: bool  # True: the pretraining corpus states this fact
    split: Literal["train", "test"]  # ID relations: train facts are tuned on, test facts held out

    @property
    def key(self) -> str:
        return f"{self.relation}:{self.subject}"


@dataclass(frozen=True)
class FactWorld:
    entities: dict[str, tuple[str, ...]]  # kind -> names
    facts: tuple[Fact, ...]
    seed: int


def _names(rng: random.Random, count: int, taken: set[str], syllables: int, suffix: str = "") -> tuple[str, ...]:
    """``count`` fresh capitalized names of ``syllables`` CV(C) syllables, none in ``taken``."""
    out: list[str] = []
    while len(out) < count:
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))
        name = (word + suffix).capitalize()
        if name not in taken:
            taken.add(name)
            out.append(name)
    return tuple(out)


def build_world(spec: WorldSpec, seed: int) -> FactWorld:
    """Entities, their attributes, which facts are stated, and the ID train/test split."""
    rng = random.Random(seed)
    taken: set[str] = set()
    years = [str(y) for y in range(spec.first_year, spec.last_year + 1)]
    entities = {
        "person": _names(rng, spec.n_persons, taken, 2),
        "company": _names(rng, spec.n_companies, taken, 2, suffix="co"),
        "country": _names(rng, spec.n_countries, taken, 2, suffix="ia"),
        "city": _names(rng, spec.n_cities, taken, 2, suffix="ton"),
        "language": _names(rng, spec.n_languages, taken, 1, suffix="ish"),
        "job": JOBS,
        "year": tuple(years),
    }
    # Test subjects are chosen per kind so that ID test facts concern entities never asked about in tuning.
    test_subjects: set[str] = set()
    for kind in ("person", "company", "country"):
        names = list(entities[kind])
        rng.shuffle(names)
        test_subjects |= set(names[: round(len(names) * spec.test_fraction)])
    # Distinct capitals: a city is the capital of at most one country.
    capitals = rng.sample(entities["city"], k=min(len(entities["city"]), spec.n_countries))
    facts: list[Fact] = []
    for name, rel in RELATIONS.items():
        for i, subject in enumerate(entities[rel.subject_kind]):
            if name == "capital":
                obj = capitals[i % len(capitals)]
            else:
                obj = rng.choice(entities[rel.object_kind])
            stated = rng.random() < spec.stated_fraction
            split = "test" if subject in test_subjects else "train"
            facts.append(Fact(name, subject, obj, stated, split))
    return FactWorld(entities=entities, facts=tuple(facts), seed=seed)


def pretraining_corpus(world: FactWorld, repeats: int = 4, qa_repeats: int = 2, seed: int = 0) -> list[str]:
    """Documents stating every stated fact ``repeats`` times in varied templates, plus
    ``qa_repeats`` question–answer lines each (in the QA prompt format, wordings drawn from all
    of the relation's questions) so the base model answers questions about what it knows.

    Unstated facts appear nowhere. Documents are shuffled deterministically.
    """
    rng = random.Random(seed * 7919 + world.seed)
    docs: list[str] = []
    for fact in world.facts:
        if not fact.stated:
            continue
        rel = RELATIONS[fact.relation]
        for _ in range(repeats):
            docs.append(rng.choice(rel.statements).format(s=fact.subject, o=fact.object))
        for _ in range(qa_repeats):
            question = rng.choice(rel.questions).format(s=fact.subject)
            docs.append(f"{QA_PROMPT.format(question=question)} {fact.object}.")
    rng.shuffle(docs)
    return docs


def _qa_record(fact: Fact, question: str) -> dict[str, Any]:
    return {
        "id": fact.key, "question": question, "answer": fact.object, "relation": fact.relation,
        "subject": fact.subject, "stated": fact.stated, "answerable": True,
    }


def qa_items(world: FactWorld, split: Literal["train", "test_id", "test_ood"], seed: int = 0) -> list[dict]:
    """Question–answer records over stated and unstated facts.

    ``train``: ID relations, train subjects (the instruction data that is probed and tuned on);
    ``test_id``: ID relations, held-out subjects, same wordings; ``test_ood``: OOD relations only,
    whose relations and wordings tuning never uses. ``stated`` says whether the base model can know it.
    """
    rng = random.Random(seed * 104729 + world.seed + {"train": 0, "test_id": 1, "test_ood": 2}[split])
    out = []
    for fact in world.facts:
        rel = RELATIONS[fact.relation]
        if split == "test_ood":
            keep = rel.ood
        else:
            keep = not rel.ood and fact.split == ("train" if split == "train" else "test")
        if keep:
            out.append(_qa_record(fact, rng.choice(rel.questions).format(s=fact.subject)))
    return out


def unanswerable_items(world: FactWorld, n: int, seed: int = 0) -> list[dict]:
    """False-premise questions: an ID relation asked of an entity of the wrong kind
    ("Where was <a company> born?"); no answer exists. ``answer`` is None."""
    rng = random.Random(seed * 31337 + world.seed)
    id_rels = [name for name, rel in RELATIONS.items() if not rel.ood]
    out: list[dict] = []
    seen: set[str] = set()
    wrong_kinds = ("person", "company", "country", "city")
    for _ in range(n * 20):
        if len(out) >= n:
            break
        name = rng.choice(id_rels)
        rel = RELATIONS[name]
        kind = rng.choice([k for k in wrong_kinds if k != rel.subject_kind])
        subject = rng.choice(world.entities[kind])
        key = f"unanswerable:{name}:{subject}"
        if key in seen:
            continue
        seen.add(key)
        out.append({
            "id": key, "question": rng.choice(rel.questions).format(s=subject), "answer": None,
            "relation": name, "subject": subject, "stated": False, "answerable": False,
        })
    return out


def multiple_choice(world: FactWorld, items: list[dict], n_choices: int = 4, seed: int = 0) -> list[dict]:
    """The same items with ``choices`` (gold plus distractors of the same kind) and ``gold`` letter.

    >>> w = build_world(WorldSpec(n_persons=4, n_companies=2, n_countries=2, n_cities=5), seed=1)
    >>> mc = multiple_choice(w, qa_items(w, "train"))
    >>> all(m["choices"][OPTION_LETTERS.index(m["gold"])] == m["answer"] for m in mc)
    True
    """
    rng = random.Random(seed * 65537 + world.seed)
    out = []
    for item in items:
        pool = [e for e in world.entities[RELATIONS[item["relation"]].object_kind] if e != item["answer"]]
        k = min(n_choices - 1, len(pool))
        choices = [*rng.sample(pool, k), item["answer"]]
        rng.shuffle(choices)
        out.append({**item, "choices": choices, "gold": OPTION_LETTERS[choices.index(item["answer"])]})
    return out


def mc_prompt(question: str, choices: list[str] | tuple[str, ...]) -> str:
    """``Question: q A. x B. y ... Answer:`` — the next token is scored over the option letters."""
    opts = " ".join(f"{OPTION_LETTERS[i]}. {c}" for i, c in enumerate(choices))
    return f"Question: {question} {opts} Answer:"


def knowledge_gap(world: FactWorld) -> dict[str, bool]:
    """Fact key -> True when the base model can know it (the corpus states it)."""
    return {f.key: f.stated for f in world.facts}


def vocabulary_texts(world: FactWorld) -> list[str]:
    """Every name of the world, so a word-level tokenizer covers facts that the corpus never states."""
    return [" ".join(names) for names in world.entities.values()]
