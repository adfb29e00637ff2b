
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The MX hosts against the policy's mx patterns, as a sender matches them,
 * in the mode served and in enforce mode.
 */


#include "ngx_http_mtasts_job.h"


ngx_int_t
ngx_http_mtasts_build_mx(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res, ngx_uint_t *ready)
{
    size_t                       *plen;
    ngx_str_t                    *pat;
    ngx_uint_t                    i, j, npat;
    mtasts_mx_t                  *mx;
    const u_char                **pdata;
    mtasts_name_t                 norm;
    mtasts_mx_check_t             c;
    ngx_http_mtasts_check_t      *check;
    ngx_http_mtasts_mx_host_t    *h;
    ngx_http_mtasts_srv_conf_t   *conf;

    check = &res->checks[NGX_HTTP_MTASTS_MX];
    conf = job->entry->conf;
    *ready = 0;

    if (ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_MX, check,
                                      ""))
    {
        return NGX_OK;
    }

    if (job->status[NGX_HTTP_MTASTS_Q_MX] == ARES_ENOTFOUND) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The domain %V does not exist in DNS (NXDOMAIN): "
                            "no mail can be delivered to it.",
                            &job->entry->domain);
        return NGX_OK;
    }

    npat = conf->mx ? conf->mx->nelts : 0;
    pat = npat ? conf->mx->elts : NULL;

    plen = ngx_palloc(job->pool, (npat + 1) * sizeof(size_t));
    pdata = ngx_palloc(job->pool, (npat + 1) * sizeof(u_char *));
    if (plen == NULL || pdata == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < npat; i++) {
        pdata[i] = pat[i].data;
        plen[i] = pat[i].len;
    }

    mx = job->mx.elts;

    mtasts_check_mx(mx, job->mx.nelts, job->mx.nelts == 0, pdata, plen,
                    npat, (int) conf->mode, job->domain, &c);

    ngx_http_mtasts_set(job->pool, check, ngx_http_mtasts_state_map[c.state],
                        "%s", c.message);

    if (conf->mode != NGX_HTTP_MTASTS_ENFORCE) {
        mtasts_check_mx(mx, job->mx.nelts, job->mx.nelts == 0, pdata, plen,
                        npat, MTASTS_MODE_ENFORCE, job->domain, &c);
    }

    *ready = (c.state != MTASTS_ERROR);

    res->nmx = job->mx.nelts;
    res->mx = ngx_pcalloc(job->pool,
                          (res->nmx + 1) * sizeof(ngx_http_mtasts_mx_host_t));
    if (res->mx == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < res->nmx; i++) {
        h = &res->mx[i];
        h->name.data = (u_char *) mx[i].name;
        h->name.len = mx[i].len;
        h->pref = mx[i].pref;

        if (h->name.len && h->name.data[h->name.len - 1] == '.') {
            h->name.len--;
        }

        /* matched as the mx check matches: the normalized name */

        if (mtasts_name_normalize(h->name.data, h->name.len, 0, &norm)
            != NULL)
        {
            continue;
        }

        for (j = 0; j < npat; j++) {
            if (mtasts_mx_match(pat[j].data, pat[j].len, norm.data,
                                norm.len))
            {
                h->matched = 1;
                break;
            }
        }
    }

    return NGX_OK;
}
