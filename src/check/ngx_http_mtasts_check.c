
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The self-check set up: the shared zone of results, the trust store, the
 * background round timer of each worker, and the snapshot of the results
 * that the status location renders.
 */


#include "ngx_http_mtasts_job.h"


static ngx_int_t ngx_http_mtasts_trust(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf);
static ngx_int_t ngx_http_mtasts_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_mtasts_node_t *ngx_http_mtasts_node(
    ngx_http_mtasts_main_conf_t *mmcf, ngx_str_t *domain);
static void ngx_http_mtasts_round_timer(ngx_event_t *ev);


static ngx_event_t  ngx_http_mtasts_round_event;


/*
 * Called in postconfiguration: a zone sized for the domains, in steps of
 * powers of two so that a reload with a few more or fewer domains keeps
 * the zone, and the results in it.
 */

ngx_int_t
ngx_http_mtasts_check_init(ngx_conf_t *cf, ngx_http_mtasts_main_conf_t *mmcf)
{
    size_t      size, want;
    ngx_str_t   name = ngx_string("mta_sts");
    ngx_uint_t  i, servers;

    want = 256 * 1024 + mmcf->ndomains * 4096;

    for (size = 1024 * 1024; size < want; size <<= 1) { /* void */ }

    mmcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_mtasts_module);
    if (mmcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    mmcf->shm_zone->init = ngx_http_mtasts_init_zone;
    mmcf->shm_zone->data = mmcf;

    if (ngx_http_mtasts_trust(cf, mmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* longer than any check can take: claims older than that are dead */

    /* c-ares tries every server, doubling the timeout each round */

    servers = 1;

    for (i = 0; i < mmcf->resolver.len; i++) {
        servers += (mmcf->resolver.data[i] == ',');
    }

    mmcf->stale = 30 + (time_t) (mmcf->resolver_timeout * servers
                                 * ((1 << mmcf->resolver_attempts) - 1)
                                 / 1000) * 2;

    /*
     * a probe waits at most five times its timeout; a domain's probes may
     * wait for others' before theirs run, 16 at a time per worker
     */

    if (mmcf->starttls) {
        mmcf->stale += (time_t) (mmcf->starttls_timeout / 1000) * 5 * 5;
    }

    return NGX_OK;
}


/*
 * A TLS client context for the STARTTLS probes, whose store also checks
 * the chains of the policy hosts' certificates: the file of
 * "mta_sts_trusted_certificate", or the system's CA certificates.
 */

static ngx_int_t
ngx_http_mtasts_trust(ngx_conf_t *cf, ngx_http_mtasts_main_conf_t *mmcf)
{
#if (NGX_HTTP_SSL)
    ngx_pool_cleanup_t  *cln;

    mmcf->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (mmcf->ssl == NULL) {
        return NGX_ERROR;
    }

    mmcf->ssl->log = cf->log;

    if (ngx_ssl_create(mmcf->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(mmcf->ssl);
        return NGX_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = mmcf->ssl;

    /* the verdict is read after the handshake, as senders report it */

    SSL_CTX_set_verify(mmcf->ssl->ctx, SSL_VERIFY_NONE, NULL);

    /* the probes match TLSA records with OpenSSL's DANE (RFC 7671) */

    if (mmcf->dane == 1 && SSL_CTX_dane_enable(mmcf->ssl->ctx) <= 0) {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_dane_enable() failed");
        return NGX_ERROR;
    }

    if (mmcf->trusted.data && mmcf->trusted.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "invalid value \"\" in "
                      "\"mta_sts_trusted_certificate\" directive, "
                      "it must be a file of PEM certificates");
        return NGX_ERROR;
    }

    if (mmcf->trusted.len == 0) {
        if (SSL_CTX_set_default_verify_paths(mmcf->ssl->ctx) != 1) {
            ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                          "could not load the system's CA certificates "
                          "for the mta_sts checks");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (ngx_conf_full_name(cf->cycle, &mmcf->trusted, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    if (SSL_CTX_load_verify_locations(mmcf->ssl->ctx,
                                      (char *) mmcf->trusted.data, NULL)
        != 1)
    {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "invalid value \"%V\" in "
                      "\"mta_sts_trusted_certificate\" directive, "
                      "it must be a readable file of PEM certificates",
                      &mmcf->trusted);
        return NGX_ERROR;
    }
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtasts_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_mtasts_main_conf_t  *omcf = data;

    size_t                        len;
    ngx_uint_t                    i;
    ngx_rbtree_node_t            *n, *sentinel;
    ngx_http_mtasts_node_t       *node;
    ngx_http_mtasts_entry_t      *e;
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = shm_zone->data;

    if (omcf) {
        mmcf->shpool = omcf->shpool;
        mmcf->sh = omcf->sh;

    } else {
        mmcf->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        mmcf->sh = ngx_slab_alloc(mmcf->shpool, sizeof(ngx_http_mtasts_sh_t));
        if (mmcf->sh == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(mmcf->sh, sizeof(ngx_http_mtasts_sh_t));

        ngx_rbtree_init(&mmcf->sh->rbtree, &mmcf->sh->sentinel,
                        ngx_str_rbtree_insert_value);

        len = sizeof(" in mta_sts zone \"\"") + shm_zone->shm.name.len;

        mmcf->shpool->log_ctx = ngx_slab_alloc(mmcf->shpool, len);
        if (mmcf->shpool->log_ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(mmcf->shpool->log_ctx, " in mta_sts zone \"%V\"%Z",
                    &shm_zone->shm.name);
    }

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    mmcf->generation = ++mmcf->sh->generation;

    /* a new configuration is checked soon after it is loaded */

    mmcf->sh->next_round = 0;

    for (i = 0; i < mmcf->ndomains; i++) {
        node = ngx_http_mtasts_node(mmcf, &mmcf->list[i]->domain);
        if (node == NULL) {
            ngx_shmtx_unlock(&mmcf->shpool->mutex);
            return NGX_ERROR;
        }

        node->generation = mmcf->generation;
        /* every server of the domain counts its requests there */

        for (e = mmcf->list[i]; e; e = e->next) {
            e->node = node;
        }
    }

    /* results of domains no longer served are freed, their nodes kept */

    sentinel = mmcf->sh->rbtree.sentinel;

    if (mmcf->sh->rbtree.root != sentinel) {
        for (n = ngx_rbtree_min(mmcf->sh->rbtree.root, sentinel);
             n;
             n = ngx_rbtree_next(&mmcf->sh->rbtree, n))
        {
            node = (ngx_http_mtasts_node_t *) n;

            if (node->generation != mmcf->generation && node->result) {
                ngx_slab_free_locked(mmcf->shpool, node->result);
                node->result = NULL;
            }
        }
    }

    ngx_shmtx_unlock(&mmcf->shpool->mutex);

    return NGX_OK;
}


static ngx_http_mtasts_node_t *
ngx_http_mtasts_node(ngx_http_mtasts_main_conf_t *mmcf, ngx_str_t *domain)
{
    uint32_t                 hash;
    ngx_http_mtasts_node_t  *node;

    hash = ngx_crc32_short(domain->data, domain->len);

    node = (ngx_http_mtasts_node_t *)
           ngx_str_rbtree_lookup(&mmcf->sh->rbtree, domain, hash);

    if (node) {
        return node;
    }

    node = ngx_slab_calloc_locked(mmcf->shpool,
                                  sizeof(ngx_http_mtasts_node_t)
                                  + domain->len);
    if (node == NULL) {
        return NULL;
    }

    node->sn.node.key = hash;
    node->sn.str.len = domain->len;
    node->sn.str.data = node->data;
    ngx_memcpy(node->data, domain->data, domain->len);

    ngx_rbtree_insert(&mmcf->sh->rbtree, &node->sn.node);

    return node;
}


ngx_int_t
ngx_http_mtasts_check_init_process(ngx_cycle_t *cycle)
{
    ngx_event_t                  *ev;
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mtasts_module);

    if (mmcf == NULL || mmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    if (ngx_http_mtasts_dns_init(cycle, &mmcf->resolver,
                                 mmcf->resolver_timeout,
                                 mmcf->resolver_attempts)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (mmcf->interval == 0 || mmcf->ndomains == 0) {
        return NGX_OK;
    }

    ev = &ngx_http_mtasts_round_event;

    ev->handler = ngx_http_mtasts_round_timer;
    ev->data = mmcf;
    ev->log = cycle->log;
    ev->cancelable = 1;

    /* workers look a little apart, one of them starts the round */

    ngx_add_timer(ev, 1000 + ngx_worker * 100);

    return NGX_OK;
}


void
ngx_http_mtasts_check_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_mtasts_round_event.timer_set) {
        ngx_del_timer(&ngx_http_mtasts_round_event);
    }

    ngx_http_mtasts_round_exit();
    ngx_http_mtasts_probe_exit();
    ngx_http_mtasts_share_exit();
    ngx_http_mtasts_dns_exit();
    ngx_http_mtasts_dnssec_exit();
}


static void
ngx_http_mtasts_round_timer(ngx_event_t *ev)
{
    time_t                        now, next;
    ngx_uint_t                    start;
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = ev->data;

    if (ngx_exiting || ngx_quit) {
        return;
    }

    now = ngx_time();
    start = 0;

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    if (mmcf->sh->next_round <= now) {
        mmcf->sh->next_round = now + mmcf->interval;
        start = 1;
    }

    next = mmcf->sh->next_round;

    ngx_shmtx_unlock(&mmcf->shpool->mutex);

    if (start) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "mta_sts: checking %ui domains", mmcf->ndomains);

        (void) ngx_http_mtasts_check_start(mmcf, mmcf->list, mmcf->ndomains,
                                           0, ev->log);
    }

    ngx_add_timer(ev, (ngx_msec_t) (next > now ? next - now : 1) * 1000
                      + ngx_worker * 100);
}


/* the domains' state under the lock; their results come later */

ngx_int_t
ngx_http_mtasts_snapshot(ngx_pool_t *pool, ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_entry_t **domains, ngx_uint_t n,
    ngx_http_mtasts_view_t *view)
{
    ngx_uint_t                 i, j;
    ngx_http_mtasts_item_t    *item;
    ngx_http_mtasts_node_t    *node;

    view->now = ngx_time();
    view->nitems = n;
    view->items = ngx_pcalloc(pool, (n + 1) * sizeof(ngx_http_mtasts_item_t));
    if (view->items == NULL) {
        return NGX_ERROR;
    }

    if (n == 0) {
        return NGX_OK;
    }

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    for (i = 0; i < n; i++) {
        item = &view->items[i];
        node = domains[i]->node;

        item->domain = domains[i]->domain;
        item->conf = domains[i]->conf;
        item->node = node;
        item->in_flight = (node->started != 0);

        for (j = 0; j < NGX_HTTP_MTASTS_NREQ; j++) {
            item->requests[j] = node->requests[j];
        }
    }

    ngx_shmtx_unlock(&mmcf->shpool->mutex);

    return NGX_OK;
}


/*
 * Copying thousands of results at once would hold the worker and the
 * zone's lock for tens of milliseconds; a slice of them is copied at a
 * time, each result as it is then.
 */

ngx_int_t
ngx_http_mtasts_snapshot_results(ngx_pool_t *pool,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_http_mtasts_view_t *view,
    ngx_uint_t from, ngx_uint_t to)
{
    u_char                    *p;
    size_t                     size;
    ngx_uint_t                 i;
    ngx_http_mtasts_item_t    *item;
    ngx_http_mtasts_result_t  *res;

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    /*
     * one block for the slice: a block per result made thousands of
     * allocations a render, each of a pool block of its own
     */

    size = 0;

    for (i = from; i < to; i++) {
        res = view->items[i].node->result;

        if (res) {
            size += ngx_align(res->size, NGX_ALIGNMENT);
        }
    }

    p = NULL;

    if (size) {
        p = ngx_palloc(pool, size);
        if (p == NULL) {
            ngx_shmtx_unlock(&mmcf->shpool->mutex);
            return NGX_ERROR;
        }
    }

    for (i = from; i < to; i++) {
        item = &view->items[i];
        res = item->node->result;

        if (res == NULL) {
            continue;
        }

        ngx_memcpy(p, res, res->size);

        item->result = (ngx_http_mtasts_result_t *) p;
        ngx_http_mtasts_result_relocate(item->result, (u_char *) res);

        p += ngx_align(res->size, NGX_ALIGNMENT);
    }

    ngx_shmtx_unlock(&mmcf->shpool->mutex);

    return NGX_OK;
}
