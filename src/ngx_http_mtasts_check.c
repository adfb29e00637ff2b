
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Checking domains: what DNS publishes against what is served.  A job
 * checks one domain with five queries at once; a worker runs a bounded
 * number of jobs; each domain is claimed in the shared zone so that at
 * most one check of it is in flight across all workers.
 */


#include <arpa/inet.h>

#include "ngx_http_mtasts_status.h"
#include "ngx_http_mtasts_dns.h"
#include "ngx_http_mtasts_starttls.h"
#include "ngx_mtasts_record.h"


#define NGX_HTTP_MTASTS_INFLIGHT   32      /* domains at once, per worker */
#define NGX_HTTP_MTASTS_STARTS     1       /* checks started per event loop
                                              turn */
#define NGX_HTTP_MTASTS_ADDRS      32      /* addresses kept per family */
#define NGX_HTTP_MTASTS_CERT_DAYS  14
#define NGX_HTTP_MTASTS_MX_HOSTS   10      /* MX hosts probed */
#define NGX_HTTP_MTASTS_MX_ADDRS   4       /* addresses per family */


enum {
    NGX_HTTP_MTASTS_Q_STS = 0,
    NGX_HTTP_MTASTS_Q_TLSRPT,
    NGX_HTTP_MTASTS_Q_MX,
    NGX_HTTP_MTASTS_Q_A,
    NGX_HTTP_MTASTS_Q_AAAA,
    NGX_HTTP_MTASTS_NQ
};


typedef struct ngx_http_mtasts_job_s  ngx_http_mtasts_job_t;

typedef struct {
    ngx_http_mtasts_job_t        *job;
    ngx_uint_t                    what;
    char                         *name;
    int                           type;
    ngx_uint_t                    tries;
} ngx_http_mtasts_query_t;


/* an MX host to probe, with its two address lookups */

typedef struct ngx_http_mtasts_mxhost_s  ngx_http_mtasts_mxhost_t;

typedef struct {
    ngx_http_mtasts_mxhost_t     *host;
    ngx_uint_t                    aaaa;
    ngx_uint_t                    tries;
} ngx_http_mtasts_mxq_t;


struct ngx_http_mtasts_mxhost_s {
    ngx_http_mtasts_job_t        *job;
    ngx_str_t                     name;        /* NUL-terminated */
    ngx_uint_t                    lookups;     /* outstanding */
    ngx_uint_t                    naddrs;
    int                           status;      /* a failed lookup */
    ngx_http_mtasts_mxq_t         q[2];
};


struct ngx_http_mtasts_job_s {
    ngx_pool_t                   *pool;
    ngx_http_mtasts_main_conf_t  *mmcf;
    ngx_http_mtasts_entry_t      *entry;
    char                         *domain;      /* NUL-terminated copies */
    char                         *id;
    ngx_uint_t                    pending;
    ngx_uint_t                    generation;
    int                           status[NGX_HTTP_MTASTS_NQ];
    ngx_array_t                   txt[2];      /* mtasts_txt_t */
    ngx_array_t                   mx;          /* mtasts_mx_t */
    ngx_array_t                   addrs;       /* ngx_str_t */
    ngx_array_t                   tls;         /* ngx_http_mtasts_tls_t */
    ngx_uint_t                    aborted;
    ngx_http_mtasts_query_t       q[NGX_HTTP_MTASTS_NQ];
};


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
static ngx_uint_t ngx_http_mtasts_again(int status, ngx_uint_t *tries,
    ngx_http_mtasts_job_t *job);
static void ngx_http_mtasts_answer(void *arg, int status, int timeouts,
    unsigned char *abuf, int alen);
static int ngx_http_mtasts_parse(ngx_http_mtasts_job_t *job,
    ngx_uint_t what, unsigned char *abuf, int alen);
static void ngx_http_mtasts_mx_lookups(ngx_http_mtasts_job_t *job);
static void ngx_http_mtasts_mx_lookup(ngx_http_mtasts_job_t *job,
    u_char *name, size_t len);
static void ngx_http_mtasts_mx_answer(void *arg, int status, int timeouts,
    unsigned char *abuf, int alen);
static void ngx_http_mtasts_probe(ngx_http_mtasts_mxhost_t *h,
    struct sockaddr *sa, socklen_t socklen);
static void ngx_http_mtasts_tls_entry(ngx_http_mtasts_mxhost_t *h,
    const char *fmt, ...);
static void ngx_http_mtasts_probe_done(void *data);
static void ngx_http_mtasts_release(ngx_http_mtasts_job_t *job);
static void ngx_http_mtasts_job_done(ngx_http_mtasts_job_t *job);
static ngx_int_t ngx_http_mtasts_build(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
static void ngx_http_mtasts_build_sts(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
static void ngx_http_mtasts_build_tlsrpt(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
static ngx_int_t ngx_http_mtasts_build_mx(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res, ngx_uint_t *ready);
static void ngx_http_mtasts_build_host(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
static void ngx_http_mtasts_build_certificate(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
static ngx_uint_t ngx_http_mtasts_build_starttls(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);
#if (NGX_HTTP_SSL)
static const char *ngx_http_mtasts_verify_chain(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_srv_conf_t *conf, X509 *cert);
#endif
static void ngx_http_mtasts_build_summary(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res, ngx_uint_t tls_failed);
static ngx_int_t ngx_http_mtasts_lookup_failed(ngx_http_mtasts_job_t *job,
    ngx_uint_t what, ngx_http_mtasts_check_t *check, const char *name);
static void ngx_http_mtasts_set(ngx_pool_t *pool,
    ngx_http_mtasts_check_t *check, ngx_uint_t state, const char *fmt, ...);
static void ngx_http_mtasts_store(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res);


/* per worker */
static ngx_queue_t  ngx_http_mtasts_rounds;
static ngx_uint_t   ngx_http_mtasts_running;
static ngx_uint_t   ngx_http_mtasts_exiting;
static ngx_event_t  ngx_http_mtasts_schedule_event;


static ngx_uint_t  ngx_http_mtasts_state_map[] = {
    NGX_HTTP_MTASTS_OK,                    /* MTASTS_OK */
    NGX_HTTP_MTASTS_WARNING,               /* MTASTS_WARNING */
    NGX_HTTP_MTASTS_ERROR                  /* MTASTS_ERROR */
};


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
ngx_http_mtasts_check_exit(void)
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
        && ngx_queue_empty(&ngx_http_mtasts_rounds))
    {
        ngx_http_mtasts_status_wake();
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
        || ngx_array_init(&job->tls, pool, 4, sizeof(ngx_http_mtasts_tls_t))
           != NGX_OK)
    {
        goto failed;
    }

    ngx_http_mtasts_running++;

    /* one extra hold: answers may arrive inside ngx_http_mtasts_dns_query */

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

        if (ngx_http_mtasts_dns_query((char *) p, type[i],
                                      ngx_http_mtasts_answer, &job->q[i])
            != NGX_OK)
        {
            job->status[i] = ARES_EDESTRUCTION;
            job->pending--;
        }
    }

    if (--job->pending == 0) {
        ngx_http_mtasts_job_done(job);
    }

    return;

failed:

    if (pool) {
        ngx_destroy_pool(pool);
    }

    ngx_shmtx_lock(&mmcf->shpool->mutex);
    entry->node->started = 0;
    ngx_shmtx_unlock(&mmcf->shpool->mutex);
}


/*
 * c-ares 1.18 fails every query in flight to a server whose TCP connection
 * closed with "connection refused", UDP ones of other domains included:
 * such a query is sent again, up to three times, before it counts.
 */

static ngx_uint_t
ngx_http_mtasts_again(int status, ngx_uint_t *tries,
    ngx_http_mtasts_job_t *job)
{
    if (status != ARES_ECONNREFUSED || *tries >= 3 || job->aborted
        || ngx_http_mtasts_exiting || ngx_exiting)
    {
        return 0;
    }

    (*tries)++;

    return 1;
}


static void
ngx_http_mtasts_answer(void *arg, int status, int timeouts,
    unsigned char *abuf, int alen)
{
    ngx_http_mtasts_query_t *q = arg;

    ngx_http_mtasts_job_t  *job;

    job = q->job;

    if (ngx_http_mtasts_again(status, &q->tries, job)
        && ngx_http_mtasts_dns_query(q->name, q->type, ngx_http_mtasts_answer,
                                     q)
           == NGX_OK)
    {
        return;
    }

    if (status == ARES_SUCCESS) {
        status = ngx_http_mtasts_parse(job, q->what, abuf, alen);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, job->pool->log, 0,
                   "mta-sts dns answer %ui for \"%V\": %d",
                   q->what, &job->entry->domain, status);

    job->status[q->what] = status;

    if (q->what == NGX_HTTP_MTASTS_Q_MX && job->mmcf->starttls
        && !job->aborted)
    {
        ngx_http_mtasts_mx_lookups(job);
    }

    if (--job->pending == 0) {
        ngx_http_mtasts_job_done(job);
    }
}


/* STARTTLS: the addresses of every MX host, then a probe of each */

static void
ngx_http_mtasts_mx_lookups(ngx_http_mtasts_job_t *job)
{
    ngx_uint_t      i, j, n;
    mtasts_mx_t    *mx;
    mtasts_name_t  *names;

    if (job->status[NGX_HTTP_MTASTS_Q_MX] == ARES_ENODATA) {

        /* no MX records: the domain itself is the implicit MX */

        ngx_http_mtasts_mx_lookup(job, job->entry->domain.data,
                                  job->entry->domain.len);
        return;
    }

    if (job->status[NGX_HTTP_MTASTS_Q_MX] != ARES_SUCCESS) {
        return;
    }

    mx = job->mx.elts;
    n = 0;

    names = ngx_palloc(job->pool,
                       NGX_HTTP_MTASTS_MX_HOSTS * sizeof(mtasts_name_t));
    if (names == NULL) {
        return;
    }

    for (i = 0; i < job->mx.nelts && n < NGX_HTTP_MTASTS_MX_HOSTS; i++) {

        /* a null MX, and names no certificate can be for, are not probed */

        if (mtasts_name_normalize(mx[i].name, mx[i].len, 0, &names[n])
            != NULL)
        {
            continue;
        }

        for (j = 0; j < n; j++) {
            if (names[j].len == names[n].len
                && ngx_strncmp(names[j].data, names[n].data, names[n].len)
                   == 0)
            {
                break;
            }
        }

        if (j < n) {
            continue;
        }

        ngx_http_mtasts_mx_lookup(job, names[n].data, names[n].len);
        n++;
    }
}


static void
ngx_http_mtasts_mx_lookup(ngx_http_mtasts_job_t *job, u_char *name,
    size_t len)
{
    ngx_uint_t                 i;
    ngx_http_mtasts_mxhost_t  *h;

    h = ngx_pcalloc(job->pool, sizeof(ngx_http_mtasts_mxhost_t));
    if (h == NULL) {
        return;
    }

    h->job = job;
    h->name.len = len;
    h->name.data = ngx_pnalloc(job->pool, len + 1);
    if (h->name.data == NULL) {
        return;
    }

    ngx_memcpy(h->name.data, name, len);
    h->name.data[len] = '\0';

    h->lookups = 2;
    job->pending += 2;

    for (i = 0; i < 2; i++) {
        h->q[i].host = h;
        h->q[i].aaaa = i;

        if (ngx_http_mtasts_dns_query((char *) h->name.data,
                                      i ? NGX_HTTP_MTASTS_T_AAAA
                                        : NGX_HTTP_MTASTS_T_A,
                                      ngx_http_mtasts_mx_answer, &h->q[i])
            != NGX_OK)
        {
            h->status = ARES_EDESTRUCTION;
            h->lookups--;
            job->pending--;
        }
    }
}


static void
ngx_http_mtasts_mx_answer(void *arg, int status, int timeouts,
    unsigned char *abuf, int alen)
{
    ngx_http_mtasts_mxq_t *q = arg;

    int                        i, n;
    ngx_http_mtasts_job_t     *job;
    struct sockaddr_in         sin;
    struct sockaddr_in6        sin6;
    struct ares_addrttl        a4[NGX_HTTP_MTASTS_MX_ADDRS];
    struct ares_addr6ttl       a6[NGX_HTTP_MTASTS_MX_ADDRS];
    ngx_http_mtasts_mxhost_t  *h;

    h = q->host;
    job = h->job;
    n = NGX_HTTP_MTASTS_MX_ADDRS;

    if (ngx_http_mtasts_again(status, &q->tries, job)
        && ngx_http_mtasts_dns_query((char *) h->name.data,
                                     q->aaaa ? NGX_HTTP_MTASTS_T_AAAA
                                             : NGX_HTTP_MTASTS_T_A,
                                     ngx_http_mtasts_mx_answer, q)
           == NGX_OK)
    {
        return;
    }

    if (status == ARES_EDESTRUCTION) {
        job->aborted = 1;
    }

    if (status == ARES_SUCCESS && !job->aborted) {
        status = q->aaaa ? ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n)
                         : ares_parse_a_reply(abuf, alen, NULL, a4, &n);
    }

    if (status == ARES_SUCCESS && !job->aborted) {

        for (i = 0; i < n; i++) {
            if (q->aaaa) {
                ngx_memzero(&sin6, sizeof(struct sockaddr_in6));
                sin6.sin6_family = AF_INET6;
                ngx_memcpy(&sin6.sin6_addr, &a6[i].ip6addr,
                           sizeof(struct in6_addr));
                ngx_http_mtasts_probe(h, (struct sockaddr *) &sin6,
                                      sizeof(struct sockaddr_in6));

            } else {
                ngx_memzero(&sin, sizeof(struct sockaddr_in));
                sin.sin_family = AF_INET;
                sin.sin_addr = a4[i].ipaddr;
                ngx_http_mtasts_probe(h, (struct sockaddr *) &sin,
                                      sizeof(struct sockaddr_in));
            }
        }

    } else if (status != ARES_ENODATA && status != ARES_ENOTFOUND) {
        h->status = status;
    }

    if (--h->lookups == 0 && h->naddrs == 0 && !job->aborted) {
        if (h->status) {
            ngx_http_mtasts_tls_entry(h, "could not look up its address: "
                                      "%s", ngx_http_mtasts_dns_strerror(
                                                              h->status));
        } else {
            ngx_http_mtasts_tls_entry(h, "the MX host has no A or AAAA "
                                      "record");
        }
    }

    if (--job->pending == 0) {
        ngx_http_mtasts_job_done(job);
    }
}


static void
ngx_http_mtasts_probe(ngx_http_mtasts_mxhost_t *h, struct sockaddr *sa,
    socklen_t socklen)
{
    u_char                 *p;
    ngx_addr_t              addr;
    ngx_http_mtasts_job_t  *job;
    ngx_http_mtasts_tls_t  *r;

    job = h->job;

    r = ngx_array_push(&job->tls);
    addr.sockaddr = ngx_palloc(job->pool, socklen);
    p = ngx_pnalloc(job->pool, NGX_SOCKADDR_STRLEN);
    if (r == NULL || addr.sockaddr == NULL || p == NULL) {
        return;
    }

    ngx_memzero(r, sizeof(ngx_http_mtasts_tls_t));
    ngx_memcpy(addr.sockaddr, sa, socklen);

    addr.socklen = socklen;
    addr.name.data = p;
    addr.name.len = ngx_sock_ntop(sa, socklen, p, NGX_SOCKADDR_STRLEN, 0);

    r->host = h->name;
    r->address = addr.name;
    h->naddrs++;

    job->pending++;

    if (ngx_http_mtasts_probe_start(job->mmcf, job->pool, &h->name, &addr,
                                    r, ngx_http_mtasts_probe_done, job)
        != NGX_OK)
    {
        ngx_str_set(&r->reason, "could not start the probe");
        job->pending--;
    }
}


static void
ngx_http_mtasts_tls_entry(ngx_http_mtasts_mxhost_t *h, const char *fmt, ...)
{
    u_char                 *p, buf[256];
    va_list                 args;
    ngx_http_mtasts_tls_t  *r;

    r = ngx_array_push(&h->job->tls);
    if (r == NULL) {
        return;
    }

    ngx_memzero(r, sizeof(ngx_http_mtasts_tls_t));
    r->host = h->name;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    r->reason.data = ngx_pnalloc(h->job->pool, p - buf);
    if (r->reason.data) {
        r->reason.len = p - buf;
        ngx_memcpy(r->reason.data, buf, p - buf);
    }
}


static void
ngx_http_mtasts_probe_done(void *data)
{
    ngx_http_mtasts_job_t *job = data;

    if (ngx_http_mtasts_exiting) {
        job->aborted = 1;
    }

    if (--job->pending == 0) {
        ngx_http_mtasts_job_done(job);
    }
}


static int
ngx_http_mtasts_parse(ngx_http_mtasts_job_t *job, ngx_uint_t what,
    unsigned char *abuf, int alen)
{
    int                     rc, i, n;
    u_char                 *p;
    size_t                  len;
    ngx_str_t              *addr;
    mtasts_mx_t            *mx;
    mtasts_txt_t           *txt;
    struct ares_txt_ext    *t, *tl, *s;
    struct ares_mx_reply   *m, *ml;
    struct ares_addrttl     a4[NGX_HTTP_MTASTS_ADDRS];
    struct ares_addr6ttl    a6[NGX_HTTP_MTASTS_ADDRS];

    switch (what) {

    case NGX_HTTP_MTASTS_Q_STS:
    case NGX_HTTP_MTASTS_Q_TLSRPT:

        rc = ares_parse_txt_reply_ext(abuf, alen, &tl);
        if (rc != ARES_SUCCESS) {
            /* 1.18's TXT and MX parsers call a broken answer a bad name */
            return (rc == ARES_EBADNAME) ? ARES_EBADRESP : rc;
        }

        /* the character-strings of one record, concatenated (RFC 8461) */

        for (t = tl; t; t = s) {
            len = t->length;

            for (s = t->next; s && !s->record_start; s = s->next) {
                len += s->length;
            }

            txt = ngx_array_push(&job->txt[what]);
            p = ngx_pnalloc(job->pool, len + 1);
            if (txt == NULL || p == NULL) {
                ares_free_data(tl);
                return ARES_ENOMEM;
            }

            txt->data = p;
            txt->len = len;

            p = ngx_cpymem(p, t->txt, t->length);

            for (s = t->next; s && !s->record_start; s = s->next) {
                p = ngx_cpymem(p, s->txt, s->length);
            }

            *p = '\0';
        }

        ares_free_data(tl);
        return ARES_SUCCESS;

    case NGX_HTTP_MTASTS_Q_MX:

        rc = ares_parse_mx_reply(abuf, alen, &ml);
        if (rc != ARES_SUCCESS) {
            return (rc == ARES_EBADNAME) ? ARES_EBADRESP : rc;
        }

        for (m = ml; m; m = m->next) {
            mx = ngx_array_push(&job->mx);
            len = ngx_strlen(m->host);
            p = ngx_pnalloc(job->pool, len + 1);
            if (mx == NULL || p == NULL) {
                ares_free_data(ml);
                return ARES_ENOMEM;
            }

            ngx_memcpy(p, m->host, len + 1);

            mx->name = p;
            mx->len = len;
            mx->pref = m->priority;
        }

        ares_free_data(ml);
        return ARES_SUCCESS;

    default: /* A, AAAA */

        n = NGX_HTTP_MTASTS_ADDRS;

        if (what == NGX_HTTP_MTASTS_Q_A) {
            rc = ares_parse_a_reply(abuf, alen, NULL, a4, &n);

        } else {
            rc = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
        }

        if (rc != ARES_SUCCESS) {
            return rc;
        }

        for (i = 0; i < n; i++) {
            addr = ngx_array_push(&job->addrs);
            p = ngx_pnalloc(job->pool, NGX_INET6_ADDRSTRLEN);
            if (addr == NULL || p == NULL) {
                return ARES_ENOMEM;
            }

            if (what == NGX_HTTP_MTASTS_Q_A) {
                (void) inet_ntop(AF_INET, &a4[i].ipaddr, (char *) p,
                                 NGX_INET6_ADDRSTRLEN);
            } else {
                (void) inet_ntop(AF_INET6, &a6[i].ip6addr, (char *) p,
                                 NGX_INET6_ADDRSTRLEN);
            }

            addr->data = p;
            addr->len = ngx_strlen(p);
        }

        return n ? ARES_SUCCESS : ARES_ENODATA;
    }
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


static ngx_int_t
ngx_http_mtasts_build(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    ngx_uint_t  i, ready, tls_failed;

    ngx_memzero(res, sizeof(ngx_http_mtasts_result_t));

    res->checked = ngx_time();

    ngx_http_mtasts_build_sts(job, res);
    ngx_http_mtasts_build_tlsrpt(job, res);

    if (ngx_http_mtasts_build_mx(job, res, &ready) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_mtasts_build_host(job, res);
    ngx_http_mtasts_build_certificate(job, res);
    tls_failed = ngx_http_mtasts_build_starttls(job, res);

    for (i = 0; i < NGX_HTTP_MTASTS_NCHECKS; i++) {

        if (res->checks[i].message.data == NULL) {
            return NGX_ERROR;
        }

        /* a check that was not run does not make the domain worse */

        if (res->checks[i].state > res->status
            && res->checks[i].state != NGX_HTTP_MTASTS_SKIPPED)
        {
            res->status = res->checks[i].state;
        }
    }

    /* nothing would bounce mail if the policy were enforced */

    res->enforce_ready = ready && !tls_failed
        && res->checks[NGX_HTTP_MTASTS_STS_RECORD].state
           != NGX_HTTP_MTASTS_ERROR
        && res->checks[NGX_HTTP_MTASTS_POLICY_HOST].state
           != NGX_HTTP_MTASTS_ERROR
        && res->checks[NGX_HTTP_MTASTS_CERTIFICATE].state
           != NGX_HTTP_MTASTS_ERROR;

    ngx_http_mtasts_build_summary(job, res, tls_failed);

    return res->summary.data ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_mtasts_lookup_failed(ngx_http_mtasts_job_t *job, ngx_uint_t what,
    ngx_http_mtasts_check_t *check, const char *name)
{
    int  status;

    status = job->status[what];

    if (status == ARES_SUCCESS || status == ARES_ENODATA
        || status == ARES_ENOTFOUND)
    {
        return 0;
    }

    ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                        "Could not look up %s%V: %s. Senders asking the "
                        "same resolvers get no answer either.",
                        name, &job->entry->domain,
                        ngx_http_mtasts_dns_strerror(status));
    return 1;
}


static void
ngx_http_mtasts_build_sts(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                   *p;
    size_t                    len;
    mtasts_check_t            c;
    ngx_http_mtasts_check_t  *check;

    check = &res->checks[NGX_HTTP_MTASTS_STS_RECORD];

    if (ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_STS, check,
                                      "_mta-sts."))
    {
        return;
    }

    mtasts_check_sts(job->txt[0].elts, job->txt[0].nelts, job->domain,
                     job->id, &c);

    ngx_http_mtasts_set(job->pool, check, ngx_http_mtasts_state_map[c.state],
                        "%s", c.message);

    len = ngx_strlen(c.id);

    if (len) {
        p = ngx_pnalloc(job->pool, len);
        if (p) {
            res->sts_id.data = ngx_cpymem(p, c.id, len) - len;
            res->sts_id.len = len;
        }
    }
}


static void
ngx_http_mtasts_build_tlsrpt(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                       *p;
    ngx_str_t                    *rua;
    ngx_uint_t                    i, n;
    const char                  **uris;
    mtasts_txt_t                 *txt;
    mtasts_check_t                c;
    ngx_http_mtasts_check_t      *check;
    ngx_http_mtasts_srv_conf_t   *conf;

    check = &res->checks[NGX_HTTP_MTASTS_TLSRPT];

    if (ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_TLSRPT, check,
                                      "_smtp._tls."))
    {
        return;
    }

    conf = job->entry->conf;

    n = conf->rua ? conf->rua->nelts : 0;
    rua = n ? conf->rua->elts : NULL;

    uris = ngx_palloc(job->pool, (n + 1) * sizeof(char *));
    if (uris == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        p = ngx_pnalloc(job->pool, rua[i].len + 1);
        if (p == NULL) {
            return;
        }

        ngx_sprintf(p, "%V%Z", &rua[i]);
        uris[i] = (char *) p;
    }

    txt = job->txt[1].elts;

    mtasts_check_tlsrpt(txt, job->txt[1].nelts,
                        job->domain, uris, n,
                        conf->mode == NGX_HTTP_MTASTS_TESTING, &c);

    ngx_http_mtasts_set(job->pool, check, ngx_http_mtasts_state_map[c.state],
                        "%s", c.message);

    for (i = 0; i < job->txt[1].nelts; i++) {
        if (txt[i].len >= sizeof("v=TLSRPTv1") - 1
            && ngx_strncmp(txt[i].data, "v=TLSRPTv1",
                           sizeof("v=TLSRPTv1") - 1)
               == 0)
        {
            res->tlsrpt.data = (u_char *) txt[i].data;
            res->tlsrpt.len = txt[i].len;
            break;
        }
    }
}


static ngx_int_t
ngx_http_mtasts_build_mx(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res, ngx_uint_t *ready)
{
    size_t                       *plen;
    ngx_str_t                    *pat;
    ngx_uint_t                    i, j, npat;
    mtasts_mx_t                  *mx;
    const u_char                **pdata;
    mtasts_name_t                 norm;
    mtasts_mx_check_t             c;
    ngx_http_mtasts_check_t      *check;
    ngx_http_mtasts_mx_host_t    *h;
    ngx_http_mtasts_srv_conf_t   *conf;

    check = &res->checks[NGX_HTTP_MTASTS_MX];
    conf = job->entry->conf;
    *ready = 0;

    if (ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_MX, check,
                                      ""))
    {
        return NGX_OK;
    }

    if (job->status[NGX_HTTP_MTASTS_Q_MX] == ARES_ENOTFOUND) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The domain %V does not exist in DNS (NXDOMAIN): "
                            "no mail can be delivered to it.",
                            &job->entry->domain);
        return NGX_OK;
    }

    npat = conf->mx ? conf->mx->nelts : 0;
    pat = npat ? conf->mx->elts : NULL;

    plen = ngx_palloc(job->pool, (npat + 1) * sizeof(size_t));
    pdata = ngx_palloc(job->pool, (npat + 1) * sizeof(u_char *));
    if (plen == NULL || pdata == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < npat; i++) {
        pdata[i] = pat[i].data;
        plen[i] = pat[i].len;
    }

    mx = job->mx.elts;

    mtasts_check_mx(mx, job->mx.nelts, job->mx.nelts == 0, pdata, plen,
                    npat, (int) conf->mode, job->domain, &c);

    ngx_http_mtasts_set(job->pool, check, ngx_http_mtasts_state_map[c.state],
                        "%s", c.message);

    if (conf->mode != NGX_HTTP_MTASTS_ENFORCE) {
        mtasts_check_mx(mx, job->mx.nelts, job->mx.nelts == 0, pdata, plen,
                        npat, MTASTS_MODE_ENFORCE, job->domain, &c);
    }

    *ready = (c.state != MTASTS_ERROR);

    res->nmx = job->mx.nelts;
    res->mx = ngx_pcalloc(job->pool,
                          (res->nmx + 1) * sizeof(ngx_http_mtasts_mx_host_t));
    if (res->mx == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < res->nmx; i++) {
        h = &res->mx[i];
        h->name.data = (u_char *) mx[i].name;
        h->name.len = mx[i].len;
        h->pref = mx[i].pref;

        if (h->name.len && h->name.data[h->name.len - 1] == '.') {
            h->name.len--;
        }

        /* matched as the mx check matches: the normalized name */

        if (mtasts_name_normalize(h->name.data, h->name.len, 0, &norm)
            != NULL)
        {
            continue;
        }

        for (j = 0; j < npat; j++) {
            if (mtasts_mx_match(pat[j].data, pat[j].len, norm.data,
                                norm.len))
            {
                h->matched = 1;
                break;
            }
        }
    }

    return NGX_OK;
}


static void
ngx_http_mtasts_build_host(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                   *p, *last;
    ngx_str_t                *addr;
    ngx_uint_t                i;
    ngx_http_mtasts_check_t  *check;

    check = &res->checks[NGX_HTTP_MTASTS_POLICY_HOST];

    res->addresses = job->addrs.elts;
    res->naddresses = job->addrs.nelts;

    if (res->naddresses) {
        p = ngx_pnalloc(job->pool, 256);
        if (p == NULL) {
            return;
        }

        last = p + 256;
        addr = res->addresses;

        for (i = 0; i < res->naddresses && i < 4; i++) {
            p = ngx_slprintf(p, last, "%s%V", i ? ", " : "", &addr[i]);
        }

        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_OK,
                            "The policy host mta-sts.%V has %ui address%s: "
                            "%*s%s.",
                            &job->entry->domain, res->naddresses,
                            res->naddresses > 1 ? "es" : "",
                            p - (last - 256), last - 256,
                            res->naddresses > 4 ? ", ..." : "");
        return;
    }

    if (ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_A, check,
                                      "the address of mta-sts.")
        || ngx_http_mtasts_lookup_failed(job, NGX_HTTP_MTASTS_Q_AAAA, check,
                                         "the address of mta-sts."))
    {
        return;
    }

    ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                        "The policy host mta-sts.%V has no A or AAAA "
                        "record: senders cannot fetch the policy. Publish "
                        "an address (or a CNAME) for mta-sts.%V that "
                        "reaches this server.",
                        &job->entry->domain, &job->entry->domain);
}


#if (NGX_HTTP_SSL)

time_t
ngx_http_mtasts_asn1_time(const ASN1_TIME *t)
{
    struct tm  tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }

    return timegm(&tm);
}

#endif


#if (NGX_HTTP_SSL)

/* NULL if the certificate chains to the trust store, else the reason */

static const char *
ngx_http_mtasts_verify_chain(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_srv_conf_t *conf, X509 *cert)
{
    int                      rc, err;
    ngx_uint_t               i;
    X509_STORE_CTX          *xs;
    STACK_OF(X509)          *chain;
    ngx_http_mtasts_cert_t  *c;

    if (job->mmcf->ssl == NULL) {
        return NULL;
    }

    chain = NULL;
    c = conf->certs ? conf->certs->elts : NULL;

    for (i = 0; c && i < conf->certs->nelts; i++) {
        if (c[i].cert == cert) {
            chain = c[i].chain;
            break;
        }
    }

    xs = X509_STORE_CTX_new();
    if (xs == NULL) {
        return "out of memory";
    }

    if (X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(job->mmcf->ssl->ctx),
                            cert, chain)
        != 1)
    {
        X509_STORE_CTX_free(xs);
        return "could not verify";
    }

    (void) X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_SERVER);

    rc = X509_verify_cert(xs);
    err = X509_STORE_CTX_get_error(xs);

    X509_STORE_CTX_free(xs);

    return (rc == 1) ? NULL : X509_verify_cert_error_string(err);
}

#endif


static void
ngx_http_mtasts_build_certificate(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    ngx_http_mtasts_check_t     *check;
    ngx_http_mtasts_srv_conf_t  *conf;
#if (NGX_HTTP_SSL)
    X509                        *cert, *best;
    time_t                       now, na, nb, best_na;
    u_char                       host[MTASTS_NAME_MAX + 16], cn[256];
    ngx_tm_t                     tm;
    const char                  *err;
    ngx_int_t                    days;
    ngx_http_ssl_srv_conf_t     *sscf;
#endif

    check = &res->checks[NGX_HTTP_MTASTS_CERTIFICATE];
    conf = job->entry->conf;

#if (NGX_HTTP_SSL)

    sscf = conf->ssl;

    if (sscf && sscf->certificate_values) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "The ssl_certificate of this server uses "
                            "variables: the certificate is chosen at each "
                            "handshake and is not checked ahead of time.");
        return;
    }

    if (sscf == NULL || sscf->ssl.ctx == NULL) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_WARNING,
                            "The server has no ssl_certificate, and senders "
                            "fetch the policy over HTTPS only. Unless a "
                            "proxy in front of nginx terminates TLS for "
                            "mta-sts.%V, configure a certificate for it.",
                            &job->entry->domain);
        return;
    }

    ngx_sprintf(host, "mta-sts.%V%Z", &job->entry->domain);

    best = NULL;
    best_na = 0;
    cn[0] = '\0';

    for (cert = SSL_CTX_get_ex_data(sscf->ssl.ctx, ngx_ssl_certificate_index);
         cert;
         cert = X509_get_ex_data(cert, ngx_ssl_next_certificate_index))
    {
        /* DNS-IDs only, a wildcard only as a whole label (RFC 6125) */

        if (X509_check_host(cert, (char *) host, 0,
                            X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
                            |X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL)
            != 1)
        {
            if (cn[0] == '\0') {
                (void) X509_NAME_oneline(X509_get_subject_name(cert),
                                         (char *) cn, sizeof(cn));
            }

            continue;
        }

        na = ngx_http_mtasts_asn1_time(X509_get0_notAfter(cert));

        if (best == NULL || na < best_na) {
            best = cert;
            best_na = na;
        }
    }

    if (best == NULL) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The certificate of this server (\"%s\") does "
                            "not cover %s: senders reject the policy. "
                            "Get a certificate for %s.", cn, host, host);
        return;
    }

    now = ngx_time();
    nb = ngx_http_mtasts_asn1_time(X509_get0_notBefore(best));
    res->cert_expires = best_na;

    ngx_gmtime(best_na, &tm);

    if (nb > now) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The certificate for %s is not valid yet: "
                            "senders reject the policy until then.",
                            host);
        return;
    }

    if (best_na <= now) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The certificate for %s expired on "
                            "%4d-%02d-%02d: senders reject the policy. "
                            "Renew it.", host, tm.ngx_tm_year, tm.ngx_tm_mon,
                            tm.ngx_tm_mday);
        return;
    }

    /* the chain nginx sends, against the trust store senders use */

    err = ngx_http_mtasts_verify_chain(job, conf, best);

    if (err) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_ERROR,
                            "The certificate for %s is not trusted (%s): "
                            "senders reject the policy. Serve the whole "
                            "chain of a CA that senders trust.", host, err);
        return;
    }

    days = (best_na - now) / 86400;

    ngx_http_mtasts_set(job->pool, check,
                        days < NGX_HTTP_MTASTS_CERT_DAYS
                        ? NGX_HTTP_MTASTS_WARNING : NGX_HTTP_MTASTS_OK,
                        "The certificate for %s %s %4d-%02d-%02d, "
                        "in %i day%s%s", host,
                        days < NGX_HTTP_MTASTS_CERT_DAYS ? "expires on"
                                                         : "is valid until",
                        tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                        days, days == 1 ? "" : "s",
                        days < NGX_HTTP_MTASTS_CERT_DAYS ? ": renew it." : ".");

#else

    ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                        "nginx was built without the ssl module.");
    (void) conf;

#endif
}


/* returns how many probes failed */

static ngx_uint_t
ngx_http_mtasts_build_starttls(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res)
{
    u_char                      *p, *last, buf[1024];
    ngx_uint_t                   i, nfail, state;
    ngx_http_mtasts_tls_t       *tls;
    ngx_http_mtasts_check_t     *check;
    ngx_http_mtasts_srv_conf_t  *conf;

    check = &res->checks[NGX_HTTP_MTASTS_STARTTLS];
    conf = job->entry->conf;

    res->tls = job->tls.elts;
    res->ntls = job->tls.nelts;

    if (!job->mmcf->starttls) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "STARTTLS probes are off: "
                            "\"mta_sts_check_starttls on\" connects to "
                            "each MX host as senders do.");
        return 0;
    }

    if (job->status[NGX_HTTP_MTASTS_Q_MX] == ARES_ENOTFOUND) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "No MX host was probed: the domain does not "
                            "exist.");
        return 1;
    }

    if (job->status[NGX_HTTP_MTASTS_Q_MX] != ARES_SUCCESS
        && job->status[NGX_HTTP_MTASTS_Q_MX] != ARES_ENODATA)
    {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "No MX host was probed: the MX lookup failed.");
        return 1;
    }

    if (res->ntls == 0) {
        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_SKIPPED,
                            "No MX host to probe: the domain accepts no "
                            "mail (null MX), or its MX names are not host "
                            "names.");
        return 0;
    }

    tls = res->tls;
    nfail = 0;
    p = buf;
    last = buf + sizeof(buf);

    for (i = 0; i < res->ntls; i++) {
        if (tls[i].ok) {
            continue;
        }

        if (nfail++ < 4) {
            p = ngx_slprintf(p, last, "%s%V%s%V%s: %V", nfail > 1 ? "; " : "",
                             &tls[i].host, tls[i].address.len ? " [" : "",
                             &tls[i].address, tls[i].address.len ? "]" : "",
                             &tls[i].reason);
        }
    }

    if (nfail == 0) {
        if (res->ntls == 1) {
            ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_OK,
                                "The MX address accepts STARTTLS with a "
                                "trusted certificate valid for the MX host "
                                "(%V).", &tls[0].version);
            return 0;
        }

        ngx_http_mtasts_set(job->pool, check, NGX_HTTP_MTASTS_OK,
                            "All %ui MX addresses accept STARTTLS with a "
                            "trusted certificate valid for the MX host "
                            "(%V).", res->ntls, &tls[0].version);
        return 0;
    }

    state = (conf->mode == NGX_HTTP_MTASTS_ENFORCE) ? NGX_HTTP_MTASTS_ERROR
                                                    : NGX_HTTP_MTASTS_WARNING;

    if (nfail > 4) {
        p = ngx_slprintf(p, last, "; and %ui more", nfail - 4);
    }

    ngx_http_mtasts_set(job->pool, check, state,
                        "%*s. %s", p - buf, buf,
                        conf->mode == NGX_HTTP_MTASTS_ENFORCE
                        ? "Senders that enforce MTA-STS refuse to deliver "
                          "to these hosts."
                        : "In enforce mode senders would refuse to deliver "
                          "to these hosts.");
    return nfail;
}


static void
ngx_http_mtasts_build_summary(ngx_http_mtasts_job_t *job,
    ngx_http_mtasts_result_t *res, ngx_uint_t tls_failed)
{
    u_char                      *p, *last, hosts[512];
    ngx_uint_t                   i, j, n, all;
    ngx_http_mtasts_tls_t       *tls;
    ngx_http_mtasts_srv_conf_t  *conf;
    ngx_http_mtasts_check_t      summary;

    conf = job->entry->conf;
    tls = res->tls;

    /* the MX hosts that fail, each once */

    p = hosts;
    last = hosts + sizeof(hosts);
    n = 0;
    all = 1;

    for (i = 0; i < res->ntls; i++) {
        if (tls[i].ok) {
            all = 0;
            continue;
        }

        for (j = 0; j < i; j++) {
            if (!tls[j].ok && tls[j].host.data == tls[i].host.data) {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        p = ngx_slprintf(p, last, "%s%V", n++ ? ", " : "", &tls[i].host);
    }

    if (conf->mode == NGX_HTTP_MTASTS_NONE) {
        ngx_http_mtasts_set(job->pool, &summary, 0, "The policy is mode "
                            "none: senders apply no MTA-STS to %V.",
                            &job->entry->domain);

    } else if (conf->mode == NGX_HTTP_MTASTS_ENFORCE && tls_failed && n) {
        ngx_http_mtasts_set(job->pool, &summary, 0, all
                            ? "All mail to %V would bounce: senders that "
                              "enforce MTA-STS refuse %*s, see starttls."
                            : "Mail to %V would bounce whenever it goes to "
                              "%*s: senders that enforce MTA-STS refuse "
                              "those hosts, see starttls.",
                            &job->entry->domain, p - hosts, hosts);

    } else if (conf->mode == NGX_HTTP_MTASTS_ENFORCE) {
        ngx_http_mtasts_set(job->pool, &summary, 0,
                            res->status == NGX_HTTP_MTASTS_ERROR
                            ? "The policy is enforced, but senders may "
                              "ignore it or refuse some MX hosts: fix the "
                              "errors."
                            : "The policy is enforced and nothing would "
                              "bounce.");

    } else if (res->enforce_ready) {
        ngx_http_mtasts_set(job->pool, &summary, 0,
                            "Nothing would bounce: %V is ready for "
                            "\"mta_sts_mode enforce\".",
                            &job->entry->domain);

    } else {
        ngx_http_mtasts_set(job->pool, &summary, 0,
                            "Not ready for \"mta_sts_mode enforce\": %s.",
                            n ? "senders would refuse some MX hosts, see "
                                "starttls"
                              : "fix the errors first");
    }

    res->summary = summary.message;
}


static void
ngx_http_mtasts_set(ngx_pool_t *pool, ngx_http_mtasts_check_t *check,
    ngx_uint_t state, const char *fmt, ...)
{
    u_char   *p, buf[2048];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    check->state = state;
    check->message.len = p - buf;
    check->message.data = ngx_pnalloc(pool, p - buf);

    if (check->message.data) {
        ngx_memcpy(check->message.data, buf, p - buf);
    }
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


/*
 * A result in one block: the struct, then its arrays, then its strings;
 * every pointer points inside the block.
 */

size_t
ngx_http_mtasts_result_size(ngx_http_mtasts_result_t *src)
{
    size_t      size;
    ngx_uint_t  i;

    size = sizeof(ngx_http_mtasts_result_t)
           + src->nmx * sizeof(ngx_http_mtasts_mx_host_t)
           + src->naddresses * sizeof(ngx_str_t)
           + src->ntls * sizeof(ngx_http_mtasts_tls_t)
           + src->sts_id.len + src->tlsrpt.len + src->summary.len;

    for (i = 0; i < src->ntls; i++) {
        size += src->tls[i].host.len + src->tls[i].address.len
                + src->tls[i].reason.len + src->tls[i].version.len
                + src->tls[i].cipher.len + src->tls[i].subject.len
                + src->tls[i].issuer.len;
    }

    for (i = 0; i < NGX_HTTP_MTASTS_NCHECKS; i++) {
        size += src->checks[i].message.len;
    }

    for (i = 0; i < src->nmx; i++) {
        size += src->mx[i].name.len;
    }

    for (i = 0; i < src->naddresses; i++) {
        size += src->addresses[i].len;
    }

    return size;
}


static u_char *
ngx_http_mtasts_pack_str(ngx_str_t *dst, ngx_str_t *src, u_char *p)
{
    dst->len = src->len;
    dst->data = src->len ? p : NULL;

    /* memcpy() from NULL is undefined even for no bytes */

    return src->len ? ngx_cpymem(p, src->data, src->len) : p;
}


void
ngx_http_mtasts_result_pack(ngx_http_mtasts_result_t *src, u_char *dst)
{
    u_char                    *p;
    ngx_uint_t                 i;
    ngx_http_mtasts_tls_t     *t;
    ngx_http_mtasts_result_t  *res;

    res = (ngx_http_mtasts_result_t *) dst;
    *res = *src;

    p = dst + sizeof(ngx_http_mtasts_result_t);

    res->mx = (ngx_http_mtasts_mx_host_t *) p;
    p += src->nmx * sizeof(ngx_http_mtasts_mx_host_t);

    res->addresses = (ngx_str_t *) p;
    p += src->naddresses * sizeof(ngx_str_t);

    res->tls = (ngx_http_mtasts_tls_t *) p;
    p += src->ntls * sizeof(ngx_http_mtasts_tls_t);

    for (i = 0; i < NGX_HTTP_MTASTS_NCHECKS; i++) {
        p = ngx_http_mtasts_pack_str(&res->checks[i].message,
                                     &src->checks[i].message, p);
    }

    for (i = 0; i < src->nmx; i++) {
        res->mx[i] = src->mx[i];
        p = ngx_http_mtasts_pack_str(&res->mx[i].name, &src->mx[i].name, p);
    }

    for (i = 0; i < src->naddresses; i++) {
        p = ngx_http_mtasts_pack_str(&res->addresses[i], &src->addresses[i],
                                     p);
    }

    for (i = 0; i < src->ntls; i++) {
        t = &res->tls[i];
        *t = src->tls[i];

        p = ngx_http_mtasts_pack_str(&t->host, &src->tls[i].host, p);
        p = ngx_http_mtasts_pack_str(&t->address, &src->tls[i].address, p);
        p = ngx_http_mtasts_pack_str(&t->reason, &src->tls[i].reason, p);
        p = ngx_http_mtasts_pack_str(&t->version, &src->tls[i].version, p);
        p = ngx_http_mtasts_pack_str(&t->cipher, &src->tls[i].cipher, p);
        p = ngx_http_mtasts_pack_str(&t->subject, &src->tls[i].subject, p);
        p = ngx_http_mtasts_pack_str(&t->issuer, &src->tls[i].issuer, p);
    }

    p = ngx_http_mtasts_pack_str(&res->sts_id, &src->sts_id, p);
    p = ngx_http_mtasts_pack_str(&res->tlsrpt, &src->tlsrpt, p);
    p = ngx_http_mtasts_pack_str(&res->summary, &src->summary, p);

    res->size = p - dst;
}


/* a block copied from "from" to "res": move its pointers along */

void
ngx_http_mtasts_result_relocate(ngx_http_mtasts_result_t *res, u_char *from)
{
    ngx_uint_t  i;
    ptrdiff_t   d;

    d = (u_char *) res - from;

#define ngx_http_mtasts_move(p)  if (p) { p = (void *) ((u_char *) (p) + d); }

    ngx_http_mtasts_move(res->mx);
    ngx_http_mtasts_move(res->addresses);
    ngx_http_mtasts_move(res->tls);
    ngx_http_mtasts_move(res->sts_id.data);
    ngx_http_mtasts_move(res->tlsrpt.data);
    ngx_http_mtasts_move(res->summary.data);

    for (i = 0; i < res->ntls; i++) {
        ngx_http_mtasts_move(res->tls[i].host.data);
        ngx_http_mtasts_move(res->tls[i].address.data);
        ngx_http_mtasts_move(res->tls[i].reason.data);
        ngx_http_mtasts_move(res->tls[i].version.data);
        ngx_http_mtasts_move(res->tls[i].cipher.data);
        ngx_http_mtasts_move(res->tls[i].subject.data);
        ngx_http_mtasts_move(res->tls[i].issuer.data);
    }

    for (i = 0; i < NGX_HTTP_MTASTS_NCHECKS; i++) {
        ngx_http_mtasts_move(res->checks[i].message.data);
    }

    for (i = 0; i < res->nmx; i++) {
        ngx_http_mtasts_move(res->mx[i].name.data);
    }

    for (i = 0; i < res->naddresses; i++) {
        ngx_http_mtasts_move(res->addresses[i].data);
    }

#undef ngx_http_mtasts_move
}
