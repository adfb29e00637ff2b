
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


/*
 * Answers are shared: a lookup of a name and type that another has asked
 * since the last ngx_http_mtasts_dnssec_renew() waits for that one's
 * answer, or takes it at once, for NGX_HTTP_MTASTS_DNSSEC_AGE seconds at
 * most.  Ten thousand domains served by one mail host then ask for its
 * TLSA, A and AAAA records, and for the root's NS, once a round, not once
 * a domain.  Each waiter gets a copy of the answer in its own pool.
 */

#define NGX_HTTP_MTASTS_DNSSEC_AGE      60
#define NGX_HTTP_MTASTS_DNSSEC_KEEP     1024     /* answers kept */
#define NGX_HTTP_MTASTS_DNSSEC_BUCKETS  1021


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
    ngx_pool_t                       *pool;     /* its own */
    ngx_queue_t                       queue;    /* the oldest first */
    ngx_http_mtasts_dnssec_ctx_t     *next;     /* in its bucket */
    ngx_uint_t                        hash;
    ngx_uint_t                        epoch;
    time_t                            answered; /* 0: in flight */
    unsigned                          failed:1; /* not to be shared */
    unsigned                          busy:1;   /* telling its waiters */
    char                             *name;
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
    const char *name, size_t len, ngx_uint_t type, ngx_uint_t hash);
static void ngx_http_mtasts_dnssec_forget(ngx_http_mtasts_dnssec_ctx_t *ctx);
static void ngx_http_mtasts_dnssec_expire(void);
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
static ngx_http_mtasts_dnssec_ctx_t
                *ngx_http_mtasts_dnssec_buckets[NGX_HTTP_MTASTS_DNSSEC_BUCKETS];
static ngx_queue_t  ngx_http_mtasts_dnssec_queue;
static ngx_uint_t   ngx_http_mtasts_dnssec_kept;
static ngx_uint_t   ngx_http_mtasts_dnssec_epoch;


ngx_int_t
ngx_http_mtasts_dnssec_lookup(ngx_pool_t *pool, const char *name,
    ngx_uint_t type, ngx_http_mtasts_dnssec_t *res,
    ngx_http_mtasts_dnssec_done_pt done, void *data)
{
    size_t                         len;
    ngx_uint_t                     hash;
    ngx_http_mtasts_dnssec_ctx_t  *ctx;

    if (ngx_http_mtasts_dnssec_init(res, pool) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_mtasts_dnssec_queue.next == NULL) {
        ngx_queue_init(&ngx_http_mtasts_dnssec_queue);
    }

    ngx_http_mtasts_dnssec_expire();

    len = ngx_strlen(name);
    hash = ngx_hash_key((u_char *) name, len) ^ type;

    for (ctx = ngx_http_mtasts_dnssec_buckets[
                   hash % NGX_HTTP_MTASTS_DNSSEC_BUCKETS];
         ctx;
         ctx = ctx->next)
    {
        if (ctx->hash == hash && ctx->type == type && !ctx->failed
            && ctx->epoch == ngx_http_mtasts_dnssec_epoch
            && (ctx->answered == 0
                || ngx_time() - ctx->answered < NGX_HTTP_MTASTS_DNSSEC_AGE)
            && ngx_strcmp(ctx->name, name) == 0)
        {
            /* the answers asked for again go last */

            ngx_queue_remove(&ctx->queue);
            ngx_queue_insert_tail(&ngx_http_mtasts_dnssec_queue, &ctx->queue);

            return ngx_http_mtasts_dnssec_wait(ctx, pool, res, done, data);
        }
    }

    ctx = ngx_http_mtasts_dnssec_new(name, len, type, hash);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_mtasts_dnssec_wait(ctx, pool, res, done, data) != NGX_OK
        || ngx_http_mtasts_dnssec_send(ctx) != NGX_OK)
    {
        ngx_http_mtasts_dnssec_forget(ctx);
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
    ngx_http_mtasts_dnssec_epoch++;
}


void
ngx_http_mtasts_dnssec_exit(void)
{
    ngx_queue_t                   *q;
    ngx_http_mtasts_dnssec_ctx_t  *ctx;

    if (ngx_http_mtasts_dnssec_queue.next == NULL) {
        return;
    }

    /* after ngx_http_mtasts_dns_exit(): nothing is in flight */

    while (!ngx_queue_empty(&ngx_http_mtasts_dnssec_queue)) {
        q = ngx_queue_head(&ngx_http_mtasts_dnssec_queue);
        ctx = ngx_queue_data(q, ngx_http_mtasts_dnssec_ctx_t, queue);
        ngx_http_mtasts_dnssec_forget(ctx);
    }
}


static ngx_int_t
ngx_http_mtasts_dnssec_wait(ngx_http_mtasts_dnssec_ctx_t *ctx,
    ngx_pool_t *pool, ngx_http_mtasts_dnssec_t *res,
    ngx_http_mtasts_dnssec_done_pt done, void *data)
{
    ngx_http_mtasts_dnssec_wait_t  *w;

    if (ctx->answered) {
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
ngx_http_mtasts_dnssec_new(const char *name, size_t len, ngx_uint_t type,
    ngx_uint_t hash)
{
    ngx_pool_t                    *pool;
    ngx_http_mtasts_dnssec_ctx_t  *ctx, **bucket;

    pool = ngx_create_pool(512, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    ctx = ngx_pcalloc(pool, sizeof(ngx_http_mtasts_dnssec_ctx_t));
    if (ctx == NULL) {
        goto failed;
    }

    ctx->name = ngx_pnalloc(pool, len + 1);
    if (ctx->name == NULL) {
        goto failed;
    }

    ngx_memcpy(ctx->name, name, len + 1);

    if (ngx_http_mtasts_dnssec_init(&ctx->res, pool) != NGX_OK) {
        goto failed;
    }

    ctx->pool = pool;
    ctx->type = type;
    ctx->hash = hash;
    ctx->epoch = ngx_http_mtasts_dnssec_epoch;

    bucket = &ngx_http_mtasts_dnssec_buckets[
                  hash % NGX_HTTP_MTASTS_DNSSEC_BUCKETS];
    ctx->next = *bucket;
    *bucket = ctx;

    ngx_queue_insert_tail(&ngx_http_mtasts_dnssec_queue, &ctx->queue);
    ngx_http_mtasts_dnssec_kept++;

    return ctx;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


static void
ngx_http_mtasts_dnssec_forget(ngx_http_mtasts_dnssec_ctx_t *ctx)
{
    ngx_http_mtasts_dnssec_ctx_t  **cp;

    for (cp = &ngx_http_mtasts_dnssec_buckets[
                   ctx->hash % NGX_HTTP_MTASTS_DNSSEC_BUCKETS];
         *cp;
         cp = &(*cp)->next)
    {
        if (*cp == ctx) {
            *cp = ctx->next;
            break;
        }
    }

    ngx_queue_remove(&ctx->queue);
    ngx_http_mtasts_dnssec_kept--;

    ngx_destroy_pool(ctx->pool);
}


/*
 * The answers least recently asked for go first: those of a past round,
 * too old, or past the number kept.  A lookup in flight stays until its
 * answer.
 */

static void
ngx_http_mtasts_dnssec_expire(void)
{
    ngx_queue_t                   *q;
    ngx_http_mtasts_dnssec_ctx_t  *ctx;

    while (!ngx_queue_empty(&ngx_http_mtasts_dnssec_queue)) {
        q = ngx_queue_head(&ngx_http_mtasts_dnssec_queue);
        ctx = ngx_queue_data(q, ngx_http_mtasts_dnssec_ctx_t, queue);

        if (ctx->answered == 0 || ctx->busy
            || (ctx->epoch == ngx_http_mtasts_dnssec_epoch && !ctx->failed
                && ngx_time() - ctx->answered < NGX_HTTP_MTASTS_DNSSEC_AGE
                && ngx_http_mtasts_dnssec_kept < NGX_HTTP_MTASTS_DNSSEC_KEEP))
        {
            return;
        }

        ngx_http_mtasts_dnssec_forget(ctx);
    }
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
        res->answer.data = ngx_pnalloc(ctx->pool, alen);
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


/*
 * Each waiter gets its copy; one that starts a lookup of the same name
 * meanwhile takes the answer at once.  A failed lookup is not shared
 * after its waiters: the next asks again.
 */

static void
ngx_http_mtasts_dnssec_done(ngx_http_mtasts_dnssec_ctx_t *ctx)
{
    ngx_http_mtasts_dnssec_wait_t  *w, *next;

    ctx->answered = ngx_max(ngx_time(), 1);
    ctx->failed = (ctx->res.status != ARES_SUCCESS);

    w = ctx->waiting;
    ctx->waiting = NULL;

    /* a waiter's lookups expire nothing being read here */

    ctx->busy = 1;

    for ( /* void */ ; w; w = next) {
        next = w->next;
        ngx_http_mtasts_dnssec_copy(w->res, &ctx->res, w->pool);
        w->done(w->data);
    }

    ctx->busy = 0;
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
