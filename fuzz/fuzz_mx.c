
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * mtasts_check_mx().  Input lines ("\n"-separated):
 *
 *     the mode: "none", "testing", "enforce", or a number (any int: out
 *         of range values must be taken as enforce)
 *     the policy domain
 *     the policy's mx patterns, separated by spaces, as given (the
 *         configuration normalizes them; raw bytes must be safe too)
 *     the MX names, one per line; "" and "." are a null MX; no line at
 *         all is a domain without MX records (its implicit MX is itself)
 *
 * Checks: the message is printable ASCII inside its buffer, and the
 * counts of matched, unmatched and unused come out as recomputed here
 * with mtasts_name_normalize() and the RFC 8461 matcher of reference.h;
 * the state follows the mode.
 */


#include "fuzz.h"
#include "reference.h"
#include "ngx_mtasts_record.h"


/*
 * At most 16 patterns and 16 MX names (the last one takes the rest of the
 * input): the check normalizes every name once per pattern, and IDN
 * conversions are slow; more would only slow the fuzzer down.
 */
#define MX_MAX  16


typedef struct {
    int            rc;       /* 0: null MX, 1: a name, -1: invalid */
    mtasts_name_t  name;
} host_t;


static int
parse_mode(const uint8_t *p, size_t n)
{
    char  *s;
    long   v;

    if (n == 4 && memcmp(p, "none", 4) == 0) {
        return MTASTS_MODE_NONE;
    }

    if (n == 7 && memcmp(p, "testing", 7) == 0) {
        return MTASTS_MODE_TESTING;
    }

    if (n == 7 && memcmp(p, "enforce", 7) == 0) {
        return MTASTS_MODE_ENFORCE;
    }

    s = fuzz_str(p, n);
    v = strtol(s, NULL, 10);
    free(s);

    return (int) v;
}


static void
classify(const unsigned char *p, size_t n, host_t *h)
{
    if (n == 0 || (n == 1 && p[0] == '.')) {
        h->rc = 0;
        return;
    }

    h->rc = (mtasts_name_normalize(p, n, 0, &h->name) == NULL) ? 1 : -1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   mode, implicit, eff;
    char                 *domain;
    size_t                i, j, len, nh, nnull;
    const uint8_t        *line;
    unsigned              matched, unmatched, unused;
    host_t               *hosts;
    fuzz_split_t          pat, mx;
    mtasts_mx_t           rr[FUZZ_MAX_PARTS];
    mtasts_mx_check_t     c;
    const unsigned char  *pdata[FUZZ_MAX_PARTS];
    size_t                plen[FUZZ_MAX_PARTS];

    line = fuzz_next_line(&data, &size, &len);
    mode = parse_mode(line, len);

    line = fuzz_next_line(&data, &size, &len);
    domain = fuzz_str(line, len);

    line = fuzz_next_line(&data, &size, &len);
    fuzz_split(line, len, ' ', MX_MAX, &pat);

    for (i = 0; i < pat.n; i++) {
        pdata[i] = pat.part[i].data;
        plen[i] = pat.part[i].len;
    }

    fuzz_split(data, size, '\n', MX_MAX, &mx);

    for (i = 0; i < mx.n; i++) {
        rr[i].name = mx.part[i].data;
        rr[i].len = mx.part[i].len;
        rr[i].pref = (unsigned) i * 10;
    }

    memset(&c, 0xa5, sizeof(c));

    mtasts_check_mx(rr, mx.n, mx.n == 0, pdata, plen, pat.n, mode, domain,
                    &c);

    fuzz_check_message(c.message, sizeof(c.message));
    FUZZ_ASSERT(c.state == MTASTS_OK || c.state == MTASTS_WARNING
                || c.state == MTASTS_ERROR);

    /* recompute the counts */

    implicit = (mx.n == 0);
    nh = implicit ? 1 : mx.n;

    hosts = calloc(nh, sizeof(host_t));
    FUZZ_ASSERT(hosts != NULL);

    if (implicit) {
        classify((const unsigned char *) domain, strlen(domain), &hosts[0]);

    } else {
        for (i = 0; i < nh; i++) {
            classify(rr[i].name, rr[i].len, &hosts[i]);
        }
    }

    nnull = 0;
    matched = 0;
    unmatched = 0;
    unused = 0;

    for (i = 0; i < nh; i++) {
        if (hosts[i].rc == 0) {
            nnull++;
        }
    }

    eff = (mode < MTASTS_MODE_NONE || mode > MTASTS_MODE_ENFORCE)
          ? MTASTS_MODE_ENFORCE : mode;

    if (!implicit && nnull == nh) {
        FUZZ_ASSERT(c.nmatched == 0 && c.nunmatched == 0
                    && c.nunused == 0);
        FUZZ_ASSERT(c.state == (eff == MTASTS_MODE_NONE ? MTASTS_OK
                                                        : MTASTS_ERROR));
        goto done;
    }

    for (i = 0; i < nh; i++) {
        if (hosts[i].rc == 0) {
            continue;
        }

        if (hosts[i].rc == 1) {
            for (j = 0; j < i; j++) {
                if (hosts[j].rc == 1
                    && hosts[j].name.len == hosts[i].name.len
                    && memcmp(hosts[j].name.data, hosts[i].name.data,
                              hosts[i].name.len) == 0)
                {
                    break;
                }
            }

            if (j < i) {
                continue;   /* the same host again */
            }

            for (j = 0; j < pat.n; j++) {
                if (reference_mx_match(pdata[j], plen[j],
                                       hosts[i].name.data,
                                       hosts[i].name.len))
                {
                    break;
                }
            }

            if (j < pat.n) {
                matched++;
                continue;
            }
        }

        unmatched++;
    }

    for (j = 0; j < pat.n; j++) {
        for (i = 0; i < nh; i++) {
            if (hosts[i].rc == 1
                && reference_mx_match(pdata[j], plen[j], hosts[i].name.data,
                                      hosts[i].name.len))
            {
                break;
            }
        }

        if (i == nh) {
            unused++;
        }
    }

    FUZZ_ASSERT(c.nmatched == matched);
    FUZZ_ASSERT(c.nunmatched == unmatched);
    FUZZ_ASSERT(c.nunused == unused);

    switch (eff) {

    case MTASTS_MODE_NONE:
        FUZZ_ASSERT(c.state != MTASTS_ERROR);
        break;

    case MTASTS_MODE_TESTING:
        FUZZ_ASSERT(c.state != MTASTS_ERROR);
        break;

    default:
        if (unmatched) {
            FUZZ_ASSERT(c.state == MTASTS_ERROR);
        }
    }

    if (unmatched == 0 && unused == 0 && nnull == 0) {
        FUZZ_ASSERT(c.state == MTASTS_OK);
    }

done:

    free(hosts);
    fuzz_split_free(&pat);
    fuzz_split_free(&mx);
    free(domain);

    return 0;
}
