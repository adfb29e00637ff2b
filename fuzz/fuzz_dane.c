
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A resolver's answer to a DNSSEC query, as the DANE check reads it:
 * mtasts_dnssec_read(), then every TLSA record with mtasts_tlsa_get(),
 * mtasts_tlsa_unusable() and mtasts_tlsa_text().  The input is the
 * answer's wire bytes.
 *
 * Checks: a record's fields are bytes; a record called usable has usage
 * 2 or 3, selector 0 or 1, and data of the length its matching type
 * says; its text is "U S M " and two lower-case hex digits per byte, of
 * the length returned, which a buffer one byte short cuts without
 * overflow.
 */


#include <ctype.h>

#include "fuzz.h"
#include "ngx_mtasts_dane.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             ad;
    char           *text;
    size_t          i, j, need;
    unsigned        rcode;
    ldns_pkt       *pkt;
    unsigned char  *copy;
    mtasts_tlsa_t   t;

    copy = fuzz_dup(data, size);

    if (mtasts_dnssec_read(copy, size, &pkt, &rcode, &ad) != 0) {
        FUZZ_ASSERT(pkt == NULL);
        free(copy);
        return 0;
    }

    FUZZ_ASSERT(rcode <= 15 && (ad == 0 || ad == 1));

    for (i = 0; mtasts_tlsa_get(pkt, i, &t) == 0; i++) {
        FUZZ_ASSERT(t.usage <= 255 && t.selector <= 255 && t.mtype <= 255);

        if (mtasts_tlsa_unusable(&t) == NULL) {
            FUZZ_ASSERT(t.usage == 2 || t.usage == 3);
            FUZZ_ASSERT(t.selector <= 1);
            FUZZ_ASSERT((t.mtype == 0 && t.len > 0)
                        || (t.mtype == 1 && t.len == 32)
                        || (t.mtype == 2 && t.len == 64));
        }

        need = mtasts_tlsa_text(&t, NULL, 0);
        text = malloc(need);
        FUZZ_ASSERT(text != NULL);
        FUZZ_ASSERT(mtasts_tlsa_text(&t, text, need) == need);
        FUZZ_ASSERT(strlen(text) == need - 1);

        for (j = need - 1 - 2 * t.len; j < need - 1; j++) {
            FUZZ_ASSERT(isxdigit((unsigned char) text[j])
                        && !isupper((unsigned char) text[j]));
        }

        FUZZ_ASSERT(mtasts_tlsa_text(&t, text, need - 1) == need);
        FUZZ_ASSERT(strlen(text) < need - 1);
        free(text);
    }

    ldns_pkt_free(pkt);
    free(copy);

    return 0;
}
