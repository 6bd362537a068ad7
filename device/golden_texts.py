"""The utterances of the golden vectors (device/golden/projection.jsonl): smart-home and
assistant requests in en/de/es/fr/hi/th, variants of them, and edge cases of the word rule.
Texts are bytes: some are not valid UTF-8 on purpose."""

from __future__ import annotations

import random
from typing import List, Tuple

UTTERANCES = {
    "en": [
        "turn on the kitchen light",
        "Turn OFF the lights in the living room, please!",
        "what's the weather like in New York tomorrow?",
        "set an alarm for 7:30 am",
        "wake me up at 6 o'clock",
        "play some jazz in the bedroom",
        "remind me to call mom at 5pm",
        "how much is $5.99 + 10% tax?",
        "set the thermostat to 21°C",
        "dim the lamp to 40 %",
        "is it going to rain on Saturday",
        "add milk, eggs & bread to my shopping list",
        "what time is it in São Paulo",
        "cancel my 9am meeting with Dr. O'Neil",
        "open the garage door",
        "lock the front door and arm the alarm",
        "turn the volume up to 11!!!",
        "call +1 (555) 010-9999",
        "send an e-mail to bob@example.com",
        "What's on my calendar next week?",
        'play "Bohemian Rhapsody" by Queen',
        "set a timer for 10 minutes",
        "how far is the moon",
        "I'm cold — raise the heating",
        "ok google… stop",
    ],
    "de": [
        "schalte das Licht im Wohnzimmer aus",
        "Mach die Küchenlampe an!",
        "Wie wird das Wetter morgen in München?",
        "stelle einen Wecker für 7 Uhr",
        "erinnere mich morgen an den Müll",
        "spiele Musik von den Ärzten",
        "Straße STRASSE ẞ groß GRÖSSE",
        "Öffne die Garagentür",
        "wie spät ist es in Zürich?",
        "setze die Temperatur auf 22,5 °C",
        "DIMME DAS LICHT AUF 30%",
        "füge Äpfel, Birnen und Brötchen zur Einkaufsliste hinzu",
        "Rolläden runter im Schlafzimmer",
        "Ist die Haustür abgeschlossen?",
        "Lautstärke leiser bitte",
        "Wann fährt der nächste Zug nach Köln?",
        "schalte alle Lichter im Erdgeschoss aus",
        "Gute Nacht!",
        "mach das Radio aus und das Licht an",
        "Termin um 14:00 Uhr mit Frau Müller-Lüdenscheidt",
    ],
    "es": [
        "enciende la luz de la cocina",
        "¿Qué tiempo hará mañana en Madrid?",
        "¡Apaga todas las luces!",
        "pon una alarma a las 7 de la mañana",
        "recuérdame comprar leche",
        "sube la temperatura a 23 grados",
        "pon música de Rosalía en el salón",
        "¿Está cerrada la puerta principal?",
        "añade piñas y jalapeños a la lista",
        "baja el volumen, por favor",
        "ABRE LA PUERTA DEL GARAJE",
        "¿cuánto es 15 × 3?",
        "apaga la televisión del dormitorio",
        "¿qué hora es en Ciudad de México?",
        "llama a mamá",
        "programa la aspiradora para las 10:00",
        "cierra las persianas del baño",
        "¿Lloverá el sábado?",
        "enciende el ventilador del niño",
        "Buenas noches, Señor Muñoz",
    ],
    "fr": [
        "allume la lumière de la cuisine",
        "Éteins toutes les lumières !",
        "quel temps fera-t-il demain à Paris ?",
        "mets une alarme pour demain matin",
        "rappelle-moi d'acheter du pain",
        "monte le chauffage à 20 °C",
        "joue de la musique dans le salon",
        "la porte d'entrée est-elle fermée ?",
        "ajoute des œufs et du lait à ma liste",
        "baisse le volume s'il te plaît",
        "OUVRE LA PORTE DU GARAGE",
        "quelle heure est-il à Montréal ?",
        "éteins la télé de la chambre",
        "ferme les volets du rez-de-chaussée",
        "règle le thermostat sur 19,5 degrés",
        "Bonne nuit !",
        "lance l'aspirateur à 10h",
        "« Allume » la lampe — vite",
        "est-ce qu'il va pleuvoir ce week-end ?",
        "appelle Amélie",
    ],
    "hi": [
        "लिविंग रूम की बत्ती बंद करो",
        "पंखा चालू करो।",
        "कल दिल्ली में मौसम कैसा रहेगा?",
        "सुबह सात बजे का अलार्म लगाओ",
        "मुझे दूध खरीदने की याद दिलाओ",
        "रसोई की लाइट जलाओ",
        "गाना बजाओ",
        "एसी का तापमान 24 डिग्री करो",
        "दरवाज़ा बंद है क्या?",
        "आवाज़ कम करो",
        "माँ को फ़ोन करो",
        "अभी कितने बजे हैं?",
        "बेडरूम की सारी लाइटें बंद कर दो",
        "शुभ रात्रि",
        "कल बारिश होगी क्या?",
        "टीवी चालू करो और आवाज़ बढ़ाओ",
        "मेरी खरीदारी सूची में चावल जोड़ो",
        "गैराज का दरवाज़ा खोलो",
        "हीटर बंद करो।",
        "टाइमर १० मिनट के लिए लगाओ",
    ],
    "th": [
        "เปิดไฟในห้องนั่งเล่น",
        "ตั้งอุณหภูมิเป็น 25 องศา",
        "ปิดไฟห้องนอน",
        "พรุ่งนี้อากาศที่กรุงเทพเป็นอย่างไร",
        "ตั้งนาฬิกาปลุกตอนเจ็ดโมงเช้า",
        "เตือนฉันให้ซื้อนม",
        "เปิดเพลงแจ๊ส",
        "ประตูหน้าบ้านล็อคหรือยัง",
        "ลดเสียงลงหน่อย",
        "เปิดพัดลม",
        "ตอนนี้กี่โมงแล้ว",
        "โทรหาแม่",
        "ปิดทีวีในห้องนอน",
        "เปิด\u200bไฟ\u200bห้อง\u200bครัว",
        "ฝนจะตกไหมวันเสาร์",
        "เพิ่มข้าวลงในรายการซื้อของ",
        "ราคา ฿100",
        "ปิดแอร์ด้วย ขอบคุณครับ",
        "เปิดประตูโรงรถ",
        "ราตรีสวัสดิ์ ๑๒๓",
    ],
}

EDGE_CASES = [
    "",
    " ",
    "   \t\n ",
    "\u200b",
    "\u200b\u200b word \u200b",
    "a\u200bb",
    "!!!",
    "?",
    "...,;:",
    "x" * 200,
    " ".join(f"w{i}" for i in range(40)),  # over max_tokens
    " ".join(["word"] * 70),
    "a" * 70 + " " + "b" * 17 + " " + "c" * 40 + " " + "d" * 64 + " " + "e" * 63 + " " + "f" * 65,
    "émoji 😀 lamp 🔥🔥",
    "👍🏽 thumbs 👨‍👩‍👧 family 🇩🇪 flag",
    "combining e\u0301 and \u0345 alone \u0301\u0302",
    "\u0301leading mark",
    "ก\u0301 Thai with Latin mark",
    "เปิด การ จับ เวลา ใน อีก 5 นาที ?",  # word-segmented Thai (MTOP's): words are tokens
    "ส่ง การ์ด \u200b อวยพร ให้ แม่",
    "ก" * 12 + " ข ค",  # the longest word of a segmented text
    "ก" * 13 + " ข ค",  # longer: not segmented
    "เซทอุณหภูมิใน ห้องอาหาร",  # one gap: Thai as usually written, per character
    "ก\u0301 ข, ค ง",  # two gaps apart
    "ก\u0301 ข, ค",
    "\u0e31\u0e48 marks alone",
    "ΟΔΟΣ Σ σ ς ΑΣ. Α'Σ ΑΣ'Β ΣΑΣ",
    "Σ\u0345 ΑΣ\u0345 ªΣ 1Σ ΑΣΑ",
    "İstanbul'da IŞIK İİ",
    "ǅ ǈ ǋ ǲ Ⱥ Ⱦ Ω K Å ẞ",
    "ＦＵＬＬＷＩＤＴＨ ＡＢＣ",
    "𐐀𐐁 Deseret 𞤀 Adlam",
    "mixed English ไทย हिन्दी 中文 日本語 한국어 Ελληνικά русский",
    "把客厅的灯打开",
    "リビングの電気をつけて",
    "ເປີດໄຟ ລາວ",
    "ភ្លើង ខ្មែរ",
    "မီးဖွင့် မြန်မာ",
    "tab\tseparated\nnew line\u00a0nbsp\u2003em\u3000ideographic",
    "\x1c\x1d\x1e\x1f info separators",
    "100% off - $5 @home #1 ~tilde^ `back`",
    "a\x00b \x00 c\x00",
    "\u00adsoft\u00adhyphen",
    "zero\u200cwidth\u200djoiner",
    "\ufeffbom at start",
    "\ufffd replacement char",
    "ℌ℡™ № ①②③ ½",
    "𝐀𝐁𝐂 math bold",
]

INVALID_UTF8 = [
    b"\xff",
    b"abc\xffdef",
    b"\xc3",
    b"caf\xc3",
    b"\xc3\x28 x",
    b"\xe2\x82 euro cut",
    b"\xe0\x80\x80 overlong",
    b"\xc0\xaf slash overlong",
    b"\xed\xa0\x80 surrogate",
    b"\xf4\x90\x80\x80 above max",
    b"\xf0\x9f\x98 cut emoji",
    b"\x80\x80\x80 continuation",
    b"ok \xfe\xfe ok",
    b"\xfebos",
    b"\xfenull looks like a marker",
    b"mix \xf0\x9f\x98\x80\xf0\x9f\x98 end",
    b"\xe4\xb8\xad\xe6 cut cjk",
]


def golden_texts() -> List[Tuple[str, bytes]]:
    """(language or "edge", UTF-8 bytes) in a fixed order."""
    rng = random.Random(20240501)
    out: List[Tuple[str, bytes]] = []
    for lang, texts in UTTERANCES.items():
        out += [(lang, t.encode("utf-8")) for t in texts]
        # Variants: case changes and attached punctuation.
        out += [(lang, t.upper().encode("utf-8")) for t in texts[:5]]
        out += [(lang, (t.title() + rng.choice("?!.,;")).encode("utf-8")) for t in texts[5:9]]
    out += [("edge", t.encode("utf-8")) for t in EDGE_CASES]
    out += [("edge", t) for t in INVALID_UTF8]
    alphabet = "abcxyzÄÖÜäöüßéèñçœ .,!?-'\u200b\t" + "ก่้ไฟหอนลิ" + "विंगरूमत्" + "灯开" + "ΣσΑ" + "0123456789😀\u0301"
    for _ in range(40):
        out.append(("random", "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))).encode("utf-8")))
    for _ in range(20):
        out.append(("random_bytes", bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 24)))))
    return out
