
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * STARTTLS probes shared by the domains of a round: a hosting provider's
 * ten thousand domains that name one MX host get one probe of each of
 * its addresses a round, not ten thousand.  A probe of the same host,
 * address and TLSA records started since the last
 * ngx_http_mtasts_share_renew() is waited for, or its result taken at
 * once, for 60 seconds at most (src/share).  Each waiter gets
 * a copy of the result in its own pool.
 */


#include "ngx_http_mtasts_probe.h"
#include "ngx_http_mtasts_dane.h"
#include "ngx_http_mtasts_table.h"


typedef struct ngx_http_mtasts_share_wait_s  ngx_http_mtasts_share_wait_t;

struct ngx_http_mtasts_share_wait_s {
    ngx_pool_t                       *pool;
    ngx_http_mtasts_tls_t            *result;
    ngx_http_mtasts_probe_done_pt     done;
    void                             *data;
    ngx_http_mtasts_share_wait_t     *next;
};


typedef struct {
    ngx_http_mtasts_shared_t          shared;   /* "failed": cut short */
    ngx_addr_t                        addr;
    ngx_array_t                      *tlsa;     /* NULL: no DANE */
    ngx_http_mtasts_tls_t             res;
    ngx_http_mtasts_share_wait_t     *waiting;
} ngx_http_mtasts_share_t;


static ngx_int_t ngx_http_mtasts_share_key(ngx_pool_t *pool, ngx_str_t *host,
    ngx_addr_t *addr, ngx_array_t *tlsa, ngx_str_t *key);
static ngx_http_mtasts_share_t *ngx_http_mtasts_share_new(ngx_str_t *key,
    ngx_str_t *host, ngx_addr_t *addr, ngx_array_t *tlsa);
static ngx_int_t ngx_http_mtasts_share_wait(ngx_http_mtasts_share_t *s,
    ngx_pool_t *pool, ngx_http_mtasts_tls_t *result,
    ngx_http_mtasts_probe_done_pt done, void *data);
static void ngx_http_mtasts_share_done(void *data, ngx_uint_t aborted);
static void ngx_http_mtasts_share_copy(ngx_http_mtasts_tls_t *dst,
    ngx_http_mtasts_tls_t *src, ngx_pool_t *pool);


/* per worker: at most 256 probes kept, 60 s each */
static ngx_http_mtasts_shared_t  *ngx_http_mtasts_share_buckets[251];
static ngx_http_mtasts_table_t    ngx_http_mtasts_shares =
    ngx_http_mtasts_table(ngx_http_mtasts_share_buckets, 256, 60);


/* as ngx_http_mtasts_probe_start(): "result" has its host and address */

ngx_int_t
ngx_http_mtasts_share_probe(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_pool_t *pool, ngx_str_t *host, ngx_addr_t *addr,
    ngx_array_t *tlsa, ngx_http_mtasts_tls_t *result,
    ngx_http_mtasts_probe_done_pt done, void *data)
{
    ngx_str_t                 key;
    ngx_http_mtasts_share_t  *s;

    if (ngx_http_mtasts_share_key(pool, host, addr, tlsa, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    s = (ngx_http_mtasts_share_t *)
            ngx_http_mtasts_table_find(&ngx_http_mtasts_shares, &key);

    if (s) {
        return ngx_http_mtasts_share_wait(s, pool, result, done, data);
    }

    s = ngx_http_mtasts_share_new(&key, host, addr, tlsa);
    if (s == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_mtasts_share_wait(s, pool, result, done, data) != NGX_OK
        || ngx_http_mtasts_probe_start(mmcf, s->shared.pool, &s->res.host,
                                       &s->addr, s->tlsa, &s->res,
                                       ngx_http_mtasts_share_done, s)
           != NGX_OK)
    {
        ngx_http_mtasts_table_forget(&ngx_http_mtasts_shares, &s->shared);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a round starts: what the MX hosts present is asked anew */

void
ngx_http_mtasts_share_renew(void)
{
    ngx_http_mtasts_table_renew(&ngx_http_mtasts_shares);
}


/* after ngx_http_mtasts_probe_exit(): no probe runs, none will */

void
ngx_http_mtasts_share_exit(void)
{
    ngx_http_mtasts_table_exit(&ngx_http_mtasts_shares);
}


/* host, address and the TLSA records to match, as one string */

static ngx_int_t
ngx_http_mtasts_share_key(ngx_pool_t *pool, ngx_str_t *host,
    ngx_addr_t *addr, ngx_array_t *tlsa, ngx_str_t *key)
{
    size_t                      len;
    u_char                     *p;
    ngx_uint_t                  i, n;
    ngx_http_mtasts_tlsa_rr_t  *rr;

    n = (tlsa == NULL) ? 0 : tlsa->nelts;
    rr = (n == 0) ? NULL : tlsa->elts;

    len = host->len + 1 + addr->name.len + 1;

    for (i = 0; i < n; i++) {
        len += 3 + NGX_SIZE_T_LEN + 1 + rr[i].data.len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key->data = p;

    p = ngx_sprintf(p, "%V %V ", host, &addr->name);

    for (i = 0; i < n; i++) {
        *p++ = rr[i].usage;
        *p++ = rr[i].selector;
        *p++ = rr[i].mtype;
        p = ngx_sprintf(p, "%uz ", rr[i].data.len);
        p = ngx_cpymem(p, rr[i].data.data, rr[i].data.len);
    }

    key->len = p - key->data;

    return NGX_OK;
}


/*
 * The probe's own pool holds what it needs for as long as it runs, apart
 * from any job: its host, its address, the TLSA records, its result
 */

static ngx_http_mtasts_share_t *
ngx_http_mtasts_share_new(ngx_str_t *key, ngx_str_t *host, ngx_addr_t *addr,
    ngx_array_t *tlsa)
{
    ngx_uint_t                  i;
    ngx_pool_t                 *pool;
    ngx_http_mtasts_share_t    *s;
    ngx_http_mtasts_tlsa_rr_t  *rr, *src;

    s = (ngx_http_mtasts_share_t *)
            ngx_http_mtasts_table_add(&ngx_http_mtasts_shares, key,
                                      sizeof(ngx_http_mtasts_share_t), 4096);
    if (s == NULL) {
        return NULL;
    }

    pool = s->shared.pool;

    s->res.host.data = ngx_pstrdup(pool, host);
    s->res.address.data = ngx_pstrdup(pool, &addr->name);
    s->addr.sockaddr = ngx_palloc(pool, addr->socklen);
    if (s->res.host.data == NULL || s->res.address.data == NULL
        || s->addr.sockaddr == NULL)
    {
        goto failed;
    }

    s->res.host.len = host->len;
    s->res.address.len = addr->name.len;

    ngx_memcpy(s->addr.sockaddr, addr->sockaddr, addr->socklen);
    s->addr.socklen = addr->socklen;
    s->addr.name = s->res.address;

    if (tlsa && tlsa->nelts) {
        s->tlsa = ngx_array_create(pool, tlsa->nelts,
                                   sizeof(ngx_http_mtasts_tlsa_rr_t));
        if (s->tlsa == NULL) {
            goto failed;
        }

        src = tlsa->elts;

        for (i = 0; i < tlsa->nelts; i++) {
            rr = ngx_array_push(s->tlsa);
            if (rr == NULL) {
                goto failed;
            }

            *rr = src[i];

            rr->data.data = ngx_pstrdup(pool, &src[i].data);
            if (rr->data.data == NULL) {
                goto failed;
            }
        }
    }

    return s;

failed:

    ngx_http_mtasts_table_forget(&ngx_http_mtasts_shares, &s->shared);

    return NULL;
}


static ngx_int_t
ngx_http_mtasts_share_wait(ngx_http_mtasts_share_t *s, ngx_pool_t *pool,
    ngx_http_mtasts_tls_t *result, ngx_http_mtasts_probe_done_pt done,
    void *data)
{
    ngx_http_mtasts_share_wait_t  *w;

    if (s->shared.answered) {
        ngx_http_mtasts_share_copy(result, &s->res, pool);
        done(data, 0);
        return NGX_OK;
    }

    w = ngx_palloc(pool, sizeof(ngx_http_mtasts_share_wait_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->pool = pool;
    w->result = result;
    w->done = done;
    w->data = data;
    w->next = s->waiting;
    s->waiting = w;

    return NGX_OK;
}


/*
 * The probe is done: each waiter gets its copy, and one that asks for the
 * same probe meanwhile takes it at once.  A probe cut short by the
 * worker's exit is not shared.
 */

static void
ngx_http_mtasts_share_done(void *data, ngx_uint_t aborted)
{
    ngx_http_mtasts_share_t *s = data;

    ngx_http_mtasts_share_wait_t  *w, *next;

    ngx_http_mtasts_table_answered(&s->shared, aborted);

    w = s->waiting;
    s->waiting = NULL;

    s->shared.busy = 1;

    for ( /* void */ ; w; w = next) {
        next = w->next;
        ngx_http_mtasts_share_copy(w->result, &s->res, w->pool);
        w->done(w->data, aborted);
    }

    s->shared.busy = 0;
}


/* what the probe found; the host and address are the waiter's own */

static void
ngx_http_mtasts_share_copy(ngx_http_mtasts_tls_t *dst,
    ngx_http_mtasts_tls_t *src, ngx_pool_t *pool)
{
    ngx_uint_t    i;
    ngx_str_t    *d[7], *f[7];

    dst->ok = src->ok;
    dst->expires = src->expires;
    dst->dane = src->dane;

    d[0] = &dst->reason;      f[0] = &src->reason;
    d[1] = &dst->version;     f[1] = &src->version;
    d[2] = &dst->cipher;      f[2] = &src->cipher;
    d[3] = &dst->subject;     f[3] = &src->subject;
    d[4] = &dst->issuer;      f[4] = &src->issuer;
    d[5] = &dst->spki;        f[5] = &src->spki;
    d[6] = &dst->dane_match;  f[6] = &src->dane_match;

    for (i = 0; i < 7; i++) {
        d[i]->len = 0;
        d[i]->data = NULL;

        if (f[i]->len == 0) {
            continue;
        }

        d[i]->data = ngx_pstrdup(pool, f[i]);
        if (d[i]->data == NULL) {
            dst->ok = 0;
            ngx_str_set(&dst->reason, "could not keep the probe's result");
            return;
        }

        d[i]->len = f[i]->len;
    }
}
