
/*
 * Copyright (C) ngx_http_mtasts_module authors
 */


#ifndef _NGX_HTTP_MTASTS_H_INCLUDED_
#define _NGX_HTTP_MTASTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_mtasts_parse.h"


#define NGX_HTTP_MTASTS_NONE       0
#define NGX_HTTP_MTASTS_TESTING    1
#define NGX_HTTP_MTASTS_ENFORCE    2

#define NGX_HTTP_MTASTS_PATH       "/.well-known/mta-sts.txt"
#define NGX_HTTP_MTASTS_PREFIX     "mta-sts."

#define NGX_HTTP_MTASTS_BODY_MAX   10240
#define NGX_HTTP_MTASTS_BODY_WARN  4096
#define NGX_HTTP_MTASTS_AUTO_ID    20


typedef struct {
    ngx_str_t                     name;
    u_char                       *file;
    ngx_uint_t                    line;
} ngx_http_mtasts_name_t;


typedef struct ngx_http_mtasts_node_s   ngx_http_mtasts_node_t;
typedef struct ngx_http_mtasts_sh_s     ngx_http_mtasts_sh_t;
typedef struct ngx_http_mtasts_entry_s  ngx_http_mtasts_entry_t;

typedef struct ngx_http_mtasts_publish_conf_s  ngx_http_mtasts_publish_conf_t;
typedef struct ngx_http_mtasts_pub_node_s      ngx_http_mtasts_pub_node_t;
typedef struct ngx_http_mtasts_pub_zone_s      ngx_http_mtasts_pub_zone_t;


typedef struct {
    ngx_flag_t                    enable;
    ngx_uint_t                    mode;
    time_t                        max_age;

    ngx_array_t                  *mx;          /* of ngx_str_t */
    ngx_array_t                  *rua;         /* of ngx_str_t */
    ngx_array_t                  *domains;     /* of ngx_http_mtasts_name_t,
                                                  load time only */

    ngx_str_t                     id;          /* explicit, or empty */

    ngx_http_mtasts_publish_conf_t  *publish;  /* mta_sts_publish */

    /* prepared at load time */
    ngx_uint_t                    index;       /* among "mta_sts on" ones */
    ngx_http_mtasts_entry_t      *entry;       /* its only domain, or */
    ngx_hash_t                    names;       /* its domains: entries */
    ngx_str_t                     body;
    ngx_str_t                     policy_id;
    ngx_str_t                     sts_txt;     /* "v=STSv1; id=...", NUL */
    ngx_str_t                     tlsrpt_txt;  /* "v=TLSRPTv1; rua=...",
                                                  NUL, or empty */
    ngx_uint_t                    hosted;      /* any mta-sts.* host */
    void                         *ssl;         /* its ssl server conf */
    ngx_array_t                  *certs;       /* ngx_http_mtasts_cert_t */
} ngx_http_mtasts_srv_conf_t;


/* a certificate of a server and the chain nginx sends with it */

typedef struct {
    void                         *cert;        /* X509 * */
    void                         *chain;       /* STACK_OF(X509) * */
} ngx_http_mtasts_cert_t;


struct ngx_http_mtasts_entry_s {
    ngx_str_t                     domain;
    ngx_http_mtasts_srv_conf_t   *conf;
    ngx_http_mtasts_entry_t      *next;        /* same domain, other server */
    ngx_http_mtasts_node_t       *node;        /* its results, shared */
    ngx_http_mtasts_pub_node_t   *pub;         /* its publishing, shared */
};


typedef struct {
    ngx_http_mtasts_entry_t     **list;        /* one per domain, sorted */
    ngx_uint_t                    ndomains;
    ngx_uint_t                    enabled;     /* servers with "mta_sts on" */

    /* the self-check */
    ngx_flag_t                    status;      /* a status location */
    ngx_str_t                     resolver;    /* "addr:port,..." */
    ngx_msec_t                    resolver_timeout;
    ngx_uint_t                    resolver_attempts;
    time_t                        interval;    /* 0: off */
    time_t                        stale;       /* a check is abandoned */

    ngx_flag_t                    starttls;    /* probe MX hosts */
    ngx_flag_t                    dane;        /* TLSA, DNSSEC */
    in_port_t                     starttls_port;
    ngx_msec_t                    starttls_timeout;
    ngx_str_t                     trusted;     /* CA file, or system */
    ngx_ssl_t                    *ssl;         /* client context, store */
    ngx_shm_zone_t               *shm_zone;
    ngx_slab_pool_t              *shpool;
    ngx_http_mtasts_sh_t         *sh;
    ngx_uint_t                    generation;

    /* TLS-RPT reports */
    ngx_array_t                  *tlsrpt_paths; /* ngx_path_t *, distinct */
    time_t                        tlsrpt_window;
    time_t                        tlsrpt_retention; /* 0: off */
    ngx_shm_zone_t               *tlsrpt_zone;

    /* publishing the records */
    ngx_http_mtasts_pub_zone_t   *publish;
#if (NGX_THREADS)
    ngx_thread_pool_t            *tlsrpt_pool;  /* "default": fsync()s */
#endif
} ngx_http_mtasts_main_conf_t;


typedef struct {
    ngx_path_t                   *tlsrpt;      /* mta_sts_tlsrpt_receive */
    size_t                        tlsrpt_max_size;
} ngx_http_mtasts_loc_conf_t;


extern ngx_module_t  ngx_http_mtasts_module;
extern ngx_str_t     ngx_http_mtasts_modes[];


#endif /* _NGX_HTTP_MTASTS_H_INCLUDED_ */
