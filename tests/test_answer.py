import datetime as dt
from collections.abc import Sequence

import pytest

from bot.core.answer import (
    MAX_MESSAGE,
    Status,
    answer,
    fit_message,
    pick_sentences,
    quote,
    render_html,
    render_plain,
)
from bot.core.corpus import Article, Passage
from bot.core.forms import answer_form
from bot.core.library import Hit, Library


def test_answer_quotes_the_sentence_that_answers(library: Library) -> None:
    result = answer(library, "When is the last ferry crossing?")
    assert result.answered
    assert result.hit is not None
    assert result.hit.article.id == "news/ferry-timetable.md"
    html = render_html(result)
    assert "The <b>last crossing</b> leaves Pier 3 at 22:10." in html
    assert "Fares" not in html  # the heading after the answer introduces text not shown
    assert (
        'Source: <a href="https://example.org/news/ferry-winter-timetable">'
        "Harbour ferry moves to a winter timetable</a> (2026-10-02)"
    ) in html


def test_answer_from_a_later_passage_and_a_list_of_figures(library: Library) -> None:
    result = answer(library, "How much is a monthly ferry pass?")
    assert "a <b>monthly pass</b> costs 64 euros." in render_html(result)


def test_a_question_in_other_words_than_the_article(library: Library) -> None:
    # The article says what a pass "costs"; the question asks its "price", in bold in the reply.
    html = render_html(answer(library, "What is the price of a monthly ferry pass?"))
    assert html.startswith("A single ticket now <b>costs</b> 2.80 euros")


def test_answer_from_html_and_jsonl_articles(library: Library) -> None:
    lamp = render_html(answer(library, "Why is the Model 77 lamp recalled?"))
    assert lamp.startswith(
        "The <b>Model 77</b> bicycle <b>lamp</b> is <b>recalled</b> because its battery"
    )
    lanterns = render_html(answer(library, "How many lanterns are released?"))
    assert "About 3,000 <b>lanterns</b> will be <b>released</b> after sunset" in lanterns


def test_numbers_match_with_or_without_separators(library: Library) -> None:
    html = render_html(answer(library, "fixed charge 12400"))
    assert "The <b>fixed</b> connection <b>charge</b> of <b>12,400</b> cents" in html


def test_chinese_question(library: Library) -> None:
    result = answer(library, "滨江公园开放到几点？")
    assert result.answered
    assert render_html(result, "zh") == (
        "自2026年7月15日起，<b>滨江公园</b>每晚<b>开放</b>至22点。\n\n"
        "来源: <b>滨江公园夜间开放公告</b> (2026-07-01)"
    )


def test_corpus_text_and_titles_are_escaped(library: Library) -> None:
    html = render_html(answer(library, "Which permit do vans & <trailers> need?"))
    assert html.startswith(
        "<b>Vans</b> over 3.5 t &amp; <b>trailers</b> &gt; 6 m <b>need</b> a &lt;P2&gt; "
        "<b>permit</b>."
    )
    assert "Source: <b>Parking &lt;rules&gt; &amp; fines</b>" in html


def test_off_topic_question_is_not_covered(library: Library) -> None:
    result = answer(library, "Who won Super Bowl 50?")
    assert result.status is Status.NOT_COVERED
    assert not result.sources
    assert render_html(result) == (
        "The announcements don't cover that. Send /sources to see what they do cover."
    )
    assert render_html(result, "zh").startswith("现有公告中没有涉及这个问题")


def test_partly_covered_question_is_not_covered(library: Library) -> None:
    # "ferry" matches, but the rarer "helicopter" and "timetable" carry most of the meaning.
    result = answer(library, "helicopter submarine ferry")
    assert result.status is Status.NOT_COVERED
    assert result.coverage < 0.5


def test_question_of_only_stopwords(library: Library) -> None:
    result = answer(library, "what is it?")
    assert result.status is Status.NO_TERMS
    assert "key words" in render_plain(result)


def test_empty_library() -> None:
    assert answer(Library([]), "ferry").status is Status.EMPTY_LIBRARY


def test_related_articles_are_those_that_answer_nearly_as_well(library: Library) -> None:
    # Children ride the ferry free and library membership is free: both answer "free".
    result = answer(library, "free")
    assert result.hit is not None
    assert result.hit.article.id == "library-hours.txt"
    assert "Also: Harbour ferry moves to a winter timetable (2026-10-02)" in render_html(result)
    # The ferry matches "ferry lamp" too, but far behind the lamp recall: no "Also" line.
    weak = answer(library, "ferry lamp")
    assert [h.article.id for h in weak.matches] == ["recall-77", "news/ferry-timetable.md"]
    assert weak.related == ()
    assert "Also" not in render_html(weak)


def test_plain_rendering_has_no_markup(library: Library) -> None:
    text = render_plain(answer(library, "Which permit do vans need?"))
    assert "<" in text  # the corpus's own "<P2>", unescaped
    assert "<b>" not in text
    assert "&amp;" not in text
    assert "Source: Parking <rules> & fines" in text


def test_long_sentence_is_trimmed_around_the_question_terms() -> None:
    text = "Filler words go on and on here. " * 5
    sentence = "Background " * 80 + "the ferry leaves at noon " + "trailing " * 80 + "end."
    runs = pick_sentences(text + sentence, {"ferri": 1.0, "noon": 1.0}, 600)
    snippet = "".join(r.text for r in runs)
    assert len(snippet) <= 602
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert [r.text for r in runs if r.bold] == ["ferry", "noon"]


def test_reply_never_exceeds_telegram_limit() -> None:
    long_title = "Announcement " * 100
    articles = [
        Article(id=f"a{i}", title=long_title + str(i), text="ferry " * 400, url="https://x/" * 300)
        for i in range(3)
    ]
    html = render_html(answer(Library(articles), "ferry"))
    assert len(html.encode("utf-16-le")) // 2 <= MAX_MESSAGE


def test_fit_message_cuts_whole_lines() -> None:
    message = "\n".join(f"<b>line {i}</b>" for i in range(2000))
    cut = fit_message(message)
    assert len(cut) <= MAX_MESSAGE
    assert cut.endswith("\n…")
    assert all(line.startswith("<b>") and line.endswith("</b>") for line in cut.split("\n")[:-1])


@pytest.mark.parametrize("question", ["<script>", "a & b", "x > y < z"])
def test_questions_with_markup_never_break_the_reply(library: Library, question: str) -> None:
    html = render_html(answer(library, question))
    assert "<script>" not in html


def test_date_is_shown_in_iso_form() -> None:
    article = Article(
        id="x", title="Pool", text="The pool reopens on Monday.", date=dt.date(2026, 5, 4)
    )
    assert "(2026-05-04)" in render_html(answer(Library([article]), "pool reopens"))


def _small_library() -> Library:
    return Library(
        [
            Article("a", "Harbour ferry", "The ferry runs daily from the harbour in 2026."),
            Article("b", "Library hours", "The library opens at nine. Tickets for talks are free."),
            Article("c", "Park", "The park closes at dusk. Dogs must be on a lead."),
            Article("d", "Bridge works", "The bridge closes for works. The ferry replaces it."),
        ]
    )


def test_chinese_question_to_a_library_without_chinese_is_not_covered() -> None:
    # No Chinese term is known, so none is taken for a bigram straddling two words: the year
    # alone must not make the question covered.
    result = answer(_small_library(), "2026年滨江公园开放时间")
    assert result.status is Status.NOT_COVERED
    assert result.coverage < 0.1


def test_a_word_no_article_has_weighs_more() -> None:
    library = _small_library()
    # Judged by its other words, a long question with one unfamiliar word is answered ...
    long = answer(library, "Does the ferry run daily from the harbour to the zeppelin?")
    assert long.sources[0].id == "a"
    # ... while a short one, or one with two words no article has, is off-topic.
    assert answer(library, "ferry harbour dogs zeppelin").status is Status.NOT_COVERED
    assert answer(library, "ferry daily harbour zeppelin blimp").status is Status.NOT_COVERED


def test_a_misspelt_word_is_found_in_the_passage_that_has_it() -> None:
    library = _small_library()
    result = answer(library, "ferry harbuor")
    assert result.answered
    assert render_plain(result).startswith("The ferry runs daily from the harbour in 2026.")
    # One slip in a short word mostly makes another word: "dusk" is not "desk".
    assert answer(library, "park desk").status is Status.NOT_COVERED


def test_the_words_a_passage_covers_are_read_from_the_index() -> None:
    # A saved library tokenizes a passage again to list its terms: they are listed only to look
    # for a misspelling of a word no passage has.
    library = _small_library()
    reads: list[int] = []

    class Recording(list[list[str]]):
        def __getitem__(self, row: int) -> list[str]:  # type: ignore[override]
            reads.append(row)
            return super().__getitem__(row)

    library.passage_terms = Recording(library.passage_terms)
    assert answer(library, "ferry harbour").answered
    assert reads == []
    assert answer(library, "ferry harbuor").answered
    assert reads


def test_next_sentence_is_shown_when_the_best_one_misses_question_terms() -> None:
    passage = (
        "Fox and Lionsgate paid for trailers. Lionsgate paid for Gods of Egypt. "
        "Fox paid for Deadpool. The weather was fine."
    )
    weights = {"lionsgat": 1.0, "trailer": 1.0, "shown": 1.0}
    snippet = "".join(r.text for r in pick_sentences(passage, weights, 600))
    # Up to three sentences, as many as fit.
    assert snippet == (
        "Fox and Lionsgate paid for trailers. Lionsgate paid for Gods of Egypt. "
        "Fox paid for Deadpool."
    )
    # A sentence with every question term leads the sentences after it too: the budget is there
    # to show the answer's context, and the answer is often in the next sentence.
    del weights["shown"]
    snippet = "".join(r.text for r in pick_sentences(passage, weights, 600))
    assert snippet == (
        "Fox and Lionsgate paid for trailers. Lionsgate paid for Gods of Egypt. "
        "Fox paid for Deadpool."
    )


def test_sentences_stay_within_their_paragraph() -> None:
    passage = "Winter service\n\nThe last ferry leaves at 22:10.\n\nFares\n\nA pass costs 64 euros."
    snippet = "".join(r.text for r in pick_sentences(passage, {"ferri": 1.0, "last": 1.0}, 600))
    assert snippet == "The last ferry leaves at 22:10."


def test_chinese_bigrams_across_two_words_do_not_choose_the_sentence() -> None:
    # "九龙酒店的地址是哪里？": 店的 and 的地 straddle words; the address follows the name.
    weights = {"九龙": 1.0, "龙酒": 1.0, "酒店": 1.0, "店的": 3.0, "的地": 3.0, "地址": 2.0}
    passage = "九龙酒店位于尖沙咀弥敦道。\n\n九龙酒店的地库改建为商场。"
    runs = pick_sentences(passage, weights, 600, title="九龙酒店")
    assert "".join(r.text for r in runs) == "九龙酒店位于尖沙咀弥敦道。"


def test_long_sentence_is_trimmed_around_the_densest_question_terms() -> None:
    sentence = "The ferry " + "filler " * 100 + "the last ferry leaves at noon " + "trail " * 100
    runs = pick_sentences(sentence + ".", {"ferri": 1.0, "last": 1.0, "noon": 1.0}, 600)
    assert [r.text for r in runs if r.bold] == ["last ferry", "noon"]


def test_long_chinese_sentence_is_trimmed_around_the_question_terms() -> None:
    sentence = "甲" * 700 + "末班渡轮在中午开出" + "乙" * 700 + "。"
    runs = pick_sentences(sentence, {"渡轮": 1.0}, 600)
    assert [r.text for r in runs if r.bold] == ["渡轮"]
    assert len("".join(r.text for r in runs)) <= 602


def test_quote_may_reach_past_the_passage() -> None:
    article = Article(
        id="a", title="Ferry", text="A monthly pass is sold at Pier 3. It costs 64 euros."
    )
    passage = Passage(article, 0, 0, 33)  # the index cut after the first sentence
    runs = quote(Hit(passage, 1.0, 0), {"monthli": 1.0, "pass": 1.0})
    assert "".join(r.text for r in runs) == article.text


def test_a_when_question_quotes_the_sentence_with_a_date() -> None:
    text = "The Halo ships soon.\n\nThe Halo ships on 4 May 2026."
    plain = pick_sentences(text, {"ship": 1.0}, 600, title="Halo")
    assert "".join(r.text for r in plain) == "The Halo ships soon."
    form = answer_form("When does the Halo ship?")
    dated = pick_sentences(text, {"ship": 1.0}, 600, title="Halo", form=form)
    assert "".join(r.text for r in dated) == "The Halo ships on 4 May 2026."


def test_with_meaning_a_where_question_quotes_the_sentence_with_the_place() -> None:
    # The sentence naming the subject is closest in meaning, as it is to every question about
    # it; the one with the place comes close behind and is the answer.
    lead = "Marrowby Motors will open order books for the Vireo electric SUV on 3 February."
    place = "The Vireo will be built at the company's refitted plant in Foleshill."
    other = "Test drives at dealers will begin in the spring, the company said today."
    cosines = {lead: 0.90, place: 0.88, other: 0.80}

    def similarity(title: str, texts: Sequence[str]) -> list[float]:
        assert title == "Vireo order books"
        return [cosines[t.strip()] for t in texts]

    text = f"{lead} {place} {other}"
    weights = {"vireo": 1.0, "made": 1.0}  # no word of the place's sentence but the title's
    form = answer_form("Where will the Vireo be made?")
    runs = pick_sentences(text, weights, 100, "Vireo order books", form, similarity)
    assert "".join(r.text for r in runs) == place
    # Without the form, the closest sentence wins.
    runs = pick_sentences(text, weights, 100, "Vireo order books", None, similarity)
    assert "".join(r.text for r in runs) == lead


def test_the_answers_form_counts_when_the_title_has_every_question_word() -> None:
    text = "Kettles are recalled for a faulty switch.\n\nAround 25,750 kettles are involved."
    form = answer_form("How many kettles are recalled?")
    runs = pick_sentences(text, {"kettl": 1.0, "recal": 1.0}, 600, "Kettle recall", form)
    assert "".join(r.text for r in runs) == "Around 25,750 kettles are involved."


def test_a_dateline_is_not_the_date_a_question_asks_for() -> None:
    passage = (
        "Leeds, 3 March 2026 — The town pool will reopen after its roof repairs.\n\n"
        "The town pool reopens on 4 May."
    )
    form = answer_form("When does the town pool reopen?")
    snippet = "".join(
        r.text for r in pick_sentences(passage, {"pool": 1.0, "reopen": 1.0}, 600, form=form)
    )
    assert snippet == "The town pool reopens on 4 May."


@pytest.mark.parametrize(("lead_cosine", "answer_leads"), [(0.87, False), (0.85, True)])
def test_with_meaning_the_two_closest_sentences_are_quoted_though_apart(
    lead_cosine: float, answer_leads: bool
) -> None:
    # The model ranks the sentences of one announcement by hundredths: the sentence that names
    # the subject and the answer are its two closest, paragraphs apart. Both are quoted, the gap
    # between them marked, the closer piece first.
    lead = "Velmora has launched the Solace, its quietest dishwasher yet."
    middle = "It will be sold through the usual retailers across the country."
    quote_ = '"Customers asked us for a machine they could run at night," said the director.'
    answer_ = "The Solace produces just 39 dB on its standard programme."
    cosines = {lead: lead_cosine, middle: 0.80, quote_: 0.78, answer_: 0.86}

    def similarity(title: str, texts: Sequence[str]) -> list[float]:
        assert title == "Solace"
        return [cosines[t.strip()] for t in texts]

    text = f"{lead} {middle}\n\n{quote_}\n\n{answer_}"
    runs = pick_sentences(text, {"loud": 1.0}, 600, "Solace", None, similarity)
    # (the lead's paragraph whole: the budget is there to give the answer its context)
    pieces = [answer_, f"{lead} {middle}"] if answer_leads else [f"{lead} {middle}", answer_]
    assert "".join(r.text for r in runs) == " … ".join(pieces)
    # Without meaning to go by, a quote stays one run of consecutive sentences.
    runs = pick_sentences(text, {"loud": 1.0, "solac": 1.0}, 600, "Solace")
    assert " … " not in "".join(r.text for r in runs)


def pool_reply(text: str, question: str) -> str:
    """The reply to ``question`` from a library of a pool announcement with ``text`` and another."""
    ferry = Article("ferry", "Ferry timetable", "The ferry leaves at noon. Tickets cost 5 euros.")
    library = Library([Article("pool", "Pool reopens", text), ferry])
    return render_plain(answer(library, question))


def test_a_paragraph_quoting_someone_can_be_the_answer() -> None:
    # Its sentence closes inside the quotation marks: it is no heading, which is never quoted.
    text = (
        "The pool reopens on Monday.\n\n“Our lifeguard team is led by Ana Ruiz.”\n\n"
        "Tickets cost 3 euros."
    )
    reply = pool_reply(text, "Who is the pool lifeguard team led by?")
    assert reply.startswith("“Our lifeguard team is led by Ana Ruiz.”")


def test_the_label_of_a_list_is_never_quoted() -> None:
    text = (
        "The pool reopens on Monday after repairs to the roof.\n\n"
        "Key facts\n- Reopens: Monday\n- Price of a swim: 3 euros"
    )
    reply = pool_reply(text, "What does a swim cost at the pool?")
    assert "- Price of a swim: 3 euros" in reply
    assert "Key facts" not in reply
