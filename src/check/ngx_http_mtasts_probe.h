
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The STARTTLS probe of one MX address.  It fills the result it is given
 * and reports through its callback; it knows nothing of who started it.
 */


#ifndef _NGX_HTTP_MTASTS_PROBE_H_INCLUDED_
#define _NGX_HTTP_MTASTS_PROBE_H_INCLUDED_


#include "ngx_http_mtasts.h"


/* one STARTTLS probe: an MX host at one of its addresses */

typedef struct {
    ngx_str_t                     host;
    ngx_str_t                     address;
    ngx_uint_t                    ok;
    ngx_str_t                     reason;      /* what failed, or "" */
    ngx_str_t                     version;     /* TLS version */
    ngx_str_t                     cipher;
    ngx_str_t                     subject;     /* of the MX certificate */
    ngx_str_t                     issuer;
    time_t                        expires;     /* 0: no certificate */
    ngx_str_t                     spki;        /* SHA-256 of its key, hex */
    ngx_uint_t                    dane;        /* 0 not asked, 1 match, 2 */
    ngx_str_t                     dane_match;  /* the record matched */
} ngx_http_mtasts_tls_t;


typedef struct ngx_http_mtasts_probe_s  ngx_http_mtasts_probe_t;

/* "aborted": the worker is shutting down, the result is not a verdict */

typedef void (*ngx_http_mtasts_probe_done_pt)(void *data,
    ngx_uint_t aborted);


/* "tlsa": the usable TLSA records to match (NULL: no DANE) */

ngx_int_t ngx_http_mtasts_probe_start(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_pool_t *pool, ngx_str_t *host, ngx_addr_t *addr,
    ngx_array_t *tlsa, ngx_http_mtasts_tls_t *result,
    ngx_http_mtasts_probe_done_pt done, void *data);
void ngx_http_mtasts_probe_exit(void);

/*
 * The same, shared by the domains of a round (ngx_http_mtasts_share.c):
 * one probe of a host, address and TLSA records a round.  "done" may be
 * called before it returns.
 */

ngx_int_t ngx_http_mtasts_share_probe(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_pool_t *pool, ngx_str_t *host, ngx_addr_t *addr,
    ngx_array_t *tlsa, ngx_http_mtasts_tls_t *result,
    ngx_http_mtasts_probe_done_pt done, void *data);
void ngx_http_mtasts_share_renew(void);
void ngx_http_mtasts_share_exit(void);

#if (NGX_HTTP_SSL)
time_t ngx_http_mtasts_asn1_time(const ASN1_TIME *t);
#endif


#endif /* _NGX_HTTP_MTASTS_PROBE_H_INCLUDED_ */
