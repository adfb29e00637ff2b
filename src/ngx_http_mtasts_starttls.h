
/*
 * Copyright (C) ngx_http_mtasts_module authors
 */


#ifndef _NGX_HTTP_MTASTS_STARTTLS_H_INCLUDED_
#define _NGX_HTTP_MTASTS_STARTTLS_H_INCLUDED_


#include "ngx_http_mtasts_status.h"


typedef struct ngx_http_mtasts_probe_s  ngx_http_mtasts_probe_t;

typedef void (*ngx_http_mtasts_probe_done_pt)(void *data);


ngx_int_t ngx_http_mtasts_probe_start(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_pool_t *pool, ngx_str_t *host, ngx_addr_t *addr,
    ngx_http_mtasts_tls_t *result, ngx_http_mtasts_probe_done_pt done,
    void *data);
void ngx_http_mtasts_probe_exit(void);

time_t ngx_http_mtasts_asn1_time(const ASN1_TIME *t);


#endif /* _NGX_HTTP_MTASTS_STARTTLS_H_INCLUDED_ */
