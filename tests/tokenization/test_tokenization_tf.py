"""The TF-op tokenizer gives exactly the Python rule's tokens."""

import random
import sys

import tensorflow as tf

from tokenization import tf_ops, words

CORPUS = [
    "Set the thermostat to 21%, please!!",
    "What's the weather in São Paulo? (tomorrow)",
    "Schalte das Licht im Wohnzimmer aus. Größe: 3½ m²",
    "लिविंग रूम की बत्ती बंद करो।",
    "मौसम कैसा है? क्षत्रिय",
    "เปิดไฟในห้องนั่งเล่น ราคา ฿100",
    "把客厅的灯打开。温度设为２１度",
    "リビングの電気をつけて、ありがとう！",
    "불 좀 꺼 줘",
    "🫠 turn  on 😀👍🏽 the   fan\t\nnow ★ ⇒ ©",
    "a\u00a0b\u3000c\u2028d\x1ce\u200bf",
    "e\u0301 \u0301x ไ\u0e31\u0e48 a\u20dd",
    "$5.00 & 3+4=7 <BOS> C:\\path_name",
    "ຫ້ອງ ကြက် ខ្មែរ",
    "เปิด การ จับ เวลา ใน อีก 5 นาที ?",
    "ส่ง การ์ด \u200b อวยพร",
    "ก\u0301 ข, " + "ค" * 12 + " ง",
    "ก ข " + "ค" * 13,
    "ก ข",
    "เซทอุณหภูมิใน ห้องอาหาร ไปที่ 44",
    "",
    "   ",
]


def _tf_words(texts):
    return [[t.decode("utf-8") for t in row] for row in tf_ops.tokenize(tf.constant(texts)).to_list()]


def test_matches_python_rule_on_multilingual_corpus():
    got = _tf_words(CORPUS)
    for text, tokens in zip(CORPUS, got):
        assert tokens == words(text), text


def test_matches_python_rule_on_random_text():
    # Characters drawn from every class the rule distinguishes, plus random code points.
    pool = (
        list(" \t\n\u00a0\u3000.,!?%$€+<>@#()")
        + list("abcXYZäßçİ1٣")
        + list("हिंदीกิ่ไ中文かなカナ한")
        + ["\u0301", "\u093f", "\u0e31"]
    )
    rng = random.Random(7)
    texts = []
    for _ in range(300):
        chars = []
        for _ in range(rng.randint(0, 25)):
            if rng.random() < 0.15:
                cp = rng.randint(0x20, 0x2FFFF)
                chars.append(chr(cp) if not 0xD800 <= cp <= 0xDFFF else "x")
            else:
                chars.append(rng.choice(pool))
        texts.append("".join(chars))
    got = _tf_words(texts)
    mismatches = [t for t, toks in zip(texts, got) if toks != words(t)]
    assert not mismatches, mismatches[:3]


def test_invalid_utf8_is_replaced_like_python_decoding():
    raw = [b"caf\xc3 ok", b"a\xffb"]
    assert _tf_words(raw) == [words(r.decode("utf-8", errors="replace")) for r in raw]


def test_runs_inside_tf_function_and_dataset():
    fn = tf.function(tf_ops.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    assert fn(tf.constant(["hi, you"])).to_list() == [[b"hi", b",", b"you"]]
    ds = tf.data.Dataset.from_tensor_slices(["a b", "c"]).batch(2).map(tf_ops.tokenize)
    assert next(iter(ds)).to_list() == [[b"a", b"b"], [b"c"]]
    assert sys.maxunicode == 0x10FFFF
