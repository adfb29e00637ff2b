
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The self-check: what DNS, the policy host and the MX hosts say of each
 * domain, checked in rounds and kept in shared memory, and the snapshot
 * of it that the status location renders.
 */


#ifndef _NGX_HTTP_MTASTS_CHECK_H_INCLUDED_
#define _NGX_HTTP_MTASTS_CHECK_H_INCLUDED_


#include "ngx_http_mtasts.h"
#include "ngx_http_mtasts_probe.h"


/* check states, worst last: a domain's status is its worst check */

#define NGX_HTTP_MTASTS_OK            0
#define NGX_HTTP_MTASTS_SKIPPED       1
#define NGX_HTTP_MTASTS_PENDING       2
#define NGX_HTTP_MTASTS_WARNING       3
#define NGX_HTTP_MTASTS_ERROR         4

/* the checks, in output order */

#define NGX_HTTP_MTASTS_STS_RECORD    0
#define NGX_HTTP_MTASTS_TLSRPT        1
#define NGX_HTTP_MTASTS_MX            2
#define NGX_HTTP_MTASTS_POLICY_HOST   3
#define NGX_HTTP_MTASTS_CERTIFICATE   4
#define NGX_HTTP_MTASTS_STARTTLS      5
#define NGX_HTTP_MTASTS_DANE          6
#define NGX_HTTP_MTASTS_NCHECKS       7

/* policy request counters */

#define NGX_HTTP_MTASTS_REQ_GET       0
#define NGX_HTTP_MTASTS_REQ_HEAD      1
#define NGX_HTTP_MTASTS_REQ_OTHER     2
#define NGX_HTTP_MTASTS_NREQ          3


typedef struct {
    ngx_uint_t                    state;
    ngx_str_t                     message;
} ngx_http_mtasts_check_t;


typedef struct {
    ngx_str_t                     name;        /* as published, no dot */
    ngx_uint_t                    pref;
    ngx_uint_t                    matched;     /* by a policy pattern */
} ngx_http_mtasts_mx_host_t;


/* the TLSA records of an MX host, and their DNSSEC state */

typedef struct {
    ngx_str_t                     host;
    ngx_uint_t                    dnssec;      /* MTASTS_DNSSEC_* */
    ngx_uint_t                    addr_dnssec; /* of its A records */
    ngx_uint_t                    nrecords;
    ngx_uint_t                    usable;
    ngx_str_t                     records;     /* "3 1 1 <hex>", '\n' */
    ngx_uint_t                    probed;      /* with them, by a probe */
    ngx_str_t                     match;       /* the record all matched */
} ngx_http_mtasts_tlsa_t;


/*
 * One domain's results.  A result lives in one block: in the shared zone,
 * or copied into a request's pool; all its pointers point inside it.
 */

typedef struct {
    time_t                        checked;     /* when the round ended */
    ngx_uint_t                    status;      /* worst check */
    ngx_uint_t                    enforce_ready;

    ngx_http_mtasts_check_t       checks[NGX_HTTP_MTASTS_NCHECKS];

    ngx_str_t                     sts_id;      /* the id DNS publishes */
    ngx_str_t                     tlsrpt;      /* the TLS-RPT record */

    ngx_http_mtasts_mx_host_t    *mx;
    ngx_uint_t                    nmx;

    ngx_str_t                    *addresses;   /* of mta-sts.<domain> */
    ngx_uint_t                    naddresses;

    time_t                        cert_expires; /* 0: not known */

    ngx_http_mtasts_tls_t        *tls;         /* STARTTLS probes */
    ngx_uint_t                    ntls;

    ngx_uint_t                    dane_ready;
    ngx_uint_t                    dnssec;      /* of the MX records */
    ngx_uint_t                    validating;  /* 1 yes, 0 no, 2 unknown */
    ngx_http_mtasts_tlsa_t       *tlsa;        /* per MX host */
    ngx_uint_t                    ntlsa;

    ngx_str_t                     summary;     /* the domain in a sentence */

    size_t                        size;        /* of the whole block */
} ngx_http_mtasts_result_t;


/* a domain's node in the shared zone; never freed while the zone lives */

struct ngx_http_mtasts_node_s {
    ngx_str_node_t                sn;          /* the domain */
    ngx_http_mtasts_result_t     *result;      /* NULL: never checked */
    time_t                        started;     /* check in flight since */
    ngx_pid_t                     owner;       /* worker running it */
    ngx_pid_t                     queued;      /* worker that will */
    ngx_uint_t                    serial;      /* checks completed */
    ngx_uint_t                    generation;  /* configuration */
    ngx_atomic_t                  requests[NGX_HTTP_MTASTS_NREQ];
    u_char                        data[1];
};


struct ngx_http_mtasts_sh_s {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    time_t                        next_round;  /* background check */
    ngx_uint_t                    generation;  /* configurations loaded */
};


/*
 * What a status request renders: a snapshot taken under the zone lock,
 * the results copied a slice at a time (ngx_http_mtasts_snapshot_results)
 */

typedef struct {
    ngx_str_t                     domain;
    ngx_http_mtasts_srv_conf_t   *conf;        /* the policy served */
    ngx_http_mtasts_node_t       *node;
    ngx_http_mtasts_result_t     *result;      /* NULL: pending */
    ngx_uint_t                    in_flight;
    ngx_atomic_uint_t             requests[NGX_HTTP_MTASTS_NREQ];
} ngx_http_mtasts_item_t;


typedef struct {
    time_t                        now;
    ngx_http_mtasts_item_t       *items;       /* sorted by domain */
    ngx_uint_t                    nitems;
} ngx_http_mtasts_view_t;


/* called when this worker has no check left to run */

typedef void (*ngx_http_mtasts_idle_pt)(void);


/* at load: the shared zone, the trust store, the certificates */

ngx_int_t ngx_http_mtasts_check_init(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf);

/* in each worker */

ngx_int_t ngx_http_mtasts_check_init_process(ngx_cycle_t *cycle);
void ngx_http_mtasts_check_exit_process(ngx_cycle_t *cycle);

/* rounds of checks: "first" puts a round before those already queued */

ngx_int_t ngx_http_mtasts_check_start(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_entry_t **domains, ngx_uint_t n, ngx_uint_t first,
    ngx_log_t *log);
void ngx_http_mtasts_check_on_idle(ngx_http_mtasts_idle_pt handler);

/* the state of a node, with the zone locked */

ngx_uint_t ngx_http_mtasts_claimable(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_node_t *node, time_t now);
ngx_uint_t ngx_http_mtasts_forgotten(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_node_t *node, time_t now);

/*
 * The domains' state; then their results, copied into the pool, those of
 * the items from "from" to "to" (not included) at each call
 */

ngx_int_t ngx_http_mtasts_snapshot(ngx_pool_t *pool,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_http_mtasts_entry_t **domains,
    ngx_uint_t n, ngx_http_mtasts_view_t *view);
ngx_int_t ngx_http_mtasts_snapshot_results(ngx_pool_t *pool,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_http_mtasts_view_t *view,
    ngx_uint_t from, ngx_uint_t to);


#endif /* _NGX_HTTP_MTASTS_CHECK_H_INCLUDED_ */
