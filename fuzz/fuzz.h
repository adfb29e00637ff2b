
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Helpers shared by the libFuzzer targets in fuzz/: every value handed to
 * the code under test lives in its own malloc()ed buffer of exactly its
 * length, so that AddressSanitizer reports any read past its end (slices
 * of the fuzzer's input would hide an overread into the next slice).
 */


#ifndef _MTASTS_FUZZ_H_INCLUDED_
#define _MTASTS_FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define FUZZ_MAX_PARTS  64


#define FUZZ_ASSERT(cond)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: assertion failed: %s\n",                  \
                    __FILE__, __LINE__, #cond);                               \
            abort();                                                          \
        }                                                                     \
    } while (0)


typedef struct {
    unsigned char  *data;        /* malloc()ed, exactly len bytes (or 1) */
    size_t          len;
} fuzz_part_t;


typedef struct {
    fuzz_part_t     part[FUZZ_MAX_PARTS];
    size_t          n;
} fuzz_split_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* a copy of n bytes, no terminating NUL; malloc(0) is avoided */

static inline unsigned char *
fuzz_dup(const uint8_t *p, size_t n)
{
    unsigned char  *d;

    d = malloc(n ? n : 1);
    FUZZ_ASSERT(d != NULL);

    if (n) {
        memcpy(d, p, n);
    }

    return d;
}


/* a NUL-terminated copy (an embedded NUL ends the string early) */

static inline char *
fuzz_str(const uint8_t *p, size_t n)
{
    char  *s;

    s = malloc(n + 1);
    FUZZ_ASSERT(s != NULL);

    memcpy(s, p, n);
    s[n] = '\0';

    return s;
}


/*
 * Splits [p, p + n) at each "sep" byte into at most "max" parts (the last
 * part takes the rest, separators included); an empty input is no part.
 */

static inline void
fuzz_split(const uint8_t *p, size_t n, uint8_t sep, size_t max,
    fuzz_split_t *s)
{
    size_t  i, start;

    s->n = 0;

    if (max > FUZZ_MAX_PARTS) {
        max = FUZZ_MAX_PARTS;
    }

    if (n == 0 || max == 0) {
        return;
    }

    start = 0;

    for (i = 0; i <= n; i++) {
        if (i < n && (p[i] != sep || s->n + 1 == max)) {
            continue;
        }

        s->part[s->n].data = fuzz_dup(p + start, i - start);
        s->part[s->n].len = i - start;
        s->n++;

        start = i + 1;
    }
}


static inline void
fuzz_split_free(fuzz_split_t *s)
{
    size_t  i;

    for (i = 0; i < s->n; i++) {
        free(s->part[i].data);
    }

    s->n = 0;
}


/* the line up to the first "\n", and the rest after it */

static inline size_t
fuzz_line(const uint8_t *p, size_t n, size_t *rest)
{
    const uint8_t  *nl;

    nl = memchr(p, '\n', n);

    if (nl == NULL) {
        *rest = n;
        return n;
    }

    *rest = (size_t) (nl - p) + 1;

    return (size_t) (nl - p);
}


/* the next line of the input, which then starts after that line */

static inline const uint8_t *
fuzz_next_line(const uint8_t **p, size_t *n, size_t *len)
{
    size_t          rest;
    const uint8_t  *line;

    line = *p;
    *len = fuzz_line(line, *n, &rest);
    *p += rest;
    *n -= rest;

    return line;
}


/*
 * A status page message: NUL-terminated inside its buffer, printable
 * ASCII only (text from DNS is escaped), and if it was cut, it ends
 * with "...".
 */

static inline void
fuzz_check_message(const char *msg, size_t size)
{
    size_t  i, len;

    len = strnlen(msg, size);
    FUZZ_ASSERT(len < size);

    for (i = 0; i < len; i++) {
        FUZZ_ASSERT(msg[i] >= 0x20 && msg[i] <= 0x7e);
    }
}


/*
 * An error string of the parse functions, to follow "invalid value ... in
 * ... directive, ": not empty, printable, no final period.
 */

static inline void
fuzz_check_error(const char *err)
{
    size_t  len;

    len = strlen(err);

    FUZZ_ASSERT(len > 0);
    fuzz_check_message(err, len + 1);
    FUZZ_ASSERT(err[len - 1] != '.');
}


#endif /* _MTASTS_FUZZ_H_INCLUDED_ */
