
/*
 * Copyright (C) ngx_http_mtasts_module authors
 */


#ifndef _NGX_HTTP_MTASTS_DNS_H_INCLUDED_
#define _NGX_HTTP_MTASTS_DNS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <ares.h>


#define NGX_HTTP_MTASTS_DNS_SOCKS    64

#define NGX_HTTP_MTASTS_T_A          1
#define NGX_HTTP_MTASTS_T_MX         15
#define NGX_HTTP_MTASTS_T_TXT        16
#define NGX_HTTP_MTASTS_T_AAAA       28


ngx_int_t ngx_http_mtasts_dns_init(ngx_cycle_t *cycle, ngx_str_t *servers,
    ngx_msec_t timeout, ngx_uint_t attempts);
void ngx_http_mtasts_dns_exit(void);
ngx_int_t ngx_http_mtasts_dns_query(const char *name, int type,
    ares_callback handler, void *data);
ngx_int_t ngx_http_mtasts_dns_send(const u_char *buf, size_t len,
    ares_callback handler, void *data);
ngx_uint_t ngx_http_mtasts_dns_again(int status, ngx_uint_t *tries);
const char *ngx_http_mtasts_dns_strerror(int status);


#endif /* _NGX_HTTP_MTASTS_DNS_H_INCLUDED_ */
