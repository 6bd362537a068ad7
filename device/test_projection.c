/* Checks the C tokenizer and projection bit for bit against golden vectors written by the
 * TensorFlow path (device/make_golden.py): the bytes hashed for every kept word, and every
 * feature of every row (BOS/EOS included).
 *
 *   cc -std=c99 -Wall -Werror device/pqrnn_projection.c device/test_projection.c -o test_projection
 *   ./test_projection device/golden/projection.jsonl [more.jsonl ...]
 *
 * Prints "N passed, N failed" and exits 1 on any mismatch. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_reader.h"
#include "pqrnn_projection.h"

typedef struct {
    unsigned char **items;
    size_t *lengths;
    int count, capacity;
} hex_list;

static void collect(const unsigned char *item, size_t len, void *context) {
    hex_list *list = (hex_list *)context;
    if (list->count == list->capacity) {
        list->capacity = list->capacity ? 2 * list->capacity : 16;
        list->items = (unsigned char **)realloc(list->items, sizeof(unsigned char *) * (size_t)list->capacity);
        list->lengths = (size_t *)realloc(list->lengths, sizeof(size_t) * (size_t)list->capacity);
    }
    list->items[list->count] = (unsigned char *)malloc(len + 1);
    memcpy(list->items[list->count], item, len);
    list->lengths[list->count++] = len;
}

static void clear(hex_list *list) {
    int i;
    for (i = 0; i < list->count; i++) free(list->items[i]);
    free(list->items);
    free(list->lengths);
    memset(list, 0, sizeof *list);
}

static void print_hex(const unsigned char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) fprintf(stderr, "%02x", s[i]);
}

/* Unpacks a golden row (2 bits a feature, first in the lowest bits) into -1/0/+1. */
static void unpack(const unsigned char *packed, int feature_size, int8_t *out) {
    int i;
    for (i = 0; i < feature_size; i++) {
        int code = (packed[i / 4] >> (2 * (i % 4))) & 3;
        out[i] = (int8_t)(code == 1 ? 1 : code == 2 ? -1 : 0);
    }
}

/* One golden line: 0 when C agrees with it. */
static int check_line(const char *line, int number) {
    pqrnn_params params;
    hex_list tokens = {0}, rows = {0};
    const char *p = golden_find(line, "text_hex");
    unsigned char *text, *scratch, *token_bytes;
    size_t text_len;
    int8_t *features, *expected;
    pqrnn_span *words;
    int t, num_words, i, failed = 0;

    params.feature_size = (int)golden_int(line, "feature_size", -1);
    params.max_tokens = (int)golden_int(line, "max_tokens", -1);
    params.add_bos_eos = (int)golden_int(line, "add_bos_eos", 1);
    params.prefix_features = (int)golden_int(line, "prefix_features", 0);
    params.prefix_chars = (int)golden_int(line, "prefix_chars", 4);
    params.ngram_features = (int)golden_int(line, "ngram_features", 0);
    params.ngram_chars = (int)golden_int(line, "ngram_chars", 3);
    params.case_features = (int)golden_int(line, "case_features", 0);
    if (p == NULL || params.feature_size < 1 || params.max_tokens < 1) {
        fprintf(stderr, "line %d: malformed\n", number);
        return 1;
    }
    text = golden_hex_at(&p, &text_len);
    golden_hex_array(line, "tokens_hex", collect, &tokens);
    golden_hex_array(line, "features", collect, &rows);

    features = (int8_t *)malloc((size_t)params.max_tokens * (size_t)params.feature_size);
    expected = (int8_t *)malloc((size_t)params.feature_size);
    words = (pqrnn_span *)malloc(sizeof(pqrnn_span) * (size_t)params.max_tokens);
    scratch = (unsigned char *)malloc(PQRNN_SCRATCH_SIZE(text_len));
    token_bytes = (unsigned char *)malloc(3 * text_len + 8);

    t = pqrnn_project(&params, (const char *)text, text_len, features, words, &num_words, scratch,
                      PQRNN_SCRATCH_SIZE(text_len));
    if (t != rows.count || num_words != tokens.count) {
        fprintf(stderr, "line %d: %d rows / %d words, expected %d / %d (text ", number, t, num_words, rows.count,
                tokens.count);
        print_hex(text, text_len);
        fprintf(stderr, ")\n");
        failed = 1;
    }
    for (i = 0; !failed && i < num_words; i++) {
        size_t n = pqrnn_token_bytes((const char *)text + words[i].start, words[i].end - words[i].start, token_bytes);
        if (n != tokens.lengths[i] || memcmp(token_bytes, tokens.items[i], n) != 0) {
            fprintf(stderr, "line %d: word %d hashes as ", number, i);
            print_hex(token_bytes, n);
            fprintf(stderr, ", expected ");
            print_hex(tokens.items[i], tokens.lengths[i]);
            fprintf(stderr, "\n");
            failed = 1;
        }
    }
    for (i = 0; !failed && i < t; i++) {
        int k;
        unpack(rows.items[i], params.feature_size, expected);
        for (k = 0; k < params.feature_size; k++) {
            if (features[(size_t)i * (size_t)params.feature_size + (size_t)k] != expected[k]) {
                fprintf(stderr, "line %d: row %d feature %d is %d, expected %d\n", number, i, k,
                        features[(size_t)i * (size_t)params.feature_size + (size_t)k], expected[k]);
                failed = 1;
                break;
            }
        }
    }
    free(text);
    free(features);
    free(expected);
    free(words);
    free(scratch);
    free(token_bytes);
    clear(&tokens);
    clear(&rows);
    return failed;
}

/* Properties that need no golden file. */
static int check_api(void) {
    pqrnn_params params = {64, 4, 1, 0, 4, 0, 3, 0};
    int8_t features[4 * 64];
    unsigned char scratch[64];
    pqrnn_span spans[8];
    int words = -1, failed = 0;
    if (pqrnn_project(&params, "a b c d", 7, features, NULL, &words, scratch, 4) != PQRNN_ERROR_SCRATCH) failed = 1;
    params.max_tokens = 2;
    if (pqrnn_project(&params, "a", 1, features, NULL, &words, scratch, sizeof scratch) != PQRNN_ERROR_ARGUMENT)
        failed = 1;
    params.max_tokens = 4;
    params.ngram_features = 65; /* more than feature_size - prefix_features */
    if (pqrnn_project(&params, "a", 1, features, NULL, &words, scratch, sizeof scratch) != PQRNN_ERROR_ARGUMENT)
        failed = 1;
    params.ngram_features = 8;
    params.ngram_chars = PQRNN_MAX_NGRAM_CHARS + 1;
    if (pqrnn_project(&params, "a", 1, features, NULL, &words, scratch, sizeof scratch) != PQRNN_ERROR_ARGUMENT)
        failed = 1;
    params.ngram_chars = 3;
    params.case_features = 57; /* more than feature_size - prefix_features - ngram_features */
    if (pqrnn_project(&params, "a", 1, features, NULL, &words, scratch, sizeof scratch) != PQRNN_ERROR_ARGUMENT)
        failed = 1;
    params.case_features = 0;
    if (pqrnn_project(&params, "a b c d", 7, features, NULL, &words, scratch, sizeof scratch) != 4 || words != 2)
        failed = 1;
    if (pqrnn_tokenize("hi, you!", 8, spans, 8) != 4 || spans[1].start != 2 || spans[1].end != 3) failed = 1;
    if (pqrnn_fingerprint64("", 0) != 0x9AE16A3B2F90404Full) failed = 1;
    if (failed) fprintf(stderr, "API checks failed\n");
    return failed;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, a;
    if (argc < 2) {
        fprintf(stderr, "usage: %s GOLDEN.jsonl...\n", argv[0]);
        return 2;
    }
    if (check_api()) failed++;
    else passed++;
    for (a = 1; a < argc; a++) {
        char *data = golden_read_file(argv[a]), *line, *next;
        int number = 0;
        if (data == NULL) {
            fprintf(stderr, "cannot read %s\n", argv[a]);
            return 2;
        }
        for (line = data; *line; line = next) {
            next = strchr(line, '\n');
            if (next != NULL) *next++ = 0;
            else next = line + strlen(line);
            number++;
            if (*line == 0) continue;
            if (check_line(line, number)) failed++;
            else passed++;
        }
        free(data);
    }
    printf("pqrnn projection (Unicode %s): %d passed, %d failed\n", pqrnn_unicode_version(), passed, failed);
    return failed ? 1 : 0;
}
