"""The fact world: determinism, the stated/unstated split, OOD separation, MC variant."""

from quartet.worlds.facts import (
    OPTION_LETTERS,
    RELATIONS,
    WorldSpec,
    build_world,
    knowledge_gap,
    mc_prompt,
    multiple_choice,
    pretraining_corpus,
    qa_items,
    unanswerable_items,
)

SPEC = WorldSpec(n_persons=20, n_companies=6, n_countries=4, n_cities=8, n_languages=3)


def test_deterministic_by_seed_and_differs_across_seeds():
    a, b, c = build_world(SPEC, 3), build_world(SPEC, 3), build_world(SPEC, 4)
    assert a == b
    assert a != c
    assert pretraining_corpus(a, seed=1) == pretraining_corpus(b, seed=1)
    assert qa_items(a, "train") == qa_items(b, "train")


def test_corpus_states_exactly_the_stated_facts():
    world = build_world(SPEC, 0)
    corpus = " \n ".join(pretraining_corpus(world, repeats=3, qa_repeats=1))
    stated = [f for f in world.facts if f.stated]
    unstated = [f for f in world.facts if not f.stated]
    assert stated and unstated
    # Each stated fact appears 3 times as a statement and once as a QA line.
    for fact in stated:
        rel = RELATIONS[fact.relation]
        n_statements = sum(corpus.count(t.format(s=fact.subject, o=fact.object)) for t in rel.statements)
        assert n_statements >= 3
    # An unstated fact's subject never sits next to its object in any statement template.
    for fact in unstated:
        for t in RELATIONS[fact.relation].statements:
            assert t.format(s=fact.subject, o=fact.object) not in corpus


def test_splits_partition_facts_and_ood_is_separate():
    world = build_world(SPEC, 1)
    train, test_id, test_ood = (qa_items(world, s) for s in ("train", "test_id", "test_ood"))
    assert len(train) + len(test_id) + len(test_ood) == len(world.facts)
    assert not {r["subject"] for r in train} & {r["subject"] for r in test_id}
    ood_rel = {r["relation"] for r in test_ood}
    assert ood_rel == {n for n, r in RELATIONS.items() if r.ood}
    assert not ood_rel & {r["relation"] for r in train + test_id}
    # No OOD question wording is an ID wording.
    id_words = {q for r in RELATIONS.values() if not r.ood for q in r.questions}
    assert not id_words & {q for r in RELATIONS.values() if r.ood for q in r.questions}
    gap = knowledge_gap(world)
    assert all(r["stated"] == gap[r["id"]] for r in train + test_id + test_ood)
    assert {r["stated"] for r in train} == {True, False}


def test_unanswerable_have_no_answer_and_wrong_kind_subject():
    world = build_world(SPEC, 2)
    items = unanswerable_items(world, 10)
    assert len(items) == 10 and len({i["id"] for i in items}) == 10
    for item in items:
        assert item["answer"] is None and item["answerable"] is False
        kind = RELATIONS[item["relation"]].subject_kind
        assert item["subject"] not in world.entities[kind]


def test_multiple_choice_gold_letter_and_distractor_kind():
    world = build_world(SPEC, 5)
    mc = multiple_choice(world, qa_items(world, "train"), n_choices=4)
    for item in mc:
        assert len(item["choices"]) == 4 and len(set(item["choices"])) == 4
        assert item["choices"][OPTION_LETTERS.index(item["gold"])] == item["answer"]
        kind = RELATIONS[item["relation"]].object_kind
        assert set(item["choices"]) <= set(world.entities[kind])
    assert mc_prompt("Q?", ["x", "y"]) == "Question: Q? A. x B. y Answer:"
