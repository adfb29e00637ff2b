
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The DNS self-check of a served policy: the "_mta-sts" TXT record, the
 * "_smtp._tls" TLS-RPT record and the MX hosts of the policy domain.  The
 * caller does the DNS lookups; everything here is pure and writes into
 * caller-provided structures, so it can be linked into unit tests.
 */


#ifndef _NGX_MTASTS_RECORD_H_INCLUDED_
#define _NGX_MTASTS_RECORD_H_INCLUDED_


#include <stddef.h>

#include "ngx_mtasts_parse.h"


/* values of the "mode" argument of mtasts_check_mx() */
#define MTASTS_MODE_NONE       0
#define MTASTS_MODE_TESTING    1
#define MTASTS_MODE_ENFORCE    2


typedef enum {
    MTASTS_OK = 0,
    MTASTS_WARNING,
    MTASTS_ERROR
} mtasts_state_e;


/* one TXT RR, its character-strings concatenated without spaces */

typedef struct {
    const unsigned char  *data;
    size_t                len;
} mtasts_txt_t;


typedef struct {
    mtasts_state_e        state;
    char                  message[512];       /* NUL-terminated */
    char                  id[MTASTS_ID_MAX + 1];  /* the id published */
    unsigned              nrecords;  /* "v=STSv1;" or "v=TLSRPTv1;" */
    unsigned              nother;    /* other TXT records at the name */
} mtasts_check_t;


/* one MX RR: the exchange name as published, "." or "" for a null MX */

typedef struct {
    const unsigned char  *name;
    size_t                len;
    unsigned              pref;
} mtasts_mx_t;


typedef struct {
    mtasts_state_e        state;
    char                  message[1024];      /* NUL-terminated */
    unsigned              nmatched;   /* MX hosts matching a pattern */
    unsigned              nunmatched; /* MX hosts matching none */
    unsigned              nunused;    /* patterns matching no MX host */
} mtasts_mx_check_t;


/*
 * The messages are sentences for a status page that say what the operator
 * should do.  Host names and record text taken from DNS are shown with
 * bytes outside printable ASCII, "\" and """ escaped as in zone files.
 */

/*
 * records: all TXT RRs at _mta-sts.<domain>; served_id: the id of the
 * policy served (1 to 32 letters and digits); domain: the policy domain.
 */
void mtasts_check_sts(const mtasts_txt_t *records, size_t n,
    const char *domain, const char *served_id, mtasts_check_t *out);

/*
 * records: all TXT RRs at _smtp._tls.<domain>; rua: the report URIs
 * configured, which the record must list (nrua may be 0).
 */
void mtasts_check_tlsrpt(const mtasts_txt_t *records, size_t n,
    const char *domain, const char *const *rua, size_t nrua,
    int policy_testing, mtasts_check_t *out);

/*
 * mx: the MX RRs of <domain>; nodata (or n == 0): the domain has no MX
 * records, so its implicit MX is the domain itself; patterns: the "mx"
 * values of the served policy; mode: MTASTS_MODE_*.
 */
void mtasts_check_mx(const mtasts_mx_t *mx, size_t n, int nodata,
    const unsigned char *const *patterns, const size_t *plen,
    size_t npatterns, int mode, const char *domain, mtasts_mx_check_t *out);


#endif /* _NGX_MTASTS_RECORD_H_INCLUDED_ */
