
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A DNSSEC lookup on the workers' event loop: one name and type asked of
 * the resolver with DNSSEC, its state (secure, insecure, bogus) and, for
 * TLSA, its records.  It fills the result it is given and reports through
 * its callback; it knows nothing of who started it.  Lookups of the same
 * name and type share one query and its answer until the next round.
 */


#ifndef _NGX_HTTP_MTASTS_DANE_H_INCLUDED_
#define _NGX_HTTP_MTASTS_DANE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_mtasts_dane.h"


/* a usable TLSA record, as OpenSSL's SSL_dane_tlsa_add() takes it */

typedef struct {
    uint8_t                       usage;
    uint8_t                       selector;
    uint8_t                       mtype;
    ngx_str_t                     data;
} ngx_http_mtasts_tlsa_rr_t;


typedef struct {
    ngx_uint_t                    dnssec;      /* MTASTS_DNSSEC_* */
    int                           status;      /* c-ares, of the lookup */
    ngx_uint_t                    rcode;       /* of the answer used */
    ngx_uint_t                    count;       /* records of the type */

    /* the first answer as it came, and its code: not the one with CD */
    ngx_str_t                     answer;
    ngx_uint_t                    answer_rcode;

    /* TLSA: "3 1 1 <hex>" each, and why the unusable ones are */
    ngx_uint_t                    usable;
    ngx_array_t                   records;     /* ngx_str_t */
    ngx_str_t                     unusable;    /* the first reason */
    ngx_array_t                   rrs;         /* the usable ones */
} ngx_http_mtasts_dnssec_t;


typedef void (*ngx_http_mtasts_dnssec_done_pt)(void *data);


/* NGX_ERROR: not started, and "done" is not called */

ngx_int_t ngx_http_mtasts_dnssec_lookup(ngx_pool_t *pool, const char *name,
    ngx_uint_t type, ngx_http_mtasts_dnssec_t *res,
    ngx_http_mtasts_dnssec_done_pt done, void *data);

/* a new round: answers known so far are not given to lookups again */
void ngx_http_mtasts_dnssec_renew(void);
/* at the worker's exit, after ngx_http_mtasts_dns_exit() */
void ngx_http_mtasts_dnssec_exit(void);

extern ngx_str_t  ngx_http_mtasts_dnssec_names[];


#endif /* _NGX_HTTP_MTASTS_DANE_H_INCLUDED_ */
