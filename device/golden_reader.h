/* A minimal reader of the golden JSONL files (device/golden/projection.jsonl and a serving
 * folder's assets.extra/device_golden.jsonl): one flat JSON object per line whose values the
 * tests need are integers, hex strings and arrays of hex strings or integers. Not a JSON
 * parser: keys are found by their quoted name. For tests and demos only. */
#ifndef PQRNN_GOLDEN_READER_H
#define PQRNN_GOLDEN_READER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The text right after "key": in a line, or NULL. */
static const char *golden_find(const char *line, const char *key) {
    char pattern[64];
    const char *p;
    size_t n;
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    p = strstr(line, pattern);
    if (p == NULL) return NULL;
    p += strlen(pattern);
    n = strspn(p, " ");
    return p + n;
}

static long golden_int(const char *line, const char *key, long fallback) {
    const char *p = golden_find(line, key);
    return p == NULL ? fallback : strtol(p, NULL, 10);
}

static int golden_hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the quoted hex string at *p (advancing past it) into a malloc'ed buffer. */
static unsigned char *golden_hex_at(const char **p, size_t *len) {
    const char *s = *p, *end;
    unsigned char *out;
    size_t i, n;
    while (*s == ' ' || *s == ',' || *s == '[') s++;
    if (*s != '"') return NULL;
    s++;
    end = strchr(s, '"');
    if (end == NULL) return NULL;
    n = (size_t)(end - s) / 2;
    out = (unsigned char *)malloc(n + 1);
    for (i = 0; i < n; i++) out[i] = (unsigned char)(golden_hex_digit(s[2 * i]) * 16 + golden_hex_digit(s[2 * i + 1]));
    out[n] = 0;
    *len = n;
    *p = end + 1;
    return out;
}

/* Calls fn(element, length, context) for each hex string of the array "key"; returns the count. */
static int golden_hex_array(const char *line, const char *key, void (*fn)(const unsigned char *, size_t, void *),
                            void *context) {
    const char *p = golden_find(line, key);
    int count = 0;
    if (p == NULL || *p != '[') return -1;
    p++;
    for (;;) {
        size_t len;
        unsigned char *item;
        while (*p == ' ' || *p == ',') p++;
        if (*p == ']') return count;
        item = golden_hex_at(&p, &len);
        if (item == NULL) return -1;
        fn(item, len, context);
        free(item);
        count++;
    }
}

/* Reads a whole file into a NUL-terminated malloc'ed buffer. */
static char *golden_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *data;
    long size;
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = (char *)malloc((size_t)size + 1);
    if (fread(data, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(data);
        return NULL;
    }
    data[size] = 0;
    fclose(f);
    return data;
}

#endif /* PQRNN_GOLDEN_READER_H */
