from tokenization import tokenize, words


def test_spaces_punctuation_and_symbols_split():
    assert words("Set it to 50%, please!") == ["Set", "it", "to", "50", "%", ",", "please", "!"]


def test_offsets_point_back_into_the_text():
    text = "  turn   on\tthe lights "
    for token in tokenize(text):
        assert text[token.start : token.end] == token.text


def test_hindi_words_keep_their_vowel_signs():
    assert words("बत्ती चालू करो") == ["बत्ती", "चालू", "करो"]


def test_thai_and_chinese_are_split_per_character_with_marks_attached():
    # ที่ = base + two combining marks: one token.
    assert words("ปิดไฟที่") == ["ปิ", "ด", "ไ", "ฟ", "ที่"]
    assert words("打开客厅的灯") == ["打", "开", "客", "厅", "的", "灯"]


def test_word_segmented_thai_keeps_its_words():
    # MTOP writes Thai one word at a time: the words are the tokens.
    assert words("เปิด การ จับ เวลา ?") == ["เปิด", "การ", "จับ", "เวลา", "?"]
    assert words("ส่ง การ์ด \u200b อวยพร") == ["ส่ง", "การ์ด", "อวยพร"]
    # Thai as usually written: a space between phrases at most, so per character.
    assert words("เซทอุณหภูมิใน ห้องอาหาร")[:3] == ["เ", "ซ", "ท"]
    assert words("เปิด") == ["เ", "ปิ", "ด"]
    assert words("ก a ข b ค") == ["ก", "a", "ข", "b", "ค"]


def test_segmented_needs_two_gaps_between_short_runs():
    from tokenization import MAX_SEGMENTED_WORD, MIN_SEGMENTED_GAPS, segmented

    assert MIN_SEGMENTED_GAPS == 2
    assert segmented("ก ข ค") and segmented("ก\u200bข ค") and segmented("ที่ นี่, ก ข")
    assert not segmented("ก ข") and not segmented("ก, ข, ค") and not segmented("กข") and not segmented("a b c")
    assert segmented("ก" * MAX_SEGMENTED_WORD + " ข ค")
    assert not segmented("ก" * (MAX_SEGMENTED_WORD + 1) + " ข ค")


def test_mixed_scripts():
    assert words("打开TV 2") == ["打", "开", "TV", "2"]


def test_a_zero_width_space_separates_words_and_is_no_word():
    from tokenization import words

    # MTOP's Thai marks word boundaries with U+200B; it must not become a token of its own.
    assert words("ส่ง การ์ด \u200b อวยพร") == ["ส่ง", "การ์ด", "อวยพร"]
    assert words("iheart\u200bradio") == ["iheart", "radio"]
