"""Question analysis: kind, greetings and sign-offs, the focus of a long question, comparisons."""

from __future__ import annotations

import pytest

from qa.chat import Chatbot
from qa.lexicon import Lexicon
from qa.question import (
    analyse,
    as_question,
    compared_of,
    focus_of,
    kind_of,
    pleasantries_off,
    without_pleasantries,
)
from qa.scoring import defines, says_cue
from qa.text import shares_stem


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What is denervation?", "definition"),
        ("What are the risks of neurolysis?", "risk"),
        ("Are there side effects?", "risk"),
        ("How much does Botox cost?", "cost"),
        ("Is there a fee for the yellow fever one?", "cost"),
        ("Who is in charge of the clinic?", "definition"),  # no cost
        ("How much is the reduction in deaths?", "other"),  # an amount, not a price
        ("Who should not have neurolysis?", "contraindication"),
        ("How long does the relief last?", "duration"),
        ("What is the rate of nerve regrowth?", "duration"),  # a speed
        ("What was the mean incubation period?", "duration"),
        ("What is the recovery time after RFA?", "duration"),
        ("When is the best time to book?", "timing"),
        ("What is the success rate of radiofrequency ablation?", "statistic"),  # a count
        ("What is the difference between denervation and neurolysis?", "comparison"),
        ("What symptoms does it cause?", "symptom"),
        ("What causes the symptoms of gout?", "cause"),
        ("Does neurolysis hurt?", "symptom"),  # what is felt; still answered with evidence
        ("Is neurolysis permanent?", "yesno"),
        ("Why might cryoneurolysis be preferred?", "reason"),
    ],
)
def test_kind_of_answer_wanted(question: str, kind: str) -> None:
    assert kind_of(question) == kind


def test_greetings_and_sign_offs_do_not_matter() -> None:
    hello = "Hi there, what is shingles? Thanks so much!"
    assert without_pleasantries(hello) == "what is shingles?"
    assert without_pleasantries("Good morning. How is gout treated? Many thanks, Susan") == (
        "How is gout treated?"
    )
    assert without_pleasantries("thanks") == "thanks"  # nothing else: kept as it is
    for polite in (
        "thanks",
        "Hello!",
        "hi there",
        "Ok, thank you so much",
        "Great, thanks!",
        "thanks a lot!",
    ):
        assert pleasantries_off(polite) == ""  # asks nothing of the documents
    assert pleasantries_off("great toe pain") == "great toe pain"  # 'great' is not thanks here


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("denervation", "What is denervation?"),
        ("RFA?", "What is RFA?"),
        ("nerve regrowth", "What is nerve regrowth?"),
        ("denervation causes", "denervation causes"),  # asks for causes, as it says
        ("Is it permanent", "Is it permanent"),  # a question already
        ("the agents", "the agents"),  # a description pointing back, not a term
    ],
)
def test_a_bare_term_asks_what_it_is(typed: str, read: str) -> None:
    assert as_question(typed) == read


def test_a_long_question_is_searched_on_its_first_line_and_what_it_asks() -> None:
    chatty = (
        "shingles pain. hi my mother is 70, the rash went away months ago but she still has "
        "pain and she is very tired all the time, what can she take? thanks"
    )
    assert focus_of(chatty) == "shingles pain. what can she take?"
    assert focus_of("What is shingles?") == "What is shingles?"


@pytest.mark.parametrize(
    ("question", "things"),
    [
        ("What is the difference between denervation and neurolysis?",
         ("denervation", "neurolysis")),
        ("cryoneurolysis vs thermal neurolysis", ("cryoneurolysis", "thermal neurolysis")),
        ("How does surgical neurolysis differ from ablative techniques?",
         ("surgical neurolysis", "ablative techniques")),
        ("Compare phenol with alcohol", ("phenol", "alcohol")),
        ("What is neurolysis?", ()),
    ],
)  # fmt: skip
def test_things_compared(question: str, things: tuple[str, ...]) -> None:
    assert compared_of(question) == things


@pytest.mark.parametrize(
    ("term", "words", "expected"),
    [
        ("lost", ["loses"], True),  # shared prefix of all but the last three letters
        ("relieves", ["relief"], True),
        ("grow", ["regrow"], True),  # one contains the other
        ("regrow", ["the", "grow"], True),
        ("nerve", ["never", "nurse"], False),
        ("ox", ["ox"], False),  # too short to match loosely
        ("cut", ["cutting"], True),
        ("cut", ["acute"], False),  # containment needs four letters
        ("pain", [], False),
    ],
)
def test_loose_word_forms(term: str, words: list[str], expected: bool) -> None:
    assert shares_stem(term, words) is expected


def test_a_word_of_the_language_is_not_corrected_into_a_corpus_word(bot: Chatbot) -> None:
    """Spelling tolerance is for misspelt words: 'heart' is not a misspelt 'heat' (a word of
    the seed corpus) even though the corpus never says 'heart'."""
    heart = "What are the symptoms of a heart attack?"
    assert bot.retriever.index.lexicon().correct(heart) == heart.replace("heart", "heat")
    assert bot.lexicon.correct(heart) == heart  # the model's vocabulary knows 'heart'
    assert bot.lexicon.correct("Is reinervation slow?") == "Is reinnervation slow?"


def test_an_acronym_is_matched_with_the_long_form_the_corpus_defines(bot: Chatbot) -> None:
    """The denervation article defines 'radiofrequency ablation (RFA)': a question that says
    RFA is matched on both; a lower-case word that spells an acronym is not one."""
    asked = analyse("How long does RFA relief last?", bot.lexicon)
    assert asked.words_query == "How long does RFA relief last? (radiofrequency ablation)"
    assert asked.query == "How long does RFA relief last?"  # read as asked
    plain = analyse("Is the rfa of it a als?", bot.lexicon)
    assert plain.words_query == "Is the rfa of it a als?"
    # the other way round: the long form spelt out is matched on the short form too
    spelt = analyse("How long does radiofrequency ablation relief last?", bot.lexicon)
    assert spelt.words_query == f"{spelt.query} (rfa)"


def test_a_word_written_as_one_is_read_as_the_corpus_hyphenates_it() -> None:
    """A router guide says 'Wi-Fi'; its owner types 'wifi'. Read so, the question matches the
    guide's words and is not taken for one about something the guide never mentions."""
    lexicon = Lexicon(["The Wi-Fi password is printed on the label. Send us an e-mail."])
    lexicon = lexicon.knowing(frozenset({"email", "label"}))  # words of the language too
    assert lexicon.correct("Why is my wifi so slow?") == "Why is my wi-fi so slow?"
    assert lexicon.correct("my email address") == "my e-mail address"
    assert lexicon.correct("the label") == "the label"


def test_a_word_the_corpus_only_negates_is_matched_on_its_negation() -> None:
    """'Is denervation reversible?' of an article that says only that it can become
    'irreversible': the question is searched on the article's word too (and the other way
    round), while a word the corpus uses, or one that only looks prefixed, gets nothing."""
    lexicon = Lexicon(["This process can become irreversible. The procedure is safe."])
    asked = "Is denervation reversible?"
    assert lexicon.expand(asked) == f"{asked} (irreversible)"
    assert lexicon.expand("Can it be reversed?") == "Can it be reversed? (irreversible)"
    assert lexicon.expand("Is it unsafe?") == "Is it unsafe? (safe)"
    assert lexicon.expand("Is the procedure safe?") == "Is the procedure safe?"
    assert lexicon.expand("Is it intense?") == "Is it intense?"  # 'tense' is no corpus word


def test_a_word_glossed_between_commas_is_defined() -> None:
    """'hyperhidrosis, or excessive sweating, ...' says what the word means; 'diabetes, or
    obesity.' only names another thing."""
    glossed = "A sympathectomy treats hyperhidrosis, or excessive sweating, by cutting nerves."
    assert defines(("hyperhidrosis",), glossed)
    assert not defines(("diabetes",), "It is common in people with diabetes, or obesity.")


def test_a_short_form_with_digits_is_read_both_ways() -> None:
    """'Human bocavirus 1 (HBoV1)': the article goes on to say HBoV1 alone, so a question
    about human bocavirus 1 must match it, and one about HBoV1 the long form."""
    lexicon = Lexicon(
        [
            "Human bocavirus 1 (HBoV1) is a parvovirus. Human coronavirus 229E (HCoV-229E) "
            "was studied in 2005 (2005). Infection with HBoV1 can lead to a cough."
        ]
    )
    assert lexicon.acronyms == {"hbov1": "Human bocavirus 1", "hcov-229e": "Human coronavirus 229E"}
    asked = "What symptoms does human bocavirus 1 cause?"
    assert lexicon.expand(asked) == f"{asked} (hbov1)"
    assert lexicon.expand("Is HCoV-229E common?") == "Is HCoV-229E common? (Human coronavirus 229E)"
    assert lexicon.expand("Is human bocavirus common?") == "Is human bocavirus common?"


def test_a_duration_answer_gives_a_time_not_just_a_number() -> None:
    """'One procedure is ...' counts something; it does not say how long anything takes."""
    assert says_cue("duration", "Relief can last for several months or longer.", "")
    assert says_cue("duration", "The router comes with a two-year limited warranty.", "")
    assert not says_cue("duration", "One procedure is radiofrequency ablation (RFA).", "")
    assert not says_cue("duration", "Adults may borrow up to 15 items at a time.", "")
    # word forms of the stems it lists: 'temporary', 'temporarily', 'permanently', 'quickly'
    assert says_cue("duration", "Botox causes a temporary and localized denervation.", "")
    assert says_cue("duration", "Cold damages nerve tissue temporarily or permanently.", "")
    assert says_cue("duration", "Most patients recover quickly.", "")


def test_a_cost_answer_may_say_it_is_free() -> None:
    """'Is parking free?' asks a cost: a sentence saying what is free, or charged, says it;
    the verb ('aims to free the nerve') and '-free' compounds do not."""
    assert says_cue("cost", "Parking is free for patients for up to two hours.", "Parking")
    assert says_cue("cost", "Others, such as rabies, are charged privately.", "")
    assert not says_cue("cost", "Surgical neurolysis aims to free the nerve.", "Surgical")
    assert not says_cue("cost", "Most patients are symptom-free within a week.", "Recovery")
    # whole words: 'feet' holds no 'fee', 'priceless' no price
    assert says_cue("cost", "A fee of £10 applies, and payments are taken at the desk.", "")
    assert not says_cue("cost", "It treats sweating of the hands or feet.", "Procedures")
    assert not says_cue("cost", "Her support was priceless.", "")


def test_a_count_or_time_answer_gives_a_number_not_a_name_with_a_digit() -> None:
    """'How many patients were studied?' wants a number: '31' or '2.2%' says one, while the
    digit of a name ('HBoV1', 'H1N1', 'COVID-19') does not."""
    assert says_cue("statistic", "In all, 31 patients were enrolled.", "")
    assert says_cue("statistic", "Of the samples, 2.2% were positive.", "")
    assert not says_cue("statistic", "Our study focused on HBoV1 circulation.", "")
    assert not says_cue("statistic", "Most COVID-19 patients had a fever.", "")
    assert says_cue("timing", "The rash appears after 3 days.", "")
    assert not says_cue("timing", "COVID-19 spread widely in the city.", "")


def test_cue_words_are_read_in_their_word_forms() -> None:
    """'blocks' says a mechanism as 'block' does, 'sites' a location as 'site', 'includes' a
    list as 'include'; 'everything' says no time as 'every' does."""
    assert says_cue("mechanism", "Phenol blocks the nerve signals.", "")
    assert says_cue("location", "The injection sites are marked first.", "")
    assert says_cue("list", "The kit includes a cable and a plug.", "")
    assert says_cue("timing", "Take one tablet every morning.", "")
    assert not says_cue("timing", "Everything in the kit is recyclable.", "")


def test_a_three_letter_word_names_the_subject_unless_it_is_a_slip() -> None:
    """'Can I fly after neurolysis?' asks about flying: 'fly' is part of the subject the
    evidence must speak of, so a passage that only says 'neurolysis' does not answer it.
    'wat' is 'what' with a letter dropped, not a subject."""
    lexicon = Lexicon(["Neurolysis is a procedure. Reinnervation is slow."])
    assert analyse("Can I fly after neurolysis?", lexicon).subject == ("fly", "neurolysis")
    assert analyse("Can my dog have denervation?", lexicon).subject == ("dog", "denervation")
    assert "wat" not in analyse("Wat is reinnervation?", lexicon).subject
