"""Builtin text classification generators: sentiment and topic.

Labels are decided by surface cues a small model can learn (polar lexicon words, topic
vocabulary), while the texts vary widely in vocabulary and sentence shape. All text written
for flankit.
"""

from __future__ import annotations

import random

from flankit.data.builtin import register
from flankit.data.builtin.words import CITIES, DAYS, NAMES, SURNAMES, with_article

# ---------------------------------------------------------------- sentiment
ITEMS = {
    "movie": ("plot", "acting", "soundtrack", "ending", "dialogue", "camera work", "pacing"),
    "restaurant": ("food", "service", "desserts", "menu", "atmosphere", "soup", "staff"),
    "hotel": ("room", "staff", "breakfast", "view", "bed", "pool", "location"),
    "phone": ("battery", "screen", "camera", "speaker", "charger", "design"),
    "novel": ("story", "characters", "writing", "ending", "cover", "first chapter"),
    "concert": ("band", "sound", "crowd", "setlist", "venue", "encore"),
    "video game": ("controls", "graphics", "levels", "story", "music", "boss fights"),
    "laptop": ("keyboard", "battery", "screen", "trackpad", "fan", "build quality"),
    "museum tour": ("guide", "exhibits", "tickets", "gift shop", "audio guide"),
}
ITEM_NAMES = tuple(ITEMS)
POLAR = {
    "positive": {
        "adj": (
            "wonderful",
            "superb",
            "delightful",
            "brilliant",
            "charming",
            "excellent",
            "fantastic",
            "lovely",
            "outstanding",
            "gorgeous",
            "impressive",
            "pleasant",
            "stunning",
            "terrific",
            "marvelous",
            "flawless",
            "cozy",
            "gripping",
            "refreshing",
            "heartwarming",
            "elegant",
            "superb",
        ),
        "verb": (
            "I loved",
            "we really enjoyed",
            "I adored",
            "everyone praised",
            "I was thrilled by",
            "my family raved about",
            "I was blown away by",
        ),
        "close": (
            "Highly recommended.",
            "I would go back tomorrow.",
            "Worth every penny.",
            "Five stars from me.",
            "I cannot wait to return.",
            "A real gem.",
            "Easily the best I have tried.",
            "Bravo!",
        ),
    },
    "negative": {
        "adj": (
            "awful",
            "dreadful",
            "dull",
            "terrible",
            "clumsy",
            "disappointing",
            "mediocre",
            "bland",
            "sloppy",
            "painful",
            "horrible",
            "tedious",
            "shabby",
            "noisy",
            "cramped",
            "flimsy",
            "overpriced",
            "lifeless",
            "frustrating",
            "miserable",
            "stale",
            "grim",
        ),
        "verb": (
            "I hated",
            "we regretted",
            "I could not stand",
            "everyone complained about",
            "I was annoyed by",
            "my family laughed at",
            "I was let down by",
        ),
        "close": (
            "Avoid it.",
            "Never again.",
            "What a waste of money.",
            "One star, and that is generous.",
            "I want my money back.",
            "Skip this one.",
            "Easily the worst I have tried.",
            "Sigh.",
        ),
    },
}
INTENSIFIERS = ("really ", "truly ", "absolutely ", "rather ", "pretty ", "", "", "so ")
OPENERS = (
    "We tried this {item} last {day}.",
    "I finally got around to the {item} my friend suggested.",
    "My review of the {item}, after two visits.",
    "Went with {name} on {day}.",
    "Short version:",
    "I had high hopes for this {item}.",
    "This was my third {item} this month.",
)


@register("sentiment")
def sentiment(rng: random.Random) -> dict:
    label = "positive" if rng.random() < 0.5 else "negative"
    lex = POLAR[label]
    item = rng.choice(ITEM_NAMES)
    aspects = ITEMS[item]
    parts = []
    if rng.random() < 0.5:
        parts.append(rng.choice(OPENERS).format(item=item, day=rng.choice(DAYS), name=rng.choice(NAMES)))
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        shape = rng.random()
        adj = rng.choice(lex["adj"])
        if shape < 0.3:
            parts.append(f"The {rng.choice(aspects)} was {rng.choice(INTENSIFIERS)}{adj}.")
        elif shape < 0.5:
            parts.append(f"{rng.choice(lex['verb'])} the {rng.choice(aspects)}.")
        elif shape < 0.65:
            parts.append(f"What {with_article(adj)} {item}!")
        elif shape < 0.85:
            parts.append(
                f"Honestly, the {rng.choice(aspects)} felt {adj} and the {rng.choice(aspects)} "
                f"was {rng.choice(lex['adj'])}."
            )
        else:
            parts.append(
                f"{with_article(adj).capitalize()} {item} with {with_article(rng.choice(lex['adj']))} {rng.choice(aspects)}."
            )
    if rng.random() < 0.5:
        parts.append(rng.choice(lex["close"]))
    return {"text": " ".join(parts), "label": label}


# ---------------------------------------------------------------- topic
TOPICS = {
    "sports": (
        (
            "The {city} Rovers",
            "Coach {name} {surname}",
            "The national rugby team",
            "Striker {name} {surname}",
            "The {city} marathon runners",
            "Tennis star {name} {surname}",
        ),
        (
            "won the league final {n} to {m}",
            "signed a three-year contract with the club",
            "lost at home after a late penalty",
            "broke the stadium record for the sprint",
            "was injured during training",
            "celebrated a second straight championship title",
        ),
        (
            "Fans filled the stadium despite the rain.",
            "The next match is on {day}.",
            "The goalkeeper made {n} saves.",
            "The season resumes after a short break.",
        ),
    ),
    "business": (
        (
            "Shares of {surname} Holdings",
            "The bank of {city}",
            "A startup founded by {name} {surname}",
            "The retail chain {surname} & Co",
            "Investors in {city}",
            "The airline's chief executive",
        ),
        (
            "rose {n} percent after strong quarterly profits",
            "announced plans to cut {n}00 jobs",
            "agreed to buy a rival supplier for {n} million dollars",
            "reported weaker sales than expected",
            "raised interest rates for the {n}th time",
            "opened a new factory outside {city}",
        ),
        (
            "Analysts expect the market to stay volatile.",
            "The deal still needs approval from regulators.",
            "Stock prices fell slightly at the close.",
            "Revenue is forecast to grow next year.",
        ),
    ),
    "science": (
        (
            "Researchers at the University of {city}",
            "Astronomer {name} {surname}",
            "A team of biologists",
            "The space agency",
            "Chemists in {city}",
            "A new study led by Dr. {surname}",
        ),
        (
            "discovered a new species of frog in the rainforest",
            "measured the distance to a faint galaxy",
            "published results on a faster battery material",
            "launched a probe toward the outer planets",
            "sequenced the genome of an ancient plant",
            "observed a rare solar eclipse with a new telescope",
        ),
        (
            "The findings appear in a peer-reviewed journal.",
            "The experiment took {n} years to complete.",
            "Other labs are now trying to reproduce the result.",
            "The data will be shared with scientists worldwide.",
        ),
    ),
    "politics": (
        (
            "The prime minister",
            "Senator {name} {surname}",
            "The parliament of {city} province",
            "Opposition leader {name} {surname}",
            "The city council of {city}",
            "Voters in {city}",
        ),
        (
            "passed a new budget after a long debate",
            "called for an early election",
            "proposed a law to raise the minimum wage",
            "resigned after a corruption inquiry",
            "signed a trade agreement with a neighbouring country",
            "vetoed the reform bill",
        ),
        (
            "The vote is scheduled for {day}.",
            "Polls show the parties are nearly tied.",
            "Critics called the decision a campaign stunt.",
            "The ministry will publish details next week.",
        ),
    ),
    "arts": (
        (
            "The painter {name} {surname}",
            "The {city} symphony orchestra",
            "A young poet from {city}",
            "The director of the film festival",
            "Novelist {name} {surname}",
            "The city theatre",
        ),
        (
            "opened an exhibition of landscape paintings",
            "premiered a new opera to a full house",
            "won a prize for a collection of poems",
            "announced the lineup of this year's film festival",
            "released a memoir about growing up in {city}",
            "restored a century-old mural",
        ),
        (
            "Tickets sold out within hours.",
            "Critics praised the bold use of colour.",
            "The show runs until the end of the month.",
            "A gallery tour is offered every {day}.",
        ),
    ),
}
TOPIC_NAMES = tuple(TOPICS)
WHEN = ("on {day}", "this week", "last month", "earlier today", "on {day} evening", "yesterday", "")


@register("topic")
def topic(rng: random.Random) -> dict:
    label = rng.choice(TOPIC_NAMES)
    actors, events, details = TOPICS[label]
    slots = {
        "city": rng.choice(CITIES),
        "name": rng.choice(NAMES),
        "surname": rng.choice(SURNAMES),
        "day": rng.choice(DAYS),
        "n": rng.randrange(2, 10),
        "m": rng.randrange(0, 2),
    }
    when = rng.choice(WHEN)
    sent = f"{rng.choice(actors)} {rng.choice(events)}{' ' + when if when else ''}."
    text = sent if rng.random() < 0.3 else f"{sent} {rng.choice(details)}"
    if rng.random() < 0.25:
        text = f"{text} {rng.choice(details)}"
    return {"text": text.format(**slots), "label": label}
