"""Shared vocabulary for the builtin generators (written for flankit).

Plain word lists, kept as tuples so `random.choice` is fast. Names carry a gender so the
coreference task can be resolved from pronouns.
"""

from __future__ import annotations


def word_list(text: str) -> tuple[str, ...]:
    """A tuple of the whitespace-separated words of `text` (keeps long word lists compact)."""
    return tuple(text.split())


def with_article(word: str) -> str:
    """The word with its indefinite article ("an apple", "a pear")."""
    return ("an " if word[0] in "aeiou" else "a ") + word


FEMALE = word_list(
    "Maria Aisha Chloe Emma Fatima Grace Hannah Ines Julia Keiko Lena Mei Nadia Olivia Priya Rosa "
    "Sofia Tara Uma Vera Wendy Yara Zoe Amara Beatriz Clara Daria Elena Freya Greta Helga Ingrid "
    "Lucia Mira"
)
MALE = word_list(
    "Adam Bruno Carlos Daniel Ethan Felix George Hiro Ivan James Kofi Liam Marco Noah Omar Pablo "
    "Quentin Rahul Samuel Tomas Umar Victor Wei Yusuf Anton Boris Cedric Diego Emil Farid Gustav Hugo "
    "Igor Jonas"
)
NAMES = FEMALE + MALE
SURNAMES = word_list(
    "Okafor Lindqvist Moreau Tanaka Silva Novak Haddad Kowalski Brennan Petrov Castillo Nguyen "
    "Fischer Adeyemi Rossi Varga Sato Jensen Mendes Kaur Dubois Horvath Iqbal Larsen Mwangi Ortega "
    "Papadopoulos Quinn"
)
CITIES = word_list(
    "Lisbon Nairobi Oslo Denver Kyoto Lima Accra Porto Dublin Seville Bergen Tucson Hanoi Quito Leeds "
    "Krakow Perth Halifax Cusco Tartu Tbilisi Valencia Bologna Mombasa Adelaide Geneva Utrecht Graz "
    "Malmo Salta Cork Riga Nantes Bremen Busan Fresno"
)
PLACES = (
    "the market",
    "the library",
    "the harbor",
    "the park",
    "the museum",
    "the station",
    "the bakery",
    "the town square",
    "the old bridge",
    "the garden",
    "the cafe",
    "the beach",
    "the stadium",
    "the school",
    "the hospital",
    "the bookshop",
    "the lake",
    "the post office",
    "the cinema",
)
OCCUPATIONS = word_list(
    "teacher nurse baker pilot farmer painter lawyer chef student engineer doctor musician carpenter "
    "gardener librarian journalist plumber dentist tailor fisherman architect scientist mechanic "
    "photographer pharmacist"
)
DAYS = word_list("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
TIMES = ("in the morning", "at noon", "in the afternoon", "in the evening", "at night", "at dawn")
COLORS = word_list("red blue green yellow white black brown grey orange purple")
ADJECTIVES = word_list(
    "small large old new heavy light cheap shiny wooden broken tiny huge quiet round square warm cold "
    "soft plain rare"
)
# Objects with the category used for entailment by generalisation ("a lamp" -> "an object").
OBJECTS = {
    "lamp": "a piece of furniture",
    "chair": "a piece of furniture",
    "table": "a piece of furniture",
    "sofa": "a piece of furniture",
    "desk": "a piece of furniture",
    "guitar": "an instrument",
    "violin": "an instrument",
    "drum": "an instrument",
    "flute": "an instrument",
    "piano": "an instrument",
    "bicycle": "a vehicle",
    "scooter": "a vehicle",
    "boat": "a vehicle",
    "car": "a vehicle",
    "truck": "a vehicle",
    "apple": "some fruit",
    "pear": "some fruit",
    "melon": "some fruit",
    "mango": "some fruit",
    "peach": "some fruit",
    "novel": "a book",
    "cookbook": "a book",
    "atlas": "a book",
    "dictionary": "a book",
    "jacket": "some clothing",
    "scarf": "some clothing",
    "hat": "some clothing",
    "coat": "some clothing",
    "kettle": "a kitchen tool",
    "pan": "a kitchen tool",
    "knife": "a kitchen tool",
    "teapot": "a kitchen tool",
    "puppy": "an animal",
    "kitten": "an animal",
    "parrot": "an animal",
    "rabbit": "an animal",
    "goat": "an animal",
}
OBJECT_NAMES = tuple(OBJECTS)
# Past-tense verbs with a synonym (paraphrase) and an opposite (non-paraphrase) action.
VERBS = {
    "bought": ("purchased", "sold"),
    "found": ("discovered", "lost"),
    "borrowed": ("took out", "lent"),
    "fixed": ("repaired", "broke"),
    "painted": ("coloured", "scrubbed"),
    "cleaned": ("washed", "dirtied"),
    "carried": ("hauled", "dropped"),
    "hid": ("concealed", "revealed"),
    "ordered": ("requested", "cancelled"),
    "kept": ("held on to", "threw away"),
    "chose": ("picked", "rejected"),
    "received": ("got", "returned"),
}
VERB_NAMES = tuple(VERBS)
RELATIVES = ("a neighbour", "an old friend", "the twins", "a colleague", "a cousin", "a classmate")
COMMON_WORDS = word_list(
    "apple river candle mountain window garden pencil thunder village ocean blanket rocket violin "
    "meadow lantern harbor feather castle island basket mirror forest ladder button wagon pepper "
    "marble saddle tunnel copper dragon engine falcon glacier hammer jungle kettle lemon magnet "
    "needle orchid parade quartz riddle silver tiger umbrella velvet walnut yogurt zebra anchor "
    "bridge cactus desert echo fabric guitar helmet iceberg"
)
