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


def test_mixed_scripts():
    assert words("打开TV 2") == ["打", "开", "TV", "2"]


def test_a_zero_width_space_separates_words_and_is_no_word():
    from tokenization import words

    # MTOP's Thai marks word boundaries with U+200B; it must not become a token of its own.
    assert words("ส่ง การ์ด \u200b อวยพร") == ["ส่", "ง", "ก", "า", "ร์", "ด", "อ", "ว", "ย", "พ", "ร"]
    assert words("iheart\u200bradio") == ["iheart", "radio"]
