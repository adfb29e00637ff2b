
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The policy: the domains served, each policy's body and id prepared at
 * load time, and the handler of "/.well-known/mta-sts.txt".
 */


#ifndef _NGX_HTTP_MTASTS_POLICY_H_INCLUDED_
#define _NGX_HTTP_MTASTS_POLICY_H_INCLUDED_


#include "ngx_http_mtasts.h"


/* at load: ngx_http_mtasts_domains.c, ngx_http_mtasts_policy.c */

ngx_int_t ngx_http_mtasts_domains_init(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf);
char *ngx_http_mtasts_build_policy(ngx_conf_t *cf,
    ngx_http_mtasts_srv_conf_t *mscf, ngx_http_core_srv_conf_t *cscf);

ngx_int_t ngx_http_mtasts_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_mtasts_not_allowed(ngx_http_request_t *r);
ngx_int_t ngx_http_mtasts_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value);
ngx_int_t ngx_http_mtasts_find(ngx_http_request_t *r,
    ngx_http_mtasts_srv_conf_t *mscf, ngx_str_t *domain,
    ngx_http_mtasts_entry_t **entry);
ngx_http_mtasts_entry_t *ngx_http_mtasts_lookup(
    ngx_http_mtasts_main_conf_t *mmcf, ngx_str_t *domain);
ngx_int_t ngx_http_mtasts_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_MTASTS_POLICY_H_INCLUDED_ */
