import pytest

from bot.core.forms import answer_form


@pytest.mark.parametrize(
    ("question", "answering", "not_answering"),
    [
        ("When does the Halo ship?", "It ships on 14 May 2026.", "The Halo ships soon."),
        ("And when will it ship?", "It ships on 14 May 2026.", "The Halo ships soon."),
        ("What year did the pier open?", "The pier opened in 1898.", "The pier opened late."),
        (
            "How many kettles are recalled?",
            "About 12,400 kettles are recalled.",
            "All kettles are recalled.",
        ),
        ("How much is the pass?", "A pass costs sixty euros.", "A pass is cheap."),
        ("Who leads the team?", "The team is led by Ana Silva.", "The team is large."),
        # A question about money asks for a sum, not for any number ...
        (
            "What does the clinic charge if I miss an appointment?",
            "A missed appointment costs £40.",
            "The policy starts on 1 September 2025.",
        ),
        (
            "How much extra will I pay a year?",
            "The typical bill rises by £96 a year.",
            "Prices rise on 1 April for 2 million homes.",
        ),
        ("How much did the Series C raise?", "It raised 48 million dollars.", "It has 310 staff."),
        # ... but "how many" and "what percentage" still ask for a number.
        ("How many staff will the fund pay for?", "It pays for 120 jobs.", "It pays for jobs."),
        ("What percentage of revenue is from Asia?", "Asia gives 12% of it.", "Asia grows."),
        ("How long is the warranty?", "The warranty lasts 2 years.", "The warranty is generous."),
        # ... and "what date" a date, whatever it is about.
        ("What date is the deposit due?", "It is due on 3 February.", "It is £500."),
        # "Where" asks for a place: a name after a preposition of place, not any name.
        (
            "Where will the Vireo be built?",
            "It will be built at the Foleshill plant.",
            "Marrowby will build it from 2026.",
        ),
        (
            "where can I try the returnable cups",
            "The trial runs in Leeds and Sheffield.",
            "The trial runs in March, Brambleway said.",
        ),
        # A question's own year, number or name answers nothing.
        ("When did the 1973 crisis begin?", "It began in October 1973.", "The 1973 crisis began."),
        ("Who founded Halo Labs?", "Halo Labs was founded by Ana Silva.", "It is Halo Labs."),
        ("撒拉森装甲车生产于哪一年？", "撒拉森装甲车在1952年生产。", "撒拉森装甲车由英国生产。"),
        # A count answers with the measure word the question puts after 几 or 多少 ...
        ("这部动画共有几辑？", "这部动画共有三辑。", "这部动画共有三部。"),
        # ... or with any digits when it names none.
        ("公园有多少个入口？", "公园有12个入口。", "公园有很多入口。"),
        ("云帆X5多少钱？", "建议零售价为2,499元。", "适用面积为45至78平方米。"),
    ],
)
def test_answer_form_tells_the_sentence_that_answers(
    question: str, answering: str, not_answering: str
) -> None:
    form = answer_form(question)
    assert form is not None
    assert form.shown_in(answering)
    assert not form.shown_in(not_answering)


@pytest.mark.parametrize(
    "question",
    [
        "What is the Halo?",
        "Why was the kettle recalled?",
        "滨江公园在哪里？",
        "",
        # "When" and "who" that join clauses ask nothing.
        "what laws hold when the flow is heated .",
        "Is there a credit for customers who return a Halo S2?",
    ],
)
def test_questions_whose_words_ask_for_no_form(question: str) -> None:
    assert answer_form(question) is None


def test_may_the_verb_is_no_month() -> None:
    form = answer_form("When does the market open?")
    assert form is not None
    assert not form.shown_in("The market may open later.")
    assert form.shown_in("The market opens in May.")


def test_a_question_word_is_matched_whole() -> None:
    # "may" is not in "mayor", nor "20" in "2026".
    form = answer_form("When did the mayor open the 20 stalls?")
    assert form is not None
    assert form.shown_in("The mayor opened them in May.")
    assert form.shown_in("The stalls opened in 2026.")
