
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * DNSSEC and TLSA, with ldns: a query that asks the resolver for DNSSEC
 * (the DO bit, and CD to see what a validating resolver refused), the
 * code and AD bit of its answer, and the TLSA records of an answer
 * (RFC 6698) with what SMTP senders make of each (RFC 7672).  Free of
 * nginx types; every buffer it returns is the caller's, to free().
 */


#ifndef _NGX_MTASTS_DANE_H_INCLUDED_
#define _NGX_MTASTS_DANE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <ldns/ldns.h>


/* the DNSSEC state of an RRset, as a validating resolver tells it */

#define MTASTS_DNSSEC_UNKNOWN      0   /* the lookup failed */
#define MTASTS_DNSSEC_SECURE       1   /* validated: AD */
#define MTASTS_DNSSEC_INSECURE     2   /* unsigned, provably */
#define MTASTS_DNSSEC_BOGUS        3   /* SERVFAIL, and an answer with CD */

/* a hex TLSA record of SHA-512 data, "3 1 2 " and 128 digits, fits */

#define MTASTS_TLSA_TEXT_HASH      (sizeof("255 255 255 ") + 2 * 64)


typedef struct {
    unsigned         usage;       /* 0 PKIX-TA ... 3 DANE-EE */
    unsigned         selector;    /* 0 the certificate, 1 its key */
    unsigned         mtype;       /* 0 full, 1 SHA-256, 2 SHA-512 */
    const uint8_t   *data;        /* inside the packet */
    size_t           len;
} mtasts_tlsa_t;


/* "cd": checking disabled, the answer even where validation failed */
int mtasts_dnssec_query(const char *name, ldns_rr_type type, int cd,
    uint8_t **wire, size_t *len);

/* 0 and the packet (ldns_pkt_free), its code and AD bit; -1: not DNS */
int mtasts_dnssec_read(const uint8_t *wire, size_t len, ldns_pkt **pkt,
    unsigned *rcode, int *ad);

/* the i-th TLSA record of the answer section: 0, or -1 past the last */
int mtasts_tlsa_get(ldns_pkt *pkt, size_t i, mtasts_tlsa_t *t);

/* NULL if a sender can use the record, or why it cannot */
const char *mtasts_tlsa_unusable(const mtasts_tlsa_t *t);

/* "3 1 1 <hex>", NUL-terminated, cut at size; the length it needs */
size_t mtasts_tlsa_text(const mtasts_tlsa_t *t, char *buf, size_t size);


#endif /* _NGX_MTASTS_DANE_H_INCLUDED_ */
