
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * DANE (RFC 7672) beside MTA-STS: whether the resolver validates DNSSEC,
 * the DNSSEC state of the domain's MX records, the TLSA records of each
 * MX host, and the verdict on them.  The lookups report back through
 * their callback.
 */


#include "ngx_http_mtasts_job.h"


static ngx_http_mtasts_dane_q_t *ngx_http_mtasts_dane_start(
    ngx_http_mtasts_job_t *job, const char *name, ngx_uint_t type,
    ngx_http_mtasts_dnssec_done_pt done);
static void ngx_http_mtasts_dane_answered(void *data);
static void ngx_http_mtasts_dane_mx(void *data);
static void ngx_http_mtasts_dane_part(void *data);
static ngx_http_mtasts_tls_t *ngx_http_mtasts_dane_probes(
    ngx_http_mtasts_result_t *res, ngx_http_mtasts_tlsa_t *t);
static int ngx_libc_cdecl ngx_http_mtasts_str_cmp(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_mtasts_host_cmp(const void *one,
    const void *two);


/*
 * As MTASTS_DNSSEC_*, from the best to the worst: secure, insecure, a
 * failed lookup (unknown), bogus
 */

static ngx_uint_t  ngx_http_mtasts_dnssec_rank[] = { 2, 0, 1, 3 };


/*
 * With the round's other queries: the root's NS, and the MX records, for
 * the job's MX lookup too (the round does not send that one)
 */

void
ngx_http_mtasts_dane_lookups(ngx_http_mtasts_job_t *job)
{
    ngx_http_mtasts_query_t         *mx;
    ngx_http_mtasts_dnssec_done_pt   done;

    /* a validating resolver answers the signed root zone with AD */

    done = ngx_http_mtasts_dane_answered;

    job->dnssec_root = ngx_http_mtasts_dane_start(job, ".", LDNS_RR_TYPE_NS,
                                                  done);
    job->dnssec_mx = ngx_http_mtasts_dane_start(job, job->domain,
                                                LDNS_RR_TYPE_MX,
                                                ngx_http_mtasts_dane_mx);

    if (job->dnssec_mx && job->dnssec_mx->parts) {
        return;
    }

    /* not started: the MX lookup as without DANE (no name: it failed) */

    mx = &job->q[NGX_HTTP_MTASTS_Q_MX];

    if (mx->name
        && ngx_http_mtasts_dns_query(mx->name, mx->type,
                                     ngx_http_mtasts_answer, mx)
           != NGX_OK)
    {
        job->status[NGX_HTTP_MTASTS_Q_MX] = ARES_EDESTRUCTION;
        job->pending--;
    }
}


/*
 * The TLSA records of an MX host (RFC 7672 2.2.3: port 25, TCP), and
 * whether its A and AAAA records are secure: senders look for TLSA
 * records only then (RFC 7672 2.2.2).  "done" is called with "data"
 * once, when all three are known (perhaps before this returns), and
 * must then call ngx_http_mtasts_job_answered(); NULL: nothing was
 * started, and "done" is not called.
 */

ngx_http_mtasts_dane_q_t *
ngx_http_mtasts_dane_host(ngx_http_mtasts_job_t *job, u_char *name,
    size_t len, ngx_http_mtasts_dnssec_done_pt done, void *data)
{
    u_char                     *p;
    ngx_http_mtasts_dane_q_t   *q, **qp;

    p = ngx_pnalloc(job->pool, sizeof("_25._tcp.") + len);
    q = ngx_pcalloc(job->pool, sizeof(ngx_http_mtasts_dane_q_t));
    qp = ngx_array_push(&job->tlsa);
    if (p == NULL || q == NULL || qp == NULL) {
        return NULL;
    }

    ngx_sprintf(p, "_25._tcp.%*s%Z", len, name);

    q->job = job;
    q->host.data = p + sizeof("_25._tcp.") - 1;
    q->host.len = len;
    q->done = done;
    q->data = data;
    *qp = q;

    /* one hold while all start: an answer may come before the others */

    job->pending++;
    q->parts = 4;

    if (ngx_http_mtasts_dnssec_lookup(job->pool, (char *) p,
                                      LDNS_RR_TYPE_TLSA, &q->res,
                                      ngx_http_mtasts_dane_part, q)
        != NGX_OK)
    {
        q->res.status = ARES_EDESTRUCTION;
        q->parts--;
    }

    if (ngx_http_mtasts_dnssec_lookup(job->pool, (char *) q->host.data,
                                      LDNS_RR_TYPE_A, &q->addr,
                                      ngx_http_mtasts_dane_part, q)
        != NGX_OK)
    {
        q->addr.status = ARES_EDESTRUCTION;
        q->parts--;
    }

    if (ngx_http_mtasts_dnssec_lookup(job->pool, (char *) q->host.data,
                                      LDNS_RR_TYPE_AAAA, &q->addr6,
                                      ngx_http_mtasts_dane_part, q)
        != NGX_OK)
    {
        q->addr6.status = ARES_EDESTRUCTION;
        q->parts--;
    }

    ngx_http_mtasts_dane_part(q);

    return q;
}


static void
ngx_http_mtasts_dane_part(void *data)
{
    ngx_http_mtasts_dane_q_t *q = data;

    if (q->res.status == ARES_EDESTRUCTION
        || q->addr.status == ARES_EDESTRUCTION
        || q->addr6.status == ARES_EDESTRUCTION)
    {
        q->job->aborted = 1;
    }

    if (--q->parts) {
        return;
    }

    /* the addresses are as the worse of the A and the AAAA answers */

    if (ngx_http_mtasts_dnssec_rank[q->addr6.dnssec]
        > ngx_http_mtasts_dnssec_rank[q->addr.dnssec])
    {
        q->addr.status = q->addr6.status;
        q->addr.dnssec = q->addr6.dnssec;
    }

    q->done(q->data);
}


/* "parts" is 1 once the lookup is started, and "done" is then called */

static ngx_http_mtasts_dane_q_t *
ngx_http_mtasts_dane_start(ngx_http_mtasts_job_t *job, const char *name,
    ngx_uint_t type, ngx_http_mtasts_dnssec_done_pt done)
{
    ngx_http_mtasts_dane_q_t  *q;

    q = ngx_pcalloc(job->pool, sizeof(ngx_http_mtasts_dane_q_t));
    if (q == NULL) {
        return NULL;
    }

    q->job = job;
    q->parts = 1;
    job->pending++;

    if (ngx_http_mtasts_dnssec_lookup(job->pool, name, type, &q->res,
                                      done, q)
        != NGX_OK)
    {
        job->pending--;
        q->parts = 0;
        q->res.status = ARES_EDESTRUCTION;
    }

    return q;
}


/*
 * The MX records asked with DNSSEC answer the job's MX lookup as well:
 * the first answer, the one without CD, ends it as c-ares' ares_query()
 * would have ended the same query without DNSSEC
 */

static void
ngx_http_mtasts_dane_mx(void *data)
{
    ngx_http_mtasts_dane_q_t *q = data;

    int                       status;
    ngx_http_mtasts_query_t  *mx;

    mx = &q->job->q[NGX_HTTP_MTASTS_Q_MX];

    if (mx->name == NULL) {
        /* the job's MX lookup failed before it started */
        ngx_http_mtasts_dane_answered(q);
        return;
    }

    status = q->res.status;

    if (q->res.answer.len) {
        switch (q->res.answer_rcode) {

        case LDNS_RCODE_FORMERR:
            status = ARES_EFORMERR;
            break;

        case LDNS_RCODE_SERVFAIL:
            status = ARES_ESERVFAIL;
            break;

        case LDNS_RCODE_NXDOMAIN:
            status = ARES_ENOTFOUND;
            break;

        case LDNS_RCODE_NOTIMPL:
            status = ARES_ENOTIMP;
            break;

        case LDNS_RCODE_REFUSED:
            status = ARES_EREFUSED;
            break;

        default:
            status = ARES_SUCCESS;
        }

    } else if (status == ARES_SUCCESS) {
        status = ARES_EBADRESP;
    }

    /* the lookup has been sent again already where that helps */

    mx->tries = NGX_MAX_UINT32_VALUE;

    ngx_http_mtasts_answer(mx, status, 0, q->res.answer.data,
                           (int) q->res.answer.len);

    ngx_http_mtasts_dane_answered(q);
}


static void
ngx_http_mtasts_dane_answered(void *data)
{
    ngx_http_mtasts_dane_q_t *q = data;

    if (q->res.status == ARES_EDESTRUCTION) {
        q->job->aborted = 1;
    }

    ngx_http_mtasts_job_answered(q->job);
}


ngx_int_t
ngx_http_mtasts_build_dane(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                     *p, *last, buf[2048];
    ngx_str_t                  *r;
    ngx_uint_t                  i, j, state, worst;
    ngx_http_mtasts_tls_t      *miss, *bad_miss;
    ngx_http_mtasts_tlsa_t     *t;
    ngx_http_mtasts_check_t    *check;
    ngx_http_mtasts_dane_q_t  **tq, *q, *bad;

    check = &res->checks[NGX_HTTP_MTASTS_DANE];
    res->dnssec = MTASTS_DNSSEC_UNKNOWN;
    res->validating = 2;

    if (!job->mmcf->dane) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "DANE is not checked: \"mta_sts_check_dane "
                            "on\" looks up the TLSA records of each MX "
                            "host as DANE senders do.");
        return NGX_OK;
    }

    q = job->dnssec_root;

    if (q == NULL || q->res.status != ARES_SUCCESS) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_WARNING,
                            "DANE is not checked: the resolver did not "
                            "answer for the root zone's NS records (%s); "
                            "check \"mta_sts_resolver\"",
                            ngx_http_mtasts_dns_strerror(
                                q ? q->res.status : ARES_ENOMEM));
        return NGX_OK;
    }

    res->validating = (q->res.dnssec == MTASTS_DNSSEC_SECURE);

    if (!res->validating) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_WARNING,
                            "DANE is not checked: the resolver of "
                            "\"mta_sts_resolver\" does not validate DNSSEC "
                            "(no AD bit on the root zone's NS records); "
                            "use a validating resolver, such as unbound on "
                            "this host");
        return NGX_OK;
    }

    q = job->dnssec_mx;

    if (q == NULL || q->res.status != ARES_SUCCESS) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_WARNING,
                            "the MX records of %s could not be looked up "
                            "with DNSSEC: %s", job->domain,
                            ngx_http_mtasts_dns_strerror(
                                q ? q->res.status : ARES_ENOMEM));
        return NGX_OK;
    }

    res->dnssec = q->res.dnssec;

    if (res->dnssec == MTASTS_DNSSEC_BOGUS) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "the MX records of %s fail DNSSEC validation "
                            "(bogus): every sender that validates DNSSEC "
                            "defers all mail to %s; fix the zone's "
                            "signatures or its DS record", job->domain,
                            job->domain);
        return NGX_OK;
    }

    if (res->dnssec == MTASTS_DNSSEC_INSECURE) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_OK,
                            "the MX records of %s are not signed with "
                            "DNSSEC: senders apply no DANE to it, only "
                            "MTA-STS", job->domain);
        return NGX_OK;
    }

    /*
     * Signed MX records: each host's TLSA records.  Resolvers shuffle the
     * records of an RRset (unbound's rrset-roundrobin): hosts and records
     * are sorted, so that the same DNS gives the same result.
     */

    ngx_qsort(job->tlsa.elts, job->tlsa.nelts,
              sizeof(ngx_http_mtasts_dane_q_t *), ngx_http_mtasts_host_cmp);

    res->ntlsa = job->tlsa.nelts;
    res->tlsa = ngx_pcalloc(job->pool,
                            (res->ntlsa + 1) * sizeof(ngx_http_mtasts_tlsa_t));
    if (res->tlsa == NULL) {
        return NGX_ERROR;
    }

    tq = job->tlsa.elts;

    for (i = 0; i < res->ntlsa; i++) {
        q = tq[i];
        t = &res->tlsa[i];

        t->host = q->host;
        t->dnssec = q->res.dnssec;
        t->addr_dnssec = q->addr.dnssec;
        t->nrecords = q->res.records.nelts;
        t->usable = q->res.usable;

        r = q->res.records.elts;

        ngx_qsort(r, q->res.records.nelts, sizeof(ngx_str_t),
                  ngx_http_mtasts_str_cmp);

        for (j = 0; j < q->res.records.nelts; j++) {
            t->records.len += r[j].len + 1;
        }

        if (t->records.len == 0) {
            continue;
        }

        t->records.data = ngx_pnalloc(job->pool, t->records.len);
        if (t->records.data == NULL) {
            return NGX_ERROR;
        }

        p = t->records.data;

        for (j = 0; j < q->res.records.nelts; j++) {
            p = ngx_cpymem(p, r[j].data, r[j].len);
            *p++ = '\n';
        }

        t->records.len--;
    }

    /* the message of the worst host; all right: a line on each */

    worst = NGX_HTTP_MTASTS_OK;
    bad = NULL;
    bad_miss = NULL;
    p = buf;
    last = buf + sizeof(buf);

    p = ngx_slprintf(p, last, "the MX records of %s are DNSSEC-signed; "
                     "TLSA records: ", job->domain);

    for (i = 0; i < res->ntlsa; i++) {
        q = tq[i];

        /* what the STARTTLS probes made of the records */

        miss = ngx_http_mtasts_dane_probes(res, &res->tlsa[i]);

        if (q->res.status != ARES_SUCCESS) {
            state = NGX_HTTP_MTASTS_WARNING;

        } else if (q->res.dnssec == MTASTS_DNSSEC_BOGUS
                   || q->addr.dnssec == MTASTS_DNSSEC_BOGUS)
        {
            state = NGX_HTTP_MTASTS_ERROR;

        } else if (q->res.records.nelts == 0) {
            state = NGX_HTTP_MTASTS_OK;

        } else if (q->addr.status != ARES_SUCCESS
                   || q->addr.dnssec != MTASTS_DNSSEC_SECURE)
        {
            state = NGX_HTTP_MTASTS_WARNING;

        } else if (q->res.dnssec != MTASTS_DNSSEC_SECURE
                   || q->res.usable == 0)
        {
            state = NGX_HTTP_MTASTS_WARNING;

        } else if (miss) {
            state = NGX_HTTP_MTASTS_ERROR;

        } else if (q->res.usable == 1 && q->res.records.nelts == 1
                   && ((ngx_str_t *) q->res.records.elts)[0].data[0] == '3')
        {
            state = NGX_HTTP_MTASTS_WARNING;

        } else {
            state = NGX_HTTP_MTASTS_OK;
        }

        if (state > worst) {
            worst = state;
            bad = q;
            bad_miss = miss;
        }

        if (i) {
            p = ngx_slprintf(p, last, ", ");
        }

        if (q->res.status != ARES_SUCCESS) {
            p = ngx_slprintf(p, last, "%V not known", &q->host);

        } else if (q->res.records.nelts == 0) {
            p = ngx_slprintf(p, last, "%V none", &q->host);

        } else {
            p = ngx_slprintf(p, last, "%V %ui usable of %ui",
                             &q->host, q->res.usable,
                             q->res.records.nelts);

            /* the next key's record beside this one's, or an issuer's */

            if (q->res.usable > 1) {
                p = ngx_slprintf(p, last, " (enough for a key rollover)");
            }

            if (res->tlsa[i].match.len) {
                p = ngx_slprintf(p, last, ", its certificate matches %V",
                                 &res->tlsa[i].match);
            }
        }
    }

    if (res->ntlsa == 0) {
        p = ngx_slprintf(p, last, "no MX host to look up");
    }

    /*
     * Ready: DANE authenticates every MX host, and fails for none: each
     * has secure, usable records that its probes all matched.
     */

    res->dane_ready = (res->ntlsa > 0);

    for (i = 0; i < res->ntlsa; i++) {
        if (tq[i]->res.status != ARES_SUCCESS
            || res->tlsa[i].dnssec != MTASTS_DNSSEC_SECURE
            || res->tlsa[i].addr_dnssec != MTASTS_DNSSEC_SECURE
            || res->tlsa[i].usable == 0 || res->tlsa[i].match.len == 0)
        {
            res->dane_ready = 0;
        }
    }

    if (bad == NULL) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_OK, "%*s",
                            p - buf, buf);
        return NGX_OK;
    }

    q = bad;

    if (q->res.status != ARES_SUCCESS) {
        ngx_http_mtasts_set(job->pool, check, worst,
                            "the TLSA records of %V could not be looked "
                            "up: %s", &q->host,
                            ngx_http_mtasts_dns_strerror(q->res.status));

    } else if (q->res.dnssec == MTASTS_DNSSEC_BOGUS) {
        ngx_http_mtasts_set(job->pool, check, worst,
                            "the TLSA records of %V fail DNSSEC validation "
                            "(bogus): every DANE sender defers all mail to "
                            "%V; fix the signatures of _25._tcp.%V",
                            &q->host, &q->host, &q->host);

    } else if (q->addr.dnssec == MTASTS_DNSSEC_BOGUS) {
        ngx_http_mtasts_set(job->pool, check, worst,
                            "the address records of %V fail DNSSEC "
                            "validation (bogus): every DANE sender defers "
                            "all mail to %V; fix the signatures of %V",
                            &q->host, &q->host, &q->host);

    } else if (q->addr.status != ARES_SUCCESS) {
        ngx_http_mtasts_set(job->pool, check, worst,
                            "the address records of %V could not be looked "
                            "up with DNSSEC: %s", &q->host,
                            ngx_http_mtasts_dns_strerror(q->addr.status));

    } else if (q->addr.dnssec != MTASTS_DNSSEC_SECURE) {
        ngx_http_mtasts_set(job->pool, check, worst,
                            "%V has TLSA records, but its address records "
                            "are not signed with DNSSEC: senders do not "
                            "look its TLSA records up (RFC 7672 2.2.2); "
                            "sign the zone of %V", &q->host, &q->host);

    } else if (q->res.dnssec != MTASTS_DNSSEC_SECURE) {
        ngx_http_mtasts_set(job->pool, check, worst,
                            "%V has TLSA records, but they are not signed "
                            "with DNSSEC: senders ignore them; sign the "
                            "zone of _25._tcp.%V", &q->host, &q->host);

    } else if (q->res.usable == 0) {
        ngx_http_mtasts_set(job->pool, check, worst,
                            "none of the TLSA records of %V is usable (%V): "
                            "DANE senders still require TLS of it, but "
                            "check no certificate", &q->host,
                            &q->res.unusable);

    } else if (bad_miss) {
        ngx_http_mtasts_set(job->pool, check, worst,
                            "mail to %V fails for every DANE sender: no "
                            "TLSA record matches its certificate (%V at "
                            "%V); publish the record of the certificate it "
                            "serves, or serve the certificate of the "
                            "records", &q->host, &bad_miss->subject,
                            &bad_miss->address);

    } else {
        ngx_http_mtasts_set(job->pool, check, worst,
                            "%V has a single TLSA record, of usage 3 "
                            "(DANE-EE): publish the record of the next key "
                            "before the certificate is renewed, or add a "
                            "2 x x record of its issuer, or mail to %V "
                            "fails for every DANE sender between the "
                            "renewal and the new record",
                            &q->host, &q->host);
    }

    return NGX_OK;
}


/*
 * The probes of a host that were given its TLSA records: how many, the
 * record they all matched, and the first that matched none.
 */

static ngx_http_mtasts_tls_t *
ngx_http_mtasts_dane_probes(ngx_http_mtasts_result_t *res,
    ngx_http_mtasts_tlsa_t *t)
{
    ngx_uint_t              i, nomatch;
    ngx_http_mtasts_tls_t  *tls, *miss;

    miss = NULL;
    nomatch = 0;

    for (i = 0; i < res->ntls; i++) {
        tls = &res->tls[i];

        if (tls->dane == 0 || tls->host.len != t->host.len
            || ngx_strncmp(tls->host.data, t->host.data, t->host.len) != 0)
        {
            continue;
        }

        t->probed++;

        if (tls->dane == 2) {
            nomatch++;

            if (miss == NULL) {
                miss = tls;
            }

        } else if (t->match.len == 0) {
            t->match = tls->dane_match;
        }
    }

    if (nomatch) {
        ngx_str_null(&t->match);
    }

    return miss;
}


static int ngx_libc_cdecl
ngx_http_mtasts_str_cmp(const void *one, const void *two)
{
    const ngx_str_t  *a = one, *b = two;

    ngx_int_t  rc;

    rc = ngx_memn2cmp(a->data, b->data, a->len, b->len);

    return rc < 0 ? -1 : (rc > 0);
}


static int ngx_libc_cdecl
ngx_http_mtasts_host_cmp(const void *one, const void *two)
{
    ngx_http_mtasts_dane_q_t * const  *a = one, * const *b = two;

    return ngx_http_mtasts_str_cmp(&(*a)->host, &(*b)->host);
}
