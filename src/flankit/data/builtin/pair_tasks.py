"""Builtin pair and choice generators: NLI, paraphrase, coreference, commonsense.

Labels follow rules a small model can learn: NLI hypotheses are rule-based rewrites of a
generated premise (generalise or drop details -> yes, negate -> no, add unstated facts ->
maybe); paraphrases swap verbs for synonyms (yes) or change a fact (no); pronouns are
resolved by gender; commonsense answers come from small fixed knowledge tables with shuffled
distractors. All text written for flankit.
"""

from __future__ import annotations

import random

from flankit.data.builtin import register
from flankit.data.builtin.words import (
    ADJECTIVES,
    CITIES,
    DAYS,
    FEMALE,
    MALE,
    NAMES,
    OBJECT_NAMES,
    OBJECTS,
    OCCUPATIONS,
    PLACES,
    RELATIVES,
    TIMES,
    VERB_NAMES,
    VERBS,
    with_article,
)


# ---------------------------------------------------------------- NLI and paraphrase
def _event(rng: random.Random) -> dict:
    name = rng.choice(NAMES)
    return {
        "name": name,
        "job": rng.choice(OCCUPATIONS),
        "verb": rng.choice(VERB_NAMES),
        "adj": rng.choice(ADJECTIVES),
        "obj": rng.choice(OBJECT_NAMES),
        "place": rng.choice(PLACES),
        "day": rng.choice(DAYS),
        "pron": "she" if name in FEMALE else "he",
    }


def _premise(e: dict, rng: random.Random) -> str:
    shape = rng.random()
    if shape < 0.35:
        return f"{e['name']}, {with_article(e['job'])}, {e['verb']} {with_article(e['adj'])} {e['obj']} at {e['place']} on {e['day']}."
    if shape < 0.7:
        return f"On {e['day']}, {e['name']} {e['verb']} {with_article(e['adj'])} {e['obj']} at {e['place']}."
    return (
        f"{e['name']} went to {e['place']} on {e['day']}. While there, the {e['job']} "
        f"{e['verb']} {with_article(e['adj'])} {e['obj']}."
    )


@register("nli")
def nli(rng: random.Random) -> dict:
    e = _event(rng)
    label = rng.choice(("yes", "no", "maybe"))
    k = rng.randrange(4)
    verb, obj = e["verb"], e["obj"]
    if label == "yes":
        hyp = (
            f"{e['name']} {verb} {OBJECTS[obj]}.",
            f"{with_article(e['job']).capitalize()} {verb} {with_article(obj)}.",
            f"Someone was at {e['place']} on {e['day']}.",
            f"{e['name']} {verb} {with_article(obj)} on {e['day']}.",
        )[k]
    elif label == "no":
        hyp = (
            f"{e['name']} never {verb} anything.",
            f"Nobody was at {e['place']} on {e['day']}.",
            f"{e['name']} did not leave home on {e['day']}.",
            f"No {e['job']} {verb} {with_article(obj)} that {e['day']}.",
        )[k]
    else:
        hyp = (
            f"{e['name']} {verb} the {obj} for {rng.choice(RELATIVES)}.",
            f"{e['name']} was unhappy with the {obj} later.",
            f"It was raining at {e['place']} that {e['day']}.",
            f"{e['name']} also {rng.choice(VERB_NAMES)} {with_article(rng.choice(OBJECT_NAMES))} in {rng.choice(CITIES)}.",
        )[k]
    return {"premise": _premise(e, rng), "hypothesis": hyp, "label": label}


@register("paraphrase")
def paraphrase(rng: random.Random) -> dict:
    e = _event(rng)
    label = "yes" if rng.random() < 0.5 else "no"
    syn, opp = VERBS[e["verb"]]
    first = f"{e['name']} {e['verb']} the {e['adj']} {e['obj']} at {e['place']} on {e['day']}."
    if label == "yes":
        verb, obj, who = syn, e["obj"], e["name"]
    else:
        k = rng.randrange(3)
        verb = opp if k == 0 else syn
        obj = rng.choice([o for o in OBJECT_NAMES[:8] if o != e["obj"]]) if k == 1 else e["obj"]
        who = rng.choice(NAMES[:20]) if k == 2 and e["name"] not in NAMES[:20] else e["name"]
        if k == 2 and who == e["name"]:
            verb = opp
    second = (
        f"On {e['day']}, {who} {verb} the {e['adj']} {obj} at {e['place']}.",
        f"At {e['place']}, {who} {verb} the {e['adj']} {obj} on {e['day']}.",
        f"{who} {verb} the {e['adj']} {obj} on {e['day']} at {e['place']}.",
    )[rng.randrange(3)]
    return {"sentence1": first, "sentence2": second, "label": label}


# ---------------------------------------------------------------- coreference
COREF_VERBS = (
    "called",
    "met",
    "emailed",
    "visited",
    "waited for",
    "argued with",
    "thanked",
    "texted",
    "looked for",
    "wrote to",
    "apologised to",
    "cooked dinner for",
)
COREF_CONJ = ("because", "since", "after", "even though", "as soon as")
COREF_VP = (
    "was running late",
    "needed advice about {obj}s",
    "had just moved to {city}",
    "felt tired after work",
    "wanted to talk about the {obj}",
    "had lost the keys",
    "was leaving for {city} on {day}",
    "had finished the report",
    "was worried about the exam",
    "had found an old {obj}",
)


@register("coreference")
def coreference(rng: random.Random) -> dict:
    a, b = rng.choice(FEMALE), rng.choice(MALE)
    if rng.random() < 0.5:
        a, b = b, a
    target = a if rng.random() < 0.5 else b
    pron = "she" if target in FEMALE else "he"
    vp = rng.choice(COREF_VP).format(
        obj=rng.choice(OBJECT_NAMES), city=rng.choice(CITIES), day=rng.choice(DAYS)
    )
    text = f"{a} {rng.choice(COREF_VERBS)} {b} {rng.choice(COREF_CONJ)} {pron} {vp}."
    if rng.random() < 0.3:
        text = f"{rng.choice(DAYS)} {rng.choice(TIMES)}: {text}"
    return {"text": text, "pronoun": pron, "options": [a, b], "answer": target}


# ---------------------------------------------------------------- commonsense (multiple choice)
RELATIONS = (
    (
        (
            "{n} is looking for {x}. Where would {p} most likely find one?",
            "Where does {n} usually keep {x}?",
            "{n} saw {x} yesterday. Where was {p} most likely?",
            "If {n} wanted {x}, where should {p} look first?",
        ),
        {
            "a pillow": "on a bed",
            "a toothbrush": "in a bathroom",
            "a stapler": "in an office",
            "an oven": "in a kitchen",
            "a swing": "in a playground",
            "a tent": "at a campsite",
            "a canoe": "on a lake",
            "a cactus": "in a desert",
            "a library card": "in a wallet",
            "a lawn mower": "in a garage",
            "a treadmill": "in a gym",
            "a chalkboard": "in a classroom",
            "a stethoscope": "in a hospital",
            "an anchor": "on a ship",
            "a cash register": "in a shop",
            "a telescope": "in an observatory",
            "a hay bale": "on a farm",
            "a pew": "in a church",
        },
    ),
    (
        (
            "{n} borrowed {x}. What is it used for?",
            "Why would {n} pick up {x}?",
            "{n} bought {x} today. What does {p} probably need it for?",
            "What might {n} do with {x}?",
        ),
        {
            "a hammer": "to drive nails",
            "a ladder": "to reach high places",
            "a pair of scissors": "to cut paper",
            "a thermometer": "to measure temperature",
            "a key": "to open a lock",
            "a broom": "to sweep the floor",
            "a kettle": "to boil water",
            "a map": "to find the way",
            "a sponge": "to soak up water",
            "a stamp": "to post a letter",
            "an alarm clock": "to wake up on time",
            "a net": "to catch fish",
            "a shovel": "to dig a hole",
            "a needle": "to sew clothes",
            "a compass": "to tell north from south",
            "a ruler": "to measure length",
            "an umbrella": "to stay dry in the rain",
        },
    ),
    (
        (
            "{x}. How does {p} most likely feel?",
            "{x}. What emotion is {p} probably feeling?",
            "Imagine this: {x}. How would {p} feel?",
            "Picture it: {x}. Which word describes {p} best?",
        ),
        {
            "{n} just won first prize": "proud",
            "{n} lost the house keys again": "annoyed",
            "{n} got a puppy for a birthday": "happy",
            "{n} heard a strange noise at midnight": "scared",
            "{n} waited two hours for a late bus": "impatient",
            "{n} just finished a marathon": "exhausted",
            "{n} forgot a best friend's wedding": "guilty",
            "{n} is about to give a speech": "nervous",
            "{n} found out the trip was cancelled": "disappointed",
            "{n} has nothing to do all day": "bored",
            "{n} received an unexpected gift": "surprised",
            "{n} was blamed for someone else's mistake": "angry",
        },
    ),
)


@register("commonsense")
def commonsense(rng: random.Random) -> dict:
    phrasings, table = rng.choice(RELATIONS)
    keys = tuple(table)
    key = rng.choice(keys)
    answer = table[key]
    distractors = rng.sample(sorted({v for v in table.values() if v != answer}), 3)
    options = [answer, *distractors]
    rng.shuffle(options)
    name = rng.choice(NAMES)
    pron = "she" if name in FEMALE else "he"
    question = rng.choice(phrasings).format(x=key.format(n=name), n=name, p=pron)
    question = question[0].upper() + question[1:]
    k = rng.randrange(6)  # an optional scene-setting sentence varies the wording, not the answer
    if k < 3:
        scene = (
            f"It is {rng.choice(DAYS)} {rng.choice(TIMES)}.",
            f"{name} lives in {rng.choice(CITIES)}.",
            f"{name} is {with_article(rng.choice(OCCUPATIONS))}.",
        )[k]
        question = f"{scene} {question}"
    return {"question": question, "options": options, "answer": answer}
