
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The policy host: the addresses of mta-sts.<domain>, and the certificate
 * this server presents for it, with the chain it sends.
 */


#include "ngx_http_mtasts_job.h"


#define NGX_HTTP_MTASTS_CERT_DAYS  14      /* warn before expiry */


#if (NGX_HTTP_SSL)
static const char *ngx_http_mtasts_verify_chain(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_srv_conf_t *conf, X509 *cert);
#endif


void
ngx_http_mtasts_build_host(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                   *p, *last;
    ngx_str_t                *addr;
    ngx_uint_t                i;
    ngx_http_mtasts_check_t  *check;

    check = &res->checks[NGX_HTTP_MTASTS_POLICY_HOST];

    res->addresses = job->addrs.elts;
    res->naddresses = job->addrs.nelts;

    if (res->naddresses) {
        p = ngx_pnalloc(job->pool, 256);
        if (p == NULL) {
            return;
        }

        last = p + 256;
        addr = res->addresses;

        for (i = 0; i < res->naddresses && i < 4; i++) {
            p = ngx_slprintf(p, last, "%s%V", i ? ", " : "", &addr[i]);
        }

        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_OK,
                            "The policy host mta-sts.%V has %ui address%s: "
                            "%*s%s.",
                            &job->entry->domain, res->naddresses,
                            res->naddresses > 1 ? "es" : "",
                            p - (last - 256), last - 256,
                            res->naddresses > 4 ? ", ..." : "");
        return;
    }

    if (ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_A, check,
                                      "the address of mta-sts.")
        || ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_AAAA, check,
                                         "the address of mta-sts."))
    {
        return;
    }

    ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                        "The policy host mta-sts.%V has no A or AAAA "
                        "record: senders cannot fetch the policy. Publish "
                        "an address (or a CNAME) for mta-sts.%V that "
                        "reaches this server.",
                        &job->entry->domain, &job->entry->domain);
}


#if (NGX_HTTP_SSL)

/* NULL if the certificate chains to the trust store, else the reason */

static const char *
ngx_http_mtasts_verify_chain(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_srv_conf_t *conf, X509 *cert)
{
    int                      rc, err;
    ngx_uint_t               i;
    X509_STORE_CTX          *xs;
    STACK_OF(X509)          *chain;
    ngx_http_mtasts_cert_t  *c;

    if (job->mmcf->ssl == NULL) {
        return NULL;
    }

    chain = NULL;
    c = conf->certs ? conf->certs->elts : NULL;

    for (i = 0; c && i < conf->certs->nelts; i++) {
        if (c[i].cert == cert) {
            chain = c[i].chain;
            break;
        }
    }

    xs = X509_STORE_CTX_new();
    if (xs == NULL) {
        return "out of memory";
    }

    if (X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(job->mmcf->ssl->ctx),
                            cert, chain)
        != 1)
    {
        X509_STORE_CTX_free(xs);
        return "could not verify";
    }

    (void) X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_SERVER);

    rc = X509_verify_cert(xs);
    err = X509_STORE_CTX_get_error(xs);

    X509_STORE_CTX_free(xs);

    return (rc == 1) ? NULL : X509_verify_cert_error_string(err);
}

#endif


void
ngx_http_mtasts_build_certificate(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    ngx_http_mtasts_check_t     *check;
    ngx_http_mtasts_srv_conf_t  *conf;
#if (NGX_HTTP_SSL)
    X509                        *cert, *best;
    time_t                       now, na, nb, best_na;
    u_char                       host[MTASTS_NAME_MAX + 16], cn[256];
    ngx_tm_t                     tm;
    const char                  *err;
    ngx_int_t                    days;
    ngx_http_ssl_srv_conf_t     *sscf;
#endif

    check = &res->checks[NGX_HTTP_MTASTS_CERTIFICATE];
    conf = job->entry->conf;

#if (NGX_HTTP_SSL)

    sscf = conf->ssl;

    if (sscf && sscf->certificate_values) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "The ssl_certificate of this server uses "
                            "variables: the certificate is chosen at each "
                            "handshake and is not checked ahead of time.");
        return;
    }

    if (sscf == NULL || sscf->ssl.ctx == NULL) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_WARNING,
                            "The server has no ssl_certificate, and senders "
                            "fetch the policy over HTTPS only. Unless a "
                            "proxy in front of nginx terminates TLS for "
                            "mta-sts.%V, configure a certificate for it.",
                            &job->entry->domain);
        return;
    }

    ngx_sprintf(host, "mta-sts.%V%Z", &job->entry->domain);

    best = NULL;
    best_na = 0;
    cn[0] = '\0';

    for (cert = SSL_CTX_get_ex_data(sscf->ssl.ctx, ngx_ssl_certificate_index);
         cert;
         cert = X509_get_ex_data(cert, ngx_ssl_next_certificate_index))
    {
        /* DNS-IDs only, a wildcard only as a whole label (RFC 6125) */

        if (X509_check_host(cert, (char *) host, 0,
                            X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
                            |X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL)
            != 1)
        {
            if (cn[0] == '\0') {
                (void) X509_NAME_oneline(X509_get_subject_name(cert),
                                         (char *) cn, sizeof(cn));
            }

            continue;
        }

        na = ngx_http_mtasts_asn1_time(X509_get0_notAfter(cert));

        if (best == NULL || na < best_na) {
            best = cert;
            best_na = na;
        }
    }

    if (best == NULL) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The certificate of this server (\"%s\") does "
                            "not cover %s: senders reject the policy. "
                            "Get a certificate for %s.", cn, host, host);
        return;
    }

    now = ngx_time();
    nb = ngx_http_mtasts_asn1_time(X509_get0_notBefore(best));
    res->cert_expires = best_na;

    ngx_gmtime(best_na, &tm);

    if (nb > now) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The certificate for %s is not valid yet: "
                            "senders reject the policy until then.",
                            host);
        return;
    }

    if (best_na <= now) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The certificate for %s expired on "
                            "%4d-%02d-%02d: senders reject the policy. "
                            "Renew it.", host, tm.ngx_tm_year, tm.ngx_tm_mon,
                            tm.ngx_tm_mday);
        return;
    }

    /* the chain nginx sends, against the trust store senders use */

    err = ngx_http_mtasts_verify_chain(job, conf, best);

    if (err) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The certificate for %s is not trusted (%s): "
                            "senders reject the policy. Serve the whole "
                            "chain of a CA that senders trust.", host, err);
        return;
    }

    days = (best_na - now) / 86400;

    ngx_http_mtasts_set(job->pool, check,
                        days < NGX_HTTP_MTASTS_CERT_DAYS
                        ? NGX_HTTP_MTASTS_WARNING : NGX_HTTP_MTASTS_OK,
                        "The certificate for %s %s %4d-%02d-%02d, "
                        "in %i day%s%s", host,
                        days < NGX_HTTP_MTASTS_CERT_DAYS ? "expires on"
                                                         : "is valid until",
                        tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                        days, days == 1 ? "" : "s",
                        days < NGX_HTTP_MTASTS_CERT_DAYS ? ": renew it." : ".");

#else

    ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                        "nginx was built without the ssl module.");
    (void) conf;

#endif
}
