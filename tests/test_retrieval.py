"""The retriever on a small titled, sectioned corpus: headings, titles, shared boilerplate."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import learned
from qa.chat import Chatbot
from qa.lexical import stem_set
from qa.question import analyse, aspect_of
from qa.retrieval import FEATURES

# The same paragraph closes both documents, as publisher boilerplate does.
BOILERPLATE = (
    "The Garden Institute funds laboratory studies of plant pathogens and field trials of "
    "resistant cultivars, hoping to find better ways to protect gardens."
)

DOCUMENTS = {
    "fernwort-blight.txt": (
        "Fernwort Blight\n\n"
        "Overview\n\n"
        "Fernwort blight is a fungal disease of ferns. It spreads in damp shade and is hard "
        "to control once established.\n\n"
        "Symptoms\n\n"
        "Fronds develop brown spots that merge into dry patches, and young shoots wilt.\n\n"
        "Treatment\n\n"
        "Gardeners cut away infected fronds, burn them, and spray the remaining plants with "
        "copper soap every two weeks until new growth stays clean.\n\n"
        f"Research\n\n{BOILERPLATE}\n"
    ),
    "copper-leaf-rot.txt": (
        "Copper Leaf Rot\n\n"
        "Overview\n\n"
        "Copper leaf rot is a bacterial disease of maples that turns leaves the colour of "
        "old pennies.\n\n"
        "Causes\n\n"
        "The bacteria enter through pruning wounds and spread in rain splash.\n\n"
        f"Research\n\n{BOILERPLATE}\n"
    ),
}


def _folder_bot(tmp_path: Path, files: dict[str, str]) -> Chatbot:
    """A Chatbot over a folder of ``files`` (name: text), indexed in tmp_path/index."""
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return Chatbot.from_corpus(corpus, tmp_path / "index")


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Chatbot:
    return _folder_bot(tmp_path_factory.mktemp("garden"), DOCUMENTS)


def test_section_heading_answers_the_aspect_asked_about(garden: Chatbot) -> None:
    top = garden.retrieve("What are the treatments for Fernwort Blight?", k=3)[0]
    assert (top.source, top.section) == ("fernwort-blight.txt", "Treatment")
    top = garden.retrieve("What causes copper leaf rot?", k=3)[0]
    assert (top.source, top.section) == ("copper-leaf-rot.txt", "Causes")


@pytest.mark.parametrize(
    ("question", "source"),
    [
        ("What research is being done for Copper Leaf Rot?", "copper-leaf-rot.txt"),
        ("What research is being done for Fernwort Blight?", "fernwort-blight.txt"),
    ],
)
def test_shared_boilerplate_resolves_to_the_document_named(
    garden: Chatbot, question: str, source: str
) -> None:
    top = garden.retrieve(question, k=3)[0]
    assert (top.source, top.section, top.text) == (source, "Research", BOILERPLATE)


def test_passages_quote_the_file_exactly(garden: Chatbot) -> None:
    passages = garden.retrieve("How do fronds change?", k=10)
    assert passages
    for passage in passages:
        text = (garden.settings.corpus_dir / passage.source).read_text(encoding="utf-8")
        assert text[passage.start : passage.end] == passage.text
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_aspect_is_the_question_without_its_topic() -> None:
    topic = stem_set("Fernwort Blight")
    assert aspect_of("What are the treatments for fernwort blight?", topic) == (
        "What are the treatments for"
    )


def test_passage_scores_are_probabilities_over_the_candidates(garden: Chatbot) -> None:
    passages = garden.retrieve("What are the treatments for Fernwort Blight?", k=100)
    assert 0.0 < passages[0].score <= 1.0
    assert sum(p.score for p in passages) == pytest.approx(1.0, abs=1e-3)


def test_a_model_fitted_on_other_features_is_refused() -> None:
    learned.load.cache_clear()
    with pytest.raises(ValueError, match="retrain it with benchmarks/train.py"):
        learned.load("passage", FEATURES[:-1])


TEXT_WITHOUT_HEADINGS = (
    "Kettle Descaling Study\n\n"
    "SHA: 0f3a9c\n\nLicense: cc-by\n\n"
    "We boiled water in forty kettles for a year. Limescale built up fastest in hard-water "
    "towns. Descaling with citric acid removed nearly all of it within an hour.\n\n"
    "Vinegar worked too but left a smell that lasted for days. Kettles that were never "
    "descaled used more electricity to boil the same water.\n"
)


def test_text_without_headings_is_searched_with_its_title(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base = tmp_path_factory.mktemp("plain")
    (base / "corpus").mkdir()
    (base / "corpus" / "kettles.txt").write_text(TEXT_WITHOUT_HEADINGS, encoding="utf-8")
    bot = Chatbot.from_corpus(base / "corpus", base / "index")
    assert {c.section for c in bot.retriever.index.chunks} == {""}
    assert {c.title for c in bot.retriever.index.chunks} == {"Kettle Descaling Study"}
    top = bot.retrieve("What removed limescale fastest?", k=1)[0]
    assert "citric acid" in top.text


def test_a_search_within_documents_ranks_only_their_chunks(garden: Chatbot) -> None:
    question = analyse("What are the treatments?", garden.lexicon)
    anywhere = garden.retriever.search(question, k=3)
    assert anywhere.passages[0].source == "fernwort-blight.txt"
    within = garden.retriever.search(question, k=3, within=frozenset({"copper-leaf-rot.txt"}))
    copper = [c for c in garden.retriever.index.chunks if c.source == "copper-leaf-rot.txt"]
    assert within.passages and {p.source for p in within.passages} == {"copper-leaf-rot.txt"}
    assert within.passages_searched == len(copper) < anywhere.passages_searched
    # a document the index no longer holds restricts nothing
    gone = garden.retriever.search(question, k=3, within=frozenset({"removed.txt"}))
    assert gone.passages == anywhere.passages


def test_a_follow_up_is_answered_from_the_documents_its_topic_cited(garden: Chatbot) -> None:
    chat = garden.fork()
    first = chat.ask("What is copper leaf rot?")
    assert chat.topic is not None
    assert chat.topic.sources == {c.source for c in first.citations} == {"copper-leaf-rot.txt"}
    follow = chat.ask("How does it spread?")
    assert follow.citations and follow.citations[0].source == "copper-leaf-rot.txt"
    assert "rain splash" in follow.citations[0].quote


def test_a_question_naming_one_document_is_not_answered_from_another(tmp_path: Path) -> None:
    """In a folder with a clinic's guide and a library's page, 'the library's opening hours'
    names the library page (its title alone holds 'library', its text alone uses it); the
    clinic's opening hours do not answer it. Real index, real model."""
    bot = _folder_bot(
        tmp_path,
        {
            "clinic.md": "# Riverside Clinic: a guide for patients\n\n## Opening hours\n\n"
            "The clinic is open from 8 am to 6 pm, Monday to Friday. It is closed on Sundays.\n\n"
            "## Parking\n\nThere are twelve parking spaces behind the clinic.\n",
            "library.md": "# Using Eastbrook Public Library\n\n## Borrowing\n\n"
            "Adults may borrow up to 15 items from the library at a time.\n",
        },
    )
    asked = analyse("What are the library's opening hours?", bot.lexicon)
    assert asked.names_document == {"librari"}
    assert bot.retriever.in_one_document(asked.names_document) == {"librari"}
    assert bot.answer("What are the library's opening hours?").abstained
    clinic = bot.answer("What are the clinic's opening hours?")
    assert not clinic.abstained and "8 am to 6 pm" in clinic.text
    assert "15 items" in bot.answer("How many books can I borrow from the library?").text


def test_naming_a_section_heading_of_one_document_names_the_passage(tmp_path: Path) -> None:
    """Readers of a router's guide ask 'How long is the warranty?', not about 'Homelink R2
    Router: User Guide': a heading that only one document has, named whole, says what the
    passage is about as its title would (a heading every document has, such as 'Symptoms',
    does not)."""
    bot = _folder_bot(
        tmp_path,
        {
            "router.md": "# Homelink R2 Router: User Guide\n\n## Resetting the router\n\n"
            "Hold the reset button on the back for ten seconds until the light flashes red.\n\n"
            "## Warranty\n\n"
            "The router comes with a two-year limited warranty from the date of purchase.\n",
            "returns.md": "# Returns and refunds\n\n## Resetting the router\n\n"
            "Reset the router to its factory settings before you send it back.\n",
        },
    )
    c = bot.retriever.index.catalog
    warranty = next(
        i for i in range(len(c.section_of)) if c.sections[c.section_of[i]] == "Warranty"
    )
    shared = next(
        i for i in range(len(c.section_of)) if c.sections[c.section_of[i]] == "Resetting the router"
    )
    asked = stem_set("How long is the warranty?")
    assert bot.retriever.names_own_heading(warranty, asked)
    assert not bot.retriever.names_own_heading(warranty, stem_set("How long is it?"))
    assert not bot.retriever.names_own_heading(shared, stem_set("Resetting the router?"))
    answer = bot.answer("How long is the warranty?")
    assert not answer.abstained and "two-year limited warranty" in answer.text
