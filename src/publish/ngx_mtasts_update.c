
/*
 * Copyright (C) ngx_http_mtasts_module authors
 */


#include <string.h>
#include <strings.h>
#include <time.h>

#include "ngx_mtasts_update.h"


#define MTASTS_TSIG_FUDGE  300


static ldns_rr *mtasts_msg_txt_rr(ldns_rdf *owner, const char *value,
    uint32_t ttl);
static size_t mtasts_msg_value(ldns_rr *rr, char *buf, size_t size);
static int mtasts_msg_name(const ldns_rdf *rdf, char *buf, size_t size);


static const char  *mtasts_rcodes[] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
    "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
    "RCODE12", "RCODE13", "RCODE14", "RCODE15", "BADSIG", "BADKEY",
    "BADTIME", "BADMODE", "BADNAME", "BADALG", "BADTRUNC", "BADCOOKIE"
};


int
mtasts_msg_query(const char *name, ldns_rr_type type, int rd,
    uint8_t **wire, size_t *len, uint16_t *id)
{
    ldns_pkt     *p;
    ldns_rdf     *dn;
    ldns_status   st;

    dn = ldns_dname_new_frm_str(name);
    if (dn == NULL) {
        return -1;
    }

    p = ldns_pkt_query_new(dn, type, LDNS_RR_CLASS_IN, rd ? LDNS_RD : 0);
    if (p == NULL) {
        ldns_rdf_deep_free(dn);
        return -1;
    }

    ldns_pkt_set_random_id(p);
    *id = ldns_pkt_id(p);

    st = ldns_pkt2wire(wire, p, len);

    ldns_pkt_free(p);

    return st == LDNS_STATUS_OK ? 0 : -1;
}


const char *
mtasts_msg_read(const uint8_t *wire, size_t len, uint16_t id,
    ldns_pkt **pkt, mtasts_answer_t *answer)
{
    time_t         now;
    ldns_rr       *tsig;
    ldns_rdf      *rdf;
    uint64_t       t;
    unsigned       i;
    const uint8_t *d;

    *pkt = NULL;

    if (ldns_wire2pkt(pkt, wire, len) != LDNS_STATUS_OK) {
        *pkt = NULL;
        return "the answer is not a DNS message";
    }

    if (ldns_pkt_id(*pkt) != id || !ldns_pkt_qr(*pkt)) {
        ldns_pkt_free(*pkt);
        *pkt = NULL;
        return "the answer is not to our message";
    }

    answer->truncated = ldns_pkt_tc(*pkt);
    answer->rcode = ldns_pkt_get_rcode(*pkt);
    answer->skew = 0;

    tsig = ldns_pkt_tsig(*pkt);

    if (tsig && ldns_rr_rd_count(tsig) >= 7) {
        rdf = ldns_rr_rdf(tsig, 5);

        if (ldns_rdf_size(rdf) == 2 && ldns_rdf2native_int16(rdf) != 0) {
            answer->rcode = ldns_rdf2native_int16(rdf);
        }

        rdf = ldns_rr_rdf(tsig, 6);

        if (answer->rcode == 18 && ldns_rdf_size(rdf) >= 8) {
            d = ldns_rdf_data(rdf);

            if (d[0] == 0 && d[1] == 6) {
                t = 0;

                for (i = 2; i < 8; i++) {
                    t = (t << 8) | d[i];
                }

                now = time(NULL);
                answer->skew = (long) ((int64_t) t - (int64_t) now);
            }
        }
    }

    if (answer->rcode < sizeof(mtasts_rcodes) / sizeof(mtasts_rcodes[0])) {
        answer->name = mtasts_rcodes[answer->rcode];

    } else {
        answer->name = "RCODE";
    }

    return NULL;
}


/* 0, -1 out of memory, -2 the name is a CNAME */

int
mtasts_msg_txt(ldns_pkt *pkt, mtasts_rrname_t *n)
{
    char          buf[4096];
    size_t        i, len, plen, vlen;
    ldns_rr      *rr, *c;
    ldns_rdf     *owner;
    ldns_rr_list *answer;
    unsigned      ours, match;

    owner = ldns_dname_new_frm_str(n->owner);
    if (owner == NULL) {
        return -1;
    }

    if (n->seen) {
        ldns_rr_list_deep_free(n->seen);
    }

    n->seen = ldns_rr_list_new();
    if (n->seen == NULL) {
        ldns_rdf_deep_free(owner);
        return -1;
    }

    answer = ldns_pkt_answer(pkt);
    ours = 0;
    match = 0;
    plen = strlen(n->prefix);
    vlen = strlen(n->value);

    for (i = 0; i < ldns_rr_list_rr_count(answer); i++) {
        rr = ldns_rr_list_rr(answer, i);

        if (ldns_dname_compare(ldns_rr_owner(rr), owner) != 0) {
            continue;
        }

        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME) {
            ldns_rdf_deep_free(owner);
            return -2;
        }

        if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT) {
            continue;
        }

        c = ldns_rr_clone(rr);
        if (c == NULL || !ldns_rr_list_push_rr(n->seen, c)) {
            ldns_rr_free(c);
            ldns_rdf_deep_free(owner);
            return -1;
        }

        len = mtasts_msg_value(rr, buf, sizeof(buf));

        if (len >= plen && strncmp(buf, n->prefix, plen) == 0) {
            ours++;
            match += (len == vlen && memcmp(buf, n->value, len) == 0);
        }
    }

    ldns_rdf_deep_free(owner);

    n->current = (ours == 1 && match == 1);

    return 0;
}


int
mtasts_msg_zone(ldns_pkt *pkt, char *zone, size_t size, char *mname,
    size_t msize)
{
    size_t         i, j;
    ldns_rr       *rr;
    ldns_rr_list  *lists[2];

    lists[0] = ldns_pkt_answer(pkt);
    lists[1] = ldns_pkt_authority(pkt);

    for (j = 0; j < 2; j++) {
        for (i = 0; i < ldns_rr_list_rr_count(lists[j]); i++) {
            rr = ldns_rr_list_rr(lists[j], i);

            if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA) {
                continue;
            }

            if (zone != NULL
                && mtasts_msg_name(ldns_rr_owner(rr), zone, size) != 0)
            {
                return -1;
            }

            if (mname == NULL) {
                return 0;
            }

            if (ldns_rr_rd_count(rr) < 1
                || ldns_rdf_get_type(ldns_rr_rdf(rr, 0))
                   != LDNS_RDF_TYPE_DNAME
                || mtasts_msg_name(ldns_rr_rdf(rr, 0), mname, msize) != 0)
            {
                return -1;
            }

            return 0;
        }
    }

    return -1;
}


int
mtasts_msg_address(ldns_pkt *pkt, struct sockaddr_storage *sa,
    size_t *socklen)
{
    size_t                    i, len;
    ldns_rr                  *rr;
    ldns_rr_type              type;
    ldns_rr_list             *answer;
    struct sockaddr_storage  *ss;

    answer = ldns_pkt_answer(pkt);

    for (type = LDNS_RR_TYPE_A; ; type = LDNS_RR_TYPE_AAAA) {

        for (i = 0; i < ldns_rr_list_rr_count(answer); i++) {
            rr = ldns_rr_list_rr(answer, i);

            if (ldns_rr_get_type(rr) != type || ldns_rr_rd_count(rr) < 1) {
                continue;
            }

            ss = ldns_rdf2native_sockaddr_storage(ldns_rr_rdf(rr, 0), 53,
                                                  &len);
            if (ss == NULL) {
                continue;
            }

            memcpy(sa, ss, len);
            *socklen = len;
            free(ss);

            return 0;
        }

        if (type == LDNS_RR_TYPE_AAAA) {
            return -1;
        }
    }
}


int
mtasts_msg_update(const char *zone, mtasts_rrname_t *names, size_t n,
    uint32_t ttl, const mtasts_tsig_key_t *key, uint8_t **wire,
    size_t *len, uint16_t *id, ldns_rdf **mac)
{
    char          buf[4096];
    size_t        i, j, plen;
    ldns_pkt     *p;
    ldns_rr      *rr;
    ldns_rdf     *zrdf, *owner;
    ldns_status   st;
    ldns_rr_list *pr, *up;

    p = NULL;
    *mac = NULL;
    *wire = NULL;

    pr = ldns_rr_list_new();
    up = ldns_rr_list_new();

    if (pr == NULL || up == NULL) {
        goto failed;
    }

    for (i = 0; i < n; i++) {
        if (names[i].current) {
            continue;
        }

        owner = ldns_dname_new_frm_str(names[i].owner);
        if (owner == NULL) {
            goto failed;
        }

        /* the prerequisite: the RRset as seen, or none (RFC 2136 2.4) */

        if (names[i].seen == NULL
            || ldns_rr_list_rr_count(names[i].seen) == 0)
        {
            rr = ldns_rr_new();
            if (rr == NULL) {
                ldns_rdf_deep_free(owner);
                goto failed;
            }

            ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
            ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
            ldns_rr_set_class(rr, LDNS_RR_CLASS_NONE);
            ldns_rr_set_ttl(rr, 0);

            if (!ldns_rr_list_push_rr(pr, rr)) {
                ldns_rr_free(rr);
                ldns_rdf_deep_free(owner);
                goto failed;
            }

        } else {
            plen = strlen(names[i].prefix);

            for (j = 0; j < ldns_rr_list_rr_count(names[i].seen); j++) {
                rr = ldns_rr_clone(ldns_rr_list_rr(names[i].seen, j));
                if (rr == NULL) {
                    ldns_rdf_deep_free(owner);
                    goto failed;
                }

                ldns_rr_set_ttl(rr, 0);

                if (!ldns_rr_list_push_rr(pr, rr)) {
                    ldns_rr_free(rr);
                    ldns_rdf_deep_free(owner);
                    goto failed;
                }

                /* ours is deleted (class NONE), the others stay */

                if (mtasts_msg_value(rr, buf, sizeof(buf)) < plen
                    || strncmp(buf, names[i].prefix, plen) != 0)
                {
                    continue;
                }

                rr = ldns_rr_clone(rr);
                if (rr == NULL) {
                    ldns_rdf_deep_free(owner);
                    goto failed;
                }

                ldns_rr_set_class(rr, LDNS_RR_CLASS_NONE);

                if (!ldns_rr_list_push_rr(up, rr)) {
                    ldns_rr_free(rr);
                    ldns_rdf_deep_free(owner);
                    goto failed;
                }
            }
        }

        rr = mtasts_msg_txt_rr(owner, names[i].value, ttl);

        ldns_rdf_deep_free(owner);

        if (rr == NULL || !ldns_rr_list_push_rr(up, rr)) {
            ldns_rr_free(rr);
            goto failed;
        }
    }

    zrdf = ldns_dname_new_frm_str(zone);
    if (zrdf == NULL) {
        goto failed;
    }

    p = ldns_update_pkt_new(zrdf, LDNS_RR_CLASS_IN, pr, up, NULL);
    if (p == NULL) {
        ldns_rdf_deep_free(zrdf);
        goto failed;
    }

    ldns_pkt_set_rd(p, 0);
    ldns_pkt_set_random_id(p);
    *id = ldns_pkt_id(p);

    st = ldns_pkt_tsig_sign(p, key->name, key->secret, MTASTS_TSIG_FUDGE,
                            key->algorithm, NULL);
    if (st != LDNS_STATUS_OK || ldns_pkt_tsig(p) == NULL) {
        goto failed;
    }

    *mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
    if (*mac == NULL) {
        goto failed;
    }

    if (ldns_pkt2wire(wire, p, len) != LDNS_STATUS_OK) {
        goto failed;
    }

    ldns_pkt_free(p);
    ldns_rr_list_deep_free(pr);
    ldns_rr_list_deep_free(up);

    return 0;

failed:

    if (*mac) {
        ldns_rdf_deep_free(*mac);
        *mac = NULL;
    }

    if (*wire) {
        free(*wire);
        *wire = NULL;
    }

    if (p) {
        ldns_pkt_free(p);
    }

    if (pr) {
        ldns_rr_list_deep_free(pr);
    }

    if (up) {
        ldns_rr_list_deep_free(up);
    }

    return -1;
}


const char *
mtasts_msg_verify(ldns_pkt *pkt, const uint8_t *wire, size_t len,
    const mtasts_tsig_key_t *key, const ldns_rdf *mac)
{
    int        rc;
    ldns_rr   *tsig;
    ldns_rdf  *name, *alg;

    tsig = ldns_pkt_tsig(pkt);

    if (tsig == NULL || ldns_rr_rd_count(tsig) < 7) {
        return "the answer is not signed with the key";
    }

    /*
     * the key's name and algorithm, or ldns is not asked: it leaks what it
     * allocated when it meets an algorithm it does not know
     */

    name = ldns_dname_new_frm_str(key->name);
    alg = ldns_dname_new_frm_str(key->algorithm);

    rc = name && alg
         && ldns_dname_compare(ldns_rr_owner(tsig), name) == 0
         && ldns_rdf_get_type(ldns_rr_rdf(tsig, 0)) == LDNS_RDF_TYPE_DNAME
         && ldns_dname_compare(ldns_rr_rdf(tsig, 0), alg) == 0;

    ldns_rdf_deep_free(name);
    ldns_rdf_deep_free(alg);

    if (!rc) {
        return "the answer is not signed with the key";
    }

    if (!ldns_pkt_tsig_verify(pkt, wire, len, key->name, key->secret, mac)) {
        return "the answer's signature does not verify with the key";
    }

    return NULL;
}


void
mtasts_rrname_free(mtasts_rrname_t *n)
{
    if (n->seen) {
        ldns_rr_list_deep_free(n->seen);
        n->seen = NULL;
    }
}


/* a TXT record of "value", in strings of at most 255 bytes */

static ldns_rr *
mtasts_msg_txt_rr(ldns_rdf *owner, const char *value, uint32_t ttl)
{
    size_t     len, n;
    uint8_t    s[MTASTS_TXT_STRING_MAX + 1];
    ldns_rr   *rr;
    ldns_rdf  *rdf;

    rr = ldns_rr_new();
    if (rr == NULL) {
        return NULL;
    }

    ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
    ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT);
    ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
    ldns_rr_set_ttl(rr, ttl);

    len = strlen(value);

    do {
        n = len > MTASTS_TXT_STRING_MAX ? MTASTS_TXT_STRING_MAX : len;

        s[0] = (uint8_t) n;
        memcpy(s + 1, value, n);

        rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, n + 1, s);
        if (rdf == NULL || !ldns_rr_push_rdf(rr, rdf)) {
            ldns_rdf_deep_free(rdf);
            ldns_rr_free(rr);
            return NULL;
        }

        value += n;
        len -= n;

    } while (len);

    return rr;
}


/* the strings of a TXT record, concatenated, NUL-terminated, cut at size */

static size_t
mtasts_msg_value(ldns_rr *rr, char *buf, size_t size)
{
    size_t         i, len, n;
    ldns_rdf      *rdf;
    const uint8_t *d;

    len = 0;

    for (i = 0; i < ldns_rr_rd_count(rr); i++) {
        rdf = ldns_rr_rdf(rr, i);

        if (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_STR
            || ldns_rdf_size(rdf) == 0)
        {
            continue;
        }

        d = ldns_rdf_data(rdf);
        n = d[0];

        if (n > ldns_rdf_size(rdf) - 1) {
            n = ldns_rdf_size(rdf) - 1;
        }

        if (len + n >= size) {
            n = size - 1 - len;
        }

        memcpy(buf + len, d + 1, n);
        len += n;
    }

    buf[len] = '\0';

    return len;
}


/* a name as text, with its final dot; -1 when it does not fit */

static int
mtasts_msg_name(const ldns_rdf *rdf, char *buf, size_t size)
{
    char    *s;
    size_t   len;

    if (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME) {
        return -1;
    }

    s = ldns_rdf2str(rdf);
    if (s == NULL) {
        return -1;
    }

    len = strlen(s);

    if (len >= size || len == 0) {
        free(s);
        return -1;
    }

    memcpy(buf, s, len + 1);
    free(s);

    return 0;
}
