"""Builtin generation generators: extractive QA, headlines, translation, dialogue summaries.

Translation targets "Veltish", a rule-based synthetic language: every English word maps to a
fixed made-up word (derived from a hash of the word), adjectives follow their noun, the
object comes before the verb, plurals take the suffix "-ek" and articles are dropped.
All texts written for flankit.
"""

from __future__ import annotations

import random
import zlib

from flankit.data.builtin import register
from flankit.data.builtin.words import (
    ADJECTIVES,
    CITIES,
    COLORS,
    DAYS,
    FEMALE,
    NAMES,
    OCCUPATIONS,
    SURNAMES,
    with_article,
    word_list,
)

# ---------------------------------------------------------------- extractive QA
FIELDS_OF_STUDY = word_list(
    "history chemistry music law economics biology architecture physics linguistics medicine geology "
    "philosophy"
)
PETS = word_list("cat dog parrot tortoise rabbit hamster")
PET_NAMES = word_list("Biscuit Pepper Mango Ziggy Olive Captain Noodle Pixel Juniper Waffle")
HOBBIES = (
    "climbing",
    "baking bread",
    "sailing",
    "chess",
    "birdwatching",
    "pottery",
    "running",
    "knitting",
    "gardening",
    "photography",
)


@register("extractive_qa")
def extractive_qa(rng: random.Random) -> dict:
    first, last = rng.choice(NAMES), rng.choice(SURNAMES)
    p = "She" if first in FEMALE else "He"
    city, uni, work = rng.sample(CITIES, 3)
    year, field, job = str(rng.randrange(1940, 2005)), rng.choice(FIELDS_OF_STUDY), rng.choice(OCCUPATIONS)
    color, pet, pet_name, hobby = (
        rng.choice(COLORS),
        rng.choice(PETS),
        rng.choice(PET_NAMES),
        rng.choice(HOBBIES),
    )
    facts = [
        (
            f"{first} {last} was born in {city} in {year}.",
            ((f"Where was {first} born?", city), (f"In which year was {first} {last} born?", year)),
        ),
        (
            f"{p} studied {field} at the University of {uni}.",
            (
                (f"What subject did {first} study?", field),
                (f"Where did {first} go to university?", f"the University of {uni}"),
            ),
        ),
        (
            f"Later {p.lower()} worked as {with_article(job)} in {work}.",
            ((f"What was {first}'s job?", with_article(job)), (f"In which city did {first} work?", work)),
        ),
        (
            f"{p} lives with {with_article(color)} {pet} called {pet_name}.",
            ((f"What is the name of {first}'s {pet}?", pet_name), (f"What colour is {first}'s pet?", color)),
        ),
        (f"On weekends {first} enjoys {hobby}.", ((f"What does {first} like to do on weekends?", hobby),)),
    ]
    asked = rng.randrange(len(facts))
    # The first fact introduces the person, so it is always kept.
    keep = [i for i in range(len(facts)) if i in (0, asked) or rng.random() < 0.6]
    question, answer = rng.choice(facts[asked][1])
    context = " ".join(facts[i][0] for i in keep)
    return {"context": context, "question": question, "answer": answer}


# ---------------------------------------------------------------- headlines
INDUSTRIES = ("software", "shipping", "solar energy", "furniture", "coffee", "biotech", "toy", "textile")
FACILITIES = ("library", "bridge", "hospital wing", "concert hall", "train station", "public pool", "school")
FINDINGS = (
    ("a new species of beetle", "new beetle species"),
    ("an ancient Roman coin", "ancient Roman coin"),
    ("a comet with two tails", "two-tailed comet"),
    ("a cheaper way to store hydrogen", "cheaper hydrogen storage"),
    ("a protein linked to memory", "memory protein"),
    ("a buried Bronze Age village", "Bronze Age village"),
)


@register("headlines")
def headlines(rng: random.Random) -> dict:
    city, city2 = rng.sample(CITIES, 2)
    name, surname, day, n = rng.choice(NAMES), rng.choice(SURNAMES), rng.choice(DAYS), rng.randrange(2, 95)
    kind = rng.randrange(6)
    if kind == 0:
        org, org2 = f"{surname} Group", f"{rng.choice(SURNAMES)} {rng.choice(('Labs', 'Systems', 'Works'))}"
        art = (
            f"{org} said on {day} that it has agreed to buy {org2}, {with_article(rng.choice(INDUSTRIES))} firm based in "
            f"{city}, for {n} million dollars. The deal is expected to close next year."
        )
        head = f"{org} to buy {org2} for ${n} million"
    elif kind == 1:
        a, b = rng.randrange(1, 6), rng.randrange(0, 3)
        art = (
            f"The {city} Rovers beat {city2} {a}-{b} on {day}, with {name} {surname} scoring the decisive goal. "
            f"It was the team's {n}th win in the league."
        )
        head = f"{city} Rovers beat {city2} {a}-{b}"
    elif kind == 2:
        what = rng.choice(("snow", "rain", "wind", "hail"))
        art = (
            f"Heavy {what} hit {city} on {day}, closing schools and delaying trains across the region. "
            f"Officials said conditions should improve within {n % 5 + 2} days."
        )
        head = f"Heavy {what} closes schools in {city}"
    elif kind == 3:
        place = rng.choice(FACILITIES)
        art = (
            f"A new {place} opened in {city} on {day}. Mayor {name} {surname} said it would serve about "
            f"{n} thousand residents and create local jobs."
        )
        head = f"New {place} opens in {city}"
    elif kind == 4:
        art = (
            f"{name} {surname} has won the race for mayor of {city}, taking {n} percent of the vote. "
            f"{surname} promised to focus on housing and transport."
        )
        head = f"{surname} elected mayor of {city}"
    else:
        long, short = rng.choice(FINDINGS)
        art = (
            f"Researchers in {city} have found {long}, according to a report published on {day}. "
            f"The team, led by {name} {surname}, spent {n % 9 + 2} years on the project."
        )
        head = f"{city} researchers find {short}"
    return {"article": art, "summary": head}


# ---------------------------------------------------------------- translation into Veltish
NOUNS = word_list(
    "dog cat bird farmer clown teacher river candle mountain window garden lantern basket mirror "
    "forest ladder wagon castle island rocket tiger violin kettle horse sailor baker wolf apple "
    "letter boat key drum"
)
VERBS_3SG = word_list("sees likes carries finds paints follows watches holds builds wants visits hides")
ADJS = ADJECTIVES + COLORS
TIME_WORDS = word_list("today tonight often again slowly sometimes")
_SYLLABLES = word_list("ka lo mi ra sen tu vel zor ni pa qui dro fen gal hu ix jo wen yal bre os tam")


def _coin(word: str, taken: set[str]) -> str:
    h = zlib.crc32(word.encode())
    n = 2 + h % 2
    out = "".join(_SYLLABLES[(h >> (5 * i)) % len(_SYLLABLES)] for i in range(n))
    while out in taken:
        out += _SYLLABLES[h % 7]
    taken.add(out)
    return out


def _lexicon() -> dict[str, str]:
    taken: set[str] = set()
    return {w: _coin(w, taken) for w in (*NOUNS, *VERBS_3SG, *ADJS, *TIME_WORDS)}


VELTISH = _lexicon()


def _noun_phrase(rng: random.Random) -> tuple[str, str]:
    noun = rng.choice(NOUNS)
    plural = rng.random() < 0.3
    adj = rng.choice(ADJS) if rng.random() < 0.6 else ""
    en = f"the {adj + ' ' if adj else ''}{noun}{'s' if plural else ''}"
    vt = VELTISH[noun] + ("ek" if plural else "") + (" " + VELTISH[adj] if adj else "")
    return en, vt


@register("translation")
def translation(rng: random.Random) -> dict:
    subj_en, subj_vt = _noun_phrase(rng)
    obj_en, obj_vt = _noun_phrase(rng)
    if subj_en.endswith("s") and not subj_en.endswith("ss"):
        subj_en, subj_vt = subj_en[:-1], subj_vt.replace("ek", "", 1)  # keep the subject singular for "sees"
    verb = rng.choice(VERBS_3SG)
    en = f"{subj_en} {verb} {obj_en}"
    vt = f"{subj_vt} {obj_vt} {VELTISH[verb]}"
    if rng.random() < 0.4:
        t = rng.choice(TIME_WORDS)
        en, vt = f"{en} {t}", f"{VELTISH[t]} {vt}"
    return {
        "source": en[0].upper() + en[1:] + ".",
        "translation": vt[0].upper() + vt[1:] + ".",
        "source_language": "English",
        "target_language": "Veltish",
    }


# ---------------------------------------------------------------- dialogue summaries
ACTIVITIES = (
    ("grab a coffee", "have coffee"),
    ("study for the exam", "study together"),
    ("see the new film", "watch a film"),
    ("go for a run", "go running"),
    ("fix your bike", "fix a bike"),
    ("play tennis", "play tennis"),
    ("cook dinner", "cook dinner"),
    ("visit the museum", "visit the museum"),
    ("practise the duet", "rehearse their duet"),
)
MEET_PLACES = ("the corner cafe", "the library", "the park gate", "my place", "the station", "the gym")
OPENINGS = (
    "Hey {b}, do you want to {act} on {d1}?",
    "{b}! Free on {d1}? We could {act}.",
    "Hi {b}, fancy a chance to {act} on {d1}?",
    "Are you around on {d1}, {b}? I'd love to {act}.",
)
DECLINES = (
    "Sorry, {d1} is bad for me. How about {d2}?",
    "I can't on {d1}, I'm working. {d2} works though.",
    "{d1} is full already. Could we do {d2} instead?",
)
ACCEPTS = ("Sure, {d2} it is.", "Perfect, {d2} then.", "Great, see you {d2}.", "Deal, {d2}.")
PLACE_LINES = (
    "Let's meet at {place} at {time}.",
    "Meet you at {place}, around {time}?",
    "How about {place} at {time}?",
)
OKAYS = ("Sounds good!", "See you there.", "Works for me.", "Okay, I'll be there.")


@register("dialogue_summary")
def dialogue_summary(rng: random.Random) -> dict:
    a, b = rng.sample(NAMES, 2)
    act, act_summary = rng.choice(ACTIVITIES)
    d1, d2 = rng.sample(DAYS, 2)
    place, time = rng.choice(MEET_PLACES), f"{rng.randrange(7, 12)} {'am' if rng.random() < 0.4 else 'pm'}"
    lines = [f"{a}: " + rng.choice(OPENINGS).format(b=b, act=act, d1=d1)]
    if rng.random() < 0.5:
        lines.append(f"{b}: " + rng.choice(DECLINES).format(d1=d1, d2=d2))
        lines.append(f"{a}: " + rng.choice(ACCEPTS).format(d2=d2))
        day = d2
    else:
        lines.append(f"{b}: Yes, {d1} is great.")
        day = d1
    lines.append(f"{b if len(lines) == 3 else a}: " + rng.choice(PLACE_LINES).format(place=place, time=time))
    lines.append(f"{a if lines[-1].startswith(b) else b}: " + rng.choice(OKAYS))
    where = (
        f"{a}'s place"
        if place == "my place" and lines[-2].startswith(a)
        else (f"{b}'s place" if place == "my place" else place)
    )
    summary = f"{a} and {b} will {act_summary} on {day} at {time}, meeting at {where}."
    return {"dialogue": "\n".join(lines), "summary": summary}
