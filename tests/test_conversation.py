"""Reading a question in its conversation: follow-ups keep the topic, new subjects start one."""

from __future__ import annotations

import json
from dataclasses import replace

from qa.chat import Chatbot
from qa.compose import COURTESY
from qa.conversation import (
    Reading,
    Topic,
    grounded,
    next_topic,
    read,
    readings,
    subject_phrase,
)
from qa.templates import HELLO, NOTHING_MORE, WELCOME

CITED = frozenset({"neurolysis.txt"})
CHEMICAL = Topic(
    "chemical neurolysis",
    "What is chemical neurolysis?",
    "One common approach is chemical neurolysis, which involves injecting substances directly "
    "onto or around the targeted nerve. Alcohol and phenol are frequently used chemical agents.",
    CITED,
)


def test_subject_phrase_is_the_longest_run_of_subject_words() -> None:
    assert subject_phrase("What is chemical neurolysis?") == "chemical neurolysis"
    assert subject_phrase("Which chemicals are used for chemical neurolysis?") == (
        "chemical neurolysis"
    )
    assert subject_phrase("How is it treated?") == ""
    assert subject_phrase("What is Q fever?") == "Q fever"  # a one-letter name opens it
    assert subject_phrase("Can I drive after neurolysis?") == "neurolysis"  # 'I' is no name
    # a run with a name in it names the subject, not a longer run of common words
    ebola = "When did the WHO declare the West African Ebola epidemic a public health emergency?"
    assert subject_phrase(ebola) == "West African Ebola epidemic"
    # a capital that only opens a sentence is no name ('Thanks' does not win)
    assert subject_phrase("Shingles pain. Thanks. Any advice on pain relief medication") == (
        "advice on pain relief medication"
    )
    # 'How is X transmitted?' ends on what is done to X; 'How do I get X?' ends on X
    assert subject_phrase("How is gout transmitted?") == "gout"
    assert subject_phrase("How do I get a repeat prescription?") == "repeat prescription"
    # 'Is X painful?' ends on what is asked of X; 'Are there X?' ends on X
    assert subject_phrase("Is neurolysis painful?") == "neurolysis"
    assert subject_phrase("Is chemical neurolysis reversible?") == "chemical neurolysis"
    assert subject_phrase("Are there support groups?") == "support groups"
    # a short number after a name is part of it; a year or a count standing apart is not
    assert subject_phrase("Who gets HIV 2 infection?") == "HIV 2 infection"
    assert subject_phrase("When was human bocavirus 1 identified?") == "human bocavirus 1"
    assert subject_phrase("How many people died in 2 years of the flu?") == "years"


def test_a_question_naming_nothing_new_is_read_in_the_topic() -> None:
    anywhere = Reading("Which agents are used? (chemical neurolysis)", "chemical neurolysis", True)
    as_asked = Reading("Which agents are used?", "chemical neurolysis", True, CITED)
    # first in the document the topic's answers came from, completed and as asked; then in all
    assert read("Which agents are used?", CHEMICAL) == Reading(
        anywhere.query, anywhere.subject, True, CITED, anywhere, as_asked
    )
    assert read("How long does the effect last?", CHEMICAL).query == (
        "How long does the effect last? (chemical neurolysis)"
    )


def test_a_bare_term_starts_a_topic_of_its_own() -> None:
    """'library card' after a printing answer that mentions 'a library card': the user names
    what they want to know about now, so 'Is it free?' then asks about the card."""
    printing = Topic("printing", "how much is printing?", "booked with a library card", CITED)
    reading = read("library card", printing)
    assert not reading.follow_up and reading.subject == "library card"
    assert read("Which agents are used?", CHEMICAL).follow_up  # a question, not a term


def test_a_person_is_referred_to_as_he_or_she() -> None:
    chan = Topic("Margaret Chan", "When will Margaret Chan step down?", "", CITED)
    assert read("Where should her successor come from?", chan).query == (
        "Where should Margaret Chan's successor come from?"
    )
    assert read("Why did she resign?", chan).query == "Why did Margaret Chan resign?"
    assert read("What did he find?", replace(chan, subject="Koch")).query == "What did Koch find?"


def test_a_pronoun_takes_the_subject() -> None:
    assert read("Is it permanent?", CHEMICAL).query == "Is chemical neurolysis permanent?"
    assert read("What are its risks?", CHEMICAL).query == ("What are chemical neurolysis's risks?")


def test_what_about_asks_the_previous_question_of_a_new_subject() -> None:
    topic = Topic("chemical neurolysis", "How long does the effect last? (chemical neurolysis)", "")
    reading = read("What about cryoneurolysis?", topic)
    alone = Reading("What is cryoneurolysis?", "cryoneurolysis", False)  # if that finds nothing
    assert reading == Reading(
        "How long does the effect last? (cryoneurolysis)", "cryoneurolysis", False, fallback=alone
    )
    nearby = read("What about cryoneurolysis?", replace(topic, sources=CITED)).rival
    assert nearby is not None and (nearby.query, nearby.within) == (reading.query, CITED)
    # 'And for X?', 'What about the X?': the preposition and article are not the thing
    for asked in ("And for cryoneurolysis?", "What about the cryoneurolysis?"):
        assert read(asked, topic).query == reading.query


def test_and_the_x_is_read_in_the_topic_or_as_a_parallel_of_the_last_question() -> None:
    waves = Topic(
        "1918 flu pandemic", "When did the first wave start? (1918 flu pandemic)", "", CITED
    )
    reading = read("And the second and third waves?", waves)
    assert reading.query == "When did the second and third waves start? (1918 flu pandemic)"
    assert (reading.subject, reading.follow_up) == ("1918 flu pandemic", True)
    assert reading.within == CITED
    # a description that points back ('the probe') is the topic's, and a subject only after
    cryo = Topic("cryoneurolysis", "What is cryoneurolysis?", "", CITED)
    probe = read("And the probe?", cryo)
    assert (probe.query, probe.subject, probe.follow_up) == (
        "And the probe? (cryoneurolysis)",
        "cryoneurolysis",
        True,
    )
    assert probe.within == CITED and probe.fallback == Reading("What is probe?", "probe", False)
    assert read("And cryoneurolysis?", CHEMICAL).query == "What is cryoneurolysis?"


def test_a_subject_is_the_part_of_the_phrase_the_documents_say() -> None:
    cited = "Chan will step down in 2017. Dr Margaret Chan led WHO for a decade."
    assert grounded("Margaret Chan step down", cited) == "Margaret Chan"
    # the text says only 'Chan will step down': the name the subject opens with
    assert grounded("Margaret Chan step down", cited.split(".")[0]) == "Margaret Chan"
    assert grounded("chemical neurolysis agents", "") == "chemical neurolysis agents"
    assert grounded("first COVID-19 case confirmed", "the first known case") == (
        "first COVID-19 case confirmed"  # one word of it is not a subject
    )
    assert grounded("Central Pontine Myelinolysis", "Central pontine myelinolysis (CPM) is") == (
        "Central Pontine Myelinolysis"  # said whole: kept whole
    )
    reading = read("Why did Margaret Chan step down?", None)
    topic = next_topic(None, reading, cited, frozenset({"who.txt"}))
    assert topic is not None and topic.subject == "Margaret Chan"


def test_a_plural_pronoun_points_back_to_the_plural_things_asked_of() -> None:
    """'they' is not 'hepatitis C': it is what the last question named in the plural."""
    antivirals = Topic(
        "hepatitis C", "How well does hepatitis C respond to direct-acting antivirals?", ""
    )
    assert read("What can make them less effective?", antivirals).query == (
        "What can make direct-acting antivirals less effective?"
    )
    tests = Topic("denervation", "What tests show denervation?", "")
    assert read("what do they show?", tests).query == "what do tests show?"
    # a plural subject, or a singular pronoun, is the subject as before
    receptors = Topic("nuclear receptors", "What are nuclear receptors?", "")
    assert (
        read("What can they regulate?", receptors).query == "What can nuclear receptors regulate?"
    )
    assert read("Is it permanent?", tests).query == "Is denervation permanent?"


def test_a_new_subject_starts_a_new_topic() -> None:
    reading = read("What is cryoneurolysis?", CHEMICAL)
    assert (reading.query, reading.subject, reading.follow_up, reading.within) == (
        "What is cryoneurolysis?",
        "cryoneurolysis",
        False,
        frozenset(),
    )
    after = next_topic(CHEMICAL, reading, "Cryoneurolysis represents a different approach.", CITED)
    assert after is not None and after.subject == "cryoneurolysis"
    assert read("Is it permanent?", after).query == "Is cryoneurolysis permanent?"


def test_a_yes_no_question_of_a_state_makes_its_thing_the_topic() -> None:
    # 'Is neurolysis painful?' is about neurolysis: its follow-ups are not of 'neurolysis painful'
    first = read("Is neurolysis painful?", None)
    cited = "Immediately after the procedure, patients may experience a dull ache."
    topic = next_topic(None, first, cited, CITED)
    assert topic is not None and topic.subject == "neurolysis"
    assert read("How long does it last?", topic).query == "How long does neurolysis last?"


def test_asking_what_a_thing_the_answer_named_is_starts_a_topic_on_it() -> None:
    """The topic's answer named phenol: 'What is phenol?' asks about phenol (every document
    first, then the topic's), while 'What are the agents?' still points back."""
    reading = read("What is phenol?", CHEMICAL)
    assert (reading.query, reading.subject, reading.follow_up) == (
        "What is phenol?",
        "phenol",
        False,
    )
    assert reading.fallback is not None and reading.fallback.query == (
        "What is phenol? (chemical neurolysis)"
    )
    assert read("What are the agents?", CHEMICAL).follow_up


def test_the_owner_in_a_definite_description_names_a_subject() -> None:
    """'the library's opening hours' points back at nothing: it names the library (the
    description's head, 'opening hours', is what is asked of it)."""
    router = Topic("wi-fi password", "How do I change my wi-fi password?", "Choose Save.", CITED)
    reading = read("What are the library's opening hours?", router)
    assert (reading.query, reading.follow_up) == ("What are the library's opening hours?", False)
    assert read("What are the opening hours?", router).follow_up


def test_a_new_subject_nobody_answers_is_tried_in_the_topic_and_keeps_it() -> None:
    reading = read("How often do outbreaks peak?", CHEMICAL)
    tried = readings(reading)
    assert [(r.query, r.follow_up, r.within) for r in tried] == [
        ("How often do outbreaks peak?", False, frozenset()),
        ("How often do outbreaks peak? (chemical neurolysis)", True, CITED),
    ]
    assert tried[1].rival == Reading(
        "How often do outbreaks peak?", "chemical neurolysis", True, CITED
    )
    # answered by no document: the conversation stays on its topic
    assert next_topic(CHEMICAL, reading, "", frozenset()) == CHEMICAL
    assert read("Is it permanent?", CHEMICAL).query == "Is chemical neurolysis permanent?"


def test_the_first_question_has_no_topic_to_lean_on() -> None:
    assert read("How is it treated?", None) == Reading("How is it treated?", "", False)


def test_a_refused_first_question_still_names_what_the_user_asks_about(bot: Chatbot) -> None:
    """The documents do not say whether one may drive, but the user asked about neurolysis:
    'it' is read as neurolysis, searched in every document (none was cited)."""
    chat = bot.fork()
    assert chat.ask("Can I drive after neurolysis?").abstained
    assert chat.topic is not None and chat.topic.subject == "neurolysis"
    assert not chat.topic.sources
    answer = chat.ask("Is it permanent?")
    assert answer.query == "Is neurolysis permanent?"
    assert "permanently" in answer.text and answer.citations[0].source == "neurolysis.txt"
    chat.reset()
    assert chat.ask("How is it treated?").query == "How is it treated?"  # no subject: none


def test_the_same_conversation_gives_byte_identical_answers(bot: Chatbot) -> None:
    turns = [
        "What is chemical neurolysis?",
        "Which agents are used?",
        "How long does the effect last?",
        "What about cryoneurolysis?",
        "Is it permanent?",
    ]
    runs = []
    for _ in range(2):
        chat = bot.fork()
        runs.append([json.dumps(chat.ask(turn).to_dict(), sort_keys=True) for turn in turns])
    assert runs[0] == runs[1]
    read = [json.loads(answer)["query"] for answer in runs[0]]
    assert read[1] == "Which agents are used? (chemical neurolysis)"
    assert read[3] == "How long does the effect last? (cryoneurolysis)"
    assert read[4] == "Is cryoneurolysis permanent?"


def test_a_greeting_or_thanks_is_answered_politely_and_keeps_the_topic(bot: Chatbot) -> None:
    """'hello' and 'thanks' ask nothing of the documents: no refusal, no answer about the
    topic ('hello' used to be read as '(denervation)'), and the next follow-up still works."""
    chat = bot.fork()
    hello = chat.ask("Hello there!")
    assert hello.text == HELLO and hello.citations == [] and chat.topic is None
    chat.ask("What is denervation?")
    topic = chat.topic
    for polite in ("thanks", "Ok, thank you!", "great, thanks", "good morning"):
        reply = chat.ask(polite)
        assert reply.text in (HELLO, WELCOME) and reply.citations == []
        assert reply.question_type == COURTESY and chat.topic == topic
    assert chat.ask("How is it diagnosed?").query == "How is denervation diagnosed?"
    assert bot.answer("thanks").text == WELCOME  # also without a conversation (qa.ask)


def test_tell_me_more_asks_the_topic_question_again_for_what_was_not_quoted() -> None:
    topic = Topic("cryoneurolysis", "What is cryoneurolysis?", "", CITED)
    anywhere = Reading("What is cryoneurolysis?", "cryoneurolysis", True, more=True)
    for asked in ("Tell me more", "more please", "What else?", "ok, go on", "Can you elaborate?"):
        assert read(asked, topic) == replace(anywhere, within=CITED, fallback=anywhere)
    assert not read("Tell me more about phenol", topic).more  # names a subject of its own
    assert read("more", None) == Reading("more", "", False)  # nothing to say more of


def test_tell_me_more_quotes_new_sentences_on_the_subject_until_there_are_none(
    bot: Chatbot,
) -> None:
    chat = bot.fork()
    first = chat.ask("What is cryoneurolysis?")
    more = chat.ask("Tell me more")
    assert more.query == "What is cryoneurolysis?" and "neuroma" in more.text
    quoted = {(c.source, c.start, c.end) for c in first.citations}
    assert not {(c.source, c.start, c.end) for c in more.citations} & quoted
    replies = [chat.ask("more please") for _ in range(3)]
    assert replies[-1].abstained and replies[-1].citations == []
    assert replies[-1].text == NOTHING_MORE
    assert chat.topic is not None and chat.topic.query == "What is cryoneurolysis?"


def test_reset_forgets_the_topic(bot: Chatbot) -> None:
    chat = bot.fork()
    chat.ask("What is cryoneurolysis?")
    assert chat.ask("Is it permanent?").query == "Is cryoneurolysis permanent?"
    chat.reset()
    assert chat.topic is None and chat.ask("Is it permanent?").query == "Is it permanent?"


COMPARED = Topic(
    "denervation and neurolysis",
    "What is the difference between denervation and neurolysis?",
    "Denervation is the loss of nerve supply. Neurolysis is a medical procedure.",
    frozenset({"denervation.txt", "neurolysis.txt"}),
    compared=("denervation", "neurolysis"),
)


def test_after_a_comparison_a_question_pointing_back_is_asked_of_each_thing() -> None:
    each = read("Is it permanent?", COMPARED)
    assert each.each == (
        ("denervation", "Is denervation permanent?"),
        ("neurolysis", "Is neurolysis permanent?"),
    )
    assert each.query == "Is denervation permanent? Is neurolysis permanent?" and each.follow_up
    more = read("Tell me more", COMPARED)
    assert more.more and [q for _, q in more.each] == [
        "What is denervation?",
        "What is neurolysis?",
    ]
    assert read("What about cryoneurolysis?", COMPARED) == Reading(
        "What is cryoneurolysis?", "cryoneurolysis", False
    )
    assert not read("What is radiofrequency ablation?", COMPARED).each  # a subject of its own
    assert not read("Is it permanent?", CHEMICAL).each  # one thing: read as before


def test_a_comparison_follow_up_is_answered_for_each_thing_with_its_label(bot: Chatbot) -> None:
    chat = bot.fork()
    first = chat.ask("neurolysis vs denervation")
    assert first.compared == ("neurolysis", "denervation")
    assert chat.topic is not None and chat.topic.compared == first.compared
    answer = chat.ask("Is it permanent?")
    assert answer.query == "Is neurolysis permanent? Is denervation permanent?"
    assert answer.text.startswith("Here is what the documents say: Neurolysis: ")
    assert " Denervation: " in answer.text and "Is neurolysis:" not in answer.text
    assert {c.source for c in answer.citations} == {"neurolysis.txt", "denervation.txt"}
    chat.ask("What is the difference between chemical and surgical neurolysis?")
    replies = [chat.ask("Tell me more") for _ in range(3)]
    assert replies[0].text.startswith("Chemical neurolysis: the documents say nothing more")
    assert "Surgical neurolysis: " in replies[0].text and replies[0].citations
    assert replies[-1].abstained and replies[-1].text == NOTHING_MORE
    assert "do not describe" not in " ".join(r.text for r in replies)


def test_a_comparison_naming_no_things_compares_the_last_two_subjects() -> None:
    after_two = replace(CHEMICAL, previous="cryoneurolysis")
    compared = Reading(
        "What is the difference between cryoneurolysis and chemical neurolysis?",
        "cryoneurolysis and chemical neurolysis",
        False,
    )
    for asked in ("How do they differ?", "Compare them", "What is the difference between the two?"):
        assert read(asked, after_two) == compared
    assert read("How do they differ?", COMPARED).query == COMPARED.query
    assert read("How do they differ?", CHEMICAL).query != compared.query  # one subject so far
    receptors = Topic("nuclear receptors", "What are nuclear receptors?", "", previous="CD40")
    assert not read("How do they differ?", receptors).query.startswith("What is the difference")
    topic = next_topic(CHEMICAL, Reading("What is phenol?", "phenol", False), "phenol", CITED)
    assert topic is not None and topic.previous == "chemical neurolysis"


def test_a_first_question_names_its_subject_with_a_definite_description() -> None:
    # at the start nothing is there to point back to: 'the warranty' is what is asked about
    first = read("How long is the warranty?", None)
    assert first == Reading("How long is the warranty?", "warranty", False)
    topic = next_topic(None, first, "a two-year limited warranty", frozenset({"router.md"}))
    assert topic is not None and topic.subject == "warranty"
    assert read("What does it cover?", topic).query == "What does warranty cover?"
    assert read("What is cryoneurolysis?", None).subject == "cryoneurolysis"
