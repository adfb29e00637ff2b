
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The state of an answer: a validating resolver sets AD on what it could
 * validate and answers SERVFAIL to what failed validation; asked again
 * with CD (checking disabled) it gives the data that failed: bogus.  A
 * SERVFAIL that stays one with CD is a failed lookup, not a verdict.
 */


#include "ngx_http_mtasts_dane.h"
#include "ngx_http_mtasts_dns.h"


typedef struct {
    ngx_pool_t                       *pool;
    char                             *name;
    ngx_uint_t                        type;
    ngx_uint_t                        cd;       /* the second query */
    ngx_uint_t                        tries;
    ngx_http_mtasts_dnssec_t         *res;
    ngx_http_mtasts_dnssec_done_pt    done;
    void                             *data;
} ngx_http_mtasts_dnssec_ctx_t;


static ngx_int_t ngx_http_mtasts_dnssec_send(
    ngx_http_mtasts_dnssec_ctx_t *ctx);
static void ngx_http_mtasts_dnssec_answer(void *arg, int status,
    int timeouts, unsigned char *abuf, int alen);
static void ngx_http_mtasts_dnssec_records(ngx_http_mtasts_dnssec_ctx_t *ctx,
    ldns_pkt *pkt);


/* as MTASTS_DNSSEC_* */

ngx_str_t  ngx_http_mtasts_dnssec_names[] = {
    ngx_string("unknown"),
    ngx_string("secure"),
    ngx_string("insecure"),
    ngx_string("bogus")
};


ngx_int_t
ngx_http_mtasts_dnssec_lookup(ngx_pool_t *pool, const char *name,
    ngx_uint_t type, ngx_http_mtasts_dnssec_t *res,
    ngx_http_mtasts_dnssec_done_pt done, void *data)
{
    size_t                         len;
    ngx_http_mtasts_dnssec_ctx_t  *ctx;

    ngx_memzero(res, sizeof(ngx_http_mtasts_dnssec_t));
    res->status = ARES_ENOTFOUND;

    if (ngx_array_init(&res->records, pool, 2, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&res->rrs, pool, 2,
                          sizeof(ngx_http_mtasts_tlsa_rr_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx = ngx_pcalloc(pool, sizeof(ngx_http_mtasts_dnssec_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(name);

    ctx->name = ngx_pnalloc(pool, len + 1);
    if (ctx->name == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->name, name, len + 1);

    ctx->pool = pool;
    ctx->type = type;
    ctx->res = res;
    ctx->done = done;
    ctx->data = data;

    return ngx_http_mtasts_dnssec_send(ctx);
}


static ngx_int_t
ngx_http_mtasts_dnssec_send(ngx_http_mtasts_dnssec_ctx_t *ctx)
{
    size_t      len;
    uint8_t    *wire;
    ngx_int_t   rc;

    if (mtasts_dnssec_query(ctx->name, (ldns_rr_type) ctx->type, ctx->cd,
                            &wire, &len)
        != 0)
    {
        return NGX_ERROR;
    }

    /* c-ares copies the query; the handler may run before it returns */

    rc = ngx_http_mtasts_dns_send(wire, len, ngx_http_mtasts_dnssec_answer,
                                  ctx);
    free(wire);

    return rc;
}


static void
ngx_http_mtasts_dnssec_answer(void *arg, int status, int timeouts,
    unsigned char *abuf, int alen)
{
    ngx_http_mtasts_dnssec_ctx_t *ctx = arg;

    int                        ad;
    unsigned                   rcode;
    ldns_pkt                  *pkt;
    ngx_http_mtasts_dnssec_t  *res;

    res = ctx->res;

    if (ngx_http_mtasts_dns_again(status, &ctx->tries)
        && ngx_http_mtasts_dnssec_send(ctx) == NGX_OK)
    {
        return;
    }

    res->status = status;

    if (status != ARES_SUCCESS) {
        goto done;
    }

    if (mtasts_dnssec_read(abuf, (size_t) alen, &pkt, &rcode, &ad) != 0) {
        res->status = ARES_EBADRESP;
        goto done;
    }

    res->rcode = rcode;

    if (rcode == LDNS_RCODE_SERVFAIL && !ctx->cd) {
        ldns_pkt_free(pkt);

        ctx->cd = 1;
        ctx->tries = 0;

        if (ngx_http_mtasts_dnssec_send(ctx) == NGX_OK) {
            return;
        }

        res->status = ARES_ESERVFAIL;
        goto done;
    }

    if (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN) {
        res->status = (rcode == LDNS_RCODE_SERVFAIL) ? ARES_ESERVFAIL
                                                     : ARES_EREFUSED;
        ldns_pkt_free(pkt);
        goto done;
    }

    if (ctx->cd) {
        res->dnssec = MTASTS_DNSSEC_BOGUS;

    } else {
        res->dnssec = ad ? MTASTS_DNSSEC_SECURE : MTASTS_DNSSEC_INSECURE;
    }

    ngx_http_mtasts_dnssec_records(ctx, pkt);

    ldns_pkt_free(pkt);

done:

    ctx->done(ctx->data);
}


static void
ngx_http_mtasts_dnssec_records(ngx_http_mtasts_dnssec_ctx_t *ctx,
    ldns_pkt *pkt)
{
    size_t                     i, len;
    ngx_str_t                 *s, first;
    const char                *why;
    ngx_http_mtasts_tlsa_rr_t *rr;
    ldns_rr_list              *answer;
    mtasts_tlsa_t              t;
    ngx_http_mtasts_dnssec_t  *res;

    res = ctx->res;
    answer = ldns_pkt_answer(pkt);

    for (i = 0; i < ldns_rr_list_rr_count(answer); i++) {
        if (ldns_rr_get_type(ldns_rr_list_rr(answer, i))
            == (ldns_rr_type) ctx->type)
        {
            res->count++;
        }
    }

    if (ctx->type != LDNS_RR_TYPE_TLSA) {
        return;
    }

    /* the reason shown: that of the first unusable record in order */

    ngx_str_null(&first);

    for (i = 0; mtasts_tlsa_get(pkt, i, &t) == 0; i++) {

        s = ngx_array_push(&res->records);
        if (s == NULL) {
            return;
        }

        len = mtasts_tlsa_text(&t, NULL, 0);

        s->data = ngx_pnalloc(ctx->pool, len);
        if (s->data == NULL) {
            res->records.nelts--;
            return;
        }

        s->len = mtasts_tlsa_text(&t, (char *) s->data, len) - 1;

        why = mtasts_tlsa_unusable(&t);

        if (why == NULL) {
            res->usable++;

            rr = ngx_array_push(&res->rrs);
            if (rr == NULL) {
                return;
            }

            rr->usage = (uint8_t) t.usage;
            rr->selector = (uint8_t) t.selector;
            rr->mtype = (uint8_t) t.mtype;
            rr->data.len = t.len;
            rr->data.data = ngx_pnalloc(ctx->pool, t.len);
            if (rr->data.data == NULL) {
                res->rrs.nelts--;
                return;
            }

            ngx_memcpy(rr->data.data, t.data, t.len);
            continue;
        }

        if (first.data == NULL
            || ngx_memn2cmp(s->data, first.data, s->len, first.len) < 0)
        {
            first = *s;
            res->unusable.data = (u_char *) why;
            res->unusable.len = ngx_strlen(why);
        }
    }
}
