/* pQRNN projection on a device: raw UTF-8 text -> word tokens -> ternary features, bit for bit
 * what the exported SavedModel's `project_text` (pqrnn.projection, tokenization.tf_ops) and
 * pqrnn.serving's NumPy port compute. C99, no dependencies beyond the C library headers, no
 * allocation: the caller passes every buffer.
 *
 * The rule (see pqrnn/DESIGN.md, tokenization/__init__.py):
 *   - invalid UTF-8 becomes U+FFFD (one per maximal ill-formed subpart, as
 *     tf.strings.unicode_transcode(errors="replace") and Python's decode("utf-8", "replace"));
 *   - every punctuation/symbol character (P*, S*) is a token; every character of a script
 *     written without spaces, with the combining marks (M*) after it, is a token; the rest is
 *     split on whitespace (str.isspace and U+200B);
 *   - each kept word (at most max_tokens - 2 with BOS/EOS) is cut at its first NUL (as
 *     tf.strings.lower reads it), lower-cased (str.lower = ICU's toLower: full mappings, final
 *     sigma), empty -> "\xfenull"; BOS/EOS are "\xfebos" / "\xfeeos";
 *   - for j = 0 .. ceil(B/32)-1, FarmHash Fingerprint64(token + 0xFF + j) (tf.fingerprint);
 *     feature 32*j + i = ternary of bits 2i..2i+1 of hash j: 00->0, 01->+1, 10->-1, 11->0;
 *   - with prefix_features = P > 0, a word's features B-P .. B-1 are instead the first P
 *     features of 0xFD + its first prefix_chars code points, hashed the same way (not for
 *     the markers or "\xfenull");
 *   - with ngram_features = G > 0, a word's features B-P-G .. B-P-1 are instead the sign of
 *     the sum, feature by feature, of the first G features of 0xFC + each run of ngram_chars
 *     code points of " " + word + " " (the whole of it when shorter), hashed the same way;
 *   - with case_features = K > 0, a word's features B-P-G-K .. B-P-G-1 are instead the first
 *     K features of 0xFA + one byte, its case shape as written (before lower-casing, cut at
 *     NUL): 1 when its first code point changes under lower-casing, + 2 when another does.
 *
 * Call sequence (see device/README.md):
 *   pqrnn_params p = {1024, 64, 1, 384, 4, 256, 3, 0}; // from assets.extra/device_projection.json
 *   unsigned char scratch[PQRNN_SCRATCH_SIZE(len)];  // or any buffer that large
 *   int8_t features[64 * 1024];                       // max_tokens * feature_size
 *   pqrnn_span words[62];                              // optional: the kept words' byte spans
 *   int num_words;
 *   int t = pqrnn_project(&p, text, len, features, words, &num_words, scratch, sizeof scratch);
 *   // rows 0..t-1 are the encoder's input [1, t, B] (convert to float32); t = num_words + 2.
 */
#ifndef PQRNN_PROJECTION_H
#define PQRNN_PROJECTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The hash's version: assets.extra/device_projection.json's "hash_spec_version" must equal it. */
#define PQRNN_HASH_SPEC_VERSION 4
#define PQRNN_FIELDS_PER_HASH 32
#define PQRNN_MAX_FEATURE_SIZE 8192 /* one salt byte */
#define PQRNN_MAX_NGRAM_CHARS 16
/* tokenization.MIN_SEGMENTED_GAPS, MAX_SEGMENTED_WORD: a word-segmented text has at least this
 * many gaps between no-space runs, and no no-space run longer than this. */
#define PQRNN_MIN_SEGMENTED_GAPS 2
#define PQRNN_MAX_SEGMENTED_WORD 12

/* Bytes of scratch pqrnn_project needs for a text of `len` bytes (lower-casing and U+FFFD can
 * grow a token to 3 bytes per input byte, plus the 2 salt bytes and the markers). */
#define PQRNN_SCRATCH_SIZE(len) (3 * (size_t)(len) + 16)

#define PQRNN_ERROR_ARGUMENT (-1) /* a NULL pointer or parameters out of range */
#define PQRNN_ERROR_SCRATCH (-2)  /* scratch smaller than PQRNN_SCRATCH_SIZE(len) */

typedef struct {
    int feature_size; /* B: features per token, 1 .. PQRNN_MAX_FEATURE_SIZE */
    int max_tokens;   /* rows of the encoder input at most, BOS/EOS included */
    int add_bos_eos;  /* 1: BOS and EOS rows around the words (the default) */
    /* The last prefix_features features of a word hash PREFIX_MARK (0xFD) + its first
     * prefix_chars code points instead of the whole word; 0: whole words only. */
    int prefix_features;
    int prefix_chars;
    /* The ngram_features before those hash the word's character ngram_chars-grams (1 ..
     * PQRNN_MAX_NGRAM_CHARS), marked 0xFC, into the sign of their sum; 0: none. */
    int ngram_features;
    int ngram_chars;
    /* The case_features before those hash the word's case shape as written, marked 0xFA. */
    int case_features;
} pqrnn_params;

typedef struct {
    size_t start, end; /* byte offsets of a word token in the input text */
} pqrnn_span;

typedef struct {
    const unsigned char *text;
    size_t len, pos;
    int segmented; /* the text writes a no-space script one word at a time (tokenization.segmented) */
} pqrnn_tokenizer;

/* Word tokens one by one: init, then pqrnn_next_token until it returns 0. */
void pqrnn_tokenizer_init(pqrnn_tokenizer *tokenizer, const char *text, size_t len);
int pqrnn_next_token(pqrnn_tokenizer *tokenizer, pqrnn_span *token);

/* All word tokens: writes min(count, capacity) spans, returns the count. */
size_t pqrnn_tokenize(const char *text, size_t len, pqrnn_span *spans, size_t capacity);

/* The bytes that are hashed for one word token (its UTF-8 bytes as they are in the text):
 * cut at NUL, lower-cased, "\xfenull" when empty. `out` holds 3 * len + 5 bytes at least;
 * returns the bytes written. */
size_t pqrnn_token_bytes(const char *token, size_t len, unsigned char *out);

/* FarmHash Fingerprint64 (farmhashna::Hash64), what tf.fingerprint computes. */
uint64_t pqrnn_fingerprint64(const void *data, size_t len);

/* Ternary features [feature_size] of already prepared token bytes. `scratch` holds len + 2
 * bytes (it may start with the token bytes themselves: `bytes == scratch` is allowed). */
void pqrnn_hash_features(const unsigned char *bytes, size_t len, int feature_size, int8_t *out,
                         unsigned char *scratch);

/* Raw text -> features [t, feature_size] (row-major int8 in -1/0/+1) in `features`, which
 * holds max_tokens * feature_size values; rows past t are not written. `words` (may be NULL)
 * receives the byte spans of the kept words (max_tokens - 2 with BOS/EOS, else max_tokens)
 * and `num_words` (may be NULL) their count. Returns t (= num_words + 2 with BOS/EOS) or a
 * negative PQRNN_ERROR_*. */
int pqrnn_project(const pqrnn_params *params, const char *text, size_t len, int8_t *features,
                  pqrnn_span *words, int *num_words, unsigned char *scratch, size_t scratch_size);

/* The Unicode version the tables were generated from (Python's unicodedata). */
const char *pqrnn_unicode_version(void);

#ifdef __cplusplus
}
#endif

#endif /* PQRNN_PROJECTION_H */
