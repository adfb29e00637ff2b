
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The rounds of checks: a job checks one domain; a worker runs a bounded
 * number of jobs; each domain is claimed in the shared zone so that at most
 * one check of it is in flight across all workers.
 */


#include "ngx_http_mtasts_job.h"


#define NGX_HTTP_MTASTS_INFLIGHT   32      /* domains at once, per worker */
#define NGX_HTTP_MTASTS_STARTS     1       /* checks started per event loop
                                              turn */


typedef struct {
    ngx_queue_t                   queue;
    ngx_http_mtasts_main_conf_t  *mmcf;
    ngx_log_t                    *log;
    ngx_http_mtasts_entry_t     **domains;
    ngx_uint_t                    n;
    ngx_uint_t                    next;
} ngx_http_mtasts_round_t;


static void ngx_http_mtasts_schedule(void);
static void ngx_http_mtasts_schedule_next(void);
static void ngx_http_mtasts_schedule_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_mtasts_claim(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_entry_t *entry);
static void ngx_http_mtasts_job_start(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_entry_t *entry, ngx_log_t *log);
static void ngx_http_mtasts_job_done(ngx_http_mtasts_job_t *job);
static void ngx_http_mtasts_release(ngx_http_mtasts_job_t *job);
static void ngx_http_mtasts_store(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);


/* per worker */
static ngx_queue_t              ngx_http_mtasts_rounds;
static ngx_uint_t               ngx_http_mtasts_running;
static ngx_uint_t               ngx_http_mtasts_exiting;
static ngx_event_t              ngx_http_mtasts_schedule_event;
static ngx_http_mtasts_idle_pt  ngx_http_mtasts_idle;


/*
 * "first": a refresh somebody waits for goes before a background round
 * that may still have thousands of domains to go
 */

ngx_int_t
ngx_http_mtasts_check_start(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_entry_t **domains, ngx_uint_t n, ngx_uint_t first,
    ngx_log_t *log)
{
    ngx_uint_t                i;
    ngx_http_mtasts_round_t  *round;

    if (ngx_http_mtasts_exiting || ngx_exiting || n == 0) {
        return NGX_OK;
    }

    if (ngx_http_mtasts_rounds.next == NULL) {
        ngx_queue_init(&ngx_http_mtasts_rounds);
    }

    round = ngx_alloc(sizeof(ngx_http_mtasts_round_t)
                      + n * sizeof(ngx_http_mtasts_entry_t *), log);
    if (round == NULL) {
        return NGX_ERROR;
    }

    round->mmcf = mmcf;
    round->log = ngx_cycle->log;
    round->domains = (ngx_http_mtasts_entry_t **) &round[1];
    round->n = n;
    round->next = 0;

    ngx_memcpy(round->domains, domains, n * sizeof(ngx_http_mtasts_entry_t *));

    /* what DNS and the MX hosts say is asked anew, not taken from before */

    ngx_http_mtasts_dnssec_renew();
    ngx_http_mtasts_share_renew();

    /* this worker will see to them: nobody else needs to */

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    for (i = 0; i < n; i++) {
        domains[i]->node->queued = ngx_pid;
    }

    ngx_shmtx_unlock(&mmcf->shpool->mutex);

    if (first) {
        ngx_queue_insert_head(&ngx_http_mtasts_rounds, &round->queue);

    } else {
        ngx_queue_insert_tail(&ngx_http_mtasts_rounds, &round->queue);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "mta-sts check round of %ui domains", n);

    ngx_http_mtasts_schedule();

    return NGX_OK;
}


void
ngx_http_mtasts_round_exit(void)
{
    ngx_queue_t              *q;
    ngx_http_mtasts_round_t  *round;

    ngx_http_mtasts_exiting = 1;

    if (ngx_http_mtasts_schedule_event.posted) {
        ngx_delete_posted_event(&ngx_http_mtasts_schedule_event);
    }

    if (ngx_http_mtasts_rounds.next == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_mtasts_rounds)) {
        q = ngx_queue_head(&ngx_http_mtasts_rounds);
        round = ngx_queue_data(q, ngx_http_mtasts_round_t, queue);
        ngx_queue_remove(q);
        ngx_free(round);
    }
}


/*
 * The status location wants to know when this worker has no check left:
 * its waiting refreshes look at once, not at their next poll.
 */

void
ngx_http_mtasts_check_on_idle(ngx_http_mtasts_idle_pt handler)
{
    ngx_http_mtasts_idle = handler;
}


/*
 * Start jobs from the rounds in order, up to the limit, and at most
 * NGX_HTTP_MTASTS_STARTS in one turn of the event loop: the rest start in
 * the next turns, after the requests that are ready, which so never wait
 * behind more than a few checks' work.
 */

static void
ngx_http_mtasts_schedule(void)
{
    ngx_uint_t                started;
    ngx_queue_t              *q;
    ngx_http_mtasts_entry_t  *entry;
    ngx_http_mtasts_round_t  *round;

    started = 0;

    while (ngx_http_mtasts_running < NGX_HTTP_MTASTS_INFLIGHT
           && !ngx_http_mtasts_exiting
           && !ngx_exiting
           && !ngx_queue_empty(&ngx_http_mtasts_rounds))
    {
        if (started == NGX_HTTP_MTASTS_STARTS) {
            ngx_http_mtasts_schedule_next();
            break;
        }

        q = ngx_queue_head(&ngx_http_mtasts_rounds);
        round = ngx_queue_data(q, ngx_http_mtasts_round_t, queue);

        if (round->next == round->n) {
            ngx_queue_remove(q);
            ngx_free(round);
            continue;
        }

        entry = round->domains[round->next++];

        if (ngx_http_mtasts_claim(round->mmcf, entry) == NGX_OK) {
            ngx_http_mtasts_job_start(round->mmcf, entry, round->log);
            started++;
        }
    }

    if (ngx_http_mtasts_running == 0
        && ngx_queue_empty(&ngx_http_mtasts_rounds)
        && ngx_http_mtasts_idle)
    {
        ngx_http_mtasts_idle();
    }
}


static void
ngx_http_mtasts_schedule_next(void)
{
    if (ngx_http_mtasts_exiting || ngx_http_mtasts_schedule_event.posted) {
        return;
    }

    ngx_http_mtasts_schedule_event.handler = ngx_http_mtasts_schedule_handler;
    ngx_http_mtasts_schedule_event.log = ngx_cycle->log;

    ngx_post_event(&ngx_http_mtasts_schedule_event, &ngx_posted_next_events);
}


/*
 * Nobody checks the domain: no claim, a claim past any check's duration,
 * or one of a worker that is gone.  Called with the zone locked.
 */

ngx_uint_t
ngx_http_mtasts_claimable(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_node_t *node, time_t now)
{
    if (node->started == 0 || node->started + mmcf->stale < now) {
        return 1;
    }

    return node->owner != ngx_pid
           && kill(node->owner, 0) == -1 && ngx_errno == NGX_ESRCH;
}


/*
 * Nobody checks the domain and nobody will: a refresh waiting for it
 * starts a check itself.  Called with the zone locked.
 */

ngx_uint_t
ngx_http_mtasts_forgotten(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_node_t *node, time_t now)
{
    if (!ngx_http_mtasts_claimable(mmcf, node, now)) {
        return 0;
    }

    return node->queued == 0
           || (node->queued != ngx_pid
               && kill(node->queued, 0) == -1 && ngx_errno == NGX_ESRCH);
}


/* at most one check of a domain in flight, across workers */

static ngx_int_t
ngx_http_mtasts_claim(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_entry_t *entry)
{
    time_t                   now;
    ngx_int_t                rc;
    ngx_http_mtasts_node_t  *node;

    node = entry->node;
    now = ngx_time();
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    if (ngx_http_mtasts_claimable(mmcf, node, now)) {
        node->started = now;
        node->owner = ngx_pid;
        rc = NGX_OK;

    } else if (node->queued == ngx_pid) {

        /* somebody else checks it: this worker no longer will */

        node->queued = 0;
    }

    ngx_shmtx_unlock(&mmcf->shpool->mutex);

    return rc;
}


static void
ngx_http_mtasts_job_start(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_entry_t *entry, ngx_log_t *log)
{
    u_char                 *p;
    size_t                  len;
    ngx_str_t              *d;
    ngx_uint_t              i;
    ngx_pool_t             *pool;
    ngx_http_mtasts_job_t  *job;

    static const char  *prefix[] = { "_mta-sts.", "_smtp._tls.", "",
                                     "mta-sts.", "mta-sts." };
    static const int    type[] = { NGX_HTTP_MTASTS_T_TXT,
                                   NGX_HTTP_MTASTS_T_TXT,
                                   NGX_HTTP_MTASTS_T_MX,
                                   NGX_HTTP_MTASTS_T_A,
                                   NGX_HTTP_MTASTS_T_AAAA };

    d = &entry->domain;

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        goto failed;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_http_mtasts_job_t));
    if (job == NULL) {
        goto failed;
    }

    job->pool = pool;
    job->mmcf = mmcf;
    job->entry = entry;
    job->generation = mmcf->generation;
    job->done = ngx_http_mtasts_job_done;

    job->domain = (char *) ngx_pnalloc(pool, d->len + 1);
    job->id = (char *) ngx_pnalloc(pool, entry->conf->policy_id.len + 1);
    if (job->domain == NULL || job->id == NULL) {
        goto failed;
    }

    ngx_sprintf((u_char *) job->domain, "%V%Z", d);
    ngx_sprintf((u_char *) job->id, "%V%Z", &entry->conf->policy_id);

    if (ngx_array_init(&job->txt[0], pool, 2, sizeof(mtasts_txt_t))
           != NGX_OK
        || ngx_array_init(&job->txt[1], pool, 2, sizeof(mtasts_txt_t))
           != NGX_OK
        || ngx_array_init(&job->mx, pool, 4, sizeof(mtasts_mx_t)) != NGX_OK
        || ngx_array_init(&job->addrs, pool, 4, sizeof(ngx_str_t))
           != NGX_OK
        || ngx_array_init(&job->tls, pool, 4,
                          sizeof(ngx_http_mtasts_tls_t *))
           != NGX_OK
        || ngx_array_init(&job->tlsa, pool, 4,
                          sizeof(ngx_http_mtasts_dane_q_t *))
           != NGX_OK)
    {
        goto failed;
    }

    ngx_http_mtasts_running++;

    /* one extra hold until all are asked: shared answers may come at once */

    job->pending = NGX_HTTP_MTASTS_NQ + 1;

    for (i = 0; i < NGX_HTTP_MTASTS_NQ; i++) {
        job->q[i].job = job;
        job->q[i].what = i;

        len = ngx_strlen(prefix[i]) + d->len + 1;

        p = ngx_pnalloc(pool, len);
        if (p == NULL) {
            job->status[i] = ARES_ENOMEM;
            job->pending--;
            continue;
        }

        ngx_sprintf(p, "%s%V%Z", prefix[i], d);

        job->q[i].name = (char *) p;
        job->q[i].type = type[i];

        /* with DANE, the MX records are asked once, with DNSSEC */

        if (i == NGX_HTTP_MTASTS_Q_MX && mmcf->dane) {
            continue;
        }

        if (ngx_http_mtasts_dns_query((char *) p, type[i],
                                      ngx_http_mtasts_answer, &job->q[i])
            != NGX_OK)
        {
            job->status[i] = ARES_EDESTRUCTION;
            job->pending--;
        }
    }

    if (mmcf->dane) {
        ngx_http_mtasts_dane_lookups(job);
    }

    ngx_http_mtasts_job_answered(job);

    return;

failed:

    if (pool) {
        ngx_destroy_pool(pool);
    }

    ngx_shmtx_lock(&mmcf->shpool->mutex);
    entry->node->started = 0;
    ngx_shmtx_unlock(&mmcf->shpool->mutex);
}


static void
ngx_http_mtasts_job_done(ngx_http_mtasts_job_t *job)
{
    ngx_uint_t                 i;
    ngx_http_mtasts_result_t   res;

    ngx_http_mtasts_running--;

    for (i = 0; i < NGX_HTTP_MTASTS_NQ; i++) {
        if (job->status[i] == ARES_EDESTRUCTION) {
            job->aborted = 1;
        }
    }

    if (!job->aborted && ngx_http_mtasts_build(job, &res) == NGX_OK) {
        ngx_http_mtasts_store(job, &res);

    } else {
        ngx_http_mtasts_release(job);
    }

    ngx_destroy_pool(job->pool);

    /*
     * The next jobs start in the next turn of the event loop, not here:
     * this runs inside c-ares' processing of a socket, which reads answers
     * until there are none, and the answers to queries sent from here
     * would keep it reading, requests waiting, for as long as a round
     * lasts.  Each turn now takes only the answers that had arrived.
     */

    ngx_http_mtasts_schedule_next();
}


static void
ngx_http_mtasts_schedule_handler(ngx_event_t *ev)
{
    ngx_http_mtasts_schedule();
}


/* shutting down: let another worker check the domain */

static void
ngx_http_mtasts_release(ngx_http_mtasts_job_t *job)
{
    ngx_shmtx_lock(&job->mmcf->shpool->mutex);
    job->entry->node->started = 0;
    job->entry->node->queued = 0;
    ngx_shmtx_unlock(&job->mmcf->shpool->mutex);
}


static void
ngx_http_mtasts_store(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                       *p;
    size_t                        size;
    ngx_http_mtasts_node_t       *node;
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = job->mmcf;
    node = job->entry->node;

    size = ngx_http_mtasts_result_size(res);

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    /*
     * a worker of an older configuration does not overwrite newer state,
     * nor does it count as a fresh check for those who wait for one
     */

    if (node->generation != job->generation) {
        if (node->owner == ngx_pid) {
            node->started = 0;
            node->owner = 0;
            node->queued = 0;
        }

        ngx_shmtx_unlock(&mmcf->shpool->mutex);
        return;
    }

    p = ngx_slab_alloc_locked(mmcf->shpool, size);

    if (p == NULL) {
        ngx_log_error(NGX_LOG_CRIT, job->pool->log, 0,
                      "mta_sts: no room in the shared zone for the "
                      "results of \"%V\"", &job->entry->domain);
        goto done;
    }

    ngx_http_mtasts_result_pack(res, p);

    if (node->result) {
        ngx_slab_free_locked(mmcf->shpool, node->result);
    }

    node->result = (ngx_http_mtasts_result_t *) p;

done:

    node->started = 0;
    node->owner = 0;
    node->queued = 0;
    node->serial++;

    ngx_shmtx_unlock(&mmcf->shpool->mutex);
}
