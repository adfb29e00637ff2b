
/*
 * Copyright (C) ngx_http_mtasts_module authors
 */


#include <stdio.h>
#include <string.h>

#include "ngx_mtasts_dane.h"


/* an EDNS payload that needs no fragments (DNS flag day 2020) */

#define MTASTS_DNSSEC_UDP  1232


int
mtasts_dnssec_query(const char *name, ldns_rr_type type, int cd,
    uint8_t **wire, size_t *len)
{
    ldns_pkt     *p;
    ldns_rdf     *dn;
    ldns_status   st;

    dn = ldns_dname_new_frm_str(name);
    if (dn == NULL) {
        return -1;
    }

    /* AD in a query: the answer's AD bit is wanted (RFC 6840 5.7) */

    p = ldns_pkt_query_new(dn, type, LDNS_RR_CLASS_IN,
                           LDNS_RD | LDNS_AD | (cd ? LDNS_CD : 0));
    if (p == NULL) {
        ldns_rdf_deep_free(dn);
        return -1;
    }

    /*
     * no random id: ares_send() writes one of its own over it, and
     * ldns' (OpenSSL's RAND_bytes()) costs a getpid() per query
     */

    ldns_pkt_set_edns_udp_size(p, MTASTS_DNSSEC_UDP);
    ldns_pkt_set_edns_do(p, 1);

    st = ldns_pkt2wire(wire, p, len);

    ldns_pkt_free(p);

    return st == LDNS_STATUS_OK ? 0 : -1;
}


int
mtasts_dnssec_read(const uint8_t *wire, size_t len, ldns_pkt **pkt,
    unsigned *rcode, int *ad)
{
    if (ldns_wire2pkt(pkt, wire, len) != LDNS_STATUS_OK) {
        *pkt = NULL;
        return -1;
    }

    if (!ldns_pkt_qr(*pkt)) {
        ldns_pkt_free(*pkt);
        *pkt = NULL;
        return -1;
    }

    *rcode = ldns_pkt_get_rcode(*pkt);
    *ad = ldns_pkt_ad(*pkt);

    return 0;
}


int
mtasts_tlsa_get(ldns_pkt *pkt, size_t i, mtasts_tlsa_t *t)
{
    size_t         j, n;
    ldns_rr       *rr;
    ldns_rdf      *f[4];
    ldns_rr_list  *answer;

    answer = ldns_pkt_answer(pkt);
    n = 0;

    for (j = 0; j < ldns_rr_list_rr_count(answer); j++) {
        rr = ldns_rr_list_rr(answer, j);

        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TLSA
            || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN
            || ldns_rr_rd_count(rr) != 4)
        {
            continue;
        }

        if (n++ != i) {
            continue;
        }

        f[0] = ldns_rr_rdf(rr, 0);
        f[1] = ldns_rr_rdf(rr, 1);
        f[2] = ldns_rr_rdf(rr, 2);
        f[3] = ldns_rr_rdf(rr, 3);

        if (ldns_rdf_size(f[0]) != 1 || ldns_rdf_size(f[1]) != 1
            || ldns_rdf_size(f[2]) != 1)
        {
            return -1;
        }

        t->usage = ldns_rdf_data(f[0])[0];
        t->selector = ldns_rdf_data(f[1])[0];
        t->mtype = ldns_rdf_data(f[2])[0];
        t->data = ldns_rdf_data(f[3]);
        t->len = ldns_rdf_size(f[3]);

        return 0;
    }

    return -1;
}


const char *
mtasts_tlsa_unusable(const mtasts_tlsa_t *t)
{
    switch (t->usage) {

    case 0:
        return "usage 0 (PKIX-TA) is not for SMTP: DANE senders ignore it "
               "(RFC 7672 3.1.3)";

    case 1:
        return "usage 1 (PKIX-EE) is not for SMTP: DANE senders ignore it "
               "(RFC 7672 3.1.3)";

    case 2:
    case 3:
        break;

    default:
        return "an unknown usage: senders ignore the record";
    }

    if (t->selector > 1) {
        return "an unknown selector: senders ignore the record";
    }

    switch (t->mtype) {

    case 0:
        return t->len ? NULL : "no data";

    case 1:
        return t->len == 32 ? NULL
                            : "a SHA-256 digest that is not 32 bytes long";

    case 2:
        return t->len == 64 ? NULL
                            : "a SHA-512 digest that is not 64 bytes long";

    default:
        return "an unknown matching type: senders ignore the record";
    }
}


size_t
mtasts_tlsa_text(const mtasts_tlsa_t *t, char *buf, size_t size)
{
    int     n;
    size_t  i, need;

    static const char  hex[] = "0123456789abcdef";

    n = snprintf(buf, size, "%u %u %u ", t->usage, t->selector, t->mtype);
    if (n < 0) {
        n = 0;
    }

    need = (size_t) n + 2 * t->len + 1;

    /* snprintf() has ended what it wrote, cut or not */

    if (need > size) {
        return need;
    }

    for (i = 0; i < t->len; i++) {
        buf[n + 2 * i] = hex[t->data[i] >> 4];
        buf[n + 2 * i + 1] = hex[t->data[i] & 0x0f];
    }

    buf[need - 1] = '\0';

    return need;
}
