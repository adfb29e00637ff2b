
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The summary of the TLS-RPT reports kept, in a shared zone of its own:
 * per domain served, per UTC day (the end of a report's date range), the
 * totals, and the counts per sending organization, per receiving MX host
 * and per result type.  A report stored counts at once; at start, one
 * worker reads the reports kept in the directories, a few files per turn
 * of the event loop, those of the window only (their names begin with the
 * day).  The zone, and so the summary, is kept across reloads.  Days that
 * leave the window are freed when a summary is taken.
 */


#include "ngx_http_mtasts_tlsrpt.h"
#include "ngx_http_mtasts_policy.h"
#include "ngx_http_mtasts_check.h"


#define NGX_HTTP_MTASTS_SUM_TOTAL     0
#define NGX_HTTP_MTASTS_SUM_SENDER    1
#define NGX_HTTP_MTASTS_SUM_MX        2
#define NGX_HTTP_MTASTS_SUM_TYPE      3

#define NGX_HTTP_MTASTS_SUM_COUNTER   -1       /* the day of counters */

#define NGX_HTTP_MTASTS_SUM_FILES     16       /* read per turn */
#define NGX_HTTP_MTASTS_SUM_ENTRIES   64       /* looked at per turn */
#define NGX_HTTP_MTASTS_SUM_STALE     3600     /* a temporary file, left */
#define NGX_HTTP_MTASTS_SUM_FILE_MAX  (64 * 1024 * 1024)

#define NGX_HTTP_MTASTS_SUM_UNLOADED  0
#define NGX_HTTP_MTASTS_SUM_LOADING   1
#define NGX_HTTP_MTASTS_SUM_LOADED    2


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_uint_t                    state;
    ngx_pid_t                     loader;
    ngx_queue_t                   recent;      /* stored while loading */
    ngx_uint_t                    full;        /* the zone ran out once */
    time_t                        next_sweep;  /* of reports past retention */
    uint64_t                      refused[NGX_HTTP_MTASTS_TLSRPT_NREFUSED];
} ngx_http_mtasts_sum_sh_t;


typedef struct {
    ngx_str_node_t                sn;          /* the domain */
    ngx_queue_t                   entries;
    u_char                        data[1];
} ngx_http_mtasts_sum_node_t;


typedef struct {
    ngx_queue_t                   queue;
    time_t                        day;         /* days since 1970 */
    ngx_uint_t                    kind;
    uint64_t                      reports;
    uint64_t                      successful;
    uint64_t                      failed;
    size_t                        len;
    u_char                        name[1];
} ngx_http_mtasts_sum_entry_t;


typedef struct {
    ngx_queue_t                   queue;
    size_t                        len;
    u_char                        name[1];
} ngx_http_mtasts_sum_recent_t;


typedef struct {
    ngx_slab_pool_t              *shpool;
    ngx_http_mtasts_sum_sh_t     *sh;
} ngx_http_mtasts_sum_zone_t;


/*
 * A walk through the directories of the kept reports, an entry at a time:
 * the reading at start and the retention sweep each have one.
 */

typedef struct {
    ngx_array_t                  *paths;       /* ngx_path_t *, distinct */
    ngx_uint_t                    path;        /* the one being read */
    ngx_dir_t                     dir;
    ngx_uint_t                    open;
    time_t                        oldest;      /* day; before: deleted */
    ngx_uint_t                    deleted;
    u_char                        file[NGX_MAX_PATH]; /* the entry's */
} ngx_http_mtasts_sum_walk_t;


static ngx_int_t ngx_http_mtasts_sum_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_mtasts_sum_add(ngx_http_mtasts_sum_zone_t *z,
    ngx_http_mtasts_main_conf_t *mmcf, json_object *root,
    mtasts_report_t *rep, ngx_uint_t stored, ngx_log_t *log);
static ngx_int_t ngx_http_mtasts_sum_entry(ngx_http_mtasts_sum_zone_t *z,
    ngx_http_mtasts_sum_node_t *node, time_t day, ngx_uint_t kind,
    const char *name, uint64_t reports, uint64_t successful,
    uint64_t failed);
static ngx_http_mtasts_sum_node_t *ngx_http_mtasts_sum_node(
    ngx_http_mtasts_sum_zone_t *z, ngx_str_t *domain, ngx_uint_t create);
static const char *ngx_http_mtasts_sum_type(const char *type);
static ngx_int_t ngx_http_mtasts_sum_merge(ngx_array_t *a,
    ngx_http_mtasts_sum_entry_t *e);
static int ngx_libc_cdecl ngx_http_mtasts_sum_cmp(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_mtasts_day_cmp(const void *one,
    const void *two);
static void ngx_http_mtasts_sum_load(ngx_event_t *ev);
static ngx_int_t ngx_http_mtasts_sum_file(ngx_http_mtasts_main_conf_t *mmcf,
    u_char *path, ngx_log_t *log);
static void ngx_http_mtasts_sum_loaded(ngx_http_mtasts_sum_zone_t *z);
static void ngx_http_mtasts_sum_watch(ngx_event_t *ev);
static void ngx_http_mtasts_sum_reset(ngx_http_mtasts_sum_zone_t *z);
static time_t ngx_http_mtasts_sum_day(ngx_str_t *name);
static void ngx_http_mtasts_walk_start(ngx_http_mtasts_sum_walk_t *w,
    ngx_http_mtasts_main_conf_t *mmcf);
static ngx_int_t ngx_http_mtasts_walk_next(ngx_http_mtasts_sum_walk_t *w,
    ngx_str_t *name, time_t *day, ngx_log_t *log);
static void ngx_http_mtasts_walk_stop(ngx_http_mtasts_sum_walk_t *w);
static ngx_int_t ngx_http_mtasts_walk_stale(ngx_http_mtasts_sum_walk_t *w,
    ngx_str_t *name, ngx_log_t *log);
static ngx_int_t ngx_http_mtasts_sum_delete(u_char *path, ngx_log_t *log);
static void ngx_http_mtasts_sum_sweep(ngx_event_t *ev);


/* the result types of RFC 8460, section 4.3; any other is "other" */

static const char  *ngx_http_mtasts_sum_types[] = {
    "starttls-not-supported",
    "certificate-host-mismatch",
    "certificate-expired",
    "certificate-not-trusted",
    "validation-failure",
    "tlsa-invalid",
    "dnssec-invalid",
    "dane-required",
    "sts-policy-fetch-error",
    "sts-policy-invalid",
    "sts-webpki-invalid",
    NULL
};


/* as the answers: 400, 403, 405, 413, 415, 503 */

ngx_str_t  ngx_http_mtasts_tlsrpt_reasons[] = {
    ngx_string("not_a_report"),
    ngx_string("no_domain_served"),
    ngx_string("method"),
    ngx_string("too_large"),
    ngx_string("media_type"),
    ngx_string("cannot_store"),
    ngx_null_string
};


/* the worker reading the kept reports at start, and the one sweeping */

static ngx_event_t                 ngx_http_mtasts_sum_event;
static ngx_http_mtasts_sum_walk_t  ngx_http_mtasts_sum_walk;

static ngx_event_t                 ngx_http_mtasts_sweep_event;
static ngx_http_mtasts_sum_walk_t  ngx_http_mtasts_sweep_walk;


ngx_int_t
ngx_http_mtasts_tlsrpt_init(ngx_conf_t *cf, ngx_http_mtasts_main_conf_t *mmcf)
{
    size_t                       size, want;
    ngx_str_t                    name = ngx_string("mta_sts_tlsrpt");
    ngx_http_mtasts_sum_zone_t  *z;

    z = ngx_pcalloc(cf->pool, sizeof(ngx_http_mtasts_sum_zone_t));
    if (z == NULL) {
        return NGX_ERROR;
    }

    /* powers of two, as the zone of the checks, to survive reloads */

    want = 512 * 1024 + mmcf->ndomains * 2048;

    for (size = 1024 * 1024; size < want; size <<= 1) { /* void */ }

    mmcf->tlsrpt_zone = ngx_shared_memory_add(cf, &name, size,
                                              &ngx_http_mtasts_module);
    if (mmcf->tlsrpt_zone == NULL) {
        return NGX_ERROR;
    }

    mmcf->tlsrpt_zone->init = ngx_http_mtasts_sum_init_zone;
    mmcf->tlsrpt_zone->data = z;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtasts_sum_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_mtasts_sum_zone_t  *oz = data;

    size_t                       len;
    ngx_http_mtasts_sum_zone_t  *z;

    z = shm_zone->data;

    if (oz) {
        z->shpool = oz->shpool;
        z->sh = oz->sh;

        /* a new configuration sweeps at once: its retention may be new */

        ngx_shmtx_lock(&z->shpool->mutex);
        z->sh->next_sweep = 0;
        ngx_shmtx_unlock(&z->shpool->mutex);

        return NGX_OK;
    }

    z->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        z->sh = z->shpool->data;
        return NGX_OK;
    }

    z->sh = ngx_slab_calloc(z->shpool, sizeof(ngx_http_mtasts_sum_sh_t));
    if (z->sh == NULL) {
        return NGX_ERROR;
    }

    z->shpool->data = z->sh;

    ngx_rbtree_init(&z->sh->rbtree, &z->sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&z->sh->recent);

    len = sizeof(" in mta_sts_tlsrpt zone \"\"") + shm_zone->shm.name.len;

    z->shpool->log_ctx = ngx_slab_alloc(z->shpool, len);
    if (z->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(z->shpool->log_ctx, " in mta_sts_tlsrpt zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


/*
 * Every worker looks, at start and then each second until the kept
 * reports are read, whether somebody reads them: the first takes it, and
 * another takes over from a worker that left (a reload) or died.
 */

ngx_int_t
ngx_http_mtasts_tlsrpt_init_process(ngx_cycle_t *cycle)
{
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mtasts_module);

    if (mmcf == NULL || mmcf->tlsrpt_zone == NULL) {
        return NGX_OK;
    }

    ngx_http_mtasts_sum_event.handler = ngx_http_mtasts_sum_watch;
    ngx_http_mtasts_sum_event.data = mmcf;
    ngx_http_mtasts_sum_event.log = cycle->log;
    ngx_http_mtasts_sum_event.cancelable = 1;

    ngx_add_timer(&ngx_http_mtasts_sum_event, 1);

    return NGX_OK;
}


static void
ngx_http_mtasts_sum_watch(ngx_event_t *ev)
{
    ngx_http_mtasts_main_conf_t *mmcf = ev->data;

    time_t                       now;
    ngx_uint_t                   take, done, sweep;
    ngx_http_mtasts_sum_zone_t  *z;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    z = mmcf->tlsrpt_zone->data;
    take = 0;
    sweep = 0;
    now = ngx_time();

    ngx_shmtx_lock(&z->shpool->mutex);

    done = (z->sh->state == NGX_HTTP_MTASTS_SUM_LOADED);

    /* an hourly sweep, by the first worker that sees it due */

    if (done && mmcf->tlsrpt_retention && z->sh->next_sweep <= now) {
        z->sh->next_sweep = now + 3600;
        sweep = 1;
    }

    if (z->sh->state == NGX_HTTP_MTASTS_SUM_UNLOADED
        || (z->sh->state == NGX_HTTP_MTASTS_SUM_LOADING
            && z->sh->loader != ngx_pid
            && kill(z->sh->loader, 0) == -1 && ngx_errno == NGX_ESRCH))
    {
        /* what a worker that died had counted is counted anew */

        if (z->sh->state == NGX_HTTP_MTASTS_SUM_LOADING) {
            ngx_http_mtasts_sum_reset(z);
        }

        z->sh->state = NGX_HTTP_MTASTS_SUM_LOADING;
        z->sh->loader = ngx_pid;
        take = 1;
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    if (done) {

        if (!mmcf->tlsrpt_retention) {
            return;
        }

        if (sweep && !ngx_http_mtasts_sweep_event.timer_set) {
            ngx_http_mtasts_walk_start(&ngx_http_mtasts_sweep_walk, mmcf);
            ngx_http_mtasts_sweep_event.handler = ngx_http_mtasts_sum_sweep;
            ngx_http_mtasts_sweep_event.data = mmcf;
            ngx_http_mtasts_sweep_event.log = ev->log;
            ngx_http_mtasts_sweep_event.cancelable = 1;
            ngx_add_timer(&ngx_http_mtasts_sweep_event, 1);
        }

        ngx_add_timer(ev, 60000);
        return;
    }

    if (take) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "mta_sts: reading the kept TLS-RPT reports");

        ngx_http_mtasts_walk_start(&ngx_http_mtasts_sum_walk, mmcf);

        ev->handler = ngx_http_mtasts_sum_load;
        ngx_add_timer(ev, 1);
        return;
    }

    ngx_add_timer(ev, 1000);
}


void
ngx_http_mtasts_tlsrpt_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_mtasts_sum_zone_t   *z;
    ngx_http_mtasts_main_conf_t  *mmcf;

    if (ngx_http_mtasts_sum_event.timer_set) {
        ngx_del_timer(&ngx_http_mtasts_sum_event);
    }

    ngx_http_mtasts_walk_stop(&ngx_http_mtasts_sum_walk);

    if (ngx_http_mtasts_sweep_event.timer_set) {
        ngx_del_timer(&ngx_http_mtasts_sweep_event);
    }

    ngx_http_mtasts_walk_stop(&ngx_http_mtasts_sweep_walk);

    ngx_http_mtasts_tlsrpt_intake_exit();

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mtasts_module);

    if (mmcf == NULL || mmcf->tlsrpt_zone == NULL) {
        return;
    }

    /*
     * Left in the middle of the reading: it starts again in another
     * worker, from nothing, so that nothing counts twice.
     */

    z = mmcf->tlsrpt_zone->data;

    ngx_shmtx_lock(&z->shpool->mutex);

    if (z->sh->state == NGX_HTTP_MTASTS_SUM_LOADING
        && z->sh->loader == ngx_pid)
    {
        ngx_http_mtasts_sum_reset(z);
    }

    ngx_shmtx_unlock(&z->shpool->mutex);
}


/*
 * A few directory entries per turn; a file of a day before the window is
 * not opened.  A report stored meanwhile counted when it was stored, and
 * is not counted again.
 */

static void
ngx_http_mtasts_sum_load(ngx_event_t *ev)
{
    ngx_http_mtasts_main_conf_t *mmcf = ev->data;

    time_t                         first, day;
    ngx_int_t                      rc;
    ngx_str_t                      name;
    ngx_uint_t                     files, entries, seen;
    ngx_queue_t                   *q;
    ngx_http_mtasts_sum_walk_t    *w;
    ngx_http_mtasts_sum_zone_t    *z;
    ngx_http_mtasts_sum_recent_t  *re;

    z = mmcf->tlsrpt_zone->data;
    w = &ngx_http_mtasts_sum_walk;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    first = (ngx_time() - mmcf->tlsrpt_window) / 86400;

    for (files = 0, entries = 0;
         files < NGX_HTTP_MTASTS_SUM_FILES
         && entries < NGX_HTTP_MTASTS_SUM_ENTRIES;
         entries++)
    {
        rc = ngx_http_mtasts_walk_next(w, &name, &day, ev->log);

        if (rc == NGX_DONE) {
            ngx_http_mtasts_sum_loaded(z);

            ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                          "mta_sts: the kept TLS-RPT reports are read");

            /* the reading deleted what is past retention */

            if (mmcf->tlsrpt_retention) {
                ngx_shmtx_lock(&z->shpool->mutex);
                z->sh->next_sweep = ngx_time() + 3600;
                ngx_shmtx_unlock(&z->shpool->mutex);

                ev->handler = ngx_http_mtasts_sum_watch;
                ngx_add_timer(ev, 60000);
            }

            return;
        }

        if (rc != NGX_OK || day < first) {
            continue;
        }

        seen = 0;

        ngx_shmtx_lock(&z->shpool->mutex);

        for (q = ngx_queue_head(&z->sh->recent);
             q != ngx_queue_sentinel(&z->sh->recent);
             q = ngx_queue_next(q))
        {
            re = ngx_queue_data(q, ngx_http_mtasts_sum_recent_t, queue);

            if (re->len == name.len
                && ngx_strncmp(re->name, name.data, name.len) == 0)
            {
                seen = 1;
                break;
            }
        }

        ngx_shmtx_unlock(&z->shpool->mutex);

        if (seen) {
            continue;
        }

        (void) ngx_http_mtasts_sum_file(mmcf, w->file, ev->log);

        files++;
    }

    ngx_add_timer(ev, 1);
}


/* a kept report, read again and counted */

static ngx_int_t
ngx_http_mtasts_sum_file(ngx_http_mtasts_main_conf_t *mmcf, u_char *path,
    ngx_log_t *log)
{
    u_char                      *buf;
    ssize_t                      n;
    ngx_fd_t                     fd;
    ngx_int_t                    rc;
    ngx_file_t                   file;
    ngx_file_info_t              fi;
    json_object                 *root;
    json_tokener                *tok;
    mtasts_report_t              rep;

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", path);
        return NGX_ERROR;
    }

    buf = NULL;
    root = NULL;
    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > NGX_HTTP_MTASTS_SUM_FILE_MAX
        || ngx_file_size(&fi) == 0)
    {
        goto done;
    }

    buf = ngx_alloc((size_t) ngx_file_size(&fi), log);
    if (buf == NULL) {
        goto done;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name.data = path;
    file.name.len = ngx_strlen(path);
    file.log = log;

    n = ngx_read_file(&file, buf, (size_t) ngx_file_size(&fi), 0);
    if (n != (ssize_t) ngx_file_size(&fi)) {
        goto done;
    }

    tok = json_tokener_new_ex(MTASTS_REPORT_DEPTH);
    if (tok == NULL) {
        goto done;
    }

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT
                                |JSON_TOKENER_VALIDATE_UTF8
                                |JSON_TOKENER_ALLOW_TRAILING_CHARS);

    root = json_tokener_parse_ex(tok, (char *) buf, (int) n);

    json_tokener_free(tok);

    if (root == NULL || mtasts_report_check(root, &rep) != NULL) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "mta_sts: \"%s\" is not a TLS-RPT report, not counted",
                      path);
        goto done;
    }

    ngx_http_mtasts_sum_add(mmcf->tlsrpt_zone->data, mmcf, root, &rep, 0,
                            log);

    rc = NGX_OK;

done:

    if (root) {
        json_object_put(root);
    }

    if (buf) {
        ngx_free(buf);
    }

    (void) ngx_close_file(fd);

    return rc;
}


static void
ngx_http_mtasts_sum_loaded(ngx_http_mtasts_sum_zone_t *z)
{
    ngx_queue_t  *q;

    ngx_shmtx_lock(&z->shpool->mutex);

    z->sh->state = NGX_HTTP_MTASTS_SUM_LOADED;

    while (!ngx_queue_empty(&z->sh->recent)) {
        q = ngx_queue_head(&z->sh->recent);
        ngx_queue_remove(q);
        ngx_slab_free_locked(z->shpool, q);
    }

    ngx_shmtx_unlock(&z->shpool->mutex);
}


/* the summary emptied, for a reading from the start; zone locked */

static void
ngx_http_mtasts_sum_reset(ngx_http_mtasts_sum_zone_t *z)
{
    ngx_queue_t                  *q, *next;
    ngx_rbtree_node_t            *n, *sentinel;
    ngx_http_mtasts_sum_node_t   *node;
    ngx_http_mtasts_sum_entry_t  *e;

    sentinel = z->sh->rbtree.sentinel;

    if (z->sh->rbtree.root != sentinel) {
        for (n = ngx_rbtree_min(z->sh->rbtree.root, sentinel);
             n;
             n = ngx_rbtree_next(&z->sh->rbtree, n))
        {
            node = (ngx_http_mtasts_sum_node_t *) n;

            /* the counters stay: they are not read from the disk */

            for (q = ngx_queue_head(&node->entries);
                 q != ngx_queue_sentinel(&node->entries);
                 q = next)
            {
                next = ngx_queue_next(q);
                e = ngx_queue_data(q, ngx_http_mtasts_sum_entry_t, queue);

                if (e->day != NGX_HTTP_MTASTS_SUM_COUNTER) {
                    ngx_queue_remove(q);
                    ngx_slab_free_locked(z->shpool, e);
                }
            }
        }
    }

    while (!ngx_queue_empty(&z->sh->recent)) {
        q = ngx_queue_head(&z->sh->recent);
        ngx_queue_remove(q);
        ngx_slab_free_locked(z->shpool, q);
    }

    z->sh->state = NGX_HTTP_MTASTS_SUM_UNLOADED;
    z->sh->loader = 0;
}


/* a report just stored: "name" is its file name in the directory */

void
ngx_http_mtasts_tlsrpt_count(ngx_http_mtasts_main_conf_t *mmcf,
    json_object *root, mtasts_report_t *rep, u_char *name, ngx_log_t *log)
{
    size_t                         len;
    ngx_http_mtasts_sum_zone_t    *z;
    ngx_http_mtasts_sum_recent_t  *rc;

    if (mmcf->tlsrpt_zone == NULL) {
        return;
    }

    z = mmcf->tlsrpt_zone->data;

    ngx_http_mtasts_sum_add(z, mmcf, root, rep, 1, log);

    ngx_shmtx_lock(&z->shpool->mutex);

    /* the reading of the kept reports is not to count it again */

    if (z->sh->state != NGX_HTTP_MTASTS_SUM_LOADED) {
        len = ngx_strlen(name);

        rc = ngx_slab_alloc_locked(z->shpool,
                                   sizeof(ngx_http_mtasts_sum_recent_t)
                                   + len);
        if (rc) {
            rc->len = len;
            ngx_memcpy(rc->name, name, len);
            ngx_queue_insert_tail(&z->sh->recent, &rc->queue);
        }
    }

    ngx_shmtx_unlock(&z->shpool->mutex);
}


/*
 * Each served domain of the report counts it once, under the day its
 * date range ends: its sessions, and its failures by result type and by
 * receiving MX host.
 */

static void
ngx_http_mtasts_sum_add(ngx_http_mtasts_sum_zone_t *z,
    ngx_http_mtasts_main_conf_t *mmcf, json_object *root,
    mtasts_report_t *rep, ngx_uint_t stored, ngx_log_t *log)
{
    u_char                      *low;
    time_t                       day;
    size_t                       i, j, k, nd;
    ngx_int_t                    rc;
    ngx_str_t                    domain;
    ngx_uint_t                   first;
    mtasts_report_policy_t       pol, other;
    mtasts_report_detail_t       d;
    ngx_http_mtasts_sum_node_t  *node;
    u_char                       buf[MTASTS_NAME_MAX + 2];

    day = rep->end / 86400;
    rc = NGX_OK;

    ngx_shmtx_lock(&z->shpool->mutex);

    for (i = 0; i < rep->npolicies && rc == NGX_OK; i++) {
        mtasts_report_policy(root, i, &pol);

        if (pol.domain == NULL) {
            continue;
        }

        domain.len = ngx_strlen(pol.domain);

        if (domain.len > MTASTS_NAME_MAX + 1) {
            continue;
        }

        low = buf;
        ngx_strlow(low, (u_char *) pol.domain, domain.len);

        if (domain.len && low[domain.len - 1] == '.') {
            domain.len--;
        }

        domain.data = low;

        if (mmcf->ndomains == 0
            || ngx_http_mtasts_lookup(mmcf, &domain) == NULL)
        {
            continue;
        }

        /* the report counts once for a domain of several policies */

        first = 1;

        for (k = 0; k < i; k++) {
            mtasts_report_policy(root, k, &other);

            if (other.domain
                && ngx_strlen(other.domain) >= domain.len
                && ngx_strncasecmp((u_char *) other.domain, domain.data,
                                   domain.len) == 0
                && (other.domain[domain.len] == '\0'
                    || (other.domain[domain.len] == '.'
                        && other.domain[domain.len + 1] == '\0')))
            {
                first = 0;
                break;
            }
        }

        node = ngx_http_mtasts_sum_node(z, &domain, 1);
        if (node == NULL) {
            rc = NGX_ERROR;
            break;
        }

        rc = ngx_http_mtasts_sum_entry(z, node, day, NGX_HTTP_MTASTS_SUM_TOTAL,
                                       "", first, pol.successful, pol.failed);

        if (rc == NGX_OK) {
            rc = ngx_http_mtasts_sum_entry(z, node, day,
                                           NGX_HTTP_MTASTS_SUM_SENDER,
                                           rep->organization, first,
                                           pol.successful, pol.failed);
        }

        /* the counters: what this nginx stored, read again or not */

        if (rc == NGX_OK && stored) {
            rc = ngx_http_mtasts_sum_entry(z, node,
                                           NGX_HTTP_MTASTS_SUM_COUNTER,
                                           NGX_HTTP_MTASTS_SUM_TOTAL, "",
                                           first, pol.successful,
                                           pol.failed);
        }

        nd = mtasts_report_ndetails(root, i);

        for (j = 0; j < nd && rc == NGX_OK; j++) {
            mtasts_report_detail(root, i, j, &d);

            rc = ngx_http_mtasts_sum_entry(z, node, day,
                                       NGX_HTTP_MTASTS_SUM_TYPE,
                                       ngx_http_mtasts_sum_type(d.result_type),
                                       0, 0, d.failed);

            if (rc == NGX_OK && stored) {
                rc = ngx_http_mtasts_sum_entry(z, node,
                                       NGX_HTTP_MTASTS_SUM_COUNTER,
                                       NGX_HTTP_MTASTS_SUM_TYPE,
                                       ngx_http_mtasts_sum_type(d.result_type),
                                       0, 0, d.failed);
            }

            if (rc == NGX_OK && d.mx) {
                rc = ngx_http_mtasts_sum_entry(z, node, day,
                                               NGX_HTTP_MTASTS_SUM_MX, d.mx,
                                               0, 0, d.failed);
            }
        }
    }

    if (rc != NGX_OK && !z->sh->full) {
        z->sh->full = 1;
        ngx_shmtx_unlock(&z->shpool->mutex);

        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "mta_sts: no room in the shared zone for the summary "
                      "of TLS-RPT reports: the status page counts only "
                      "part of them");
        return;
    }

    ngx_shmtx_unlock(&z->shpool->mutex);
}


static ngx_int_t
ngx_http_mtasts_sum_entry(ngx_http_mtasts_sum_zone_t *z,
    ngx_http_mtasts_sum_node_t *node, time_t day, ngx_uint_t kind,
    const char *name, uint64_t reports, uint64_t successful, uint64_t failed)
{
    size_t                        len;
    ngx_queue_t                  *q;
    ngx_http_mtasts_sum_entry_t  *e;

    len = ngx_strlen(name);

    for (q = ngx_queue_head(&node->entries);
         q != ngx_queue_sentinel(&node->entries);
         q = ngx_queue_next(q))
    {
        e = ngx_queue_data(q, ngx_http_mtasts_sum_entry_t, queue);

        if (e->day == day && e->kind == kind && e->len == len
            && ngx_strncmp(e->name, name, len) == 0)
        {
            goto found;
        }
    }

    e = ngx_slab_calloc_locked(z->shpool,
                               sizeof(ngx_http_mtasts_sum_entry_t) + len);
    if (e == NULL) {
        return NGX_ERROR;
    }

    e->day = day;
    e->kind = kind;
    e->len = len;
    ngx_memcpy(e->name, name, len);

    ngx_queue_insert_tail(&node->entries, &e->queue);

found:

    e->reports += reports;
    e->successful += successful;
    e->failed += failed;

    return NGX_OK;
}


static ngx_http_mtasts_sum_node_t *
ngx_http_mtasts_sum_node(ngx_http_mtasts_sum_zone_t *z, ngx_str_t *domain,
    ngx_uint_t create)
{
    uint32_t                     hash;
    ngx_http_mtasts_sum_node_t  *node;

    hash = ngx_crc32_short(domain->data, domain->len);

    node = (ngx_http_mtasts_sum_node_t *)
           ngx_str_rbtree_lookup(&z->sh->rbtree, domain, hash);

    if (node || !create) {
        return node;
    }

    node = ngx_slab_calloc_locked(z->shpool,
                                  sizeof(ngx_http_mtasts_sum_node_t)
                                  + domain->len);
    if (node == NULL) {
        return NULL;
    }

    node->sn.node.key = hash;
    node->sn.str.len = domain->len;
    node->sn.str.data = node->data;
    ngx_memcpy(node->data, domain->data, domain->len);
    ngx_queue_init(&node->entries);

    ngx_rbtree_insert(&z->sh->rbtree, &node->sn.node);

    return node;
}


static const char *
ngx_http_mtasts_sum_type(const char *type)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_mtasts_sum_types[i]; i++) {
        if (ngx_strcmp(type, ngx_http_mtasts_sum_types[i]) == 0) {
            return ngx_http_mtasts_sum_types[i];
        }
    }

    return "other";
}


/* a report refused, by the answer's status */

void
ngx_http_mtasts_tlsrpt_refused(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_uint_t status)
{
    ngx_uint_t                   i;
    ngx_http_mtasts_sum_zone_t  *z;

    switch (status) {
    case NGX_HTTP_BAD_REQUEST:
        i = 0;
        break;
    case NGX_HTTP_FORBIDDEN:
        i = 1;
        break;
    case NGX_HTTP_NOT_ALLOWED:
        i = 2;
        break;
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        i = 3;
        break;
    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE:
        i = 4;
        break;
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        i = 5;
        break;
    default:
        return;
    }

    if (mmcf->tlsrpt_zone == NULL) {
        return;
    }

    z = mmcf->tlsrpt_zone->data;

    ngx_shmtx_lock(&z->shpool->mutex);
    z->sh->refused[i]++;
    ngx_shmtx_unlock(&z->shpool->mutex);
}


/* whether reports are summed up, and the refusals */

ngx_uint_t
ngx_http_mtasts_tlsrpt_totals(ngx_http_mtasts_main_conf_t *mmcf,
    uint64_t *refused)
{
    ngx_uint_t                   i;
    ngx_http_mtasts_sum_zone_t  *z;

    if (mmcf->tlsrpt_zone == NULL) {
        return 0;
    }

    z = mmcf->tlsrpt_zone->data;

    ngx_shmtx_lock(&z->shpool->mutex);

    for (i = 0; i < NGX_HTTP_MTASTS_TLSRPT_NREFUSED; i++) {
        refused[i] = z->sh->refused[i];
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    return 1;
}


/* a domain's summary for the window, copied into the pool */

ngx_int_t
ngx_http_mtasts_tlsrpt_summary(ngx_pool_t *pool,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_str_t *domain, time_t now,
    ngx_http_mtasts_tlsrpt_sum_t *sum)
{
    time_t                        first;
    ngx_int_t                     rc;
    ngx_queue_t                  *q, *next;
    ngx_http_mtasts_tlsrpt_day_t *day;
    ngx_array_t                  *a;
    ngx_http_mtasts_sum_zone_t   *z;
    ngx_http_mtasts_sum_node_t   *node;
    ngx_http_mtasts_sum_entry_t  *e;

    ngx_memzero(sum, sizeof(ngx_http_mtasts_tlsrpt_sum_t));

    if (mmcf->tlsrpt_zone == NULL) {
        return NGX_OK;
    }

    sum->enabled = 1;
    sum->window = mmcf->tlsrpt_window;

    if (ngx_array_init(&sum->failures, pool, 4,
                       sizeof(ngx_http_mtasts_tlsrpt_count_t))
           != NGX_OK
        || ngx_array_init(&sum->senders, pool, 4,
                          sizeof(ngx_http_mtasts_tlsrpt_count_t))
           != NGX_OK
        || ngx_array_init(&sum->mx, pool, 4,
                          sizeof(ngx_http_mtasts_tlsrpt_count_t))
           != NGX_OK
        || ngx_array_init(&sum->stored_failures, pool, 4,
                          sizeof(ngx_http_mtasts_tlsrpt_count_t))
           != NGX_OK
        || ngx_array_init(&sum->days, pool, 8,
                          sizeof(ngx_http_mtasts_tlsrpt_day_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    z = mmcf->tlsrpt_zone->data;
    first = (now - mmcf->tlsrpt_window) / 86400;
    rc = NGX_OK;

    ngx_shmtx_lock(&z->shpool->mutex);

    sum->loading = (z->sh->state != NGX_HTTP_MTASTS_SUM_LOADED);

    node = ngx_http_mtasts_sum_node(z, domain, 0);

    for (q = node ? ngx_queue_head(&node->entries) : NULL;
         q && q != ngx_queue_sentinel(&node->entries);
         q = next)
    {
        next = ngx_queue_next(q);
        e = ngx_queue_data(q, ngx_http_mtasts_sum_entry_t, queue);

        if (e->day == NGX_HTTP_MTASTS_SUM_COUNTER) {

            if (e->kind == NGX_HTTP_MTASTS_SUM_TOTAL) {
                sum->stored += e->reports;
                sum->stored_successful += e->successful;
                sum->stored_failed += e->failed;
                continue;
            }

            if (ngx_http_mtasts_sum_merge(&sum->stored_failures, e)
                != NGX_OK)
            {
                rc = NGX_ERROR;
                break;
            }

            continue;
        }

        /* a day that left the window */

        if (e->day < first) {
            ngx_queue_remove(q);
            ngx_slab_free_locked(z->shpool, e);
            continue;
        }

        switch (e->kind) {

        case NGX_HTTP_MTASTS_SUM_TOTAL:
            sum->reports += e->reports;
            sum->successful += e->successful;
            sum->failed += e->failed;

            /* one total per day */

            day = ngx_array_push(&sum->days);
            if (day == NULL) {
                rc = NGX_ERROR;
                a = NULL;
                break;
            }

            day->day = e->day;
            day->successful = e->successful;
            day->failed = e->failed;
            continue;

        case NGX_HTTP_MTASTS_SUM_SENDER:
            a = &sum->senders;
            break;

        case NGX_HTTP_MTASTS_SUM_MX:
            a = &sum->mx;
            break;

        default: /* NGX_HTTP_MTASTS_SUM_TYPE */
            a = &sum->failures;
            break;
        }

        if (rc != NGX_OK) {
            break;
        }

        if (ngx_http_mtasts_sum_merge(a, e) != NGX_OK) {
            rc = NGX_ERROR;
            break;
        }
    }

    ngx_shmtx_unlock(&z->shpool->mutex);

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /* in name order: the same answer for the same reports */

    ngx_qsort(sum->failures.elts, sum->failures.nelts,
              sizeof(ngx_http_mtasts_tlsrpt_count_t), ngx_http_mtasts_sum_cmp);
    ngx_qsort(sum->senders.elts, sum->senders.nelts,
              sizeof(ngx_http_mtasts_tlsrpt_count_t), ngx_http_mtasts_sum_cmp);
    ngx_qsort(sum->mx.elts, sum->mx.nelts,
              sizeof(ngx_http_mtasts_tlsrpt_count_t), ngx_http_mtasts_sum_cmp);
    ngx_qsort(sum->stored_failures.elts, sum->stored_failures.nelts,
              sizeof(ngx_http_mtasts_tlsrpt_count_t), ngx_http_mtasts_sum_cmp);
    ngx_qsort(sum->days.elts, sum->days.nelts,
              sizeof(ngx_http_mtasts_tlsrpt_day_t), ngx_http_mtasts_day_cmp);

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtasts_sum_merge(ngx_array_t *a, ngx_http_mtasts_sum_entry_t *e)
{
    ngx_uint_t                       i;
    ngx_http_mtasts_tlsrpt_count_t  *c;

    c = a->elts;

    for (i = 0; i < a->nelts; i++) {
        if (c[i].name.len == e->len
            && ngx_strncmp(c[i].name.data, e->name, e->len) == 0)
        {
            break;
        }
    }

    if (i == a->nelts) {
        c = ngx_array_push(a);
        if (c == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(c, sizeof(ngx_http_mtasts_tlsrpt_count_t));

        c->name.len = e->len;
        c->name.data = ngx_pnalloc(a->pool, e->len);
        if (c->name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(c->name.data, e->name, e->len);

    } else {
        c = &c[i];
    }

    c->reports += e->reports;
    c->successful += e->successful;
    c->failed += e->failed;

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_mtasts_sum_cmp(const void *one, const void *two)
{
    const ngx_http_mtasts_tlsrpt_count_t  *a = one;
    const ngx_http_mtasts_tlsrpt_count_t  *b = two;

    ngx_int_t  rc;

    rc = ngx_strncmp(a->name.data, b->name.data,
                     ngx_min(a->name.len, b->name.len));

    if (rc) {
        return (int) rc;
    }

    return (a->name.len > b->name.len) - (a->name.len < b->name.len);
}


static int ngx_libc_cdecl
ngx_http_mtasts_day_cmp(const void *one, const void *two)
{
    const ngx_http_mtasts_tlsrpt_day_t  *a = one;
    const ngx_http_mtasts_tlsrpt_day_t  *b = two;

    return (a->day > b->day) - (a->day < b->day);
}


/*
 * What senders saw, in a sentence, and its state: no report yet is said
 * so; failures would bounce under enforce (an error when enforced, a
 * warning when testing); sts-* ones point at the policy host.
 */

ngx_uint_t
ngx_http_mtasts_tlsrpt_verdict(ngx_pool_t *pool,
    ngx_http_mtasts_tlsrpt_sum_t *sum, ngx_uint_t mode, ngx_str_t *domain,
    ngx_str_t *message)
{
    u_char                          *p, *last, buf[1024];
    uint64_t                         total, sts, mx;
    ngx_uint_t                       i, n, state;
    ngx_http_mtasts_tlsrpt_count_t  *c;

    p = buf;
    last = buf + sizeof(buf);
    total = sum->successful + sum->failed;

    if (sum->reports == 0) {
        p = ngx_slprintf(p, last, "No TLS-RPT report for %V in the last "
                         "%T days%s: senders have said nothing yet.",
                         domain, sum->window / 86400,
                         sum->loading ? " (the kept reports are still "
                                        "being read)" : "");
        state = NGX_HTTP_MTASTS_PENDING;

    } else if (sum->failed == 0) {
        p = ngx_slprintf(p, last, "%uL report%s from %ui sender%s in the "
                         "last %T days: all %uL sessions succeeded.",
                         sum->reports, sum->reports == 1 ? "" : "s",
                         sum->senders.nelts,
                         sum->senders.nelts == 1 ? "" : "s",
                         sum->window / 86400, total);
        state = NGX_HTTP_MTASTS_OK;

    } else {
        p = ngx_slprintf(p, last, "%uL of %uL sessions %s in the last %T "
                         "days", sum->failed, total,
                         mode == NGX_HTTP_MTASTS_ENFORCE
                         ? "failed under enforce"
                         : "would fail under enforce",
                         sum->window / 86400);

        c = sum->failures.elts;
        sts = 0;
        mx = 0;

        for (i = 0; i < sum->failures.nelts; i++) {
            p = ngx_slprintf(p, last, "%s%V %uL", i ? ", " : ": ",
                             &c[i].name, c[i].failed);

            if (c[i].name.len > 4
                && ngx_strncmp(c[i].name.data, "sts-", 4) == 0)
            {
                sts += c[i].failed;
            }

            if ((c[i].name.len > 12
                 && ngx_strncmp(c[i].name.data, "certificate-", 12) == 0)
                || (c[i].name.len == sizeof("starttls-not-supported") - 1
                    && ngx_strncmp(c[i].name.data, "starttls-not-supported",
                                   c[i].name.len)
                       == 0))
            {
                mx += c[i].failed;
            }
        }

        c = sum->mx.elts;

        for (i = 0; i < sum->mx.nelts && i < 4; i++) {
            p = ngx_slprintf(p, last, "%s%V", i ? ", " : "; MX hosts: ",
                             &c[i].name);
        }

        c = sum->senders.elts;

        for (i = 0, n = 0; i < sum->senders.nelts && n < 4; i++) {
            if (c[i].failed) {
                p = ngx_slprintf(p, last, "%s%V %uL",
                                 n++ ? ", " : "; senders: ",
                                 &c[i].name, c[i].failed);
            }
        }

        p = ngx_slprintf(p, last, ".");

        if (sts) {
            p = ngx_slprintf(p, last, " The sts-* failures are about the "
                             "policy host mta-sts.%V: its certificate and "
                             "its policy, see the checks.", domain);
        }

        if (mx) {
            p = ngx_slprintf(p, last, " The certificate-* and "
                             "starttls-not-supported failures are about "
                             "the MX hosts named.");
        }

        state = (mode == NGX_HTTP_MTASTS_ENFORCE) ? NGX_HTTP_MTASTS_ERROR
                                                  : NGX_HTTP_MTASTS_WARNING;
    }

    message->len = p - buf;
    message->data = ngx_pnalloc(pool, message->len);

    if (message->data == NULL) {
        message->len = 0;
        return state;
    }

    ngx_memcpy(message->data, buf, message->len);

    return state;
}


/* the day of a report's file name, YYYY-MM-DD-<32 hex>.json, or -1 */

static time_t
ngx_http_mtasts_sum_day(ngx_str_t *name)
{
    u_char     *p;
    ngx_int_t   y, m, d;
    struct tm   tm;

    if (name->len != sizeof("YYYY-MM-DD-.json") - 1 + 32
        || ngx_strncmp(name->data + name->len - 5, ".json", 5) != 0)
    {
        return -1;
    }

    p = name->data;
    y = ngx_atoi(p, 4);
    m = ngx_atoi(p + 5, 2);
    d = ngx_atoi(p + 8, 2);

    if (y == NGX_ERROR || m == NGX_ERROR || d == NGX_ERROR
        || p[4] != '-' || p[7] != '-' || p[10] != '-')
    {
        return -1;
    }

    ngx_memzero(&tm, sizeof(struct tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;

    return timegm(&tm) / 86400;
}


static ngx_int_t
ngx_http_mtasts_sum_delete(u_char *path, ngx_log_t *log)
{
    if (ngx_delete_file(path) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      ngx_delete_file_n " \"%s\" failed", path);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "mta-sts tlsrpt: deleted \"%s\"", path);

    return NGX_OK;
}


/* the reports past mta_sts_tlsrpt_retention deleted, 64 entries a turn */

static void
ngx_http_mtasts_sum_sweep(ngx_event_t *ev)
{
    time_t      day;
    ngx_str_t   name;
    ngx_uint_t  n;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    for (n = 0; n < NGX_HTTP_MTASTS_SUM_ENTRIES; n++) {
        if (ngx_http_mtasts_walk_next(&ngx_http_mtasts_sweep_walk, &name,
                                      &day, ev->log)
            == NGX_DONE)
        {
            return;
        }
    }

    ngx_add_timer(ev, 1);
}


static void
ngx_http_mtasts_walk_start(ngx_http_mtasts_sum_walk_t *w,
    ngx_http_mtasts_main_conf_t *mmcf)
{
    ngx_http_mtasts_walk_stop(w);

    w->paths = mmcf->tlsrpt_paths;
    w->path = 0;
    w->oldest = mmcf->tlsrpt_retention
                ? (ngx_time() - mmcf->tlsrpt_retention) / 86400 : 0;
    w->deleted = 0;
}


/*
 * The next entry: NGX_OK with a kept report's name (in the directory
 * paths[w->path]) and the day it ends, NGX_DECLINED for an entry that is
 * none (or that was deleted: past retention, a temporary file left by a
 * crash), NGX_DONE when every directory is read.
 */

static ngx_int_t
ngx_http_mtasts_walk_next(ngx_http_mtasts_sum_walk_t *w, ngx_str_t *name,
    time_t *day, ngx_log_t *log)
{
    ngx_path_t  **paths;

    paths = w->paths->elts;

    if (!w->open) {

        if (w->path == w->paths->nelts) {

            if (w->oldest) {
                ngx_log_error(NGX_LOG_INFO, log, 0,
                              "mta_sts: %ui TLS-RPT reports past "
                              "mta_sts_tlsrpt_retention deleted",
                              w->deleted);
            }

            return NGX_DONE;
        }

        if (ngx_open_dir(&paths[w->path]->name, &w->dir) == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          ngx_open_dir_n " \"%V\" failed",
                          &paths[w->path]->name);
            w->path++;
            return NGX_DECLINED;
        }

        w->open = 1;
    }

    if (ngx_read_dir(&w->dir) == NGX_ERROR) {
        ngx_http_mtasts_walk_stop(w);
        w->path++;
        return NGX_DECLINED;
    }

    name->len = ngx_de_namelen(&w->dir);
    name->data = ngx_de_name(&w->dir);

    if (paths[w->path]->name.len + name->len + 2 > NGX_MAX_PATH) {
        return NGX_DECLINED;
    }

    ngx_sprintf(w->file, "%V/%V%Z", &paths[w->path]->name, name);

    *day = ngx_http_mtasts_sum_day(name);

    if (*day == -1) {
        return ngx_http_mtasts_walk_stale(w, name, log);
    }

    if (*day < w->oldest) {
        if (ngx_http_mtasts_sum_delete(w->file, log) == NGX_OK) {
            w->deleted++;
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_mtasts_walk_stop(ngx_http_mtasts_sum_walk_t *w)
{
    if (w->open) {
        (void) ngx_close_dir(&w->dir);
        w->open = 0;
    }
}


/*
 * A temporary file of the intake that is more than an hour old was left
 * by a worker that crashed (or by a machine that did): a report is taken
 * in seconds.  It is deleted, so that it neither stays nor takes the name
 * that a new worker with the same pid would make.
 */

static ngx_int_t
ngx_http_mtasts_walk_stale(ngx_http_mtasts_sum_walk_t *w, ngx_str_t *name,
    ngx_log_t *log)
{
    ngx_file_info_t  fi;

    if (name->len < sizeof(".tlsrpt-.tmp") - 1
        || ngx_strncmp(name->data, ".tlsrpt-", sizeof(".tlsrpt-") - 1) != 0
        || ngx_strncmp(name->data + name->len - 4, ".tmp", 4) != 0)
    {
        return NGX_DECLINED;
    }

    if (ngx_file_info(w->file, &fi) == NGX_FILE_ERROR
        || ngx_time() - ngx_file_mtime(&fi) < NGX_HTTP_MTASTS_SUM_STALE)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_mtasts_sum_delete(w->file, log) == NGX_OK) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "mta_sts: deleted \"%s\", a temporary file of a "
                      "TLS-RPT report that a crash left", w->file);
    }

    return NGX_DECLINED;
}
