
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A TSIG key file as mta_sts_publish reads it: mtasts_tsig_parse().  The
 * input is the file.
 *
 * Checks: a key that passes has a name of LDH-and-underscore labels ending
 * in one dot, lower case; the algorithm "hmac-sha256." or "hmac-sha512.";
 * a secret of base64 characters, a multiple of 4 long, of at least 128
 * bits; a refusal's reason never holds a byte of the input past its
 * static text (the secret cannot leak into a message).
 */


#include <ctype.h>

#include "fuzz.h"
#include "ngx_mtasts_tsig.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t              i, len;
    unsigned            line;
    const char         *err;
    unsigned char      *copy;
    mtasts_tsig_key_t   key;

    copy = fuzz_dup(data, size);

    err = mtasts_tsig_parse(copy, size, &key, &line);

    if (err) {
        /* a static string: outside the input */
        FUZZ_ASSERT(err < (const char *) copy
                    || err >= (const char *) copy + size);
        free(copy);
        return 0;
    }

    len = strlen(key.name);
    FUZZ_ASSERT(len >= 2 && key.name[len - 1] == '.');

    for (i = 0; i < len; i++) {
        FUZZ_ASSERT(islower((unsigned char) key.name[i])
                    || isdigit((unsigned char) key.name[i])
                    || strchr("-_.", key.name[i]));
        FUZZ_ASSERT(!(key.name[i] == '.' && i + 1 < len
                      && key.name[i + 1] == '.'));
    }

    FUZZ_ASSERT(strcmp(key.algorithm, "hmac-sha256.") == 0
                || strcmp(key.algorithm, "hmac-sha512.") == 0);

    len = strlen(key.secret);
    FUZZ_ASSERT(len > 0 && len % 4 == 0 && key.bits >= 128);

    for (i = 0; i < len; i++) {
        FUZZ_ASSERT(isalnum((unsigned char) key.secret[i])
                    || strchr("+/=", key.secret[i]));
    }

    free(copy);

    return 0;
}
