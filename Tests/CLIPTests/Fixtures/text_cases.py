"""Test strings shared by the fixture generators (generate.py, generate_text.py).

`tokenizer_strings()` is the original set, kept unchanged so the slow-tokenizer
fixture regenerates byte for byte; `unicode_strings()` adds the classes the fast
and OpenAI tokenizers must also get right. Everything is seeded.
"""

import random
import unicodedata


def assigned(cp):
    """Assigned in this Python's Unicode database and not a surrogate."""
    return not (0xD800 <= cp <= 0xDFFF) and unicodedata.category(chr(cp)) != "Cn"


def tokenizer_strings():
    fixed = [
        "", " ", "   \t\n ", "a", "A", "hello world", "Hello, World!", "a photo of a cat",
        "A photo of a red mushroom.", "it's", "It'S", "they're here, we've gone, I'm sure, you'll see, he'd go",
        "don't stop", "'s", "''s", "!'s", "'re'd", "it'ſ", "rock'n'roll", "o'clock",
        "1234567890", "3.14159", "$100,000.00", "12:30pm", "2nd 3rd 4th", "٣ ٤ ٥ Ⅻ ½ ²",
        "hello!!!???", "...", "a...b", "e-mail: x@y.z", "#hashtag @user", "(parens) [brackets] {braces}",
        "tab\tseparated\nnew line\r\nwindows", "multiple     spaces", "  leading and trailing  ",
        "café", "cafe\u0301", "naïve résumé", "Ångström", "Straße", "İstanbul", "ΑΘΗΝΑ ΣΟΦΟΣ Σ ΣΣ", "ὈΔΥΣΣΕΎΣ",
        "ǅemal ǈ", "ﬁ ligature", "Ｆｕｌｌｗｉｄｔｈ", "Привет, мир!", "Γειά σου Κόσμε", "שלום עולם", "مرحبا بالعالم",
        "नमस्ते दुनिया", "สวัสดีชาวโลก", "你好，世界", "日本語のテキストです", "한국어 텍스트", "カタカナ ひらがな",
        "中文English混合", "𠀀𠀁 CJK ext B", "豈 compatibility ideograph", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇩🇪🇯🇵", "❤️", "I ❤ NY",
        "emoji😀inside", "⭐️⭐️⭐️", "→ ← ↑ ↓", "∑∫∂√∞", "™©®", "&amp; &lt;b&gt; &quot;", "<b>bold</b>",
        "<|startoftext|>", "<|endoftext|>", "a<|endoftext|>b", "!<|endoftext|>", "<|ENDOFTEXT|>", "x <|startoftext|> y <|endoftext|>",
        "<|endoftext|", "zero\u200bwidth", "soft\u00adhyphen", "nbsp\u00a0here", "line\u2028separator", "para\u2029graph",
        "ideographic\u3000space", "control\x07bell\x1bescape", "null\x00byte", "replacement\ufffdchar",
        "private\ue000use", "bom\ufeffmark", "combining only \u0301\u0302", "\u0301start", "Å vs Å",
        "ℌℑℜ", "ℵ", "µ vs μ", "K Kelvin", "Ⅰ Ⅱ Ⅲ", "①②③", "x²+y²", "H₂O", "10⁻³",
        "a" * 100, "word " * 100, "supercalifragilisticexpialidocious", "antidisestablishmentarianism",
        "https://example.com/path?query=1&x=2", "C:\\Windows\\System32", "snake_case and camelCase and kebab-case",
        "ALL CAPS SENTENCE", "MiXeD cAsE", "a.b.c.d", "1.2.3.4", "v1.0.0-beta+build", "—em dash– en dash",
        "“curly quotes” ‘single’", "«guillemets»", "¿Qué? ¡Sí!", "ça va", "œuvre", "Ærø", "Łódź", "Ħ",
    ]
    rng = random.Random(5)
    pools = {
        "ascii": [chr(c) for c in range(0x20, 0x7F)],
        "latin": [chr(c) for c in range(0xA0, 0x250) if assigned(c)],
        "greek_cyr": [chr(c) for c in list(range(0x370, 0x400)) + list(range(0x400, 0x500)) if assigned(c)],
        "combining": [chr(c) for c in range(0x300, 0x370)],
        "cjk": [chr(c) for c in list(range(0x3040, 0x3100)) + list(range(0x4E00, 0x4F00)) + list(range(0xAC00, 0xAD00)) if assigned(c)],
        "symbols": [chr(c) for c in list(range(0x2000, 0x2BFF)) if assigned(c)],
        "emoji": [chr(c) for c in list(range(0x1F300, 0x1F650)) + list(range(0x1F900, 0x1FA00)) if assigned(c)],
        "other": [chr(c) for c in list(range(0x590, 0x700)) + list(range(0x900, 0xE80)) if assigned(c)],
        "space": [" ", " ", " ", "\t", "\n", "\u00a0", "\u3000"],
        "punct": list("'\"!?.,;:-_()[]{}<>/\\|@#$%^&*+=~`") + ["'s", "'t", "'re", "'ll", "'d", "'m", "'ve"],
    }
    words = ["the", "a", "photo", "of", "cat", "dog", "red", "mushroom", "running", "happiness", "New", "York",
             "DIAGRAM", "painting", "Zürich", "naïve", "東京", "😀", "don't", "it's", "2024", "3D", "x-ray"]
    generated = []
    for n in range(2500):
        kind = n % 5
        length = rng.choice([1, 2, 3, 5, 8, 13, 21, 40, 90])
        if kind == 0:  # words and punctuation
            parts = [rng.choice(words + pools["punct"]) for _ in range(length)]
            s = "".join(p + rng.choice([" ", " ", "", ", "]) for p in parts)
        elif kind == 1:  # mixed scripts
            keys = list(pools)
            s = "".join(rng.choice(pools[rng.choice(keys)]) for _ in range(length * 2))
        elif kind == 2:  # one script with spaces
            pool = pools[rng.choice(["latin", "greek_cyr", "cjk", "emoji", "other", "symbols"])]
            s = "".join(rng.choice(pool) if rng.random() > 0.2 else " " for _ in range(length * 2))
        elif kind == 3:  # random case ASCII with digits and contractions
            s = "".join(rng.choice(pools["ascii"] + pools["punct"]) for _ in range(length * 2))
        else:  # any assigned BMP or astral code point
            cps = []
            while len(cps) < length:
                cp = rng.randrange(0x20, 0x30000)
                if assigned(cp):
                    cps.append(chr(cp))
            s = "".join(cps)
        if rng.random() < 0.1:
            s = s.upper()
        generated.append(s)
    return fixed + generated


# Every Unicode space, line-break and format character the issue lists, and the
# rest of categories Zs/Zl/Zp/Cf below U+E0080 (tags included).
SPACES_AND_FORMATS = (
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x180E]
    + list(range(0x2000, 0x200B)) + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
    + list(range(0x200B, 0x2010)) + list(range(0x202A, 0x202F)) + list(range(0x2060, 0x2070))
    + [0xFEFF, 0xAD, 0x034F, 0x061C, 0xFFF9, 0xFFFA, 0xFFFB, 0x1D173, 0xE0001, 0xE0020, 0xE007F]
)

EMOJI_SEQUENCES = [
    "👨‍👩‍👧‍👦", "👩‍❤️‍💋‍👨", "🧑🏽‍💻", "🏳️‍🌈", "🏴‍☠️", "👁️‍🗨️", "🇺🇸🇬🇧🇯🇵", "🇦", "🇩🇪x🇫🇷",
    "🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", "👍🏻👍🏼👍🏽👍🏾👍🏿", "🤝🏽", "✋🏿 hand",
    "1️⃣2️⃣#️⃣*️⃣", "1\u20e3", "☺︎ vs ☺️", "©️®️™️", "❤️‍🔥", "🐈‍⬛ black cat", "family: 👨‍👩‍👧‍👦!",
]

MOJIBAKE_SOURCES = [
    "café", "naïve résumé", "“smart quotes”", "it’s", "— em dash", "€100", "Привет", "日本語", "😀",
    "Straße", "ñandú", "façade", "…", "Ærøskøbing", "İstanbul", "señor’s “café”",
]

HTML_STRINGS = [
    "&amp;", "fish &amp; chips", "&lt;b&gt;bold&lt;/b&gt;", "&quot;quoted&quot;", "it&#39;s", "&#x27;x&#x27;",
    "&#128512; smile", "&#x1F600;", "&nbsp;space", "caf&eacute;", "&amp;amp; twice", "&amp;lt;3",
    "&notin; &notit; &not", "&ampx &amp", "AT&T", "&#0; &#x110000; &#128;", "&unknown; entity",
    "<b>tags stay &amp; entities</b>", "a &lt; b", "&Sigma;&Alpha;&Sigma;", "&frac12; cup", "&hellip;",
]


def unicode_strings():
    """Cases beyond tokenizer_strings(): every space and format character alone and
    between words, emoji sequences, Greek sigma in every position, combining marks,
    controls, mojibake, HTML entities, every general category, and every assigned
    code point of this Python's Unicode database (in runs of 48)."""
    out = []
    for cp in SPACES_AND_FORMATS:
        c = chr(cp)
        out += [c, f"a{c}b", f"word{c}{c}word", f"{c}lead", f"trail{c}", f"東{c}京", f"1{c}2", f"it{c}'s"]
    out += EMOJI_SEQUENCES + [f"x{e}y {e}" for e in EMOJI_SEQUENCES]
    out += [
        "Σ", "ΣΑΣ", "ΟΔΥΣΣΕΥΣ", "ΑΣ.", "ΑΣ'Σ", "Σa", "aΣ", "Α\u0301Σ", "ΑΣ\u0301", "ΑΣ\u0345", "σς Σ ς", "ΌΣΟΣ ΤΟΣΟΣ",
        "ǲ ǅ ǈ ǋ ᾈ ᾼ", "İi̇ IıI", "ﬀﬁﬂﬃﬄﬅﬆ", "ŉ ǰ ΐ ΰ և ẖ", "ẞ ß", "Ω Å K", "ᏸᏹᏺᏻᏼ ꭰꭱ", "Ⓐⓐ Ⅰⅰ",
        "e\u0301\u0301", "a\u0300\u0301\u0302\u0303\u0304", "\u0345", "a\u0345", "ι\u0345", "\u20dd\u20de",
        "한국어 조합: \u1100\u1161\u11a8", "क्षत्रिय", "ﷺ ﷽", "ᄀᄁ", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
        "\x01\x02\x03 ctrl", "\x7f del", "\x80\x85\x8d\x9f C1", "tab\there", "\x1b[31mred\x1b[0m", "bell\x07",
        "null\x00inside", "\ufffd\ufffd", "\ue000\uf8ff private", "\U000F0000 plane 15",
        "日本語の文章と中文句子，还有한국어。", "東京タワーへ行きました", "中文，标点！", "〇一二三", "繁體中文測試",
        "x" * 300, "日本" * 200, "a b " * 100, "😀" * 100, "supercalifragilistic" * 10, "<|endoftext|>" * 50,
        "&amp; " * 80,
    ]
    for s in MOJIBAKE_SOURCES:
        raw = s.encode("utf-8")
        out.append(raw.decode("windows-1252", errors="replace"))
        out.append(raw.decode("latin-1"))
        out.append(raw.decode("windows-1252", errors="replace").encode("utf-8").decode("windows-1252", errors="replace"))
    out += HTML_STRINGS
    # Every general category, ten characters each, alone and inside a word.
    by_category = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        by_category.setdefault(unicodedata.category(chr(cp)), []).append(chr(cp))
    rng = random.Random(13)
    for cat in sorted(by_category):
        if cat in ("Cn", "Cs"):
            continue
        pool = by_category[cat]
        for _ in range(4):
            sample = [rng.choice(pool) for _ in range(10)]
            out.append("".join(sample))
            out.append("ab" + "cd".join(sample) + "ef")
    # Every assigned code point (large ideograph and syllable blocks thinned to every
    # 7th, private use left out), in runs of 48.
    points = []
    for cp in range(0x20, 0x110000):
        if not assigned(cp) or unicodedata.category(chr(cp)) == "Co":
            continue
        name = unicodedata.name(chr(cp), "")
        if name.startswith(("CJK UNIFIED IDEOGRAPH", "HANGUL SYLLABLE", "TANGUT", "YI SYLLABLE")) and cp % 7:
            continue
        points.append(chr(cp))
    for i in range(0, len(points), 48):
        out.append("".join(points[i:i + 48]))
    return out
