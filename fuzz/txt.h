
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Helpers shared by the targets of the TXT record checkers, sts and
 * tlsrpt: which records count, and the checks every result must pass.
 */


#ifndef _MTASTS_FUZZ_TXT_H_INCLUDED_
#define _MTASTS_FUZZ_TXT_H_INCLUDED_


#include "fuzz.h"
#include "ngx_mtasts_record.h"


/* the record counts: it begins with the version, *WSP and ";" */

static inline int
fuzz_txt_is_record(const unsigned char *p, size_t n, const char *version)
{
    size_t  i, vlen;

    vlen = strlen(version);

    if (n < vlen || memcmp(p, version, vlen) != 0) {
        return 0;
    }

    for (i = vlen; i < n && (p[i] == ' ' || p[i] == '\t'); i++) {
        /* void */
    }

    return i < n && p[i] == ';';
}


/*
 * The result of a check of n TXT records, nrec of which count: a message
 * of printable ASCII inside its buffer, a state, counts that add up.
 */

static inline void
fuzz_txt_check(const mtasts_check_t *c, size_t n, size_t nrec)
{
    fuzz_check_message(c->message, sizeof(c->message));
    FUZZ_ASSERT(c->message[0] != '\0');
    FUZZ_ASSERT(c->state == MTASTS_OK || c->state == MTASTS_WARNING
                || c->state == MTASTS_ERROR);

    FUZZ_ASSERT(c->nrecords + c->nother == n);
    FUZZ_ASSERT(c->nrecords == nrec);
}


#endif /* _MTASTS_FUZZ_TXT_H_INCLUDED_ */
