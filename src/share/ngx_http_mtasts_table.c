
/*
 * Copyright (C) ngx_http_mtasts_module authors
 */


#include "ngx_http_mtasts_table.h"


static void ngx_http_mtasts_table_expire(ngx_http_mtasts_table_t *t);


/*
 * The entry of "key" asked for since the last ngx_http_mtasts_table_renew(),
 * in flight or answered less than "age" seconds ago, not failed; NULL if
 * none.  It goes last in the order of eviction.
 */

ngx_http_mtasts_shared_t *
ngx_http_mtasts_table_find(ngx_http_mtasts_table_t *t, ngx_str_t *key)
{
    ngx_uint_t                 hash;
    ngx_http_mtasts_shared_t  *e;

    if (t->queue.next == NULL) {
        ngx_queue_init(&t->queue);
    }

    ngx_http_mtasts_table_expire(t);

    hash = ngx_hash_key(key->data, key->len);

    for (e = t->buckets[hash % t->nbuckets]; e; e = e->next) {
        if (e->hash == hash && !e->failed && e->epoch == t->epoch
            && (e->answered == 0 || ngx_time() - e->answered < t->age)
            && e->key.len == key->len
            && ngx_memcmp(e->key.data, key->data, key->len) == 0)
        {
            ngx_queue_remove(&e->queue);
            ngx_queue_insert_tail(&t->queue, &e->queue);

            return e;
        }
    }

    return NULL;
}


/*
 * A new entry of "size" bytes (the user's, beginning with the shared
 * part), zeroed, in a pool of its own, in flight
 */

ngx_http_mtasts_shared_t *
ngx_http_mtasts_table_add(ngx_http_mtasts_table_t *t, ngx_str_t *key,
    size_t size, size_t pool)
{
    ngx_pool_t                *p;
    ngx_http_mtasts_shared_t  *e, **bucket;

    if (t->queue.next == NULL) {
        ngx_queue_init(&t->queue);
    }

    p = ngx_create_pool(pool, ngx_cycle->log);
    if (p == NULL) {
        return NULL;
    }

    e = ngx_pcalloc(p, size);
    if (e == NULL) {
        ngx_destroy_pool(p);
        return NULL;
    }

    e->key.data = ngx_pstrdup(p, key);
    if (e->key.data == NULL) {
        ngx_destroy_pool(p);
        return NULL;
    }

    e->key.len = key->len;
    e->pool = p;
    e->hash = ngx_hash_key(key->data, key->len);
    e->epoch = t->epoch;

    bucket = &t->buckets[e->hash % t->nbuckets];
    e->next = *bucket;
    *bucket = e;

    ngx_queue_insert_tail(&t->queue, &e->queue);
    t->kept++;

    return e;
}


/* from now on it is given at once; a failure is not given again */

void
ngx_http_mtasts_table_answered(ngx_http_mtasts_shared_t *e,
    ngx_uint_t failed)
{
    e->answered = ngx_max(ngx_time(), 1);
    e->failed = failed ? 1 : 0;
}


void
ngx_http_mtasts_table_forget(ngx_http_mtasts_table_t *t,
    ngx_http_mtasts_shared_t *e)
{
    ngx_http_mtasts_shared_t  **ep;

    for (ep = &t->buckets[e->hash % t->nbuckets]; *ep; ep = &(*ep)->next) {
        if (*ep == e) {
            *ep = e->next;
            break;
        }
    }

    ngx_queue_remove(&e->queue);
    t->kept--;

    ngx_destroy_pool(e->pool);
}


/* a round starts: what is known is not given again */

void
ngx_http_mtasts_table_renew(ngx_http_mtasts_table_t *t)
{
    t->epoch++;
}


/* the worker exits: nothing is in flight any more */

void
ngx_http_mtasts_table_exit(ngx_http_mtasts_table_t *t)
{
    ngx_queue_t  *q;

    if (t->queue.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&t->queue)) {
        q = ngx_queue_head(&t->queue);
        ngx_http_mtasts_table_forget(t,
                        ngx_queue_data(q, ngx_http_mtasts_shared_t, queue));
    }
}


/*
 * The entries least recently asked for go first: those of a past round,
 * too old, failed, or past the number kept.  One in flight, or telling its
 * waiters, stays.
 */

static void
ngx_http_mtasts_table_expire(ngx_http_mtasts_table_t *t)
{
    ngx_queue_t               *q;
    ngx_http_mtasts_shared_t  *e;

    while (!ngx_queue_empty(&t->queue)) {
        q = ngx_queue_head(&t->queue);
        e = ngx_queue_data(q, ngx_http_mtasts_shared_t, queue);

        if (e->answered == 0 || e->busy
            || (e->epoch == t->epoch && !e->failed
                && ngx_time() - e->answered < t->age
                && t->kept < t->keep))
        {
            return;
        }

        ngx_http_mtasts_table_forget(t, e);
    }
}
