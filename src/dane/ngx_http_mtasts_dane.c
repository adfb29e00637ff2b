
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
#include "ngx_http_mtasts_table.h"


/*
 * Answers are shared: a lookup of a name and type that another has asked
 * since the last ngx_http_mtasts_dnssec_renew() waits for that one's
 * answer, or takes it at once, for 60 seconds at most (src/share, at most
 * 1,024 answers kept).  Ten thousand domains served by one mail host then
 * ask for its TLSA, A and AAAA records, and for the root's NS, once a
 * round, not once a domain.  Each waiter gets a copy of the answer in its
 * own pool.
 */

typedef struct ngx_http_mtasts_dnssec_wait_s  ngx_http_mtasts_dnssec_wait_t;
typedef struct ngx_http_mtasts_dnssec_ctx_s   ngx_http_mtasts_dnssec_ctx_t;

struct ngx_http_mtasts_dnssec_wait_s {
    ngx_pool_t                       *pool;
    ngx_http_mtasts_dnssec_t         *res;
    ngx_http_mtasts_dnssec_done_pt    done;
    void                             *data;
    ngx_http_mtasts_dnssec_wait_t    *next;
};


struct ngx_http_mtasts_dnssec_ctx_s {
    ngx_http_mtasts_shared_t          shared;   /* key: name, NUL, type */
    char                             *name;     /* the key's start */
    ngx_uint_t                        type;
    ngx_uint_t                        cd;       /* the second query */
    ngx_uint_t                        tries;
    ngx_http_mtasts_dnssec_t          res;
    ngx_http_mtasts_dnssec_wait_t    *waiting;
};


static ngx_int_t ngx_http_mtasts_dnssec_init(ngx_http_mtasts_dnssec_t *res,
    ngx_pool_t *pool);
static ngx_int_t ngx_http_mtasts_dnssec_wait(ngx_http_mtasts_dnssec_ctx_t *ctx,
    ngx_pool_t *pool, ngx_http_mtasts_dnssec_t *res,
    ngx_http_mtasts_dnssec_done_pt done, void *data);
static ngx_http_mtasts_dnssec_ctx_t *ngx_http_mtasts_dnssec_new(
    ngx_str_t *key, ngx_uint_t type);
static ngx_int_t ngx_http_mtasts_dnssec_send(
    ngx_http_mtasts_dnssec_ctx_t *ctx);
static void ngx_http_mtasts_dnssec_answer(void *arg, int status,
    int timeouts, unsigned char *abuf, int alen);
static void ngx_http_mtasts_dnssec_records(ngx_http_mtasts_dnssec_ctx_t *ctx,
    ldns_pkt *pkt);
static void ngx_http_mtasts_dnssec_done(ngx_http_mtasts_dnssec_ctx_t *ctx);
static void ngx_http_mtasts_dnssec_copy(ngx_http_mtasts_dnssec_t *dst,
    ngx_http_mtasts_dnssec_t *src, ngx_pool_t *pool);


/* as MTASTS_DNSSEC_* */

ngx_str_t  ngx_http_mtasts_dnssec_names[] = {
    ngx_string("unknown"),
    ngx_string("secure"),
    ngx_string("insecure"),
    ngx_string("bogus")
};


/* per worker */
static ngx_http_mtasts_shared_t  *ngx_http_mtasts_dnssec_buckets[1021];
static ngx_http_mtasts_table_t    ngx_http_mtasts_dnssecs =
    ngx_http_mtasts_table(ngx_http_mtasts_dnssec_buckets, 1024, 60);


ngx_int_t
ngx_http_mtasts_dnssec_lookup(ngx_pool_t *pool, const char *name,
    ngx_uint_t type, ngx_http_mtasts_dnssec_t *res,
    ngx_http_mtasts_dnssec_done_pt done, void *data)
{
    size_t                         len;
    ngx_str_t                      key;
    ngx_http_mtasts_dnssec_ctx_t  *ctx;

    if (ngx_http_mtasts_dnssec_init(res, pool) != NGX_OK) {
        return NGX_ERROR;
    }

    len = ngx_strlen(name);

    key.len = len + 3;
    key.data = ngx_pnalloc(pool, key.len);
    if (key.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(key.data, name, len + 1);
    key.data[len + 1] = (u_char) (type >> 8);
    key.data[len + 2] = (u_char) type;

    ctx = (ngx_http_mtasts_dnssec_ctx_t *)
              ngx_http_mtasts_table_find(&ngx_http_mtasts_dnssecs, &key);

    if (ctx) {
        return ngx_http_mtasts_dnssec_wait(ctx, pool, res, done, data);
    }

    ctx = ngx_http_mtasts_dnssec_new(&key, type);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_mtasts_dnssec_wait(ctx, pool, res, done, data) != NGX_OK
        || ngx_http_mtasts_dnssec_send(ctx) != NGX_OK)
    {
        ngx_http_mtasts_table_forget(&ngx_http_mtasts_dnssecs, &ctx->shared);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* an empty result: no answer yet */

static ngx_int_t
ngx_http_mtasts_dnssec_init(ngx_http_mtasts_dnssec_t *res, ngx_pool_t *pool)
{
    ngx_memzero(res, sizeof(ngx_http_mtasts_dnssec_t));
    res->status = ARES_ENOTFOUND;

    if (ngx_array_init(&res->records, pool, 2, sizeof(ngx_str_t)) != NGX_OK
        || ngx_array_init(&res->rrs, pool, 2,
                          sizeof(ngx_http_mtasts_tlsa_rr_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the answers known are not given again: a new round asks anew */

void
ngx_http_mtasts_dnssec_renew(void)
{
    ngx_http_mtasts_table_renew(&ngx_http_mtasts_dnssecs);
}


/* after ngx_http_mtasts_dns_exit(): nothing is in flight */

void
ngx_http_mtasts_dnssec_exit(void)
{
    ngx_http_mtasts_table_exit(&ngx_http_mtasts_dnssecs);
}


static ngx_int_t
ngx_http_mtasts_dnssec_wait(ngx_http_mtasts_dnssec_ctx_t *ctx,
    ngx_pool_t *pool, ngx_http_mtasts_dnssec_t *res,
    ngx_http_mtasts_dnssec_done_pt done, void *data)
{
    ngx_http_mtasts_dnssec_wait_t  *w;

    if (ctx->shared.answered) {
        ngx_http_mtasts_dnssec_copy(res, &ctx->res, pool);
        done(data);
        return NGX_OK;
    }

    w = ngx_palloc(pool, sizeof(ngx_http_mtasts_dnssec_wait_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->pool = pool;
    w->res = res;
    w->done = done;
    w->data = data;
    w->next = ctx->waiting;
    ctx->waiting = w;

    return NGX_OK;
}


static ngx_http_mtasts_dnssec_ctx_t *
ngx_http_mtasts_dnssec_new(ngx_str_t *key, ngx_uint_t type)
{
    ngx_http_mtasts_dnssec_ctx_t  *ctx;

    ctx = (ngx_http_mtasts_dnssec_ctx_t *)
              ngx_http_mtasts_table_add(&ngx_http_mtasts_dnssecs, key,
                                        sizeof(ngx_http_mtasts_dnssec_ctx_t),
                                        512);
    if (ctx == NULL) {
        return NULL;
    }

    if (ngx_http_mtasts_dnssec_init(&ctx->res, ctx->shared.pool) != NGX_OK) {
        ngx_http_mtasts_table_forget(&ngx_http_mtasts_dnssecs, &ctx->shared);
        return NULL;
    }

    ctx->name = (char *) ctx->shared.key.data;
    ctx->type = type;

    return ctx;
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

    /* the query is copied, and sent in a later turn */

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

    res = &ctx->res;

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

    if (!ctx->cd) {
        res->answer.data = ngx_pnalloc(ctx->shared.pool, alen);
        if (res->answer.data == NULL) {
            ldns_pkt_free(pkt);
            res->status = ARES_ENOMEM;
            goto done;
        }

        ngx_memcpy(res->answer.data, abuf, alen);
        res->answer.len = alen;
        res->answer_rcode = rcode;
    }

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

    ngx_http_mtasts_dnssec_done(ctx);
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

    res = &ctx->res;
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

        s->data = ngx_pnalloc(ctx->shared.pool, len);
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
            rr->data.data = ngx_pnalloc(ctx->shared.pool, t.len);
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


/*
 * Each waiter gets its copy; one that starts a lookup of the same name
 * meanwhile takes the answer at once.  A failed lookup is not shared
 * after its waiters: the next asks again.
 */

static void
ngx_http_mtasts_dnssec_done(ngx_http_mtasts_dnssec_ctx_t *ctx)
{
    ngx_http_mtasts_dnssec_wait_t  *w, *next;

    ngx_http_mtasts_table_answered(&ctx->shared,
                                   ctx->res.status != ARES_SUCCESS);

    w = ctx->waiting;
    ctx->waiting = NULL;

    /* a waiter's lookups expire nothing being read here */

    ctx->shared.busy = 1;

    for ( /* void */ ; w; w = next) {
        next = w->next;
        ngx_http_mtasts_dnssec_copy(w->res, &ctx->res, w->pool);
        w->done(w->data);
    }

    ctx->shared.busy = 0;
}


static void
ngx_http_mtasts_dnssec_copy(ngx_http_mtasts_dnssec_t *dst,
    ngx_http_mtasts_dnssec_t *src, ngx_pool_t *pool)
{
    ngx_str_t                  *s, *d;
    ngx_uint_t                  i;
    ngx_http_mtasts_tlsa_rr_t  *rs, *rd;

    dst->dnssec = src->dnssec;
    dst->status = src->status;
    dst->rcode = src->rcode;
    dst->count = src->count;
    dst->usable = src->usable;
    dst->unusable = src->unusable;      /* a static string */
    dst->answer_rcode = src->answer_rcode;

    if (src->answer.len) {
        dst->answer.data = ngx_pstrdup(pool, &src->answer);
        if (dst->answer.data == NULL) {
            goto failed;
        }

        dst->answer.len = src->answer.len;
    }

    s = src->records.elts;

    for (i = 0; i < src->records.nelts; i++) {
        d = ngx_array_push(&dst->records);
        if (d == NULL) {
            goto failed;
        }

        d->len = s[i].len;
        d->data = ngx_pstrdup(pool, &s[i]);
        if (d->data == NULL) {
            goto failed;
        }
    }

    rs = src->rrs.elts;

    for (i = 0; i < src->rrs.nelts; i++) {
        rd = ngx_array_push(&dst->rrs);
        if (rd == NULL) {
            goto failed;
        }

        *rd = rs[i];
        rd->data.data = ngx_pstrdup(pool, &rs[i].data);
        if (rd->data.data == NULL) {
            goto failed;
        }
    }

    return;

failed:

    dst->status = ARES_ENOMEM;
    dst->dnssec = MTASTS_DNSSEC_UNKNOWN;
    dst->records.nelts = 0;
    dst->rrs.nelts = 0;
    ngx_str_null(&dst->answer);
}
