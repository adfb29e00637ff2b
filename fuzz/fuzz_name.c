
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * mtasts_name_normalize(), without and with MTASTS_NAME_WILDCARD, on the
 * whole input.  Besides memory errors it checks what callers rely on:
 * a valid result is a NUL-terminated lower-case A-label name of at most
 * 253 characters with proper labels, normalizing it again gives the same
 * name, and the flag changes nothing but the acceptance of "*.".  A name
 * with a NUL byte is refused (nothing may be cut off), and a valid ASCII
 * name is the input in lower case, less one trailing dot.
 */


#include "fuzz.h"
#include "ngx_mtasts_parse.h"


static void
check_name(const mtasts_name_t *name, unsigned flags)
{
    size_t                i, start, label;
    unsigned              digits;
    unsigned char         c;
    const unsigned char  *p;
    const char           *err;
    mtasts_name_t         again;

    FUZZ_ASSERT(name->len > 0 && name->len <= MTASTS_NAME_MAX);
    FUZZ_ASSERT(name->data[name->len] == '\0');
    FUZZ_ASSERT(strlen((const char *) name->data) == name->len);

    p = name->data;

    if (name->wildcard) {
        FUZZ_ASSERT(flags & MTASTS_NAME_WILDCARD);
        FUZZ_ASSERT(name->len > 2 && p[0] == '*' && p[1] == '.');
        p += 2;
    }

    /* LDH labels of 1 to 63 characters, the last one not all digits */

    start = 0;
    digits = 1;

    for (i = 0; i <= (size_t) (name->data + name->len - p); i++) {
        c = (p + i < name->data + name->len) ? p[i] : '.';

        if (c == '.') {
            label = i - start;
            FUZZ_ASSERT(label >= 1 && label <= MTASTS_LABEL_MAX);
            FUZZ_ASSERT(p[start] != '-' && p[i - 1] != '-');
            start = i + 1;

            if (p + i < name->data + name->len) {
                digits = 1;
            }

            continue;
        }

        FUZZ_ASSERT((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-');

        if (!(c >= '0' && c <= '9')) {
            digits = 0;
        }
    }

    FUZZ_ASSERT(!digits);

    /* idempotent: the normalized name normalizes to itself */

    err = mtasts_name_normalize(name->data, name->len, flags, &again);
    FUZZ_ASSERT(err == NULL);
    FUZZ_ASSERT(again.len == name->len);
    FUZZ_ASSERT(memcmp(again.data, name->data, name->len) == 0);
    FUZZ_ASSERT(again.wildcard == name->wildcard);
    FUZZ_ASSERT(!(again.warnings & MTASTS_WARN_IDN));
    FUZZ_ASSERT((again.warnings | MTASTS_WARN_IDN)
                == (name->warnings | MTASTS_WARN_IDN));

    /* a name matches itself as an mx pattern, with a trailing dot too */

    if (!name->wildcard) {
        FUZZ_ASSERT(mtasts_mx_match(name->data, name->len,
                                    name->data, name->len));
    }
}


/* an ASCII input: the output is the input, lower case, less one dot */

static void
check_ascii(const unsigned char *in, size_t n, const mtasts_name_t *name)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (in[i] >= 0x80) {
            return;
        }
    }

    if (n > 0 && in[n - 1] == '.') {
        n--;
    }

    FUZZ_ASSERT(name->len == n);

    for (i = 0; i < n; i++) {
        FUZZ_ASSERT(name->data[i] == ((in[i] >= 'A' && in[i] <= 'Z')
                                      ? (in[i] | 0x20) : in[i]));
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char     *plain_err, *wild_err;
    unsigned char  *in;
    mtasts_name_t   plain, wild;

    in = fuzz_dup(data, size);

    plain_err = mtasts_name_normalize(in, size, 0, &plain);
    wild_err = mtasts_name_normalize(in, size, MTASTS_NAME_WILDCARD, &wild);

    if (plain_err) {
        fuzz_check_error(plain_err);
        FUZZ_ASSERT(plain.len == 0);

    } else {
        check_name(&plain, 0);
        check_ascii(in, size, &plain);
        FUZZ_ASSERT(!plain.wildcard);
        FUZZ_ASSERT(memchr(in, '\0', size) == NULL);
    }

    if (wild_err) {
        fuzz_check_error(wild_err);
        FUZZ_ASSERT(wild.len == 0);

    } else {
        check_name(&wild, MTASTS_NAME_WILDCARD);
        check_ascii(in, size, &wild);
        FUZZ_ASSERT(memchr(in, '\0', size) == NULL);
    }

    /* the flag only adds names that begin with "*." */

    if (plain_err == NULL) {
        FUZZ_ASSERT(wild_err == NULL && !wild.wildcard);
        FUZZ_ASSERT(wild.len == plain.len
                    && memcmp(wild.data, plain.data, plain.len) == 0);
        FUZZ_ASSERT(wild.warnings == plain.warnings);

    } else if (wild_err == NULL) {
        FUZZ_ASSERT(wild.wildcard);
    }

    free(in);

    return 0;
}
