
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A check's verdict: its state and the sentence that says why, and the
 * verdict of a lookup that failed.
 */


#include "ngx_http_mtasts_job.h"


ngx_uint_t  ngx_http_mtasts_state_map[] = {
    NGX_HTTP_MTASTS_OK,                    /* MTASTS_OK */
    NGX_HTTP_MTASTS_WARNING,               /* MTASTS_WARNING */
    NGX_HTTP_MTASTS_ERROR                  /* MTASTS_ERROR */
};


void
ngx_http_mtasts_set(ngx_pool_t *pool, ngx_http_mtasts_check_t *check,
    ngx_uint_t state, const char *fmt, ...)
{
    u_char   *p, buf[2048];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    check->state = state;
    check->message.len = p - buf;
    check->message.data = ngx_pnalloc(pool, p - buf);

    if (check->message.data) {
        ngx_memcpy(check->message.data, buf, p - buf);
    }
}


ngx_int_t
ngx_http_mtasts_lookup_failed(ngx_http_mtasts_job_t *job, ngx_uint_t what,
    ngx_http_mtasts_check_t *check, const char *name)
{
    int  status;

    status = job->status[what];

    if (status == ARES_SUCCESS || status == ARES_ENODATA
        || status == ARES_ENOTFOUND)
    {
        return 0;
    }

    ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                        "Could not look up %s%V: %s. Senders asking the "
                        "same resolvers get no answer either.",
                        name, &job->entry->domain,
                        ngx_http_mtasts_dns_strerror(status));
    return 1;
}
