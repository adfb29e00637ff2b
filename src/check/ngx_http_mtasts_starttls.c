
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * STARTTLS: the addresses of every MX host, a probe of each address, and
 * the verdict on them all.  A probe reports back through its callback.
 */


#include "ngx_http_mtasts_job.h"


#define NGX_HTTP_MTASTS_MX_HOSTS   10      /* MX hosts probed */
#define NGX_HTTP_MTASTS_MX_ADDRS   4       /* addresses per family */


/* an MX host to probe, with its two address lookups */

typedef struct ngx_http_mtasts_mxhost_s  ngx_http_mtasts_mxhost_t;

typedef struct {
    ngx_http_mtasts_mxhost_t     *host;
    ngx_uint_t                    aaaa;
    ngx_uint_t                    tries;
} ngx_http_mtasts_mxq_t;


/* a probe that waits for the host's TLSA records */

typedef struct {
    ngx_addr_t                    addr;
    ngx_http_mtasts_tls_t        *result;
} ngx_http_mtasts_waiting_t;


struct ngx_http_mtasts_mxhost_s {
    ngx_http_mtasts_job_t        *job;
    ngx_str_t                     name;        /* NUL-terminated */
    ngx_uint_t                    lookups;     /* outstanding */
    ngx_uint_t                    naddrs;
    int                           status;      /* a failed lookup */
    ngx_http_mtasts_mxq_t         q[2];
    ngx_http_mtasts_dane_q_t     *tlsa;        /* mta_sts_check_dane */
    ngx_uint_t                    tlsa_done;
    ngx_array_t                   waiting;     /* ngx_http_mtasts_waiting_t */
};


static void ngx_http_mtasts_mx_lookup(ngx_http_mtasts_job_t *job,
    u_char *name, size_t len);
static void ngx_http_mtasts_mx_answer(void *arg, int status, int timeouts,
    unsigned char *abuf, int alen);
static void ngx_http_mtasts_mx_probe(ngx_http_mtasts_mxhost_t *h,
    struct sockaddr *sa, socklen_t socklen);
static void ngx_http_mtasts_tls_entry(ngx_http_mtasts_mxhost_t *h,
    const char *fmt, ...);
static void ngx_http_mtasts_probe_done(void *data, ngx_uint_t aborted);
static ngx_http_mtasts_tls_t *ngx_http_mtasts_tls_new(
    ngx_http_mtasts_job_t *job);
static void ngx_http_mtasts_mx_tlsa(void *data);
static void ngx_http_mtasts_mx_start(ngx_http_mtasts_mxhost_t *h,
    ngx_addr_t *addr, ngx_http_mtasts_tls_t *r);


/* STARTTLS: the addresses of every MX host, then a probe of each */

void
ngx_http_mtasts_mx_lookups(ngx_http_mtasts_job_t *job)
{
    ngx_uint_t      i, j, n;
    mtasts_mx_t    *mx;
    mtasts_name_t  *names;

    if (job->status[NGX_HTTP_MTASTS_Q_MX] == ARES_ENODATA) {

        /* no MX records: the domain itself is the implicit MX */

        ngx_http_mtasts_mx_lookup(job, job->entry->domain.data,
                                  job->entry->domain.len);
        return;
    }

    if (job->status[NGX_HTTP_MTASTS_Q_MX] != ARES_SUCCESS) {
        return;
    }

    mx = job->mx.elts;
    n = 0;

    names = ngx_palloc(job->pool,
                       NGX_HTTP_MTASTS_MX_HOSTS * sizeof(mtasts_name_t));
    if (names == NULL) {
        return;
    }

    for (i = 0; i < job->mx.nelts && n < NGX_HTTP_MTASTS_MX_HOSTS; i++) {

        /* a null MX, and names no certificate can be for, are not probed */

        if (mtasts_name_normalize(mx[i].name, mx[i].len, 0, &names[n])
            != NULL)
        {
            continue;
        }

        for (j = 0; j < n; j++) {
            if (names[j].len == names[n].len
                && ngx_strncmp(names[j].data, names[n].data, names[n].len)
                   == 0)
            {
                break;
            }
        }

        if (j < n) {
            continue;
        }

        ngx_http_mtasts_mx_lookup(job, names[n].data, names[n].len);
        n++;
    }
}


static void
ngx_http_mtasts_mx_lookup(ngx_http_mtasts_job_t *job, u_char *name,
    size_t len)
{
    ngx_uint_t                 i;
    ngx_http_mtasts_mxhost_t  *h;

    h = ngx_pcalloc(job->pool, sizeof(ngx_http_mtasts_mxhost_t));
    if (h == NULL) {
        return;
    }

    h->job = job;
    h->name.len = len;
    h->name.data = ngx_pnalloc(job->pool, len + 1);
    if (h->name.data == NULL) {
        return;
    }

    ngx_memcpy(h->name.data, name, len);
    h->name.data[len] = '\0';

    /* with DANE, the probes wait for the host's TLSA records */

    h->tlsa_done = 1;

    if (job->mmcf->dane) {
        if (ngx_array_init(&h->waiting, job->pool, 2,
                           sizeof(ngx_http_mtasts_waiting_t))
            != NGX_OK)
        {
            return;
        }

        h->tlsa_done = 0;
        h->tlsa = ngx_http_mtasts_dane_host(job, h->name.data, len,
                                            ngx_http_mtasts_mx_tlsa, h);
        if (h->tlsa == NULL) {
            h->tlsa_done = 1;
        }
    }

    if (!job->mmcf->starttls) {
        return;
    }

    h->lookups = 2;
    job->pending += 2;

    for (i = 0; i < 2; i++) {
        h->q[i].host = h;
        h->q[i].aaaa = i;

        if (ngx_http_mtasts_dns_query((char *) h->name.data,
                                      i ? NGX_HTTP_MTASTS_T_AAAA
                                        : NGX_HTTP_MTASTS_T_A,
                                      ngx_http_mtasts_mx_answer, &h->q[i])
            != NGX_OK)
        {
            h->status = ARES_EDESTRUCTION;
            h->lookups--;
            job->pending--;
        }
    }
}


static void
ngx_http_mtasts_mx_answer(void *arg, int status, int timeouts,
    unsigned char *abuf, int alen)
{
    ngx_http_mtasts_mxq_t *q = arg;

    int                        i, n;
    ngx_http_mtasts_job_t     *job;
    struct sockaddr_in         sin;
    struct sockaddr_in6        sin6;
    struct ares_addrttl        a4[NGX_HTTP_MTASTS_MX_ADDRS];
    struct ares_addr6ttl       a6[NGX_HTTP_MTASTS_MX_ADDRS];
    ngx_http_mtasts_mxhost_t  *h;

    h = q->host;
    job = h->job;
    n = NGX_HTTP_MTASTS_MX_ADDRS;

    if (!job->aborted
        && ngx_http_mtasts_dns_again(status, &q->tries)
        && ngx_http_mtasts_dns_query((char *) h->name.data,
                                     q->aaaa ? NGX_HTTP_MTASTS_T_AAAA
                                             : NGX_HTTP_MTASTS_T_A,
                                     ngx_http_mtasts_mx_answer, q)
           == NGX_OK)
    {
        return;
    }

    if (status == ARES_EDESTRUCTION) {
        job->aborted = 1;
    }

    if (status == ARES_SUCCESS && !job->aborted) {
        status = q->aaaa ? ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n)
                         : ares_parse_a_reply(abuf, alen, NULL, a4, &n);
    }

    if (status == ARES_SUCCESS && !job->aborted) {

        for (i = 0; i < n; i++) {
            if (q->aaaa) {
                ngx_memzero(&sin6, sizeof(struct sockaddr_in6));
                sin6.sin6_family = AF_INET6;
                ngx_memcpy(&sin6.sin6_addr, &a6[i].ip6addr,
                           sizeof(struct in6_addr));
                ngx_http_mtasts_mx_probe(h, (struct sockaddr *) &sin6,
                                      sizeof(struct sockaddr_in6));

            } else {
                ngx_memzero(&sin, sizeof(struct sockaddr_in));
                sin.sin_family = AF_INET;
                sin.sin_addr = a4[i].ipaddr;
                ngx_http_mtasts_mx_probe(h, (struct sockaddr *) &sin,
                                      sizeof(struct sockaddr_in));
            }
        }

    } else if (status != ARES_ENODATA && status != ARES_ENOTFOUND) {
        h->status = status;
    }

    if (--h->lookups == 0 && h->naddrs == 0 && !job->aborted) {
        if (h->status) {
            ngx_http_mtasts_tls_entry(h, "could not look up its address: "
                                      "%s", ngx_http_mtasts_dns_strerror(
                                                              h->status));
        } else {
            ngx_http_mtasts_tls_entry(h, "the MX host has no A or AAAA "
                                      "record");
        }
    }

    ngx_http_mtasts_job_answered(job);
}


static void
ngx_http_mtasts_mx_probe(ngx_http_mtasts_mxhost_t *h,
    struct sockaddr *sa, socklen_t socklen)
{
    u_char                     *p;
    ngx_addr_t                  addr;
    ngx_http_mtasts_job_t      *job;
    ngx_http_mtasts_tls_t      *r;
    ngx_http_mtasts_waiting_t  *w;

    job = h->job;

    r = ngx_http_mtasts_tls_new(job);
    addr.sockaddr = ngx_palloc(job->pool, socklen);
    p = ngx_pnalloc(job->pool, NGX_SOCKADDR_STRLEN);
    if (r == NULL || addr.sockaddr == NULL || p == NULL) {
        return;
    }

    ngx_memcpy(addr.sockaddr, sa, socklen);

    addr.socklen = socklen;
    addr.name.data = p;
    addr.name.len = ngx_sock_ntop(sa, socklen, p, NGX_SOCKADDR_STRLEN, 0);

    r->host = h->name;
    r->address = addr.name;
    h->naddrs++;

    if (!h->tlsa_done) {
        w = ngx_array_push(&h->waiting);
        if (w == NULL) {
            ngx_str_set(&r->reason, "could not start the probe");
            return;
        }

        w->addr = addr;
        w->result = r;
        return;
    }

    ngx_http_mtasts_mx_start(h, &addr, r);
}


static void
ngx_http_mtasts_mx_start(ngx_http_mtasts_mxhost_t *h, ngx_addr_t *addr,
    ngx_http_mtasts_tls_t *r)
{
    ngx_array_t            *tlsa;
    ngx_http_mtasts_job_t  *job;

    job = h->job;

    /* DANE senders use TLSA records that are secure and usable only */

    tlsa = (h->tlsa && h->tlsa->res.status == ARES_SUCCESS
            && h->tlsa->res.dnssec == MTASTS_DNSSEC_SECURE
            && h->tlsa->addr.dnssec == MTASTS_DNSSEC_SECURE)
           ? &h->tlsa->res.rrs : NULL;

    /* the caller holds the job: the result may be there at once */

    job->pending++;

    if (ngx_http_mtasts_share_probe(job->mmcf, job->pool, &h->name, addr,
                                    tlsa, r, ngx_http_mtasts_probe_done, job)
        != NGX_OK)
    {
        ngx_str_set(&r->reason, "could not start the probe");
        job->pending--;
    }
}


/* the TLSA records are known: the probes that waited for them start */

static void
ngx_http_mtasts_mx_tlsa(void *data)
{
    ngx_http_mtasts_mxhost_t *h = data;

    ngx_uint_t                  i;
    ngx_http_mtasts_job_t      *job;
    ngx_http_mtasts_waiting_t  *w;

    job = h->job;
    h->tlsa_done = 1;

    w = h->waiting.elts;

    for (i = 0; i < h->waiting.nelts && !job->aborted; i++) {
        ngx_http_mtasts_mx_start(h, &w[i].addr, w[i].result);
    }

    h->waiting.nelts = 0;

    ngx_http_mtasts_job_answered(job);
}


static void
ngx_http_mtasts_tls_entry(ngx_http_mtasts_mxhost_t *h, const char *fmt, ...)
{
    u_char                 *p, buf[256];
    va_list                 args;
    ngx_http_mtasts_tls_t  *r;

    r = ngx_http_mtasts_tls_new(h->job);
    if (r == NULL) {
        return;
    }

    r->host = h->name;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    r->reason.data = ngx_pnalloc(h->job->pool, p - buf);
    if (r->reason.data) {
        r->reason.len = p - buf;
        ngx_memcpy(r->reason.data, buf, p - buf);
    }
}


static void
ngx_http_mtasts_probe_done(void *data, ngx_uint_t aborted)
{
    ngx_http_mtasts_job_t *job = data;

    if (aborted) {
        job->aborted = 1;
    }

    ngx_http_mtasts_job_answered(job);
}


/*
 * A probe's result, allocated on its own: a probe in flight writes into
 * it, so it must not move when the list of results grows.
 */

static ngx_http_mtasts_tls_t *
ngx_http_mtasts_tls_new(ngx_http_mtasts_job_t *job)
{
    ngx_http_mtasts_tls_t  *r, **rp;

    r = ngx_pcalloc(job->pool, sizeof(ngx_http_mtasts_tls_t));
    if (r == NULL) {
        return NULL;
    }

    rp = ngx_array_push(&job->tls);
    if (rp == NULL) {
        return NULL;
    }

    *rp = r;

    return r;
}


/* returns how many probes failed */

ngx_uint_t
ngx_http_mtasts_build_starttls(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                      *p, *last, buf[1024];
    ngx_uint_t                   i, nfail, state;
    ngx_http_mtasts_tls_t       *tls, **all;
    ngx_http_mtasts_check_t     *check;
    ngx_http_mtasts_srv_conf_t  *conf;

    check = &res->checks[NGX_HTTP_MTASTS_STARTTLS];
    conf = job->entry->conf;

    /* the results, one after the other, as the result block keeps them */

    all = job->tls.elts;
    res->ntls = job->tls.nelts;
    res->tls = ngx_palloc(job->pool,
                          (res->ntls + 1) * sizeof(ngx_http_mtasts_tls_t));
    if (res->tls == NULL) {
        res->ntls = 0;
    }

    for (i = 0; i < res->ntls; i++) {
        res->tls[i] = *all[i];
    }

    if (!job->mmcf->starttls) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "STARTTLS probes are off: "
                            "\"mta_sts_check_starttls on\" connects to "
                            "each MX host as senders do.");
        return 0;
    }

    if (job->status[NGX_HTTP_MTASTS_Q_MX] == ARES_ENOTFOUND) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "No MX host was probed: the domain does not "
                            "exist.");
        return 1;
    }

    if (job->status[NGX_HTTP_MTASTS_Q_MX] != ARES_SUCCESS
        && job->status[NGX_HTTP_MTASTS_Q_MX] != ARES_ENODATA)
    {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "No MX host was probed: the MX lookup failed.");
        return 1;
    }

    if (res->ntls == 0) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "No MX host to probe: the domain accepts no "
                            "mail (null MX), or its MX names are not host "
                            "names.");
        return 0;
    }

    tls = res->tls;
    nfail = 0;
    p = buf;
    last = buf + sizeof(buf);

    for (i = 0; i < res->ntls; i++) {
        if (tls[i].ok) {
            continue;
        }

        if (nfail++ < 4) {
            p = ngx_slprintf(p, last, "%s%V%s%V%s: %V", nfail > 1 ? "; " : "",
                             &tls[i].host, tls[i].address.len ? " [" : "",
                             &tls[i].address, tls[i].address.len ? "]" : "",
                             &tls[i].reason);
        }
    }

    if (nfail == 0) {
        if (res->ntls == 1) {
            ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_OK,
                                "The MX address accepts STARTTLS with a "
                                "trusted certificate valid for the MX host "
                                "(%V).", &tls[0].version);
            return 0;
        }

        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_OK,
                            "All %ui MX addresses accept STARTTLS with a "
                            "trusted certificate valid for the MX host "
                            "(%V).", res->ntls, &tls[0].version);
        return 0;
    }

    state = (conf->mode == NGX_HTTP_MTASTS_ENFORCE) ? NGX_HTTP_MTASTS_ERROR
                                                    : NGX_HTTP_MTASTS_WARNING;

    if (nfail > 4) {
        p = ngx_slprintf(p, last, "; and %ui more", nfail - 4);
    }

    ngx_http_mtasts_set(job->pool, check, state,
                        "%*s. %s", p - buf, buf,
                        conf->mode == NGX_HTTP_MTASTS_ENFORCE
                        ? "Senders that enforce MTA-STS refuse to deliver "
                          "to these hosts."
                        : "In enforce mode senders would refuse to deliver "
                          "to these hosts.");
    return nfail;
}
