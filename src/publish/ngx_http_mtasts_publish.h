
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Publishing the records: each domain's _mta-sts TXT record (and its
 * _smtp._tls record, with "mta_sts_tlsrpt_rua") sent to the zone's
 * primary server as a DNS UPDATE signed with TSIG, once every worker of
 * this nginx serves the policy, by one worker per domain.  Its state is
 * kept in its own shared zone, for the status page.
 */


#ifndef _NGX_HTTP_MTASTS_PUBLISH_H_INCLUDED_
#define _NGX_HTTP_MTASTS_PUBLISH_H_INCLUDED_


#include "ngx_http_mtasts.h"
#include "ngx_mtasts_tsig.h"


#define NGX_HTTP_MTASTS_PUB_PENDING    0
#define NGX_HTTP_MTASTS_PUB_OK         1
#define NGX_HTTP_MTASTS_PUB_ERROR      2

#define NGX_HTTP_MTASTS_PUB_ANSWER     16
#define NGX_HTTP_MTASTS_PUB_SERVER     64
#define NGX_HTTP_MTASTS_PUB_MESSAGE    448

/* the failures counted, by answer: the last one is all the others */
#define NGX_HTTP_MTASTS_PUB_NREASONS   12


struct ngx_http_mtasts_publish_conf_s {
    ngx_addr_t                   *server;
    ngx_str_t                     zone;        /* "name.", or empty */
    uint32_t                      ttl;
    ngx_str_t                     file;        /* of the key */
    mtasts_tsig_key_t            *key;
};


/* what the status page shows of a domain: a copy */

typedef struct {
    ngx_uint_t                    enabled;     /* mta_sts_publish is on */
    ngx_uint_t                    state;
    time_t                        at;          /* last NOERROR */
    time_t                        tried;       /* last answer */
    ngx_str_t                     id;          /* published */
    ngx_str_t                     answer;
    ngx_str_t                     server;
    ngx_str_t                     message;
} ngx_http_mtasts_pub_state_t;


typedef struct {
    ngx_uint_t                    enabled;
    uint64_t                      sent;
    uint64_t                      succeeded;
    uint64_t                      failed[NGX_HTTP_MTASTS_PUB_NREASONS];
} ngx_http_mtasts_pub_totals_t;


extern ngx_str_t  ngx_http_mtasts_pub_reasons[];
extern ngx_str_t  ngx_http_mtasts_pub_states[];


char *ngx_http_mtasts_publish(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_mtasts_publish_init(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf);
ngx_int_t ngx_http_mtasts_publish_init_process(ngx_cycle_t *cycle);
void ngx_http_mtasts_publish_exit_process(ngx_cycle_t *cycle);

ngx_int_t ngx_http_mtasts_publish_state(ngx_pool_t *pool,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_http_mtasts_srv_conf_t *conf,
    ngx_str_t *domain, ngx_http_mtasts_pub_state_t *state);
void ngx_http_mtasts_publish_totals(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_pub_totals_t *totals);


#endif /* _NGX_HTTP_MTASTS_PUBLISH_H_INCLUDED_ */
