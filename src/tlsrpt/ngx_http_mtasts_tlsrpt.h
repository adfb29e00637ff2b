
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * TLS-RPT reports received over HTTPS (RFC 8460, section 5.3): the
 * location of "mta_sts_tlsrpt_receive", and the summary of the kept
 * reports in shared memory that the status location shows.
 */


#ifndef _NGX_HTTP_MTASTS_TLSRPT_H_INCLUDED_
#define _NGX_HTTP_MTASTS_TLSRPT_H_INCLUDED_


#include "ngx_http_mtasts.h"
#include "ngx_mtasts_report.h"


/* the reports refused, counted by reason */

#define NGX_HTTP_MTASTS_TLSRPT_NREFUSED  6


/* one line of a summary: a sender, an MX host or a result type */

typedef struct {
    ngx_str_t                     name;
    uint64_t                      reports;
    uint64_t                      successful;
    uint64_t                      failed;
} ngx_http_mtasts_tlsrpt_count_t;


/* a day of the window: the sessions of the reports that end on it */

typedef struct {
    time_t                        day;         /* days since 1970 */
    uint64_t                      successful;
    uint64_t                      failed;
} ngx_http_mtasts_tlsrpt_day_t;


/* a domain's reports in the window, copied out of the shared zone */

typedef struct {
    ngx_uint_t                    enabled;     /* reports are received */
    ngx_uint_t                    loading;     /* kept ones still read */
    time_t                        window;
    uint64_t                      reports;
    uint64_t                      successful;
    uint64_t                      failed;
    ngx_array_t                   failures;    /* by result type */
    ngx_array_t                   senders;     /* by organization */
    ngx_array_t                   mx;          /* by receiving MX host */
    ngx_array_t                   days;        /* in order */

    /* stored here since the zone was made: counters, not windowed */
    uint64_t                      stored;
    uint64_t                      stored_successful;
    uint64_t                      stored_failed;
    ngx_array_t                   stored_failures;
} ngx_http_mtasts_tlsrpt_sum_t;


extern ngx_str_t  ngx_http_mtasts_tlsrpt_reasons[];


ngx_int_t ngx_http_mtasts_tlsrpt_handler(ngx_http_request_t *r);

/* the summary: ngx_http_mtasts_summary.c */

ngx_int_t ngx_http_mtasts_tlsrpt_init(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf);
ngx_int_t ngx_http_mtasts_tlsrpt_init_process(ngx_cycle_t *cycle);
void ngx_http_mtasts_tlsrpt_exit_process(ngx_cycle_t *cycle);
/* the intake's own, at the worker's exit: after the thread pool's */
void ngx_http_mtasts_tlsrpt_intake_exit(void);
void ngx_http_mtasts_tlsrpt_count(ngx_http_mtasts_main_conf_t *mmcf,
    json_object *root, mtasts_report_t *rep, u_char *name, ngx_log_t *log);
ngx_int_t ngx_http_mtasts_tlsrpt_summary(ngx_pool_t *pool,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_str_t *domain, time_t now,
    ngx_http_mtasts_tlsrpt_sum_t *sum);
void ngx_http_mtasts_tlsrpt_refused(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_uint_t status);
ngx_uint_t ngx_http_mtasts_tlsrpt_totals(ngx_http_mtasts_main_conf_t *mmcf,
    uint64_t *refused);
ngx_uint_t ngx_http_mtasts_tlsrpt_verdict(ngx_pool_t *pool,
    ngx_http_mtasts_tlsrpt_sum_t *sum, ngx_uint_t mode, ngx_str_t *domain,
    ngx_str_t *message);


#endif /* _NGX_HTTP_MTASTS_TLSRPT_H_INCLUDED_ */
