
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Differential fuzzer of mtasts_mx_match() against reference.h, the rules
 * of RFC 8461 section 4.1.  Input: the pattern, "\n", the host (the host
 * may contain further "\n" bytes; without "\n" the host is empty).
 * Aborts on any disagreement.  The same pair is also checked after
 * mtasts_name_normalize() of both sides, as the DNS self-check and the
 * configuration use it: normalized names must match the same way.
 */


#include "fuzz.h"
#include "reference.h"
#include "ngx_mtasts_parse.h"


static void
compare(const unsigned char *p, size_t plen, const unsigned char *h,
    size_t hlen, const char *what)
{
    int  got, want;

    got = mtasts_mx_match(p, plen, h, hlen);
    want = reference_mx_match(p, plen, h, hlen);

    if ((got != 0) != (want != 0)) {
        fprintf(stderr, "%s: mtasts_mx_match(\"%.*s\", \"%.*s\") = %d, "
                "RFC 8461 section 4.1 says %d\n", what, (int) plen, p,
                (int) hlen, h, got, want);
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          plen, rest;
    unsigned char  *pattern, *host;
    mtasts_name_t   np, nh;

    plen = fuzz_line(data, size, &rest);

    pattern = fuzz_dup(data, plen);
    host = fuzz_dup(data + rest, size - rest);

    compare(pattern, plen, host, size - rest, "raw");

    /* the results are 0 or 1 */

    FUZZ_ASSERT((unsigned) mtasts_mx_match(pattern, plen, host, size - rest)
                <= 1);

    if (mtasts_name_normalize(pattern, plen, MTASTS_NAME_WILDCARD, &np)
        == NULL
        && mtasts_name_normalize(host, size - rest, 0, &nh) == NULL)
    {
        compare(np.data, np.len, nh.data, nh.len, "normalized");
    }

    free(pattern);
    free(host);

    return 0;
}
