/* See pqrnn_projection.h. C99, no allocation, no dependency beyond <stddef.h>/<stdint.h>/<string.h>. */
#include "pqrnn_projection.h"

#include <string.h>

#include "pqrnn_unicode_tables.h"

/* ------------------------------------------------------------------ UTF-8 */

#define REPLACEMENT 0xFFFDu

/* The code point at text[*pos] (advancing *pos), U+FFFD for each maximal ill-formed subpart
 * (Unicode's "best practice", what ICU, TF's unicode_transcode and Python do). */
static uint32_t decode_utf8(const unsigned char *s, size_t n, size_t *pos) {
    size_t i = *pos;
    uint32_t b0 = s[i], cp;
    unsigned char lo = 0x80, hi = 0xBF;
    int need, k;
    if (b0 < 0x80) {
        *pos = i + 1;
        return b0;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        *pos = i + 1;
        return REPLACEMENT;
    }
    i++;
    for (k = 0; k < need; k++, i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *pos = i; /* the valid prefix is one ill-formed subpart */
            return REPLACEMENT;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *pos = i;
    return cp;
}

static size_t encode_utf8(uint32_t cp, unsigned char *out) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------ character classes */

static int in_ranges(const pqrnn_range *table, size_t count, uint32_t cp) {
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < table[mid].lo)
            hi = mid;
        else if (cp > table[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

#define IN(table, cp) in_ranges(pqrnn_##table, sizeof(pqrnn_##table) / sizeof(pqrnn_##table[0]), (cp))

static int is_separator(uint32_t cp) { return IN(separator, cp); }
static int is_standalone(uint32_t cp) { return IN(standalone, cp); }
static int is_no_space(uint32_t cp) { return IN(no_space, cp); }
static int is_mark(uint32_t cp) { return IN(marks, cp); }

/* ------------------------------------------------------------------ tokenizer */

/* tokenization.segmented: at least PQRNN_MIN_SEGMENTED_GAPS times two no-space characters with
 * only separators between them, and no no-space run (with its marks) longer than
 * PQRNN_MAX_SEGMENTED_WORD. */
static int segmented(const unsigned char *s, size_t n) {
    size_t pos = 0, run = 0;
    int after_run = 0, gaps = 0;
    while (pos < n) {
        uint32_t cp = decode_utf8(s, n, &pos);
        if (is_no_space(cp) || (run > 0 && is_mark(cp))) {
            if (run == 0 && after_run) gaps++;
            if (++run > PQRNN_MAX_SEGMENTED_WORD) return 0;
        } else if (is_separator(cp)) {
            if (run > 0) after_run = 1;
            run = 0;
        } else {
            run = 0;
            after_run = 0;
        }
    }
    return gaps >= PQRNN_MIN_SEGMENTED_GAPS;
}

void pqrnn_tokenizer_init(pqrnn_tokenizer *tokenizer, const char *text, size_t len) {
    tokenizer->text = (const unsigned char *)text;
    tokenizer->len = len;
    tokenizer->pos = 0;
    tokenizer->segmented = segmented(tokenizer->text, len);
}

int pqrnn_next_token(pqrnn_tokenizer *t, pqrnn_span *token) {
    const unsigned char *s = t->text;
    size_t n = t->len, word_start = 0;
    int in_word = 0;
    while (t->pos < n) {
        size_t pos = t->pos, next = pos;
        uint32_t cp = decode_utf8(s, n, &next);
        if (is_separator(cp)) {
            t->pos = next;
            if (in_word) {
                token->start = word_start;
                token->end = pos;
                return 1;
            }
            continue;
        }
        if (is_standalone(cp) || (!t->segmented && is_no_space(cp))) {
            if (in_word) { /* close the word; this character comes next call */
                token->start = word_start;
                token->end = pos;
                return 1;
            }
            if (!is_standalone(cp)) { /* a no-space character takes the marks after it */
                size_t after = next;
                while (after < n) {
                    size_t probe = after;
                    if (!is_mark(decode_utf8(s, n, &probe))) break;
                    after = probe;
                }
                next = after;
            }
            token->start = pos;
            token->end = next;
            t->pos = next;
            return 1;
        }
        if (!in_word) {
            in_word = 1;
            word_start = pos;
        }
        t->pos = next;
    }
    if (in_word) {
        token->start = word_start;
        token->end = n;
        return 1;
    }
    return 0;
}

size_t pqrnn_tokenize(const char *text, size_t len, pqrnn_span *spans, size_t capacity) {
    pqrnn_tokenizer t;
    pqrnn_span span;
    size_t count = 0;
    pqrnn_tokenizer_init(&t, text, len);
    while (pqrnn_next_token(&t, &span)) {
        if (count < capacity) spans[count] = span;
        count++;
    }
    return count;
}

/* ------------------------------------------------------------------ lower-casing */

enum { CASE_OTHER, CASE_IGNORABLE, CASE_CASED };

static int case_class(uint32_t cp) {
    if (IN(case_ignorable, cp)) return CASE_IGNORABLE;
    if (IN(cased, cp)) return CASE_CASED;
    return CASE_OTHER;
}

static uint32_t lower_single(uint32_t cp) {
    size_t lo = 0, hi = PQRNN_LOWER_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < pqrnn_lower[mid].from)
            hi = mid;
        else if (cp > pqrnn_lower[mid].from)
            lo = mid + 1;
        else
            return pqrnn_lower[mid].to;
    }
    return cp;
}

static const unsigned char NULL_TOKEN[] = {0xFE, 'n', 'u', 'l', 'l'};
static const unsigned char BOS_TOKEN[] = {0xFE, 'b', 'o', 's'};
static const unsigned char EOS_TOKEN[] = {0xFE, 'e', 'o', 's'};
static const unsigned char PREFIX_MARK = 0xFD;
static const unsigned char NGRAM_MARK = 0xFC;
static const unsigned char CASE_MARK = 0xFA;

/* Whether lower-casing changes the code point (Python's str.lower, one character alone). */
static int changes_when_lowered(uint32_t cp) {
    size_t m;
    if (cp == 0x3A3 || lower_single(cp) != cp) return 1;
    for (m = 0; m < PQRNN_LOWER_MULTI_COUNT; m++)
        if (pqrnn_lower_multi[m].from == cp) return 1;
    return 0;
}

/* The case shape of a token as written (cut at its first NUL): 1 when its first code point
 * changes under lower-casing, + 2 when another one does. */
static unsigned char case_shape(const unsigned char *s, size_t len) {
    size_t pos = 0, end = 0;
    unsigned char shape = 0;
    while (end < len && s[end] != 0) end++;
    while (pos < end) {
        int first = pos == 0;
        if (changes_when_lowered(decode_utf8(s, end, &pos))) shape |= first ? 1 : 2;
    }
    return shape;
}

size_t pqrnn_token_bytes(const char *token, size_t len, unsigned char *out) {
    const unsigned char *s = (const unsigned char *)token;
    size_t pos = 0, written = 0, end = 0;
    int previous_cased = 0; /* the last character that is not case-ignorable is cased */
    /* tf.strings.lower reads the token as a C string: it ends at the first NUL. */
    while (end < len && s[end] != 0) end++;
    while (pos < end) {
        uint32_t cp = decode_utf8(s, end, &pos);
        int cls = case_class(cp);
        if (cp == 0x3A3) { /* GREEK CAPITAL SIGMA: final form at the end of a word */
            int final_sigma = previous_cased;
            size_t probe = pos;
            while (final_sigma && probe < end) {
                int next_class = case_class(decode_utf8(s, end, &probe));
                if (next_class != CASE_IGNORABLE) {
                    final_sigma = next_class != CASE_CASED;
                    break;
                }
            }
            written += encode_utf8(final_sigma ? 0x3C2 : 0x3C3, out + written);
        } else {
            uint32_t low = lower_single(cp);
            size_t m;
            int multi = 0;
            for (m = 0; m < PQRNN_LOWER_MULTI_COUNT; m++) {
                if (pqrnn_lower_multi[m].from == cp) {
                    int k;
                    for (k = 0; k < pqrnn_lower_multi[m].n; k++)
                        written += encode_utf8(pqrnn_lower_multi[m].to[k], out + written);
                    multi = 1;
                    break;
                }
            }
            if (!multi) written += encode_utf8(low, out + written);
        }
        if (cls != CASE_IGNORABLE) previous_cased = cls == CASE_CASED;
    }
    if (written == 0) {
        memcpy(out, NULL_TOKEN, sizeof NULL_TOKEN);
        written = sizeof NULL_TOKEN;
    }
    return written;
}

/* ------------------------------------------------------------------ FarmHash Fingerprint64 */

static const uint64_t K0 = 0xC3A5C85C97CB3127ull;
static const uint64_t K1 = 0xB492B66FBE98F273ull;
static const uint64_t K2 = 0x9AE16A3B2F90404Full;

static uint64_t fetch64(const unsigned char *p) { /* little-endian on any host */
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static uint64_t fetch32(const unsigned char *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
}

static uint64_t rotate(uint64_t v, int r) { return (v >> r) | (v << (64 - r)); }
static uint64_t shift_mix(uint64_t v) { return v ^ (v >> 47); }

static uint64_t hash_len16(uint64_t u, uint64_t v, uint64_t mul) {
    uint64_t a = shift_mix((u ^ v) * mul);
    uint64_t b = shift_mix((v ^ a) * mul);
    return b * mul;
}

static uint64_t hash_len_0_to_16(const unsigned char *s, size_t len) {
    uint64_t mul = K2 + (uint64_t)len * 2;
    if (len >= 8) {
        uint64_t a = fetch64(s) + K2, b = fetch64(s + len - 8);
        uint64_t c = rotate(b, 37) * mul + a, d = (rotate(a, 25) + b) * mul;
        return hash_len16(c, d, mul);
    }
    if (len >= 4) return hash_len16(len + (fetch32(s) << 3), fetch32(s + len - 4), mul);
    if (len > 0) {
        uint32_t y = (uint32_t)s[0] + ((uint32_t)s[len >> 1] << 8);
        uint32_t z = (uint32_t)len + ((uint32_t)s[len - 1] << 2);
        return shift_mix((uint64_t)y * K2 ^ (uint64_t)z * K0) * K2;
    }
    return K2;
}

static uint64_t hash_len_17_to_32(const unsigned char *s, size_t len) {
    uint64_t mul = K2 + (uint64_t)len * 2;
    uint64_t a = fetch64(s) * K1, b = fetch64(s + 8);
    uint64_t c = fetch64(s + len - 8) * mul, d = fetch64(s + len - 16) * K2;
    return hash_len16(rotate(a + b, 43) + rotate(c, 30) + d, a + rotate(b + K2, 18) + c, mul);
}

static uint64_t hash_len_33_to_64(const unsigned char *s, size_t len) {
    uint64_t mul = K2 + (uint64_t)len * 2;
    uint64_t a = fetch64(s) * K2, b = fetch64(s + 8);
    uint64_t c = fetch64(s + len - 8) * mul, d = fetch64(s + len - 16) * K2;
    uint64_t y = rotate(a + b, 43) + rotate(c, 30) + d;
    uint64_t z = hash_len16(y, a + rotate(b + K2, 18) + c, mul);
    uint64_t e = fetch64(s + 16) * mul, f = fetch64(s + 24);
    uint64_t g = (y + fetch64(s + len - 32)) * mul, h = (z + fetch64(s + len - 24)) * mul;
    return hash_len16(rotate(e + f, 43) + rotate(g, 30) + h, e + rotate(f + a, 18) + g, mul);
}

static void weak_hash32(const unsigned char *s, uint64_t a, uint64_t b, uint64_t *first, uint64_t *second) {
    uint64_t w = fetch64(s), x = fetch64(s + 8), y = fetch64(s + 16), z = fetch64(s + 24), c;
    a += w;
    b = rotate(b + a + z, 21);
    c = a;
    a += x;
    a += y;
    b += rotate(a, 44);
    *first = a + z;
    *second = b + c;
}

uint64_t pqrnn_fingerprint64(const void *data, size_t len) {
    const unsigned char *s = (const unsigned char *)data, *end, *last64;
    const uint64_t seed = 81;
    uint64_t x, y, z, v1 = 0, v2 = 0, w1 = 0, w2 = 0, mul, t;
    if (len <= 16) return hash_len_0_to_16(s, len);
    if (len <= 32) return hash_len_17_to_32(s, len);
    if (len <= 64) return hash_len_33_to_64(s, len);
    x = seed;
    y = seed * K1 + 113;
    z = shift_mix(y * K2 + 113) * K2;
    x = x * K2 + fetch64(s);
    end = s + ((len - 1) / 64) * 64;
    last64 = s + len - 64;
    do {
        x = rotate(x + y + v1 + fetch64(s + 8), 37) * K1;
        y = rotate(y + v2 + fetch64(s + 48), 42) * K1;
        x ^= w2;
        y += v1 + fetch64(s + 40);
        z = rotate(z + w1, 33) * K1;
        weak_hash32(s, v2 * K1, x + w1, &v1, &v2);
        weak_hash32(s + 32, z + w2, y + fetch64(s + 16), &w1, &w2);
        t = z;
        z = x;
        x = t;
        s += 64;
    } while (s != end);
    mul = K1 + ((z & 0xFF) << 1);
    s = last64;
    w1 += (len - 1) & 63;
    v1 += w1;
    w1 += v1;
    x = rotate(x + y + v1 + fetch64(s + 8), 37) * mul;
    y = rotate(y + v2 + fetch64(s + 48), 42) * mul;
    x ^= w2 * 9;
    y += v1 * 9 + fetch64(s + 40);
    z = rotate(z + w1, 33) * mul;
    weak_hash32(s, v2 * mul, x + w1, &v1, &v2);
    weak_hash32(s + 32, z + w2, y + fetch64(s + 16), &w1, &w2);
    t = z;
    z = x;
    x = t;
    return hash_len16(hash_len16(v1, w1, mul) + shift_mix(y) * K0 + z, hash_len16(v2, w2, mul) + x, mul);
}

/* ------------------------------------------------------------------ projection */

void pqrnn_hash_features(const unsigned char *bytes, size_t len, int feature_size, int8_t *out,
                         unsigned char *scratch) {
    int j, i, words = (feature_size + PQRNN_FIELDS_PER_HASH - 1) / PQRNN_FIELDS_PER_HASH;
    if (bytes != scratch) memmove(scratch, bytes, len);
    scratch[len] = 0xFF; /* the salt: 0xFF never occurs in UTF-8 */
    for (j = 0; j < words; j++) {
        uint64_t h;
        scratch[len + 1] = (unsigned char)j;
        h = pqrnn_fingerprint64(scratch, len + 2);
        for (i = 0; i < PQRNN_FIELDS_PER_HASH && j * PQRNN_FIELDS_PER_HASH + i < feature_size; i++) {
            int field = (int)((h >> (2 * i)) & 3);
            out[j * PQRNN_FIELDS_PER_HASH + i] = (int8_t)((field & 1) - (field >> 1));
        }
    }
}

/* Byte v of " " + word + " " (m word bytes). */
static unsigned char padded_byte(const unsigned char *word, size_t m, size_t v) {
    return (v == 0 || v == m + 1) ? ' ' : word[v - 1];
}

/* The code point after the one starting at byte v of " " + word + " " (m + 2 at the end). */
static size_t next_code_point(const unsigned char *word, size_t m, size_t v) {
    if (v == 0 || v == m + 1) return v + 1;
    v++;
    while (v <= m && (word[v - 1] & 0xC0) == 0x80) v++;
    return v;
}

/* Adds the ternary fields of hash j of NGRAM_MARK + bytes [a, b) of " " + word + " " to sums. */
static void add_gram(const unsigned char *word, size_t m, size_t a, size_t b, int j, int count, int32_t *sums) {
    unsigned char gram[1 + 4 * PQRNN_MAX_NGRAM_CHARS + 2];
    size_t len = 0, v;
    uint64_t h;
    int i;
    gram[len++] = NGRAM_MARK;
    for (v = a; v < b; v++) gram[len++] = padded_byte(word, m, v);
    gram[len++] = 0xFF;
    gram[len++] = (unsigned char)j;
    h = pqrnn_fingerprint64(gram, len);
    for (i = 0; i < count; i++) {
        int field = (int)((h >> (2 * i)) & 3);
        sums[i] += (field & 1) - (field >> 1);
    }
}

/* The n-gram features of a word (pqrnn.projection.Projection.ngram_bag): per 32 features,
 * the fields of every gram's hash summed, then their signs. */
static void ngram_bag(const unsigned char *word, size_t m, int n, int size, int8_t *out) {
    int j, i, words = (size + PQRNN_FIELDS_PER_HASH - 1) / PQRNN_FIELDS_PER_HASH;
    for (j = 0; j < words; j++) {
        int32_t sums[PQRNN_FIELDS_PER_HASH] = {0};
        int count = size - j * PQRNN_FIELDS_PER_HASH < PQRNN_FIELDS_PER_HASH ? size - j * PQRNN_FIELDS_PER_HASH
                                                                              : PQRNN_FIELDS_PER_HASH;
        size_t starts[PQRNN_MAX_NGRAM_CHARS + 1];
        size_t v = 0, k = 0; /* v: start of code point k of the padded word */
        for (;;) {
            starts[k % (size_t)(n + 1)] = v;
            if (k >= (size_t)n) add_gram(word, m, starts[(k - n) % (size_t)(n + 1)], v, j, count, sums);
            if (v == m + 2) break;
            v = next_code_point(word, m, v);
            k++;
        }
        if (k < (size_t)n) add_gram(word, m, 0, m + 2, j, count, sums); /* shorter: the whole */
        for (i = 0; i < count; i++) out[j * PQRNN_FIELDS_PER_HASH + i] = (int8_t)((sums[i] > 0) - (sums[i] < 0));
    }
}

int pqrnn_project(const pqrnn_params *params, const char *text, size_t len, int8_t *features,
                  pqrnn_span *words, int *num_words, unsigned char *scratch, size_t scratch_size) {
    int b, rows = 0, kept = 0, max_words;
    pqrnn_tokenizer tokenizer;
    pqrnn_span span;
    if (params == NULL || features == NULL || scratch == NULL || (text == NULL && len > 0)) return PQRNN_ERROR_ARGUMENT;
    b = params->feature_size;
    max_words = params->max_tokens - (params->add_bos_eos ? 2 : 0);
    if (b < 1 || b > PQRNN_MAX_FEATURE_SIZE || max_words < 1) return PQRNN_ERROR_ARGUMENT;
    if (params->prefix_features < 0 || params->prefix_features > b) return PQRNN_ERROR_ARGUMENT;
    if (params->prefix_features > 0 && params->prefix_chars < 1) return PQRNN_ERROR_ARGUMENT;
    if (params->ngram_features < 0 || params->ngram_features > b - params->prefix_features) return PQRNN_ERROR_ARGUMENT;
    if (params->ngram_features > 0 && (params->ngram_chars < 1 || params->ngram_chars > PQRNN_MAX_NGRAM_CHARS))
        return PQRNN_ERROR_ARGUMENT;
    if (params->case_features < 0 || params->case_features > b - params->prefix_features - params->ngram_features)
        return PQRNN_ERROR_ARGUMENT;
    if (scratch_size < PQRNN_SCRATCH_SIZE(len)) return PQRNN_ERROR_SCRATCH;
    if (params->add_bos_eos) pqrnn_hash_features(BOS_TOKEN, sizeof BOS_TOKEN, b, features + (size_t)b * rows++, scratch);
    pqrnn_tokenizer_init(&tokenizer, text, len);
    while (kept < max_words && pqrnn_next_token(&tokenizer, &span)) {
        size_t m = pqrnn_token_bytes(text + span.start, span.end - span.start, scratch);
        int8_t *row = features + (size_t)b * rows++;
        int is_word = !(m == sizeof NULL_TOKEN && memcmp(scratch, NULL_TOKEN, m) == 0);
        pqrnn_hash_features(scratch, m, b, row, scratch);
        if (params->case_features > 0 && is_word) {
            unsigned char shape[4];
            shape[0] = CASE_MARK;
            shape[1] = case_shape((const unsigned char *)text + span.start, span.end - span.start);
            pqrnn_hash_features(shape, 2, params->case_features,
                                row + (b - params->prefix_features - params->ngram_features - params->case_features),
                                shape);
        }
        if (params->ngram_features > 0 && is_word)
            ngram_bag(scratch, m, params->ngram_chars, params->ngram_features,
                      row + (b - params->prefix_features - params->ngram_features));
        if (params->prefix_features > 0 && is_word) {
            /* PREFIX_MARK + the first prefix_chars code points (the bytes are valid UTF-8). */
            size_t end = 0;
            int chars = 0;
            while (end < m && chars < params->prefix_chars) {
                end++;
                while (end < m && (scratch[end] & 0xC0) == 0x80) end++;
                chars++;
            }
            memmove(scratch + 1, scratch, end);
            scratch[0] = PREFIX_MARK;
            pqrnn_hash_features(scratch, end + 1, params->prefix_features, row + (b - params->prefix_features), scratch);
        }
        if (words != NULL) words[kept] = span;
        kept++;
    }
    if (params->add_bos_eos) pqrnn_hash_features(EOS_TOKEN, sizeof EOS_TOKEN, b, features + (size_t)b * rows++, scratch);
    if (num_words != NULL) *num_words = kept;
    return rows;
}

const char *pqrnn_unicode_version(void) { return PQRNN_UNICODE_VERSION; }
