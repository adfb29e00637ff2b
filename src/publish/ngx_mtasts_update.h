
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The DNS messages of publishing, built and read with ldns: a query of a
 * name's TXT records (or of its zone's SOA), the UPDATE (RFC 2136) that
 * replaces the one record of ours at a name, signed with TSIG (RFC 8945),
 * and the reading of its answer.  Free of nginx types; every buffer it
 * returns is the caller's, to free().
 */


#ifndef _NGX_MTASTS_UPDATE_H_INCLUDED_
#define _NGX_MTASTS_UPDATE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <ldns/ldns.h>

#include "ngx_mtasts_tsig.h"


#define MTASTS_TXT_STRING_MAX  255


/* a name whose record of ours is published */

typedef struct {
    char            *owner;      /* "_mta-sts.example.com." */
    const char      *prefix;     /* "v=STSv1": the records that are ours */
    const char      *value;      /* the record we publish */
    ldns_rr_list    *seen;       /* its TXT records on the server */
    int              current;    /* "value" is there, and no other of ours */
} mtasts_rrname_t;


/* what an answer says */

typedef struct {
    unsigned         rcode;      /* with the TSIG error: 16 BADSIG, ... */
    const char      *name;       /* "NOERROR", "BADSIG", ... */
    int              truncated;
    long             skew;       /* BADTIME: the server's clock - ours */
} mtasts_answer_t;


/* rd: to a recursive resolver; 0: to the authoritative server itself */
int mtasts_msg_query(const char *name, ldns_rr_type type, int rd,
    uint8_t **wire, size_t *len, uint16_t *id);

/* NULL, or why the bytes are not the answer to query "id" */
const char *mtasts_msg_read(const uint8_t *wire, size_t len, uint16_t id,
    ldns_pkt **pkt, mtasts_answer_t *answer);

/* the TXT records of n->owner in an answer: n->seen, n->current */
int mtasts_msg_txt(ldns_pkt *pkt, mtasts_rrname_t *n);

/*
 * the zone of a name, from the SOA of an answer (answer or authority),
 * when "zone" is not NULL, and its primary server's name (MNAME) when
 * "mname" is not NULL
 */
int mtasts_msg_zone(ldns_pkt *pkt, char *zone, size_t size, char *mname,
    size_t msize);

/* the first A (or AAAA) record of an answer, as an address on port 53 */
int mtasts_msg_address(ldns_pkt *pkt, struct sockaddr_storage *sa,
    size_t *socklen);

/*
 * The UPDATE of the names not current: the prerequisite is the RRset
 * seen (or that there is none), so that a change made meanwhile by
 * someone else fails it (NXRRSET) instead of being overwritten blindly
 */

int mtasts_msg_update(const char *zone, mtasts_rrname_t *names, size_t n,
    uint32_t ttl, const mtasts_tsig_key_t *key, uint8_t **wire,
    size_t *len, uint16_t *id, ldns_rdf **mac);

/* NULL when the answer's TSIG signature is ours, or why not */
const char *mtasts_msg_verify(ldns_pkt *pkt, const uint8_t *wire,
    size_t len, const mtasts_tsig_key_t *key, const ldns_rdf *mac);

void mtasts_rrname_free(mtasts_rrname_t *n);


#endif /* _NGX_MTASTS_UPDATE_H_INCLUDED_ */
