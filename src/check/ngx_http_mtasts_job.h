
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Inside the check: a job checks one domain.  The round starts it and its
 * five queries; the families of checks fill its result.  Whatever else a
 * job waits for (the MX hosts' lookups and probes) counts in "pending" and
 * ends through ngx_http_mtasts_job_answered(): the last one calls the
 * round's "done" back.
 */


#ifndef _NGX_HTTP_MTASTS_JOB_H_INCLUDED_
#define _NGX_HTTP_MTASTS_JOB_H_INCLUDED_


#include "ngx_http_mtasts_check.h"
#include "ngx_http_mtasts_dns.h"
#include "ngx_mtasts_record.h"
#include "ngx_http_mtasts_dane.h"


enum {
    NGX_HTTP_MTASTS_Q_STS = 0,
    NGX_HTTP_MTASTS_Q_TLSRPT,
    NGX_HTTP_MTASTS_Q_MX,
    NGX_HTTP_MTASTS_Q_A,
    NGX_HTTP_MTASTS_Q_AAAA,
    NGX_HTTP_MTASTS_NQ
};


typedef struct ngx_http_mtasts_job_s  ngx_http_mtasts_job_t;

typedef void (*ngx_http_mtasts_job_done_pt)(ngx_http_mtasts_job_t *job);


/*
 * A DNSSEC lookup of a job: the MX records, the root's NS; or an MX
 * host's TLSA records ("res") and address records ("addr": the A and
 * AAAA answers made one), "done" once all are known
 */

typedef struct {
    ngx_http_mtasts_job_t          *job;
    ngx_str_t                       host;      /* TLSA: the MX host */
    ngx_http_mtasts_dnssec_t        res;
    ngx_http_mtasts_dnssec_t        addr;
    ngx_http_mtasts_dnssec_t        addr6;
    ngx_uint_t                      parts;     /* lookups outstanding */
    ngx_http_mtasts_dnssec_done_pt  done;
    void                           *data;
} ngx_http_mtasts_dane_q_t;


typedef struct {
    ngx_http_mtasts_job_t        *job;
    ngx_uint_t                    what;
    char                         *name;
    int                           type;
    ngx_uint_t                    tries;
} ngx_http_mtasts_query_t;


struct ngx_http_mtasts_job_s {
    ngx_pool_t                   *pool;
    ngx_http_mtasts_main_conf_t  *mmcf;
    ngx_http_mtasts_entry_t      *entry;
    char                         *domain;      /* NUL-terminated copies */
    char                         *id;
    ngx_uint_t                    pending;
    ngx_http_mtasts_job_done_pt   done;        /* when nothing is pending */
    ngx_uint_t                    generation;
    int                           status[NGX_HTTP_MTASTS_NQ];
    ngx_array_t                   txt[2];      /* mtasts_txt_t */
    ngx_array_t                   mx;          /* mtasts_mx_t */
    ngx_array_t                   addrs;       /* ngx_str_t */
    ngx_array_t                   tls;         /* ngx_http_mtasts_tls_t * */
    ngx_http_mtasts_dane_q_t     *dnssec_mx;   /* mta_sts_check_dane */
    ngx_http_mtasts_dane_q_t     *dnssec_root;
    ngx_array_t                   tlsa;        /* ngx_http_mtasts_dane_q_t * */
    ngx_uint_t                    aborted;
    ngx_http_mtasts_query_t       q[NGX_HTTP_MTASTS_NQ];
};


static ngx_inline void
ngx_http_mtasts_job_answered(ngx_http_mtasts_job_t *job)
{
    if (--job->pending == 0) {
        job->done(job);
    }
}


/* the verdicts: ngx_http_mtasts_verdict.c */

extern ngx_uint_t  ngx_http_mtasts_state_map[];

void ngx_http_mtasts_set(ngx_pool_t *pool, ngx_http_mtasts_check_t *check,
    ngx_uint_t state, const char *fmt, ...);
ngx_int_t ngx_http_mtasts_lookup_failed(ngx_http_mtasts_job_t *job,
    ngx_uint_t what, ngx_http_mtasts_check_t *check, const char *name);

/* the families of checks, each filling its part of the result */

void ngx_http_mtasts_build_sts(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
void ngx_http_mtasts_build_tlsrpt(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
ngx_int_t ngx_http_mtasts_build_mx(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res, ngx_uint_t *ready);
void ngx_http_mtasts_build_host(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
void ngx_http_mtasts_build_certificate(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
void ngx_http_mtasts_mx_lookups(ngx_http_mtasts_job_t *job);
ngx_uint_t ngx_http_mtasts_build_starttls(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);

/* DANE: ngx_http_mtasts_tlsa.c */

void ngx_http_mtasts_dane_lookups(ngx_http_mtasts_job_t *job);
ngx_http_mtasts_dane_q_t *ngx_http_mtasts_dane_host(
    ngx_http_mtasts_job_t *job, u_char *name, size_t len,
    ngx_http_mtasts_dnssec_done_pt done, void *data);
ngx_int_t ngx_http_mtasts_build_dane(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);

/* the lookups of a job: ngx_http_mtasts_lookups.c */

void ngx_http_mtasts_answer(void *arg, int status, int timeouts,
    unsigned char *abuf, int alen);

/* the round: ngx_http_mtasts_round.c */

void ngx_http_mtasts_round_exit(void);

/* the result: ngx_http_mtasts_result.c */

ngx_int_t ngx_http_mtasts_build(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
size_t ngx_http_mtasts_result_size(ngx_http_mtasts_result_t *src);
void ngx_http_mtasts_result_pack(ngx_http_mtasts_result_t *src, u_char *dst);
void ngx_http_mtasts_result_relocate(ngx_http_mtasts_result_t *res,
    u_char *from);


#endif /* _NGX_HTTP_MTASTS_JOB_H_INCLUDED_ */
