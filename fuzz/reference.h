
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A straightforward reference implementation of MX matching, RFC 8461
 * section 4.1 (docs: mta-sts-rules.md section 5.1), written independently
 * of src/parse/ngx_mtasts_parse.c for the differential fuzzers:
 *
 *   - both sides compare in ASCII lower case;
 *   - one trailing dot of the host (the MX name) is dropped;
 *   - a pattern "*." + suffix matches a host that is exactly one non-empty
 *     label (without dots), a dot, and the suffix;
 *   - any other pattern matches a host equal to it.
 */


#ifndef _MTASTS_FUZZ_REFERENCE_H_INCLUDED_
#define _MTASTS_FUZZ_REFERENCE_H_INCLUDED_


#include <ctype.h>
#include <stdlib.h>
#include <string.h>


static inline unsigned char *
reference_lower(const unsigned char *p, size_t n)
{
    size_t          i;
    unsigned char  *d;

    d = malloc(n + 1);

    if (d == NULL) {
        abort();
    }

    for (i = 0; i < n; i++) {
        /* tolower() in the "C" locale: ASCII letters only */
        d[i] = (p[i] < 0x80) ? (unsigned char) tolower(p[i]) : p[i];
    }

    d[n] = '\0';

    return d;
}


static inline int
reference_mx_match(const unsigned char *pattern, size_t plen,
    const unsigned char *host, size_t hlen)
{
    int             match;
    size_t          slen, llen;
    unsigned char  *p, *h;
    const unsigned char  *suffix;

    p = reference_lower(pattern, plen);
    h = reference_lower(host, hlen);

    if (hlen > 0 && h[hlen - 1] == '.') {
        hlen--;
    }

    if (plen >= 2 && p[0] == '*' && p[1] == '.') {
        suffix = p + 2;
        slen = plen - 2;

        /* host = label "." suffix */

        match = 0;

        if (hlen >= slen + 2
            && memcmp(h + hlen - slen, suffix, slen) == 0
            && h[hlen - slen - 1] == '.')
        {
            llen = hlen - slen - 1;
            match = (llen > 0 && memchr(h, '.', llen) == NULL);
        }

    } else {
        match = (plen == hlen && memcmp(p, h, plen) == 0);
    }

    free(p);
    free(h);

    return match;
}


#endif /* _MTASTS_FUZZ_REFERENCE_H_INCLUDED_ */
