from bot.core.analysis import is_cjk, sentence_spans, terms, tokenize


def test_english_words_are_stemmed_and_stopwords_dropped() -> None:
    assert tokenize("When are the Ferries RUNNING?") == ["ferri", "run"]


def test_numbers_stay_whole_and_thousands_separators_fold() -> None:
    assert tokenize("12,400 cents, 1.6 cents and 2.80 euros in 2026") == [
        "12400",
        "cent",
        "1.6",
        "cent",
        "2.80",
        "euro",
        "2026",
    ]
    assert tokenize("12400") == tokenize("12,400")


def test_nfkc_folds_full_width_forms() -> None:
    assert tokenize("ＡＢＣ １２３") == ["abc", "123"]


def test_chinese_becomes_overlapping_bigrams() -> None:
    assert tokenize("滨江公园") == ["滨江", "江公", "公园"]
    assert tokenize("园") == ["园"]


def test_chinese_question_words_are_dropped_like_english_ones() -> None:
    # 什么 (what), 哪 (which), 谁 (who), 几 (how many), 多少 (how many), 什么时候 (when)
    assert tokenize("发布会是什么时候") == ["发布", "布会", "会是"]
    assert tokenize("哪个公园") == ["个公", "公园"]
    assert tokenize("谁") == []
    assert tokenize("几点开放") == ["点开", "开放"]
    assert tokenize("多少钱") == ["少钱"]


def test_how_many_and_how_much_ask_and_say_nothing_of_the_topic() -> None:
    assert tokenize("How much does the Halo cost? How MANY kettles?") == ["halo", "price", "kettl"]
    # Anywhere else "many" and "much" mean something.
    assert tokenize("over many spans, much faster") == ["mani", "span", "much", "faster"]


def test_synonyms_share_a_term() -> None:
    assert tokenize("How much does it cost?") == tokenize("its price")
    assert tokenize("fees, tariffs") == ["price", "price"]
    assert tokenize("When does it start?") == tokenize("it begins") == tokenize("it began")
    assert tokenize("purchase") == tokenize("buy")
    assert tokenize("available") != tokenize("buy")


def test_mixed_english_and_chinese() -> None:
    assert tokenize("云帆 X5 发布会 launch") == ["云帆", "x5", "发布", "布会", "launch"]
    assert all(is_cjk(t) for t in tokenize("公园"))
    assert not is_cjk("park")


def test_product_codes_keep_letters_with_digits() -> None:
    assert tokenize("MiMo-V2-Pro") == ["mimo", "v2", "pro"]


def test_terms_point_back_at_the_text() -> None:
    text = "Harbour FERRY fares"
    assert [(t.text, text[t.start : t.end]) for t in terms(text)] == [
        ("harbour", "Harbour"),
        ("ferri", "FERRY"),
        ("fare", "fares"),
    ]


def test_sentences_split_on_punctuation_lines_and_cjk() -> None:
    text = 'Dr. Lee said "go!" Then prices rose 1.6 percent. 今天开放。明天呢？\n- item one\n- two'
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        'Dr. Lee said "go!"',
        "Then prices rose 1.6 percent.",
        "今天开放。",
        "明天呢？",
        "- item one",
        "- two",
    ]


def test_sentences_keep_clauses_and_initialisms_whole() -> None:
    # "；" joins clauses as ";" does; a dotted initialism is no sentence end, a number is.
    text = "1985年建市；2000年撤县。他说：“好。”然后走了\nThe U.S. Army grew 1.5. It left."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "1985年建市；2000年撤县。",
        "他说：“好。”",
        "然后走了",
        "The U.S. Army grew 1.5.",
        "It left.",
    ]


def test_sentence_spans_of_blank_text() -> None:
    assert sentence_spans("  \n ") == []
