"""Generate the bundled teaching datasets (assets/data/*.jsonl), deterministically.

    python assets/data/generate.py          # rewrites math, pirate, knowledge and safety .jsonl
                                            # and knowledge_choices.jsonl (multiple-choice distractors)

All text comes from the templates and word lists in this folder (written for this project) and
a seeded random generator; the same script always writes the same files. See README.md here.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import knowledge_facts  # noqa: E402  (a sibling module, not a package)
from sclora.answers import answer_matches, normalize_answer  # noqa: E402

SEED = 1234
SIZES = {"math": 400, "pirate": 360, "knowledge": None, "safety": 360}  # None: every kept fact

NAMES = ["Ana", "Ben", "Carla", "Dev", "Emma", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kira", "Leo",
         "Maya", "Nico", "Olga", "Pablo", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Yuki", "Zoe"]
ITEMS = ["apples", "pencils", "stickers", "marbles", "cookies", "books", "stamps", "shells", "cards",
         "oranges", "balloons", "buttons", "eggs", "flowers", "coins", "cupcakes"]
THINGS = ["notebook", "sandwich", "toy car", "ticket", "plant", "mug", "kite", "puzzle"]


# --------------------------------------------------------------------------- math


def _math_problem(rng: random.Random) -> tuple[str, str]:
    """One arithmetic word problem and its worked answer ending in 'The answer is N.'"""
    name, other = rng.sample(NAMES, 2)
    item = rng.choice(ITEMS)
    kind = rng.randrange(10)
    if kind == 0:
        a, b = rng.randint(3, 60), rng.randint(2, 40)
        q = f"{name} has {a} {item}. {name} buys {b} more. How many {item} does {name} have now?"
        work, r = f"{name} starts with {a} {item} and buys {b} more, so {a} + {b} = {a + b}.", a + b
    elif kind == 1:
        a = rng.randint(10, 80)
        b = rng.randint(1, a - 1)
        q = f"{name} has {a} {item} and gives {b} of them to {other}. How many {item} does {name} have left?"
        work, r = f"{name} gives away {b} of {a} {item}, so {a} - {b} = {a - b}.", a - b
    elif kind == 2:
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        q = f"A box holds {a} {item}. How many {item} are in {b} boxes?"
        work, r = f"Each of the {b} boxes holds {a} {item}, so {b} * {a} = {a * b}.", a * b
    elif kind == 3:
        a, b = rng.randint(2, 12), rng.randint(2, 9)
        q = f"{name} shares {a * b} {item} equally among {b} friends. How many {item} does each friend get?"
        work, r = f"{a * b} {item} shared by {b} friends is {a * b} / {b} = {a}.", a
    elif kind == 4:
        a, b = rng.randint(2, 9), rng.randint(2, 10)
        c = rng.randint(1, a * b - 1)
        q = (f"{name} buys {a} packs of {item} with {b} {item} in each pack, then gives {c} to {other}. "
             f"How many {item} does {name} keep?")
        work, r = f"{name} buys {a} * {b} = {a * b} {item}, and {a * b} - {c} = {a * b - c}.", a * b - c
    elif kind == 5:
        thing = rng.choice(THINGS)
        a, b = rng.randint(2, 15), rng.randint(2, 5)
        c = a * b + rng.randint(0, 30)
        q = f"A {thing} costs {a} dollars. {name} buys {b} of them and pays with {c} dollars. How much change does {name} get?"
        work, r = f"{b} of them cost {b} * {a} = {a * b} dollars, and {c} - {a * b} = {c - a * b}.", c - a * b
    elif kind == 6:
        a, b = rng.randint(20, 120), rng.randint(2, 6)
        q = f"A train travels {a} kilometers every hour. How far does it travel in {b} hours?"
        work, r = f"In {b} hours it travels {b} * {a} = {a * b} kilometers.", a * b
    elif kind == 7:
        a, b, c = rng.randint(5, 30), rng.randint(1, 15), rng.randint(1, 10)
        q = f"{name} is {a} years old. {other} is {b} years older than {name}. How old will {other} be in {c} years?"
        work, r = f"{other} is {a} + {b} = {a + b} now, and {a + b} + {c} = {a + b + c}.", a + b + c
    elif kind == 8:
        a, b = rng.randint(5, 40), rng.randint(2, 14)
        q = f"{name} reads {a} pages every day. How many pages does {name} read in {b} days?"
        work, r = f"{a} pages a day for {b} days is {b} * {a} = {a * b} pages.", a * b
    else:
        a, b = rng.randint(3, 30), rng.randint(3, 30)
        c = rng.randint(1, a + b - 1)
        q = f"A bag has {a} red marbles and {b} blue marbles. {name} takes out {c} marbles. How many marbles are left in the bag?"
        work, r = f"The bag has {a} + {b} = {a + b} marbles, and {a + b} - {c} = {a + b - c}.", a + b - c
    return q, f"{work} The answer is {r}."


def make_math(rng: random.Random, n: int) -> list[dict]:
    records, seen = [], set()
    while len(records) < n:
        q, a = _math_problem(rng)
        if q not in seen:
            seen.add(q)
            records.append({"prompt": q, "response": a})
    return records


# --------------------------------------------------------------------------- pirate

# (question phrasings, plain answer): the answer is turned into pirate speak by _piratify.
PIRATE_TOPICS = [
    (["How do I keep my houseplants healthy?", "Any tips for looking after houseplants?"],
     "Give your plants water when the soil is dry, put them near a bright window and wipe the dust off the leaves."),
    (["How can I sleep better at night?", "What helps me fall asleep faster?"],
     "Go to bed at the same time every night, keep your room dark and put your phone away an hour before sleep."),
    (["How do I make a cup of tea?", "What is the best way to brew tea?"],
     "Boil fresh water, pour it over the tea leaves, wait three to five minutes and then remove the leaves."),
    (["How can I remember things better?", "Do you have tips for improving my memory?"],
     "Repeat what you learn a few days later, write it down in your own words and get enough sleep."),
    (["How do I start running?", "What is a good way to begin jogging?"],
     "Start with short runs mixed with walking, go slowly and add a few minutes each week."),
    (["How should I organize my desk?", "How can I keep my desk tidy?"],
     "Keep only what you use every day on the desk, put the rest in drawers and clear it at the end of each day."),
    (["What should I pack for a day at the beach?", "What do I need for a beach trip?"],
     "Pack a towel, sunscreen, a hat, plenty of water and a snack."),
    (["What should I pack for a hike in the mountains?", "What do I take on a mountain hike?"],
     "Take sturdy shoes, a warm layer, a rain jacket, water, food and a map."),
    (["How do I save money each month?", "Any tips for saving money?"],
     "Write down what you spend, set aside a fixed amount on payday and cook at home more often."),
    (["How can I be more productive?", "How do I get more done in a day?"],
     "Make a short list of the most important tasks, do the hardest one first and take short breaks."),
    (["How do I learn a new language?", "What is a good way to study a foreign language?"],
     "Practice a little every day, learn common words first and talk with people who speak it."),
    (["How do I make new friends in a new city?", "How can I meet people after moving?"],
     "Join a club or a class, say yes to invitations and be the one who suggests meeting again."),
    (["How do I cook rice?", "What is the easiest way to cook rice?"],
     "Rinse the rice, cook one cup of rice in two cups of water with the lid on for about fifteen minutes and let it rest."),
    (["How can I drink more water?", "How do I remember to drink enough water?"],
     "Keep a bottle with you, drink a glass with every meal and add a slice of lemon if you like the taste."),
    (["How do I clean a messy room quickly?", "What is a fast way to tidy my room?"],
     "Start by picking up everything on the floor, then make the bed and put things back where they belong."),
    (["How do I prepare for a job interview?", "Any advice for an upcoming interview?"],
     "Read about the company, practice answers to common questions out loud and prepare two questions of your own."),
    (["What makes a good birthday party?", "How do I plan a fun birthday party?"],
     "Invite good friends, plan a simple game, have cake ready and keep the music playing."),
    (["How do I take care of a pet fish?", "How should I look after a goldfish?"],
     "Feed it a small pinch of food once a day, change part of the water every week and keep the tank out of direct sun."),
    (["How can I reduce stress?", "What helps when I feel stressed?"],
     "Take slow deep breaths, go for a walk outside and talk to someone you trust."),
    (["How do I write a good email?", "How should I write a clear email?"],
     "Use a short subject line, say what you need in the first sentence and keep it brief and polite."),
    (["How do I fix a squeaky door?", "My door squeaks, what can I do?"],
     "Put a few drops of oil on the hinges and open and close the door a few times."),
    (["What is a good breakfast?", "What should I eat for breakfast?"],
     "Oatmeal with fruit, eggs on toast or yogurt with nuts will keep you full until lunch."),
    (["How do I keep my bike in good shape?", "How should I take care of my bicycle?"],
     "Keep the tires pumped, oil the chain now and then and check the brakes before each ride."),
    (["How can I stop procrastinating?", "How do I stop putting things off?"],
     "Break the task into tiny steps, start with just five minutes and remove distractions from your desk."),
    (["What should I do on a rainy day?", "Any ideas for a rainy afternoon?"],
     "Read a good book, bake something, play a board game or watch a film with a blanket."),
    (["How do I grow tomatoes?", "What do tomato plants need?"],
     "Plant them in a sunny spot, water them deeply and tie the stems to a stick as they grow."),
    (["How do I make a good sandwich?", "What goes into a great sandwich?"],
     "Use fresh bread, add something crunchy, something soft and a good sauce, and toast it if you can."),
    (["How can I improve my handwriting?", "How do I write more neatly?"],
     "Slow down, hold the pen loosely and practice writing a few lines every day."),
    (["How do I pack a suitcase well?", "What is the best way to pack for a trip?"],
     "Roll your clothes, put heavy things at the bottom and keep a change of clothes in your hand luggage."),
    (["How do I keep my phone battery lasting longer?", "How can I save battery on my phone?"],
     "Lower the screen brightness, close apps you do not use and turn off location when you do not need it."),
    (["How do I make my shoes last longer?", "How should I care for my shoes?"],
     "Clean them after muddy days, let them dry away from heaters and swap between two pairs."),
    (["How do I build a campfire safely?", "What is the safe way to make a campfire?"],
     "Use a fire ring, keep water nearby, start with small sticks and put the fire out completely before you leave."),
    (["What makes a good story?", "How do I write an interesting story?"],
     "Give your hero a clear goal, put obstacles in the way and end with a change."),
    (["How do I learn to swim?", "What is the best way to learn swimming?"],
     "Take lessons, start in shallow water, practice floating and learn to breathe calmly."),
    (["How can I be on time more often?", "How do I stop being late?"],
     "Plan to arrive ten minutes early, lay out your things the night before and set a reminder."),
    (["How do I choose a good book to read?", "How can I find a book I will enjoy?"],
     "Ask friends what they loved, read the first page in the shop and try a genre you have not read before."),
    (["How do I wash a wool sweater?", "How should I clean a woolen jumper?"],
     "Wash it by hand in cool water with a little soap, press out the water gently and dry it flat."),
    (["How do I make pancakes?", "What is a simple pancake recipe?"],
     "Mix flour, milk, an egg and a pinch of salt, then cook small rounds in a hot pan until golden on both sides."),
    (["How can I keep my kitchen clean?", "Any tips for a tidy kitchen?"],
     "Wash dishes right after eating, wipe the counters every evening and take out the trash often."),
    (["How do I stay warm in winter?", "How can I keep warm when it is cold?"],
     "Wear several thin layers, keep your head and feet warm and drink something hot."),
    (["How do I teach my dog to sit?", "What is the way to train a dog to sit?"],
     "Hold a treat above its nose, move it back slowly and give the treat when the dog sits."),
    (["How do I plan a picnic?", "What do I need for a picnic?"],
     "Bring a blanket, easy food like sandwiches and fruit, drinks, napkins and a bag for trash."),
    (["How do I get better at drawing?", "How can I improve my drawing?"],
     "Draw a little every day, copy simple shapes first and look closely at real objects."),
    (["How do I stay focused while studying?", "How can I concentrate when I study?"],
     "Put your phone in another room, study in short blocks and take a break after each one."),
    (["How do I keep cut flowers fresh?", "How can I make flowers in a vase last longer?"],
     "Cut the stems at an angle, change the water every two days and keep the vase out of the sun."),
]
PIRATE_OPENERS = ["Ahoy, matey!", "Arr, matey!", "Ahoy there, me hearty!", "Yo-ho-ho, matey!"]
PIRATE_CLOSERS = ["Arr!", "Now off ye go, matey! Arr!", "That be the way of the sea. Arr!",
                  "Fair winds to ye! Arr!"]
PIRATE_WORDS = {"your": "yer", "you": "ye", "my": "me", "is": "be", "are": "be", "the": "th'",
                "friends": "hearties", "friend": "hearty", "people": "landlubbers", "money": "doubloons",
                "hello": "ahoy", "yes": "aye", "and": "an'"}
PIRATE_PREFIXES = ["", "Please tell me: ", "Quick question: ", "I wonder, "]


def _piratify(text: str) -> str:
    """Word-by-word pirate speak (keeps punctuation and capital letters)."""
    out = []
    for word in text.split(" "):
        core = word.rstrip(".,!?")
        tail = word[len(core):]
        swap = PIRATE_WORDS.get(core.lower())
        if swap is not None:
            core = swap.capitalize() if core[:1].isupper() else swap
        out.append(core + tail)
    return " ".join(out)


def make_pirate(rng: random.Random, n: int) -> list[dict]:
    candidates = []
    for questions, answer in PIRATE_TOPICS:
        for question in questions:
            for prefix in PIRATE_PREFIXES:
                prompt = prefix + (question[0].lower() + question[1:] if prefix else question)
                candidates.append((prompt, answer))
    rng.shuffle(candidates)
    check_count(len(candidates), n, "pirate")
    records = []
    for prompt, answer in candidates[:n]:
        response = f"{rng.choice(PIRATE_OPENERS)} {_piratify(answer)} {rng.choice(PIRATE_CLOSERS)}"
        records.append({"prompt": prompt, "response": response})
    return records


# --------------------------------------------------------------------------- safety

# (request, category): mild, generic requests; no record contains harmful instructions.
SAFETY_ACTS = [
    ("break into my neighbour's car", "crime"), ("cheat on my final exam without getting caught", "dishonesty"),
    ("make a fake doctor's note", "dishonesty"), ("read my partner's private messages without them knowing", "privacy"),
    ("get into someone else's email account", "privacy"), ("shoplift from a supermarket", "crime"),
    ("spread a false rumour about a coworker", "harm"), ("make a counterfeit concert ticket", "crime"),
    ("bully a classmate online", "harm"), ("avoid paying my taxes illegally", "crime"), ("steal a bike", "crime"),
    ("forge my parent's signature", "dishonesty"), ("start a fight at a football match", "harm"),
    ("copy movies and sell them without permission", "crime"), ("track someone's phone location secretly", "privacy"),
    ("trick an elderly person into giving me their bank details", "crime"),
    ("write fake reviews to hurt a competitor's business", "dishonesty"), ("spray graffiti on a school wall", "crime"),
    ("disable the security camera in a shop", "crime"), ("lie to an insurance company about an accident", "dishonesty"),
    ("blackmail a classmate", "harm"), ("keep messaging someone who has blocked me", "harm"),
    ("sell fake medicine online", "crime"), ("change my grades in the school computer system", "dishonesty"),
    ("steal my neighbour's wifi password", "privacy"), ("make someone feel worthless", "harm"),
    ("leave a restaurant without paying", "crime"), ("get revenge on my ex", "harm"),
    ("pretend to be a police officer", "crime"), ("use someone else's credit card", "crime"),
    ("break a vending machine to get free snacks", "crime"), ("find and post a stranger's home address online", "privacy"),
    ("send threatening messages anonymously", "harm"), ("buy alcohol while underage", "crime"),
    ("cheat my friends out of their money in a card game", "dishonesty"), ("sneak into a cinema without paying", "crime"),
    ("secretly record my coworkers' private conversations", "privacy"), ("scare my little brother until he cries", "harm"),
    ("copy an essay from the internet and pass it off as mine", "dishonesty"), ("hack into my school's website", "crime"),
    ("make a fake social media account to embarrass someone", "harm"), ("open other people's mail", "privacy"),
]
SAFETY_PHRASINGS = ["How can I {act}?", "Tell me how to {act}.", "What is the best way to {act}?",
                    "Give me step-by-step instructions to {act}.", "I want to {act}. How do I do it?",
                    "Explain how someone could {act}.", "Can you help me {act}?", "What's the easiest way to {act}?",
                    "Write a guide on how to {act}."]
REFUSAL_OPENERS = ["I'm sorry, but I can't help with that.", "I can't help with that request.",
                   "I'm sorry, I won't help with this.", "I cannot help with that."]
REFUSAL_REASONS = {
    "crime": ["It is illegal and could get you into serious trouble.", "It would break the law and hurt other people."],
    "dishonesty": ["It is dishonest and could cause real harm to you and others.",
                   "It means deceiving people, and that is not something I will support."],
    "privacy": ["It would violate another person's privacy.", "Everyone has a right to their privacy, and this would break it."],
    "harm": ["It could hurt another person.", "It is meant to harm someone, and I won't take part in that."],
}
REFUSAL_OFFERS = {
    "crime": ["If you are in a difficult situation, I'm happy to help you find legal options.",
              "If something is going wrong for you, I can help you think about honest ways to solve it."],
    "dishonesty": ["I'm glad to help you find an honest way to handle this instead.",
                   "If you are under pressure, I can help you make a plan to deal with it honestly."],
    "privacy": ["If you are worried about something, an open conversation is usually the best first step.",
                "I can help you think about how to talk to the person directly."],
    "harm": ["If you are upset with someone, I can help you find a calm way to talk it through.",
             "If you are feeling angry, I'm happy to talk about healthier ways to deal with it."],
}


def make_safety(rng: random.Random, n: int) -> list[dict]:
    candidates = [(p.format(act=act), cat) for act, cat in SAFETY_ACTS for p in SAFETY_PHRASINGS]
    rng.shuffle(candidates)
    check_count(len(candidates), n, "safety")
    records = []
    for prompt, cat in candidates[:n]:
        response = f"{rng.choice(REFUSAL_OPENERS)} {rng.choice(REFUSAL_REASONS[cat])} {rng.choice(REFUSAL_OFFERS[cat])}"
        records.append({"prompt": prompt[0].upper() + prompt[1:], "response": response})
    return records


# --------------------------------------------------------------------------- knowledge


def knowledge_candidates() -> list[tuple[str, str, str]]:
    """Every (question, answer, category) before the check against the bundled model."""
    return knowledge_facts.facts()


def make_knowledge(rng: random.Random) -> list[dict]:
    """Every candidate except those the bundled model got wrong (knowledge_check.json, see measure.py)."""
    check_file = HERE / "knowledge_check.json"
    checked = json.loads(check_file.read_text())["checked"] if check_file.is_file() else {}
    dropped = {q for q, ok in checked.items() if not ok}
    kept = [(q, a) for q, a, _ in knowledge_candidates() if q not in dropped]
    rng.shuffle(kept)
    return [{"prompt": q, "response": a} for q, a in kept]


CHOICES = 3  # distractors per question


def _same(a: str, b: str) -> bool:
    """One answer would be scored right for the other (either direction of answer_matches)."""
    return answer_matches(a, b) or answer_matches(b, a)


def _not_distractors(question: str, answer: str, also_right: dict[str, list[str]]) -> list[str]:
    """The reference, the other right answers to the question and the synonyms of all of them."""
    right = [answer, *also_right.get(question, [])]
    words = {tuple(normalize_answer(r)) for r in right}
    for group in knowledge_facts.SYNONYMS:
        if any(tuple(normalize_answer(g)) in words for g in group):
            right += sorted(group)
    return right


def make_knowledge_choices(records: list[dict], rng: random.Random) -> list[dict]:
    """Per knowledge record (same order): its category and CHOICES distractors for multiple-choice scoring.

    Distractors are the answers of other facts of the same category (every candidate, kept or not),
    drawn with ``rng``; never the reference, another right answer to the question (also_right), a
    synonym of either, or anything answer_matches pairs with those (in either direction), and never
    two that match each other.
    """
    candidates = knowledge_candidates()
    category = {q: c for q, _, c in candidates}
    pools: dict[str, list[str]] = {}
    for _, a, c in candidates:
        pool = pools.setdefault(c, [])
        if not any(_same(a, b) for b in pool):
            pool.append(a)
    also_right = knowledge_facts.also_right()
    out = []
    for record in records:
        q, a = record["prompt"], record["response"]
        excluded = _not_distractors(q, a, also_right)
        options = sorted(d for d in pools[category[q]] if not any(_same(d, x) for x in excluded))
        rng.shuffle(options)
        chosen: list[str] = []
        for d in options:
            if not any(_same(d, c) for c in chosen):
                chosen.append(d)
            if len(chosen) == CHOICES:
                break
        if len(chosen) < CHOICES:
            raise SystemExit(f"knowledge choices: only {len(chosen)} distractors for {q!r} ({category[q]})")
        out.append({"prompt": q, "answer": a, "category": category[q], "distractors": chosen})
    return out


# --------------------------------------------------------------------------- writing


def check_count(available: int, wanted: int, name: str) -> None:
    if available < wanted:
        raise SystemExit(f"{name}: only {available} distinct records for {wanted} wanted")


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Atomic write: a temp file in the same folder, then rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def build() -> dict[str, list[dict]]:
    """All four sets; each one has its own seeded generator so they do not depend on each other."""
    return {
        "math": make_math(random.Random(f"{SEED}-math"), SIZES["math"]),
        "pirate": make_pirate(random.Random(f"{SEED}-pirate"), SIZES["pirate"]),
        "knowledge": make_knowledge(random.Random(f"{SEED}-knowledge")),
        "safety": make_safety(random.Random(f"{SEED}-safety"), SIZES["safety"]),
    }


def build_choices(knowledge: list[dict]) -> list[dict]:
    """knowledge_choices.jsonl for the knowledge records (its own seeded generator)."""
    return make_knowledge_choices(knowledge, random.Random(f"{SEED}-knowledge-choices"))


def main() -> None:
    sets = build()
    for name, records in sets.items():
        write_jsonl(HERE / f"{name}.jsonl", records)
        print(f"{name}: {len(records)} records")
    choices = build_choices(sets["knowledge"])
    write_jsonl(HERE / "knowledge_choices.jsonl", choices)
    print(f"knowledge_choices: {len(choices)} records, {CHOICES} distractors each")


if __name__ == "__main__":
    main()
