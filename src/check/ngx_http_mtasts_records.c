
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The records a domain publishes: _mta-sts and its id, _smtp._tls and its
 * report addresses.
 */


#include "ngx_http_mtasts_job.h"


void
ngx_http_mtasts_build_sts(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                   *p;
    size_t                    len;
    mtasts_check_t            c;
    ngx_http_mtasts_check_t  *check;

    check = &res->checks[NGX_HTTP_MTASTS_STS_RECORD];

    if (ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_STS, check,
                                      "_mta-sts."))
    {
        return;
    }

    mtasts_check_sts(job->txt[0].elts, job->txt[0].nelts, job->domain,
                     job->id, &c);

    ngx_http_mtasts_set(job->pool, check, ngx_http_mtasts_state_map[c.state],
                        "%s", c.message);

    len = ngx_strlen(c.id);

    if (len) {
        p = ngx_pnalloc(job->pool, len);
        if (p) {
            res->sts_id.data = ngx_cpymem(p, c.id, len) - len;
            res->sts_id.len = len;
        }
    }
}


void
ngx_http_mtasts_build_tlsrpt(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                       *p;
    ngx_str_t                    *rua;
    ngx_uint_t                    i, n;
    const char                  **uris;
    mtasts_txt_t                 *txt;
    mtasts_check_t                c;
    ngx_http_mtasts_check_t      *check;
    ngx_http_mtasts_srv_conf_t   *conf;

    check = &res->checks[NGX_HTTP_MTASTS_TLSRPT];

    if (ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_TLSRPT, check,
                                      "_smtp._tls."))
    {
        return;
    }

    conf = job->entry->conf;

    n = conf->rua ? conf->rua->nelts : 0;
    rua = n ? conf->rua->elts : NULL;

    uris = ngx_palloc(job->pool, (n + 1) * sizeof(char *));
    if (uris == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        p = ngx_pnalloc(job->pool, rua[i].len + 1);
        if (p == NULL) {
            return;
        }

        ngx_sprintf(p, "%V%Z", &rua[i]);
        uris[i] = (char *) p;
    }

    txt = job->txt[1].elts;

    mtasts_check_tlsrpt(txt, job->txt[1].nelts,
                        job->domain, uris, n,
                        conf->mode == NGX_HTTP_MTASTS_TESTING, &c);

    ngx_http_mtasts_set(job->pool, check, ngx_http_mtasts_state_map[c.state],
                        "%s", c.message);

    for (i = 0; i < job->txt[1].nelts; i++) {
        if (txt[i].len >= sizeof("v=TLSRPTv1") - 1
            && ngx_strncmp(txt[i].data, "v=TLSRPTv1",
                           sizeof("v=TLSRPTv1") - 1)
               == 0)
        {
            res->tlsrpt.data = (u_char *) txt[i].data;
            res->tlsrpt.len = txt[i].len;
            break;
        }
    }
}
