
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A job's five lookups: _mta-sts and _smtp._tls TXT, MX, and the addresses
 * of mta-sts.<domain>.  Their answers are parsed into the job.
 */


#include <arpa/inet.h>

#include "ngx_http_mtasts_job.h"


#define NGX_HTTP_MTASTS_ADDRS      32      /* addresses kept per family */


static int ngx_http_mtasts_parse(ngx_http_mtasts_job_t *job,
    ngx_uint_t what, unsigned char *abuf, int alen);


void
ngx_http_mtasts_answer(void *arg, int status, int timeouts,
    unsigned char *abuf, int alen)
{
    ngx_http_mtasts_query_t *q = arg;

    ngx_http_mtasts_job_t  *job;

    job = q->job;

    if (!job->aborted
        && ngx_http_mtasts_dns_again(status, &q->tries)
        && ngx_http_mtasts_dns_query(q->name, q->type, ngx_http_mtasts_answer,
                                     q)
           == NGX_OK)
    {
        return;
    }

    if (status == ARES_SUCCESS) {
        status = ngx_http_mtasts_parse(job, q->what, abuf, alen);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, job->pool->log, 0,
                   "mta-sts dns answer %ui for \"%V\": %d",
                   q->what, &job->entry->domain, status);

    job->status[q->what] = status;

    if (q->what == NGX_HTTP_MTASTS_Q_MX
        && (job->mmcf->starttls || job->mmcf->dane) && !job->aborted)
    {
        ngx_http_mtasts_mx_lookups(job);
    }

    ngx_http_mtasts_job_answered(job);
}


static int
ngx_http_mtasts_parse(ngx_http_mtasts_job_t *job, ngx_uint_t what,
    unsigned char *abuf, int alen)
{
    int                     rc, i, n;
    u_char                 *p;
    size_t                  len;
    ngx_str_t              *addr;
    mtasts_mx_t            *mx;
    mtasts_txt_t           *txt;
    struct ares_txt_ext    *t, *tl, *s;
    struct ares_mx_reply   *m, *ml;
    struct ares_addrttl     a4[NGX_HTTP_MTASTS_ADDRS];
    struct ares_addr6ttl    a6[NGX_HTTP_MTASTS_ADDRS];

    switch (what) {

    case NGX_HTTP_MTASTS_Q_STS:
    case NGX_HTTP_MTASTS_Q_TLSRPT:

        rc = ares_parse_txt_reply_ext(abuf, alen, &tl);
        if (rc != ARES_SUCCESS) {
            /* 1.18's TXT and MX parsers call a broken answer a bad name */
            return (rc == ARES_EBADNAME) ? ARES_EBADRESP : rc;
        }

        /* the character-strings of one record, concatenated (RFC 8461) */

        for (t = tl; t; t = s) {
            len = t->length;

            for (s = t->next; s && !s->record_start; s = s->next) {
                len += s->length;
            }

            txt = ngx_array_push(&job->txt[what]);
            p = ngx_pnalloc(job->pool, len + 1);
            if (txt == NULL || p == NULL) {
                ares_free_data(tl);
                return ARES_ENOMEM;
            }

            txt->data = p;
            txt->len = len;

            p = ngx_cpymem(p, t->txt, t->length);

            for (s = t->next; s && !s->record_start; s = s->next) {
                p = ngx_cpymem(p, s->txt, s->length);
            }

            *p = '\0';
        }

        ares_free_data(tl);
        return ARES_SUCCESS;

    case NGX_HTTP_MTASTS_Q_MX:

        rc = ares_parse_mx_reply(abuf, alen, &ml);
        if (rc != ARES_SUCCESS) {
            return (rc == ARES_EBADNAME) ? ARES_EBADRESP : rc;
        }

        for (m = ml; m; m = m->next) {
            mx = ngx_array_push(&job->mx);
            len = ngx_strlen(m->host);
            p = ngx_pnalloc(job->pool, len + 1);
            if (mx == NULL || p == NULL) {
                ares_free_data(ml);
                return ARES_ENOMEM;
            }

            ngx_memcpy(p, m->host, len + 1);

            mx->name = p;
            mx->len = len;
            mx->pref = m->priority;
        }

        ares_free_data(ml);
        return ARES_SUCCESS;

    default: /* A, AAAA */

        n = NGX_HTTP_MTASTS_ADDRS;

        if (what == NGX_HTTP_MTASTS_Q_A) {
            rc = ares_parse_a_reply(abuf, alen, NULL, a4, &n);

        } else {
            rc = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
        }

        if (rc != ARES_SUCCESS) {
            return rc;
        }

        for (i = 0; i < n; i++) {
            addr = ngx_array_push(&job->addrs);
            p = ngx_pnalloc(job->pool, NGX_INET6_ADDRSTRLEN);
            if (addr == NULL || p == NULL) {
                return ARES_ENOMEM;
            }

            if (what == NGX_HTTP_MTASTS_Q_A) {
                (void) inet_ntop(AF_INET, &a4[i].ipaddr, (char *) p,
                                 NGX_INET6_ADDRSTRLEN);
            } else {
                (void) inet_ntop(AF_INET6, &a6[i].ip6addr, (char *) p,
                                 NGX_INET6_ADDRSTRLEN);
            }

            addr->data = p;
            addr->len = ngx_strlen(p);
        }

        return n ? ARES_SUCCESS : ARES_ENODATA;
    }
}
