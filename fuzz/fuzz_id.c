
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * mtasts_check_id() on the whole input, against RFC 8461 section 3.1:
 * an id is 1*32(ALPHA / DIGIT), nothing else.
 */


#include "fuzz.h"
#include "ngx_mtasts_parse.h"


static int
reference_id(const unsigned char *p, size_t n)
{
    size_t  i;

    if (n < 1 || n > 32) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9')))
        {
            return 0;
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char     *err;
    unsigned char  *in;

    in = fuzz_dup(data, size);

    err = mtasts_check_id(in, size);

    if (err) {
        fuzz_check_error(err);
    }

    if ((err == NULL) != reference_id(in, size)) {
        fprintf(stderr, "mtasts_check_id() says %s, RFC 8461 says %s\n",
                err ? err : "valid", err ? "valid" : "invalid");
        abort();
    }

    free(in);

    return 0;
}
