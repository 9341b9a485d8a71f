"""Rule-based interest extraction: the no-LLM baseline of the *understand* step.

It reads one user message and returns :class:`Interests`: what to search for, what to
avoid, categories to include or exclude (only the catalogue's own, named or reached
through a few everyday synonyms), year, price and runtime bounds, who the film is for,
a step away from the last picks ("something older"), and catalogue titles the user names.
A negation cue ("not", "no", "without", "hate", ...) governs what follows it in its clause,
so "a war film that isn't American" wants war and avoids "american"; "I never saw X" only
mentions X.

Example::

    >>> from agent.understand import RuleBasedUnderstander
    >>> u = RuleBasedUnderstander(categories=["horror", "comedy", "romance"])
    >>> i = u.understand("a light romantic comedy from the 90s, no horror")
    >>> c = i.constraints
    >>> sorted(c.include_categories), sorted(c.exclude_categories), c.years
    (['comedy', 'romance'], ['horror'], (1990, 1999))
    >>> i = u.understand("something funny and short for my 8-year-old")
    >>> c = i.constraints
    >>> sorted(c.include_categories), sorted(c.exclude_categories), i.audience, i.max_runtime_minutes
    (['comedy'], ['horror'], 'children', 100)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from tailtalk.catalog import Catalog
from tailtalk.languages import is_chinese
from tailtalk.constraints import Constraints
from tailtalk.titles import ARTICLES, TitleHit, TitleMatcher, fold, normalise
from agent.chinese import read_chinese
from agent.people import PeopleIndex
from agent.product_types import singular

# Everyday words for catalogue categories; a synonym is used only if its target exists.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "horror": ("scary", "scare", "scares", "frightening", "creepy", "spooky", "terrifying"),
    # A feel-good film: a comedy or a family film, as a "lighter" step wishes (MOOD_STEPS), without romance.
    "comedy": ("funny", "hilarious", "comedic", "laugh", "laughs", "humor", "humour", "lighthearted", "feel good"),
    "romance": ("romantic", "love story", "romcom", "rom com"),
    # "kids movies" are films for a child: family or animation, as for a child's audience (CHILDREN_CATEGORIES).
    "animation": ("animated", "cartoon", "cartoons", "pixar", "anime", "kids", "children"),
    "family": ("kids", "children", "family friendly", "family-friendly", "feel good"),
    "sci-fi": ("science fiction", "scifi", "sci fi", "space", "futuristic"),
    "thriller": ("suspense", "suspenseful", "tense", "thrillers", "thrilling"),
    "action": ("explosions", "fights", "fighting"),
    "documentary": ("documentaries",),
    "crime": ("heist", "gangster", "mafia", "detective"),
    "war": ("military", "soldiers"),
    "musical": ("singing", "songs"),
    # "Based on a true story" is a dramatised life or event, not a documentary.
    "biography": ("biopic", "biographical", "true story", "real events"),
    "sport": ("sports",),
    "mystery": ("whodunit", "mysteries"),
    "fantasy": ("magic", "magical", "wizards", "dragons"),
    "western": ("cowboy", "cowboys", "westerns"),
    "drama": ("dramatic", "dramas", "tear-jerker", "tearjerker", "weepy", "weepie", "make me cry", "emotional"),
    "history": ("historical", "period piece"),
}
# What a film is about, when a person names it, is said by the film's own plot: "a christmas movie" is one whose
# facts say Christmas, whatever its genre. Only words whose presence in a plot is the answer: not "mafia" (The
# Godfather's plot says "organized crime"), "space" (Star Wars' says "galaxy") nor "spy" (Bond's say "agent").
TOPICS = (
    "christmas",
    "zombie",
    "vampire",
    "werewolf",
    "dinosaur",
    "shark",
    "heist",
    "time travel",
    "robot",
    "ghost",
    "pirate",
    "witch",
    "prison",
    "submarine",
    "road trip",
    "high school",
    "haunted house",
    "serial killer",
    "treasure",
    "martial arts",
)


def topics_in(text: str) -> tuple[str, ...]:
    """The :data:`TOPICS` a text asks about (as whole words, plural or not).

    >>> topics_in("a Christmas movie, or one with zombies? Time-travel is fine")
    ('christmas', 'zombie', 'time travel')
    """
    lowered = text.lower()
    return tuple(t for t in TOPICS if re.search(r"\b" + t.replace(" ", r"[\s-]+") + r"(?:e?s)?\b", lowered))


_SET_IN = re.compile(
    r"\b(?:set|takes?\s+place|taking\s+place|happens|happening)\s+(?:in|on)\s+(?:the\s+|an?\s+)?"
    r"((?:[^\W\d_][\w'.-]*)(?:\s+[^\W\d_][\w'.-]*){0,2})",
    re.IGNORECASE,
)
_SETTING_WORDS = frozenset("set takes take taking place happens happening".split())  # _SET_IN's verbs: no wish
# "Set in the olden days", "in present day" (ReDial valid, INSPIRED dev) say when, not where; "the future" a plot says.
_TIMES = frozenset("past present olden day days century centuries times era age ages".split())


def places_in(text: str) -> tuple[str, ...]:
    """Where a text asks the story to be set ("set in New York", "takes place in a small town"), up to three
    words, lower-cased; like a topic, the films' own plots say it.

    >>> places_in("a romantic movie set in Paris with a happy ending")
    ('paris',)
    >>> places_in("something set in new york, or that takes place in the Scottish Highlands")
    ('new york', 'scottish highlands')
    >>> places_in("a drama set in the 1920s, or set in the olden days")
    ()
    """
    places = []
    for found in _SET_IN.finditer(text):
        said = found[1].lower().split()
        words = list(itertools.takewhile(lambda w: w not in STOPWORDS and w not in CHAT_WORDS, said))
        if words and _TIMES.isdisjoint(words):
            places.append(" ".join(words))
    return tuple(dict.fromkeys(places))


# Synonyms that name a kind of their category, not the category: "a heist film" searches crime films, but a crime
# film does not meet the wish for a heist unless its own facts say so (a card's reason says what is true).
NARROWER = frozenset(
    "heist gangster mafia detective whodunit cowboy cowboys magic magical wizards dragons space futuristic pixar anime "
    "military soldiers singing songs explosions fights fighting biopic".split()
)
# Category names that are also everyday words count only where the user clearly means the category:
# "a short film", "shorts"; a bare "short" is a runtime wish (see RuleBasedUnderstander._runtime).
_QUALIFIED: dict[str, str] = {"short": r"short[\s-]*(?:films?|subjects?)|shorts"}
# After a subject pronoun a category word is a verb ("I love stories", "we scare easily"), not a wish.
_NOT_A_VERB = r"(?<!\bi\s)(?<!\bwe\s)(?<!\byou\s)(?<!\bthey\s)(?<!\breally\s)"

_NT = r"n(?:['’]|\s)?t"  # "isn't" and "isnt", and "isn t" once a clause naming a title is normalised
# "I never saw X", "I haven't seen X": X is mentioned, neither liked nor disliked.
_UNSEEN = (
    rf"never\s+(?:ever\s+)?(?:saw|seen|watched)"
    rf"|(?:have|has|had|ve)(?:{_NT}|\s+not|\s+never)\s+(?:yet\s+|ever\s+)?(?:seen?|watched)"  # "haven't see"
    # "I have not heard of Dracula Untold, that sounds good", "I have never heard of Rat Race"
    rf"|(?:never|(?:have|has|had|ve)(?:{_NT}|\s+not|\s+never)|did(?:{_NT}|\s+not))\s+(?:even\s+)?heard\s+of"
    rf"|did(?:{_NT}|\s+not)\s+(?:see|watch)|(?:have|has|ve)\s+yet\s+to\s+(?:see|watch)|not\s+(?:yet\s+)?seen"
    # "I never used DJI before": the shop's products, unknown rather than rejected.
    rf"|never\s+(?:used|tried|owned|had)|(?:have|has|had|ve)(?:{_NT}|\s+not|\s+never)\s+(?:yet\s+)?(?:used|tried)"
)
_NEGATION = (
    r"not|no|nothing|without|never|hate[sd]?|dislike[sd]?|avoid|except|skip|none of"
    # "Anything but horror", "I like everything but fantasy movies" (ReDial valid), not "a bit of everything but
    # right now I'd like action", where "but" joins two clauses.
    r"|(?:anything|everything)\s+but(?!\s+(?:right|now|i|i'm|im|we|you|they|he|she|it|this|that|lately|recently"
    r"|today|tonight|maybe)\b)"
    rf"|rather not|(?:do|does|did|is|are|was|were|wo|would|could|should|ca|have|has|had){_NT}"
)
# What ends a negation's scope inside a clause typed without punctuation: "not romance, just lust something
# like Say Anything", "I hate horror I love comedies". (Listed after the negations, so "rather not" negates.)
_WANT_AGAIN = (
    r"something\s+(?:more\s+)?like|more\s+like|rather|instead"
    r"|(?:i|we)\s+(?:really\s+|do\s+|would\s+|'d\s+)?(?:like[sd]?|love[sd]?|enjoy(?:ed)?|prefer(?:red)?)"
)
# "Less confusing", "less gore": a degree, like "not too gory" (avoided words, nothing ruled out). Not "more or
# less", and not "less than $20". A step from the last picks ("less recent", "less dark") is read and blanked
# by _relative before any clause is read.
_LESS = r"(?<!more or )less(?!\s+than\b)"
# "I've seen all the Marvel movies, what else?": what follows is what to steer away from, softly (avoided words,
# no category ruled out: "every Pixar film" has been seen, not every animated one), and a film named there is
# mentioned, neither liked nor disliked.
_SEEN_ALL = r"(?:seen|watched)\s+(?:them\s+)?(?:all|every|each)"
_CUE = re.compile(
    rf"\b(?:(?P<unseen>{_UNSEEN})|(?P<seen_all>{_SEEN_ALL})|{_NEGATION}|(?P<want>{_WANT_AGAIN})|(?P<less>{_LESS}))\b",
    re.IGNORECASE,
)
# What each named group of _CUE starts; the others negate ("avoid").
_CUE_KINDS = {"unseen": "unseen", "seen_all": "seen", "want": "want", "less": "soft"}
_VERB_CUE = re.compile(rf"not|never|hate[sd]?|dislike[sd]?|\w+{_NT}", re.IGNORECASE)  # cues that negate a verb
# "not too gory": some gore is fine, so the words are avoided but no category is ruled out.
_DEGREE = re.compile(
    r"\s*(?:too|overly|very|so|super|particularly|excessively|quite"  # "The Martian is not quite sci-fi"
    r"|that(?!\s+(?:is|are|was|were|has|have|had|contains?|shows?)\b))\b",
    re.IGNORECASE,
)
# Hedges negate nothing and end what came before: "I'm not sure what I want, maybe a comedy",
# "I don't mind horror", "I didn't know there were so many".
_HEDGE = (
    r"\bnot sure\b|\bno idea\b|\b(?:do|would|did)n['’]?t (?:know|mind)\b|\bnever mind\b"
    # "Cost is not a problem for me", "color doesn't matter" (MG-ShopDial: the first avoided every racket named
    # after it), taken with their subject, which is no wish either ("the brand doesn't matter": no "brand").
    r"|\b(?:(?:the|my|a)\s+)?(?:[\w'-]+\s+)?(?:(?:is|are)\s+)?"
    r"(?:(?:not an?|no)\s+(?:problem|issue|worries|concern)|(?:does|do)(?:n['’]?t|\s+not)\s+matter)\b"
    # No preference is no dislike: "I do not have an author in mind", "not interested in a particular brand".
    r"|\b(?:(?:do|does|did)(?:n['’]?t|\s+not)\s+have|no)\s+(?:[\w'-]+\s+){0,3}?in\s+mind\b"
    r"|\b(?:no|not\s+(?:interested\s+in\s+)?(?:a|any))\s+(?:particular|specific)\b"
    # "It does not need to be a musical": a musical is allowed, neither ruled out nor wished for.
    r"|\b(?:(?:does|do|did)(?:n['’]?t|\s+not)\s+(?:need|have)\s+to\s+be|need(?:n['’]?t|\s+not)\s+be)"
    r"\s+(?:(?:an?|the)\s+)?[\w'-]+"
    # "I have no kids" says who the person is, not a category ruled out: family films are not refused.
    r"|\b(?:have|got|with)\s+no\s+(?:kids|children)\b"
    r"|\bor\s+not\b"  # "... at the end of Inception you have to decide whether he was in reality or not?"
    r"|\bsurprise\s+(?:me|us)\b"  # no wish for "surprise" (a surprise ending still is one)
    # A message that opens by answering "no" to a question goes on to say what is wanted: "No please list out
    # the price", "no i want something that can fit my wallet" (but "no horror" rejects horror).
    r"|^\s*(?:no|nope|not really)\b(?=\s*(?:[,.!]|i\b|i'm\b|im\b|we\b|please\b|thanks?\b|but\b|just\b|it\b|that\b))"
)
# A question for what the shop has starts a new clause even typed without punctuation: "I didn't like it much
# do you have any other models?" asks for other models rather than avoiding them.
_NEW_QUESTION = r"\bdo\s+you\s+(?:have|sell|carry|stock)\b"
# "But" starts a clause, except after "anything" or "everything", where it negates ("anything but horror").
_CLAUSE_SPLIT = re.compile(
    rf"[.;!?\n]|,|(?<!anything )(?<!everything )\bbut\b|\bhowever\b|\balthough\b|{_HEDGE}|{_NEW_QUESTION}",
    re.IGNORECASE,
)
STOPWORDS = frozenset(
    "a an the and or of to for in on at is are be it its i me my we you your our his her their "
    "something anything some any "
    "too very really quite so that this these those like want looking look watch see film films movie movies "
    "show please can could would should maybe just tonight today another other more one ones kind sort thing "
    "things with starring featuring from by about as if im i'm get got give me recommend recommendation suggest "
    "good great nice "
    "hi hello hey hiya yo there thanks thank yes ok okay sure well also again much many lot lots what how who which "
    "morning evening afternoon everyone "
    "short long loved love liked enjoyed else instead different".split()
)
# Words about the conversation, not about what is wanted ("have you seen it? sounds interesting, I'll check it
# out"): they stay in the query the dialogue makes, but are never wishes a reply repeats or a reason cites.
CHAT_WORDS = frozenset(
    "have has had seen saw watched heard hear sounds sound interesting suggestion suggestions coming check "
    "checked going type pretty alot cool open will appreciate that's thats i'll i've i'd don't didn't doesn't "
    "isn't wasn't haven't know think thought probably definitely actually already never ever still been being "
    "were does done make made need remember awesome amazing perfect excellent wonderful glad yeah yep nope "
    "haha lol wow right anyway either them genre genres work into sorry fine yourself what's whats favorite "
    "favourite least doing find over similar types mood quot it's absolutely seeking anygenre gonna ideas "
    # Read off ReDial valid's most frequent "wishes" that said nothing about a film ("Matches your wish for
    # goodbye"): greetings, time, hedges and talk about talking.
    "idea help both night weekend goodbye bye they though enjoy watching finishing finish finished might first "
    "last list hope hoping then interested theater theaters theatre rewatch take care thinking better along "
    "always rest choice choices lately best than worth pick picks chatting same wanted here soon agree couple "
    "name only trying looks seems when after back believe course seeing plenty mentioned mentioning sometimes "
    "highly second mine even talking later most must guess others since whole prefer before because honestly "
    "netflix streaming planning time times year years recommendations favorites favourites "
    "likes loves enjoys "  # "she likes Pride and Prejudice": a like, read from the title, not a wish
    # Pronouns, auxiliaries and asides that negated clauses kept as words to avoid ("I think they were going
    # to end up together, but..."; INSPIRED dev).
    "he she they them am was though tho yet oh nah usually normally unfortunately "
    # "We have no children so anything goes", "I'm up for anything, whatever works": no wish, and no film
    # (Anything Goes, Whatever Works) unless written as a title.
    "goes whatever works".split()
)
# Words that only carry a negation's verb ("horror is not my thing", "not a fan of gore"): nothing to avoid,
# and a negation followed by nothing but these looks back at its subject.
_PREDICATE = frozenset(
    "fan fans cup tea thing into interested keen big huge do does doing it for me mine bothered work works "
    "particularly especially personally either all taste style stand bear appeal appeals enjoy care need "
    "feeling watching have has having contain contains".split()
)
_MARKER = re.compile(r"#(\d+)#")  # a title named in a clause, replaced by its position in the clause's titles
_DECADE_WORDS = {"sixties": 1960, "seventies": 1970, "eighties": 1980, "nineties": 1990}
# "A black and white film" asks for the years before colour became the rule (1967, when nearly every new
# American feature was in colour); read only for a catalogue of dated items: black and white sneakers have no era.
# Not "b/w": it is as often "between" ("clash b/w old school vs new gen", INSPIRED dev).
_BLACK_AND_WHITE = r"\b(?:black[\s-]*(?:and|&|n)[\s-]*white|b\s*&\s*w)\b"
_LAST_BLACK_AND_WHITE_YEAR = 1966
_YEAR = r"(1[89]\d\d|20\d\d)"
# A number followed by another unit is no price: "at least 16gb of memory", "under 90 minutes".
_NOT_MONEY_UNIT = (
    r"(?!\d|[.,]\d|\s?(?:gb|mb|tb|mah|mm|cm|inch|inches|in\b|\"|hours?|hrs?|minutes?|mins?|pages?"
    r"|sheets?|pack|pcs|pieces|%|years?|months?|weeks?|days?|kg|lbs?|oz|g\b|w\b|mp\b|x\b))"
)
_PRICE = (
    r"[$€£]?\s?(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+[.,]\d{1,2}(?!\d)|\d+)"
    + _NOT_MONEY_UNIT
    + r"\s?(?:[$€£]|dollars?|usd|bucks|euros?|eur|pounds?)?"
)
# "a budget of $50", "my budget would be $15", "budget: around 20 dollars": a ceiling.
_BUDGET_WORDS = r"budget(?:\s+(?:is|would|will|be|of|around|about|roughly|approximately|up|to|at|max|maximum))*:?"
_MONEY = re.compile(
    r"[$€£]|dollar|usd|\beuros?\b|\beur\b|\bpounds?\b|\bbucks?\b|price|cost|budget|spend|pay\b", re.IGNORECASE
)

_NUMBER_WORDS = dict(
    zip(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen".split(),
        range(1, 18),
    )
)
_AGE = re.compile(
    rf"\b(\d{{1,2}}|{'|'.join(_NUMBER_WORDS)})[\s-]*(?:years?|yrs?)[\s-]*olds?\b"
    r"|\b(\d{1,2})\s*y/?o\b|\baged?\s+(\d{1,2})\b",
    re.IGNORECASE,
)
_CHILDREN = re.compile(
    r"\b(?:(?:kid|child|family)[\s-]*friendly|kids?|children|child|toddlers?|little ones"
    r"|grandkids|grandchildren|preschoolers?|the whole family)\b",
    re.IGNORECASE,
)
# A child in a story is no audience: "I loved it when I was a kid", "one of my favorites as a child", "the first
# films she was in as a child" (ReDial valid: each ruled horror out for the rest of the dialogue).
_CHILD_IN_A_STORY = re.compile(
    r"(?:\b(?:i|he|she|we|they|you)\s+(?:was|were)|\bas)\s+(?:just\s+|still\s+|only\s+)?(?:an?\s+)?"
    r"(?:little\s+|young\s+|small\s+)?$",
    re.IGNORECASE,
)
# A character: "that goofy kid" (only a bare "kid" or "child"; "is that kid-friendly?" still asks for one).
_A_CHARACTER = re.compile(r"\b(?:that|this)\s+(?:[\w'-]+\s+){0,2}$", re.IGNORECASE)
_TEENAGERS = re.compile(r"\b(?:for|with)\s+(?:(?:my|our|a|the|his|her|their)\s+)?teen(?:ager)?s?\b", re.IGNORECASE)
# "For me", "just for myself": the person's own film, which ends a search for a child.
_ADULTS = re.compile(r"\b(?:for|just)\s+(?:me|myself|us adults|(?:the\s+)?grown[\s-]?ups|adults)\b", re.IGNORECASE)
_CHILD_AGE, _TEEN_AGE = 12, 17  # the oldest child, the oldest teenager
_SHORTEST_CHINESE_REQUEST = 4  # characters: "你好" and "在吗" greet, "关于太空的电影" asks
CHILDREN_CATEGORIES = ("family", "animation")  # what suits a child, where the catalogue has them
# What "darker" and "lighter" after a list wish for, where the catalogue has them (scores, never filters).
MOOD_STEPS = {
    "darker": frozenset({"thriller", "crime", "mystery"}),
    "lighter": frozenset({"comedy", "family", "romance"}),
}
# Clearly not for a child. Crime is left out: caper comedies and animated detective stories carry it.
_NOT_FOR_CHILDREN = ("horror", "thriller")


def _governing_negation(fillers: str) -> re.Pattern[str]:
    """A negation cue at the end of a text, with only words of ``fillers`` (alternatives) after it: it governs
    what follows the text."""
    return re.compile(rf"\b(?:{_NEGATION})\s+(?:(?:{fillers})\s+)*$", re.IGNORECASE)


# "Not for kids", "nothing too short", "not darker": the audience, runtime or step is negated.
_NEGATED_BEFORE = _governing_negation(
    "for|with|about|suitable|appropriate|meant|made|my|the|a|any|our|too|so|very|that"
)
# "Nothing after 1970", "I don't want anything before 1990", "no movies older than 1980": a year bound turned round.
_NEGATED_BOUND = _governing_negation(
    "want|anything|any|films?|movies?|ones?|made|released|from|the|that|is|are|a|really|big|fan|fans|of|into|much"
)

_SHORT_MINUTES = 100  # "short": the shorter half of feature films, most of which run 90 to 120 minutes
_NOT_LONG_MINUTES = 120  # "not too long": no epics
_DURATION = (
    r"(?:(\d+(?:\.\d+)?|an?|one|two|three)\s*(?:hours?|hrs?|h)\b(\s+and\s+a\s+half)?"
    r"|(\d+)\s*(?:minutes?|mins?)\b)"
)
_RUNTIME_BOUND = re.compile(
    rf"\b(?:under|below|less than|shorter than|at most|no (?:more|longer) than"
    rf"|max(?:imum)?|up to|within)\s+{_DURATION}",
    re.IGNORECASE,
)
_NOT_LONG = re.compile(
    r"\b(?:not|nothing|no|isn['’]?t)\s+(?:(?:too|very|that|overly|super)\s+)?long\b"
    r"(?!\s+(?:ago|time|since)\b)",
    re.IGNORECASE,
)
_SHORT = re.compile(
    r"\b(?P<word>short|quick)\b(?![\s-]*(?:films?|subjects?)\b)(?:[\s-]+(?P<after>[^\W\d_]+))?", re.IGNORECASE
)
# "a scary movie", "another superhero movie", "a date night movie": a kind of film, not the film Scary Movie.
_A_KIND_OF = re.compile(r"(?:^|\s)(?:a|an|another|any|some)\s*$")
_FILM_NOUNS = frozenset({"flick", "flicks"})  # the film nouns STOPWORDS lacks
_FILM_WORDS = frozenset({"movie", "movies", "film", "films"}) | _FILM_NOUNS

# A step away from the last picks. "older" is no step when it describes people ("my older brother").
_RELATIVE: dict[str, str] = {
    "older": r"older(?!\s+(?:brothers?|sisters?|siblings?|sons?|daughters?|kids?|children|people|folks?|"
    r"audiences?|viewers?|crowd)\b)|less recent|more classic",
    "newer": r"newer|more recent|more modern|less old|more up[\s-]to[\s-]date",
    "darker": r"darker|grittier|bleaker|more (?:dark|serious|gritty|disturbing|intense)"
    r"|less (?:light|upbeat|cheerful|happy)",
    "lighter": r"lighter|happier|cheerier|more (?:light[\s-]*hearted|upbeat|cheerful|fun)"
    r"|less (?:dark|serious|heavy|intense|depressing|bleak|sad)",
    "shorter": r"shorter|less long",
    "cheaper": r"cheaper|less expensive|more affordable|lower[\s-]priced",
    "less_mainstream": r"less (?:mainstream|popular|known|famous|obvious|commercial)|lesser[\s-]known"
    r"|more (?:obscure|niche|underground|offbeat|unusual|indie)"
    r"|not (?:(?:so|too|as|that) )?(?:mainstream|popular|well[\s-]known|famous)"
    r"|obscure|underrated|hidden gems?|under the radar|off the beaten (?:path|track)",
}
# "too" and "as well" add only at a clause's end: "not too gory" is a degree, "a drama too." an addition.
_ADDITIVE = re.compile(r"\b(?:also|additionally|in addition)\b|\b(?:too|as well)\s*(?:[.!?,;]|$)", re.IGNORECASE)
# The message asks for items besides those shown ("something else", "any other ones?", "more options").
_OTHERS = re.compile(r"\b(?:else|other|others|another|more|different|instead|alternatives?)\b", re.IGNORECASE)
_REJECTION = re.compile(
    r"\b(?:none of (?:those|these|them)|not quite|not (?:those|these) ones?|no,? not (?:those|these)"
    r"|not what i(?:'m| am) (?:looking for|after))\b",
    re.IGNORECASE,
)
# A verdict on films the other side just named ("those are good movies", "I loved it", "it was hilarious"),
# not interest in them ("sounds good", "that's great"): what the person has seen and liked.
_VERDICT = r"(?:good|great|awesome|amazing|fantastic|excellent|brilliant|wonderful|hilarious|funny|classic)"
_PRAISE = re.compile(
    # "great movie!" praises; "a feel good movie", "any good movies?" and "some good ones" ask for more.
    rf"(?<!feel\s)(?<!feel-)(?<!any\s)(?<!some\s)\b{_VERDICT}\s+(?:movies?|films?|ones?|flicks?)\b"
    r"|\b(?:i|we)\s+(?:really\s+|also\s+|just\s+)?(?:loved?|liked|enjoyed|adored?)\s+(?:it|that|that one|this one|them|"
    r"those|both)\b"
    rf"|\b(?:it|that|that one|they|those|both)\s+(?:was|were)\s+(?:\w+\s+)?{_VERDICT}\b"
    r"|\bone of my (?:all[\s-]time )?favou?rites\b",
    re.IGNORECASE,
)
_RELATIVE_PATTERN = re.compile(
    "|".join(rf"\b(?P<{step}>{words})\b" for step, words in _RELATIVE.items()), re.IGNORECASE
)


@dataclass
class Interests:
    """What one message asks for. Empty fields mean "not stated in this message"."""

    query_text: str = ""
    avoid_terms: list[str] = field(default_factory=list)
    # The avoided words the message firmly rules out ("no superhero films"), not a matter of degree ("not too
    # scary", "not quite sci-fi"): only these push what the conversations name for them to the end of the list.
    ruled_out_terms: list[str] = field(default_factory=list)
    # The categories, years and prices the message rules in or out (the state folds them into its own).
    constraints: Constraints = Constraints()
    liked_ids: list[str] = field(default_factory=list)
    disliked_ids: list[str] = field(default_factory=list)
    # Titles named neither liked nor disliked ("I never saw Titanic").
    mentioned_ids: list[str] = field(default_factory=list)
    # Named after "seen all" ("I've seen every Harry Potter movie"): their sequels and spin-offs are seen too.
    seen_series_ids: list[str] = field(default_factory=list)
    wishes: list[str] = field(default_factory=list)  # the user's own words, for explanations
    # What the films should be about, as their plots would say it: a topic ("a christmas movie", TOPICS) or where
    # the story is set ("set in Paris").
    topics: list[str] = field(default_factory=list)
    # Runs of consecutive content words in the wishes ("running shoes" in "running shoes under $70"):
    # candidate product types, which agent.product_types matches against the catalogue's titles.
    phrases: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # for the user, e.g. "the language model was unreachable"
    # Who will watch: "children" (a child's age, or kids; the reader then wants family or animation and
    # rules out horror and thrillers), "teen" (13 to 17; no category follows from it) or "adult" ("for me": it
    # ends a search for a child and is no filter).
    audience: str | None = None
    max_runtime_minutes: int | None = None  # "under 90 minutes", "something short" (100)
    # A step away from the last picks: "older", "newer", "darker", "lighter", "shorter", "cheaper" or
    # "less_mainstream".
    relative: str | None = None
    # The message adds to the search rather than starting another ("it should be a drama too", "also
    # funny"): its categories join the wished ones.
    adds: bool = False
    # The message turns the last picks down ("none of those", "not quite"): they stop steering the search.
    rejects_picks: bool = False
    # The message asks for items besides those shown ("something else", "any other ones?").
    asks_for_others: bool = False
    # The message praises what the other side just named, without naming a title or negating anything
    # ("Yes, I saw that one too, good movie"): the state turns those items into liked ones.
    praises_last: bool = False
    language: str = "en"  # the message's language: "zh" for Chinese (see agent.chinese)

    @property
    def is_vague(self) -> bool:
        c = self.constraints
        return not (
            self.query_text
            or c.include_categories
            or c.exclude_categories
            or self.liked_ids
            or c.bounded_fields
            or self.avoid_terms
            or self.audience
            or self.max_runtime_minutes
            or self.relative
        )

    @property
    def only_bounds(self) -> bool:
        """The message only moves a year or price bound ("under $45 please"): it refines the last list."""
        unbounded = self.constraints.with_years(None, None).with_prices(None, None)
        return (
            bool(self.constraints.bounded_fields)
            and replace(self, constraints=unbounded, max_runtime_minutes=None).is_vague
        )


class Understander(Protocol):
    def understand(self, message: str, *, deadline: float | None = None) -> Interests:
        """What the message asks for; ``deadline`` (a ``time.monotonic()`` value) bounds any model call."""
        ...


def _category_pattern(word: str) -> re.Pattern[str]:
    """The words that name a category (or a synonym of one): plurals too, the singular of a plural name ("a
    book" for books; not "new" for news), never a verb after a pronoun.

    >>> love_story, short = _category_pattern("love story"), _category_pattern("short")
    >>> books = _category_pattern("books")
    >>> bool(love_story.search("two love stories")), bool(love_story.search("I love stories"))
    (True, False)
    >>> bool(short.search("funny and short")), bool(short.search("a short film"))
    (False, True)
    >>> bool(books.search("a thriller book")), bool(_category_pattern("news").search("something new"))
    (True, False)
    """
    escaped = re.escape(word).replace(r"\-", r"[-\s]?").replace(r"\ ", r"[\s-]+")  # "feel good", "feel-good"
    plural = r"(?:s|es)?" if not word.endswith("y") else ""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        escaped, plural = escaped[:-1], "s?"
    if word.endswith("y"):
        escaped = escaped[:-1] + r"(?:y|ies)"
    body = _QUALIFIED.get(word, escaped + plural)
    return re.compile(rf"{_NOT_A_VERB}\b(?:{body})\b", re.IGNORECASE)


def title_matcher(catalog: Catalog) -> TitleMatcher:
    """The catalogue's titles (every name of each item) as the rule reader spots them: a title made only of
    the words requests are written in (:data:`STOPWORDS`, :data:`CHAT_WORDS`, category names and their
    :data:`SYNONYMS`: "Scary Movie", "The Heist", "Game Night") counts only when written as a title, so "a good
    scary movie for a sleepover" asks for horror instead of naming Scary Movie."""
    phrases = [*catalog.categories(), *(word for name, words in SYNONYMS.items() for word in (name, *words))]
    everyday = STOPWORDS | CHAT_WORDS | {word for phrase in phrases for word in normalise(phrase).split()}
    return TitleMatcher(
        ((i.id, name, i.year) for i in catalog for name in i.names()),
        popularity={i.id: i.popularity or 0.0 for i in catalog},
        everyday_words=frozenset(everyday),
    )


class RuleBasedUnderstander:
    def __init__(
        self,
        categories: Iterable[str],
        titles: TitleMatcher | None = None,
        *,
        dated: bool = False,
        people: PeopleIndex | None = None,
    ):
        """``dated``: the catalogue's items have years (films), so "black and white" asks for an era.
        ``people``: the catalogue's credited people, whose names hold no titles ("with Jack Nicholson")."""
        self.dated = dated
        self.people = people
        vocabulary = {c.lower() for c in categories}
        self.categories = frozenset(vocabulary)
        # Every pattern leads to a category of this catalogue: its own name, or a synonym of one it has.
        self._patterns: list[tuple[re.Pattern[str], str, str]] = []
        for category in sorted(vocabulary, key=len, reverse=True):
            self._patterns.append((_category_pattern(category), category, category))
        for target, words in SYNONYMS.items():
            if target in vocabulary:
                for word in words:
                    self._patterns.append((_category_pattern(word), target, word))
        # The words that name a category here ("family", "kids", "scary"): a title made of them alone, in lower
        # case, is the category ("a christmas movie for the family" is no wish for the film The Family).
        self._category_words = frozenset(w for _, _, said in self._patterns for w in said.split())
        self.titles = titles

    def _chinese(self, text: str) -> Interests:
        """A Chinese message, read by :func:`agent.chinese.read_chinese` into the catalogue's category names."""
        reading = read_chinese(text, self.categories)
        # Without a category word the message itself is the query ("一部关于宇航员在太空中求生的电影": an
        # astronaut surviving in space), unless it is a greeting too short to ask for anything.
        said = " ".join(reading.wishes) or (text if len(text) > _SHORTEST_CHINESE_REQUEST else "")
        constraints = Constraints(include_categories=frozenset(reading.include)).with_excluded(reading.exclude)
        if reading.years is not None:
            constraints = constraints.with_years(*reading.years)
        interests = Interests(constraints=constraints, wishes=list(reading.wishes), query_text=said, language="zh")
        if reading.children:
            interests.audience = "children"
        self._suit(interests)
        interests.constraints = interests.constraints.settled()
        return interests

    def negated_words(self, message: str) -> frozenset[str]:
        """The words the message puts under a negation ("no gore", "isn't American"): the only words a
        language model's reading may turn into things to avoid.

        >>> sorted(RuleBasedUnderstander([]).negated_words("running shoes under $70, not Nike"))
        ['nike']
        """
        words: set[str] = set()
        for clause in _CLAUSE_SPLIT.split(message):
            for polarity, piece in _scopes(clause or ""):
                if polarity in ("avoid", "soft", "seen"):
                    words.update(normalise(piece).split())
        return frozenset(words)

    def understand(self, message: str, *, deadline: float | None = None) -> Interests:
        interests = Interests()
        text = message.strip()
        if not text:
            return interests
        if is_chinese(text):
            return self._chinese(text)
        text = _audience(text, interests, self._in_title)
        text = self._years(text, interests, dated=self.dated)
        text = self._runtime(text, interests)
        text = self._prices(text, interests)
        text = _relative(text, interests, self._in_title)
        interests.adds = bool(_ADDITIVE.search(text))
        interests.rejects_picks = bool(_REJECTION.search(text))
        interests.asks_for_others = bool(_OTHERS.search(text))
        positive_words: list[str] = []
        for raw_clause in _CLAUSE_SPLIT.split(text):
            if not raw_clause or not raw_clause.strip():
                continue
            clause, titles = self._titles(raw_clause)
            for polarity, piece in _scopes(clause):
                positive_words += self._read(polarity, piece, titles, interests)
        self._suit(interests)
        interests.constraints = interests.constraints.settled()
        interests.praises_last = bool(
            _PRAISE.search(text)
            and not (interests.liked_ids or interests.disliked_ids or interests.mentioned_ids)
            and not any(not cue.group("want") for cue in _CUE.finditer(text))
        )
        interests.query_text = " ".join(positive_words)
        interests.wishes = list(dict.fromkeys(interests.wishes))[:6]
        return interests

    def _read(self, polarity: str, piece: str, titles: list[str], interests: Interests) -> list[str]:
        """Record what one piece of a clause (see :func:`_scopes`) says; return its words for the query."""
        # Only a clause naming titles has markers; elsewhere a "#0#" is the user's own text.
        ids = [titles[int(n)] for n in _MARKER.findall(piece)] if titles else []
        if polarity == "unseen":  # neither a like nor a dislike, and no wish either
            interests.mentioned_ids.extend(ids)
            return []
        if polarity == "seen":  # seen them all ("every Harry Potter movie"): neither liked nor disliked, sequels too
            interests.mentioned_ids.extend(ids)
            interests.seen_series_ids.extend(ids)
        else:
            (interests.liked_ids if polarity == "want" else interests.disliked_ids).extend(ids)
        found = self._categories(piece)
        content = _content_words(piece)
        if polarity == "want":
            interests.constraints = interests.constraints.with_included(c for c, _ in found)
            places = places_in(piece)
            about = [*topics_in(piece), *places]
            interests.topics.extend(about)
            topics = [t for t in about if " " in t]  # "time travel" is one wish, not "travel"
            interests.wishes.extend([*(w for _, w in found), *topics])
            interests.phrases.extend(_runs(piece))
            phrase_words = {part for _, word in found for part in re.split(r"[-\s]+", word)}  # "tear-jerker"
            phrase_words |= {part for topic in topics for part in topic.split()}
            phrase_words |= _SETTING_WORDS if places else set()  # "takes place in Paris" wishes for Paris alone
            phrase_words |= {singular(word) for word in phrase_words}  # "a mystery book" found "books"
            names = _name_words(piece)  # "Tom" of "Tom Hanks" is a wish; a lone "old" or "fun" is not
            interests.wishes.extend(
                w
                for w in content
                if w not in interests.wishes
                and (len(w) > 3 or w in names)
                and w not in CHAT_WORDS
                and w not in phrase_words
            )
            return content
        if polarity == "avoid":  # a "soft" piece ("not too scary") keeps its category words as words to avoid
            named = {w for _, w in found}
            ruled_out = [c for c, word in found if _governs(piece, word, named)]
            interests.constraints = interests.constraints.with_excluded(ruled_out)
            content = [w for w in content if not self._categories(w)]  # "comedies" is excluded, not also avoided
        avoided = [w for w in content if w not in _PREDICATE and w not in CHAT_WORDS]
        interests.avoid_terms.extend(avoided)
        if polarity == "avoid":
            interests.ruled_out_terms.extend(avoided)
        return []

    def _suit(self, interests: Interests) -> None:
        """A film for a child: family or animation wanted, clearly adult genres ruled out (those the catalogue has)."""
        if interests.audience != "children":
            return
        wanted = [c for c in CHILDREN_CATEGORIES if c in self.categories]
        unsuitable = [c for c in _NOT_FOR_CHILDREN if c in self.categories]
        interests.constraints = interests.constraints.with_included(wanted).with_excluded(unsuitable)
        interests.wishes.extend(wanted)

    def _in_title(self, text: str, start: int, end: int) -> bool:
        """Whether the words at ``text[start:end]`` belong to a catalogue title named in their clause: a title's
        words are no audience, runtime or step ("Children of Men", "Fifty Shades Darker"); those of a title not
        meant as one are ("some good kids movies" is no film Good Kids)."""
        if self.titles is None:
            return False
        clause_start = max((m.end() for m in _CLAUSE_SPLIT.finditer(text, 0, start)), default=0)
        clause_end = next((m.start() for m in _CLAUSE_SPLIT.finditer(text, end)), len(text))
        clause = text[clause_start:clause_end]
        words = set(normalise(text[start:end]).split())
        return any(
            words <= set(hit.title.split()) and self._written_as_title(clause, normalise(clause), hit)
            for hit in self.titles.find(clause)
        )

    def _titles(self, clause: str) -> tuple[str, list[str]]:
        """The clause with each catalogue title it names replaced by a marker (" #0# "), and the titles' ids.

        Titles are replaced before negation is read, so a title's own words ("No Country for Old Men")
        negate nothing.
        """
        if self.titles is None:
            return clause, []
        norm = normalise(clause)
        hits = [hit for hit in self.titles.find(clause) if self._written_as_title(clause, norm, hit)]
        if not hits:
            return clause, []
        pieces, cursor = [], 0
        for n, hit in enumerate(hits):
            pieces += [norm[cursor : hit.start], f" #{n}# "]
            cursor = hit.end
        pieces.append(norm[cursor:])
        return "".join(pieces), [hit.item_id for hit in hits]

    def _written_as_title(self, clause: str, norm: str, hit: TitleHit) -> bool:
        """Whether a spotted title is meant as one. Written with its capitals or followed by its year, it is.
        Otherwise three kinds of title are not: one made of everyday words ("The Other", "The One", "Anything
        Else": "I didn't know the other one was a sequel" disliked The Other on ReDial valid); a kind of film
        after "a" or in the plural ("a scary movie", "another superhero movie", "a date night movie", "I like
        scary movies", "a haunted house film": the words are the wish, and the films Scary Movie, Superhero Movie,
        Date Night and A Haunted House are not what the person loved); and one made only of the catalogue's
        category words ("for the family"). Nor is a title that is part of a credited person's name, typed with
        capitals ("a horror movie with Jack Nicholson" loved no film Jack)."""
        assert self.titles is not None
        said = norm[hit.start : hit.end].split()  # as the person wrote it ("scary movie" for "Scary Movie 3")
        if self._inside_a_name(clause, said):
            return False
        as_written = fold(self.titles.original_title(hit.title))
        with_year = re.search(r"\b\d{4}\s*$", norm[hit.start : hit.end]) or re.match(r"\s*\d{4}\b", norm[hit.end :])
        if with_year or re.search(rf"(?<!\w){re.escape(as_written)}(?!\w)", fold(clause)):
            return True
        film_noun = said[-1] in _FILM_WORDS or next(iter(norm[hit.end :].split()), "") in _FILM_WORDS
        after_a = said[0] not in ARTICLES and bool(_A_KIND_OF.search(norm[: hit.start]))
        # "a haunted house film": the article is the title's own (A Haunted House), the words after it a topic
        topic = " ".join(said[1:])
        a_topic = said[0] in ("a", "an") and topics_in(topic) == (topic,)
        kind_of_film = film_noun and (after_a or a_topic)
        films_of_a_kind = said[-1] in _FILM_WORDS and said[-1].endswith("s") and hit.title.split()[-1] != said[-1]
        if kind_of_film or films_of_a_kind:  # "a scary movie", "I like scary movies"
            return False
        if set(said) - ARTICLES <= self._category_words:
            return False
        return not set(hit.title.split()) - ARTICLES <= STOPWORDS

    def _inside_a_name(self, clause: str, said: list[str]) -> bool:
        """Whether the words ``said`` of a spotted title lie within a longer full name of a credited person,
        capitalised in ``clause`` (the catalogue's people are looked up only when some capitalised run is longer
        than the title)."""
        if self.people is None or not said:
            return False
        for run in _capitalised_runs(clause):
            words = normalise(" ".join(run)).split()
            if len(words) > len(said) and _holds(words, said):
                names = self.people.full_names_in(words)
                if any(len(name) > len(said) and _holds(name, said) for name in names):
                    return True
        return False

    def _categories(self, clause: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for pattern, category, word in self._patterns:
            if pattern.search(clause) and all(category != c for c, _ in found):
                found.append((category, word))
        return found

    def _runtime(self, text: str, interests: Interests) -> str:
        """Read a runtime bound; return the text without the phrases that stated it.

        A bare "short" asks for a short film ("funny and short", "a short comedy"); "a short film"
        and "shorts" are left for the short-film category, and "a short dress" is no runtime.

        >>> u = RuleBasedUnderstander(["comedy", "short"])
        >>> [(u._runtime(m, i := Interests()), i.max_runtime_minutes)[1]
        ...  for m in ("something short", "a short comedy", "a short film", "a short dress", "under 2 hours")]
        [100, 100, None, None, 120]
        """
        bounds: list[int] = []
        spans: list[tuple[int, int]] = []
        for m in _RUNTIME_BOUND.finditer(text):
            bounds.append(_minutes(m))
            spans.append(m.span())
        for m in _NOT_LONG.finditer(text):
            bounds.append(_NOT_LONG_MINUTES)
            spans.append(m.span())
        for m in _SHORT.finditer(text):
            after = (m.group("after") or "").lower()
            describes_the_film = not after or after in STOPWORDS or after in _FILM_NOUNS or self._categories(after)
            negated = _negated_before(text, m.start())
            if describes_the_film and not negated and not self._in_title(text, *m.span("word")):
                bounds.append(_SHORT_MINUTES)
                spans.append(m.span("word"))
        if bounds:
            interests.max_runtime_minutes = min(bounds)
        return _blank(text, spans)

    @staticmethod
    def _years(text: str, interests: Interests, *, dated: bool = False) -> str:
        """Read year bounds; return the text without the phrases that stated them.

        A year in a story or a question about a film is no bound: "I used to watch it back in the eighties",
        "is this a movie from 2019?". For ``dated`` items, "black and white" is the years before colour.

        >>> u = RuleBasedUnderstander(["comedy"])
        >>> [u.understand(m).constraints.year_min for m in ("an 80s comedy", "I watched it back in the early eighties",
        ...                                            "Is this a movie from 2019?", "anything from 2019?")]
        [1980, None, None, 2019]
        >>> films = RuleBasedUnderstander(["comedy"], dated=True).understand("an old black and white comedy")
        >>> films.constraints.years, films.wishes
        ((None, 1966), ['comedy'])
        >>> RuleBasedUnderstander(["shoes"]).understand("black and white shoes").constraints.years
        (None, None)
        """
        lowered = text.lower()
        spans: list[tuple[int, int]] = []

        def stated(pattern: str) -> re.Match[str] | None:
            return next((m for m in re.finditer(pattern, lowered) if not _narrated(lowered, m.start())), None)

        if m := stated(rf"\bbetween {_YEAR} and {_YEAR}\b"):
            low, high = sorted((int(m.group(1)), int(m.group(2))))
            interests.constraints = interests.constraints.with_years(low, high)
            return _blank(text, [m.span()])
        year_min, year_max = interests.constraints.years

        def blank_bound(m: re.Match[str]) -> bool:
            """Blank the bound ``m`` with the negation that governs it, if any; whether one turns it round
            ("nothing after 1970")."""
            cue = _negation_start(lowered, m.start(), _NEGATED_BOUND)
            spans.append((m.start() if cue is None else cue, m.end()))
            return cue is not None

        def decade(m: re.Match[str], start: int) -> None:
            """A decade wished for; one ruled out ("nothing from the 80s") is no range this schema can hold."""
            nonlocal year_min, year_max
            if blank_bound(m):
                interests.notices.append(
                    f"I cannot leave out a single decade; say 'before {start}' or 'after {start + 9}' instead"
                )
            else:
                year_min, year_max = start, start + 9

        if m := stated(r"\b(?:the\s+)?(?:(19|20)?(\d)0)'?s\b"):
            century = int(m.group(1)) * 100 if m.group(1) else (1900 if int(m.group(2)) >= 3 else 2000)
            decade(m, century + int(m.group(2)) * 10)
        for word, start in _DECADE_WORDS.items():
            if m := stated(rf"\b{word}\b"):
                decade(m, start)
        if dated and (m := stated(_BLACK_AND_WHITE)):
            year_max = min(year_max or _LAST_BLACK_AND_WHITE_YEAR, _LAST_BLACK_AND_WHITE_YEAR)
            spans.append(m.span())
        if m := stated(rf"\b(?:before|older than|earlier than|prior to)\s+{_YEAR}\b"):
            year = int(m.group(1))
            if blank_bound(m):  # "nothing before 1990"
                year_min = year
            else:
                year_max = year - 1
        if m := stated(rf"\b(?:after|newer than|later than|since)\s+{_YEAR}\b"):
            year, since = int(m.group(1)), "since" in m.group(0)
            if blank_bound(m):  # "nothing after 1970", "nothing since 2010"
                year_max = year - 1 if since else year
            else:
                year_min = year if since else year + 1
        if m := stated(rf"\b(?:from|in|released in|made in)\s+{_YEAR}\b(?!\s*(?:and|-|to))"):
            if year_min is None and year_max is None:
                year_min = year_max = int(m.group(1))
                spans.append(m.span())
        interests.constraints = interests.constraints.with_years(year_min, year_max)
        return _blank(text, spans)

    @staticmethod
    def _prices(text: str, interests: Interests) -> str:
        """Read price bounds (only where money is mentioned); return the text without those phrases."""
        if not _MONEY.search(text):
            return text
        lowered = text.lower()
        spans: list[tuple[int, int]] = []
        upper = (
            rf"\b(?:under|below|less than|cheaper than|at most|max(?:imum)?|up to|within|{_BUDGET_WORDS})\s+{_PRICE}"
        )
        price_min, price_max = interests.constraints.prices
        if m := re.search(upper, lowered):
            price_max = _number(m.group(1))
            spans.append(m.span())
        for m in re.finditer(rf"\b(?:over|above|more than|at least|min(?:imum)?)\s+{_PRICE}", lowered):
            # "not more than $20", "I can't go above 500$", "I don't want to spend more than 30 usd": a ceiling.
            clause_start = max((c.end() for c in _CLAUSE_SPLIT.finditer(lowered, 0, m.start())), default=0)
            negated = re.search(rf"\b(?:{_NEGATION})\b", lowered[clause_start : m.start()]) is not None
            if negated:
                price_max = _number(m.group(1))
            elif "at least" in m.group() or price_min is None:
                price_min = _number(m.group(1))
            spans.append(m.span())
        interests.constraints = interests.constraints.with_prices(price_min, price_max)
        return _blank(text, spans)


# A year in a story ("back in the eighties", "when I was a kid in the 90s") or in a yes/no question about a
# film ("is this a movie from 2019?", "was it made in the 80s?") states no wish.
_NARRATIVE = re.compile(
    r"\b(?:back in|used to|when i was|growing up|grew up|as a kid|i remember|remember when"
    r"|years ago)\b"
)
_FILM_QUESTION = re.compile(r"^\s*(?:is|was|are|were|has|had|did|does)\s+(?:it|this|that|the|these|those|they)\b")


def _narrated(text: str, start: int) -> bool:
    """Whether the year phrase at ``start`` sits in a story or in a yes/no question about a film."""
    clause_start = max((m.end() for m in _CLAUSE_SPLIT.finditer(text, 0, start)), default=0)
    clause = text[clause_start:start]
    return bool(_NARRATIVE.search(clause) or _FILM_QUESTION.match(clause))


def _scopes(clause: str) -> list[tuple[str, str]]:
    """Split a clause at its negation cues into ``(polarity, text)`` pieces.

    Each cue governs what follows it, up to the next cue: "want" before any cue, "avoid" after
    one ("soft" after "not too ...": avoided words, no category ruled out), "unseen" after
    "never saw", "seen" after "seen all" (avoided words, as "soft", and titles mentioned). A cue
    with nothing after it may govern its subject instead (see :func:`_looks_back`).

    >>> _scopes("a war film that isn't American")
    [('want', 'a war film that '), ('avoid', ' American')]
    >>> _scopes("not too gory"), _scopes("like Inception but less confusing")
    ([('soft', ' too gory')], [('want', 'like Inception but '), ('soft', ' confusing')])
    >>> _scopes("horror is not my thing")
    [('avoid', 'horror is '), ('avoid', ' my thing')]
    >>> _scopes("I never saw #0#"), _scopes("a comedy I haven't seen")
    ([('want', 'I '), ('unseen', ' #0#')], [('want', 'a comedy I ')])
    >>> _scopes("I've seen all the Marvel movies")
    [('want', "I've "), ('seen', ' the Marvel movies')]
    >>> _scopes("not romance that lust something like #0#"), _scopes("not something like #0#")
    ([('avoid', ' romance that lust '), ('want', ' #0#')], [('avoid', ' something like #0#')])
    """
    pieces: list[list[str]] = []  # [polarity, text, the cue before the text]
    polarity, start, cue_text = "want", 0, ""
    for cue in _CUE.finditer(clause):
        if cue.group("want") and (polarity == "want" or not _names_anything(clause[start : cue.start()])):
            continue  # nothing negated to end ("not something like X" still rejects X)
        pieces.append([polarity, clause[start : cue.start()], cue_text])
        kind = next((_CUE_KINDS[group] for group in _CUE_KINDS if cue.group(group)), "avoid")
        polarity, start, cue_text = kind, cue.end(), cue.group()
    pieces.append([polarity, clause[start:], cue_text])
    for before, piece in zip(pieces, pieces[1:]):
        doubled = not piece[1].strip() and piece is not pieces[-1]  # "a comedy my kids won't hate"
        if (
            before[0] == "want"
            and not doubled
            and not _names_anything(piece[1])
            and _looks_back(piece[0], piece[2], before[1])
        ):
            before[0] = piece[0]
        elif piece[0] == "avoid" and _DEGREE.match(piece[1]):
            piece[0] = "soft"
    return [(polarity, text) for polarity, text, _ in pieces if text.strip()]


def _looks_back(polarity: str, cue: str, subject: str) -> bool:
    """Whether a cue with nothing after it governs what came before it in its clause.

    A negated verb does ("horror is not my thing", "Titanic I hated"); "nothing" and "no" have no
    subject ("a comedy and nothing else"); "never seen" governs a title ("Titanic I never saw") but
    not a wish ("a comedy I haven't seen" still wants a comedy).

    >>> _looks_back("avoid", "not", "horror is "), _looks_back("avoid", "nothing", "a comedy and ")
    (True, False)
    >>> _looks_back("unseen", "never saw", "a comedy "), _looks_back("unseen", "never saw", " #0# I ")
    (False, True)
    """
    if polarity == "unseen":
        return _MARKER.search(subject) is not None
    return _VERB_CUE.fullmatch(cue) is not None


def _names_anything(text: str) -> bool:
    """Whether a piece names a title or a thing, beyond the words of a predicate ("my thing", "a fan of")."""
    return bool(_MARKER.search(text)) or any(w not in _PREDICATE for w in _content_words(text))


# Words that may stand between a negation and the category it rules out: "I don't want to watch horror",
# "no more comedies". Any other word means the negation governs something else ("I do not have any idea
# about books" rules out no books): an exclusion is a hard filter, so it needs the plain reading.
_GOVERNING = _PREDICATE | frozenset("any more anymore really much really fond mood keen in".split())


def _governs(piece: str, word: str, named: set[str]) -> bool:
    """Whether the negation that starts ``piece`` governs the category ``word`` directly (other category
    words ``named`` in the piece may stand between: "no horror or sci-fi").

    >>> _governs(" want to watch horror", "horror", set()), _governs(" have any idea about books", "books", set())
    (True, False)
    >>> _governs("horror is ", "horror", set()), _governs(" horror or sci-fi", "sci-fi", {"horror"})
    (True, True)
    >>> _governs(" a romance book", "books", set())  # "King is not a romance book": books are not ruled out
    False
    """
    found = re.search(rf"\b{re.escape(word)}", piece, re.IGNORECASE) or _category_pattern(word).search(piece)
    if found is None:
        return True  # matched through a synonym's other form: keep the reading the rules made
    allowed = _GOVERNING | {w for phrase in named for w in _content_words(phrase)}
    return all(w in allowed for w in _content_words(piece[: found.start()]))


def _negated_before(text: str, start: int) -> bool:
    """Whether a negation cue governs what starts at ``start`` ("not for kids", "nothing too short").

    >>> _negated_before("a film not for kids", 15), _negated_before("a film that isn't scary for my kids", 31)
    (True, False)
    """
    return _negation_start(text, start, _NEGATED_BEFORE) is not None


def _negation_start(text: str, start: int, cue: re.Pattern[str]) -> int | None:
    """Where, in the clause of ``text`` that ``start`` is in, a negation ``cue`` that governs what starts there
    begins; None when there is none.

    >>> _negation_start("a classic western, nothing after 1970", 27, _NEGATED_BOUND)
    19
    """
    clause_start = max((m.end() for m in _CLAUSE_SPLIT.finditer(text, 0, start)), default=0)
    found = cue.search(text, clause_start, start)
    return found.start() if found else None


def _audience(text: str, interests: Interests, in_title: Callable[[str, int, int], bool]) -> str:
    """Read who the film is for; return the text without those words.

    A child's age or kids make it "children", a teenager's age "teen", "for me" or "for adults" "adult".
    Every age phrase is taken out, so "year-old" is never a wish or a year.

    >>> i = Interests()
    >>> _audience("a movie to watch with my 8-year-old", i, lambda *_: False).split(), i.audience
    (['a', 'movie', 'to', 'watch', 'with', 'my'], 'children')
    >>> i = Interests(); _ = _audience("nothing for kids", i, lambda *_: False); i.audience is None
    True
    >>> i = Interests(); _ = _audience("films like The Shining for me", i, lambda *_: False); i.audience
    'adult'
    """
    ages: list[int] = []
    spans: list[tuple[int, int]] = []
    for m in _AGE.finditer(text):
        spans.append(m.span())
        if not _negated_before(text, m.start()):
            number = next(g for g in m.groups() if g)
            ages.append(int(number) if number.isdigit() else _NUMBER_WORDS[number.lower()])
    children = teenagers = False
    for m in _CHILDREN.finditer(text):
        before = text[: m.start()]
        character = m.group().lower() in ("kid", "child") and _A_CHARACTER.search(before)
        if in_title(text, *m.span()) or _CHILD_IN_A_STORY.search(before) or character:
            continue
        if not _negated_before(text, m.start()):
            children = True
            spans.append(m.span())
    for m in _TEENAGERS.finditer(text):
        if not _negated_before(text, m.start()):
            teenagers = True
            spans.append(m.span())
    if children or any(age <= _CHILD_AGE for age in ages):
        interests.audience = "children"
    elif teenagers or any(age <= _TEEN_AGE for age in ages):
        interests.audience = "teen"
    else:
        for m in _ADULTS.finditer(text):
            if not _negated_before(text, m.start()):
                interests.audience = "adult"
                spans.append(m.span())
    return _blank(text, spans)


def _relative(text: str, interests: Interests, in_title: Callable[[str, int, int], bool]) -> str:
    """Read a step away from the last picks (the first one stated); return the text without its words.

    >>> [(_relative(m, i := Interests(), lambda *_: False), i.relative)[1]
    ...  for m in ("something older", "anything more recent?", "lesser known", "nothing darker", "my older son",
    ...            "anything cheaper?")]
    ['older', 'newer', 'less_mainstream', None, None, 'cheaper']
    """
    spans: list[tuple[int, int]] = []
    for m in _RELATIVE_PATTERN.finditer(text):
        if _negated_before(text, m.start()) or in_title(text, *m.span()):
            continue
        spans.append(m.span())
        interests.relative = interests.relative or m.lastgroup
    return _blank(text, spans)


def _minutes(m: re.Match[str]) -> int:
    """The minutes of a runtime bound's duration.

    >>> [_minutes(_RUNTIME_BOUND.search(s)) for s in ("under 2 hours", "less than an hour and a half", "max 95 mins")]
    [120, 90, 95]
    """
    hours, half, minutes = m.group(1), m.group(2), m.group(3)
    if minutes:
        return int(minutes)
    count = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0}.get(hours.lower()) or float(hours)
    return round(count * 60 + (30 if half else 0))


def _number(text: str) -> float:
    if re.fullmatch(r"\d+,\d{1,2}", text):  # a decimal comma: "12,50"
        return float(text.replace(",", "."))
    return float(text.replace(",", ""))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    return text


def _runs(clause: str) -> list[str]:
    """Runs of consecutive content words: a stopword, a chat word or a number ends one ("likes" named the
    product type "like" of "True Facts That Sound Like...", and a gift for a coworker who likes a tidy desk
    became that book or a desk calendar).

    >>> _runs("a comfortable running shoe for my son")
    ['comfortable running shoe', 'son']
    >>> _runs("a gift for a coworker who likes to organise their desk")
    ['gift', 'coworker', 'organise', 'desk']
    """
    runs: list[list[str]] = [[]]
    for word in re.findall(r"[\w'-]+", clause.lower()):
        if word in STOPWORDS or word in CHAT_WORDS or len(word) < 2 or not re.match(r"[^\W\d_]", word):
            runs.append([])
        else:
            runs[-1].append(word)
    return [" ".join(run) for run in runs if run]


def _name_words(clause: str) -> set[str]:
    """The words, lower-cased, of runs of two or more capitalised content words: a person's name as typed.

    >>> sorted(_name_words("a comedy with Tom Hanks or Al Pacino, not Fun"))
    ['al', 'hanks', 'pacino', 'tom']
    """
    return {word.lower() for run in _capitalised_runs(clause) for word in run}


def _capitalised_runs(clause: str) -> list[list[str]]:
    """The runs of two or more capitalised content words, as typed.

    >>> _capitalised_runs("a horror movie with Jack Nicholson, or The Shining")
    [['Jack', 'Nicholson']]
    """
    runs: list[list[str]] = [[]]
    for word in re.findall(r"[^\W\d_][\w'-]*", clause):
        if word[0].isupper() and word.lower() not in STOPWORDS:
            runs[-1].append(word)
        else:
            runs.append([])
    return [run for run in runs if len(run) > 1]


def _holds(words: Sequence[str], part: Sequence[str]) -> bool:
    """Whether ``part`` runs, in order and unbroken, in ``words``.

    >>> _holds(["jack", "nicholson"], ["jack"]), _holds(["jack", "nicholson"], ["nicholson", "jack"])
    (True, False)
    """
    return any(list(words[n : n + len(part)]) == list(part) for n in range(len(words) - len(part) + 1))


def _content_words(clause: str) -> list[str]:
    words = re.findall(r"[^\W\d_][\w'-]*", clause.lower())
    return [w for w in words if w not in STOPWORDS and len(w) > 1]
