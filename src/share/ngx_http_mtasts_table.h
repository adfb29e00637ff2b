
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * What the checks of a round share: a lookup or a probe that another check
 * has started since the round began is waited for, or its result taken,
 * instead of being made again.  The table finds, keeps and forgets the
 * entries; each user keeps its own waiters and results in the entry's
 * pool.  Per worker.
 */


#ifndef _NGX_HTTP_MTASTS_TABLE_H_INCLUDED_
#define _NGX_HTTP_MTASTS_TABLE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


typedef struct ngx_http_mtasts_shared_s  ngx_http_mtasts_shared_t;

/* the first member of the user's entry, which lives in "pool" */

struct ngx_http_mtasts_shared_s {
    ngx_pool_t                   *pool;      /* the entry's own */
    ngx_queue_t                   queue;     /* the least recently asked
                                                first */
    ngx_http_mtasts_shared_t     *next;      /* in its bucket */
    ngx_uint_t                    hash;
    ngx_uint_t                    epoch;
    ngx_str_t                     key;
    time_t                        answered;  /* 0: in flight */
    unsigned                      failed:1;  /* not to be shared */
    unsigned                      busy:1;    /* telling its waiters */
};


typedef struct {
    ngx_http_mtasts_shared_t    **buckets;
    ngx_uint_t                    nbuckets;
    ngx_uint_t                    keep;      /* entries kept, at most */
    time_t                        age;       /* seconds an answer is kept */
    ngx_queue_t                   queue;
    ngx_uint_t                    kept;
    ngx_uint_t                    epoch;
} ngx_http_mtasts_table_t;


#define ngx_http_mtasts_table(buckets, keep, age)                            \
    { buckets, sizeof(buckets) / sizeof(buckets[0]), keep, age,              \
      { NULL, NULL }, 0, 0 }


ngx_http_mtasts_shared_t *ngx_http_mtasts_table_find(
    ngx_http_mtasts_table_t *t, ngx_str_t *key);
ngx_http_mtasts_shared_t *ngx_http_mtasts_table_add(
    ngx_http_mtasts_table_t *t, ngx_str_t *key, size_t size, size_t pool);
void ngx_http_mtasts_table_answered(ngx_http_mtasts_shared_t *e,
    ngx_uint_t failed);
void ngx_http_mtasts_table_forget(ngx_http_mtasts_table_t *t,
    ngx_http_mtasts_shared_t *e);
void ngx_http_mtasts_table_renew(ngx_http_mtasts_table_t *t);
void ngx_http_mtasts_table_exit(ngx_http_mtasts_table_t *t);


#endif /* _NGX_HTTP_MTASTS_TABLE_H_INCLUDED_ */
