
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A domain's result: built from the families of checks, summed up in a
 * sentence, and packed into one block for the shared zone.
 */


#include "ngx_http_mtasts_job.h"


static void ngx_http_mtasts_build_summary(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res, ngx_uint_t tls_failed);
static u_char *ngx_http_mtasts_pack_str(ngx_str_t *dst, ngx_str_t *src,
    u_char *p);


ngx_int_t
ngx_http_mtasts_build(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    ngx_uint_t  i, ready, tls_failed;

    ngx_memzero(res, sizeof(ngx_http_mtasts_result_t));

    res->checked = ngx_time();

    ngx_http_mtasts_build_sts(job, res);
    ngx_http_mtasts_build_tlsrpt(job, res);

    if (ngx_http_mtasts_build_mx(job, res, &ready) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_mtasts_build_host(job, res);
    ngx_http_mtasts_build_certificate(job, res);
    tls_failed = ngx_http_mtasts_build_starttls(job, res);

    if (ngx_http_mtasts_build_dane(job, res) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_MTASTS_NCHECKS; i++) {

        if (res->checks[i].message.data == NULL) {
            return NGX_ERROR;
        }

        /* a check that was not run does not make the domain worse */

        if (res->checks[i].state > res->status
            && res->checks[i].state != NGX_HTTP_MTASTS_SKIPPED)
        {
            res->status = res->checks[i].state;
        }
    }

    /* nothing would bounce mail if the policy were enforced */

    res->enforce_ready = ready && !tls_failed
        && res->checks[NGX_HTTP_MTASTS_STS_RECORD].state
           != NGX_HTTP_MTASTS_ERROR
        && res->checks[NGX_HTTP_MTASTS_POLICY_HOST].state
           != NGX_HTTP_MTASTS_ERROR
        && res->checks[NGX_HTTP_MTASTS_CERTIFICATE].state
           != NGX_HTTP_MTASTS_ERROR;

    ngx_http_mtasts_build_summary(job, res, tls_failed);

    return res->summary.data ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_mtasts_build_summary(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res, ngx_uint_t tls_failed)
{
    u_char                      *p, *last, hosts[512];
    ngx_uint_t                   i, j, n, all;
    ngx_http_mtasts_tls_t       *tls;
    ngx_http_mtasts_srv_conf_t  *conf;
    ngx_http_mtasts_check_t      summary;

    conf = job->entry->conf;
    tls = res->tls;

    /* the MX hosts that fail, each once */

    p = hosts;
    last = hosts + sizeof(hosts);
    n = 0;
    all = 1;

    for (i = 0; i < res->ntls; i++) {
        if (tls[i].ok) {
            all = 0;
            continue;
        }

        for (j = 0; j < i; j++) {
            if (!tls[j].ok && tls[j].host.data == tls[i].host.data) {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        p = ngx_slprintf(p, last, "%s%V", n++ ? ", " : "", &tls[i].host);
    }

    if (conf->mode == NGX_HTTP_MTASTS_NONE) {
        ngx_http_mtasts_set(job->pool, &summary, 0, "The policy is mode "
                            "none: senders apply no MTA-STS to %V.",
                            &job->entry->domain);

    } else if (conf->mode == NGX_HTTP_MTASTS_ENFORCE && tls_failed && n) {
        ngx_http_mtasts_set(job->pool, &summary, 0, all
                            ? "All mail to %V would bounce: senders that "
                              "enforce MTA-STS refuse %*s, see starttls."
                            : "Mail to %V would bounce whenever it goes to "
                              "%*s: senders that enforce MTA-STS refuse "
                              "those hosts, see starttls.",
                            &job->entry->domain, p - hosts, hosts);

    } else if (conf->mode == NGX_HTTP_MTASTS_ENFORCE) {
        ngx_http_mtasts_set(job->pool, &summary, 0,
                            res->status == NGX_HTTP_MTASTS_ERROR
                            ? "The policy is enforced, but senders may "
                              "ignore it or refuse some MX hosts: fix the "
                              "errors."
                            : "The policy is enforced and nothing would "
                              "bounce.");

    } else if (res->enforce_ready) {
        ngx_http_mtasts_set(job->pool, &summary, 0,
                            "Nothing would bounce: %V is ready for "
                            "\"mta_sts_mode enforce\".",
                            &job->entry->domain);

    } else {
        ngx_http_mtasts_set(job->pool, &summary, 0,
                            "Not ready for \"mta_sts_mode enforce\": %s.",
                            n ? "senders would refuse some MX hosts, see "
                                "starttls"
                              : "fix the errors first");
    }

    /* DANE senders apply TLSA records whatever the policy says */

    if (res->checks[NGX_HTTP_MTASTS_DANE].state == NGX_HTTP_MTASTS_ERROR
        && summary.message.data)
    {
        ngx_http_mtasts_set(job->pool, &summary, 0,
                            "%V Senders that validate DNSSEC and use DANE "
                            "defer mail to %V whatever the policy says, "
                            "see dane.", &summary.message,
                            &job->entry->domain);
    }

    res->summary = summary.message;
}


/*
 * A result in one block: the struct, then its arrays, then its strings;
 * every pointer points inside the block.
 */

size_t
ngx_http_mtasts_result_size(ngx_http_mtasts_result_t *src)
{
    size_t      size;
    ngx_uint_t  i;

    size = sizeof(ngx_http_mtasts_result_t)
           + src->nmx * sizeof(ngx_http_mtasts_mx_host_t)
           + src->naddresses * sizeof(ngx_str_t)
           + src->ntls * sizeof(ngx_http_mtasts_tls_t)
           + src->ntlsa * sizeof(ngx_http_mtasts_tlsa_t)
           + src->sts_id.len + src->tlsrpt.len + src->summary.len;

    for (i = 0; i < src->ntls; i++) {
        size += src->tls[i].host.len + src->tls[i].address.len
                + src->tls[i].reason.len + src->tls[i].version.len
                + src->tls[i].cipher.len + src->tls[i].subject.len
                + src->tls[i].issuer.len + src->tls[i].dane_match.len
                + src->tls[i].spki.len;
    }

    for (i = 0; i < src->ntlsa; i++) {
        size += src->tlsa[i].host.len + src->tlsa[i].records.len
                + src->tlsa[i].match.len;
    }

    for (i = 0; i < NGX_HTTP_MTASTS_NCHECKS; i++) {
        size += src->checks[i].message.len;
    }

    for (i = 0; i < src->nmx; i++) {
        size += src->mx[i].name.len;
    }

    for (i = 0; i < src->naddresses; i++) {
        size += src->addresses[i].len;
    }

    return size;
}


static u_char *
ngx_http_mtasts_pack_str(ngx_str_t *dst, ngx_str_t *src, u_char *p)
{
    dst->len = src->len;
    dst->data = src->len ? p : NULL;

    /* memcpy() from NULL is undefined even for no bytes */

    return src->len ? ngx_cpymem(p, src->data, src->len) : p;
}


void
ngx_http_mtasts_result_pack(ngx_http_mtasts_result_t *src, u_char *dst)
{
    u_char                    *p;
    ngx_uint_t                 i;
    ngx_http_mtasts_tls_t     *t;
    ngx_http_mtasts_tlsa_t    *a;
    ngx_http_mtasts_result_t  *res;

    res = (ngx_http_mtasts_result_t *) dst;
    *res = *src;

    p = dst + sizeof(ngx_http_mtasts_result_t);

    res->mx = (ngx_http_mtasts_mx_host_t *) p;
    p += src->nmx * sizeof(ngx_http_mtasts_mx_host_t);

    res->addresses = (ngx_str_t *) p;
    p += src->naddresses * sizeof(ngx_str_t);

    res->tls = (ngx_http_mtasts_tls_t *) p;
    p += src->ntls * sizeof(ngx_http_mtasts_tls_t);

    res->tlsa = (ngx_http_mtasts_tlsa_t *) p;
    p += src->ntlsa * sizeof(ngx_http_mtasts_tlsa_t);

    for (i = 0; i < NGX_HTTP_MTASTS_NCHECKS; i++) {
        p = ngx_http_mtasts_pack_str(&res->checks[i].message,
                                     &src->checks[i].message, p);
    }

    for (i = 0; i < src->nmx; i++) {
        res->mx[i] = src->mx[i];
        p = ngx_http_mtasts_pack_str(&res->mx[i].name, &src->mx[i].name, p);
    }

    for (i = 0; i < src->naddresses; i++) {
        p = ngx_http_mtasts_pack_str(&res->addresses[i], &src->addresses[i],
                                     p);
    }

    for (i = 0; i < src->ntls; i++) {
        t = &res->tls[i];
        *t = src->tls[i];

        p = ngx_http_mtasts_pack_str(&t->host, &src->tls[i].host, p);
        p = ngx_http_mtasts_pack_str(&t->address, &src->tls[i].address, p);
        p = ngx_http_mtasts_pack_str(&t->reason, &src->tls[i].reason, p);
        p = ngx_http_mtasts_pack_str(&t->version, &src->tls[i].version, p);
        p = ngx_http_mtasts_pack_str(&t->cipher, &src->tls[i].cipher, p);
        p = ngx_http_mtasts_pack_str(&t->subject, &src->tls[i].subject, p);
        p = ngx_http_mtasts_pack_str(&t->issuer, &src->tls[i].issuer, p);
        p = ngx_http_mtasts_pack_str(&t->dane_match, &src->tls[i].dane_match,
                                     p);
        p = ngx_http_mtasts_pack_str(&t->spki, &src->tls[i].spki, p);
    }

    for (i = 0; i < src->ntlsa; i++) {
        a = &res->tlsa[i];
        *a = src->tlsa[i];

        p = ngx_http_mtasts_pack_str(&a->host, &src->tlsa[i].host, p);
        p = ngx_http_mtasts_pack_str(&a->records, &src->tlsa[i].records, p);
        p = ngx_http_mtasts_pack_str(&a->match, &src->tlsa[i].match, p);
    }

    p = ngx_http_mtasts_pack_str(&res->sts_id, &src->sts_id, p);
    p = ngx_http_mtasts_pack_str(&res->tlsrpt, &src->tlsrpt, p);
    p = ngx_http_mtasts_pack_str(&res->summary, &src->summary, p);

    res->size = p - dst;
}


/* a block copied from "from" to "res": move its pointers along */

void
ngx_http_mtasts_result_relocate(ngx_http_mtasts_result_t *res, u_char *from)
{
    ngx_uint_t  i;
    ptrdiff_t   d;

    d = (u_char *) res - from;

#define ngx_http_mtasts_move(p)  if (p) { p = (void *) ((u_char *) (p) + d); }

    ngx_http_mtasts_move(res->mx);
    ngx_http_mtasts_move(res->addresses);
    ngx_http_mtasts_move(res->tls);
    ngx_http_mtasts_move(res->tlsa);
    ngx_http_mtasts_move(res->sts_id.data);
    ngx_http_mtasts_move(res->tlsrpt.data);
    ngx_http_mtasts_move(res->summary.data);

    for (i = 0; i < res->ntls; i++) {
        ngx_http_mtasts_move(res->tls[i].host.data);
        ngx_http_mtasts_move(res->tls[i].address.data);
        ngx_http_mtasts_move(res->tls[i].reason.data);
        ngx_http_mtasts_move(res->tls[i].version.data);
        ngx_http_mtasts_move(res->tls[i].cipher.data);
        ngx_http_mtasts_move(res->tls[i].subject.data);
        ngx_http_mtasts_move(res->tls[i].issuer.data);
        ngx_http_mtasts_move(res->tls[i].dane_match.data);
        ngx_http_mtasts_move(res->tls[i].spki.data);
    }

    for (i = 0; i < res->ntlsa; i++) {
        ngx_http_mtasts_move(res->tlsa[i].host.data);
        ngx_http_mtasts_move(res->tlsa[i].records.data);
        ngx_http_mtasts_move(res->tlsa[i].match.data);
    }

    for (i = 0; i < NGX_HTTP_MTASTS_NCHECKS; i++) {
        ngx_http_mtasts_move(res->checks[i].message.data);
    }

    for (i = 0; i < res->nmx; i++) {
        ngx_http_mtasts_move(res->mx[i].name.data);
    }

    for (i = 0; i < res->naddresses; i++) {
        ngx_http_mtasts_move(res->addresses[i].data);
    }

#undef ngx_http_mtasts_move
}
