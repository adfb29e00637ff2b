
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The status location: its arguments, the refreshes that wait for checks,
 * and the answer, rendered in slices.
 */


#include "ngx_http_mtasts_status.h"
#include "ngx_http_mtasts_policy.h"
#include "ngx_http_mtasts_render.h"


#define NGX_HTTP_MTASTS_POLL       100     /* ms, refresh=1 waits */


typedef struct {
    ngx_str_t                     name;
    ngx_str_t                     type;
    ngx_uint_t                    id;          /* NGX_HTTP_MTASTS_JSON... */
} ngx_http_mtasts_format_t;


typedef struct {
    ngx_http_mtasts_format_t     *format;
    ngx_http_mtasts_entry_t     **domains;
    ngx_uint_t                    n;
    ngx_uint_t                   *serials;     /* before the refresh */
    ngx_uint_t                    first;       /* all done before it */
    u_char                       *restarted;   /* checked again, by us */
    time_t                        deadline;
    ngx_event_t                   poll;        /* or the next slice */
    ngx_queue_t                   queue;       /* NULL: not waiting */
    ngx_http_mtasts_view_t        view;
    ngx_http_mtasts_render_t     *render;
} ngx_http_mtasts_status_ctx_t;


static ngx_int_t ngx_http_mtasts_status_args(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx, ngx_uint_t *refresh);
static ngx_uint_t ngx_http_mtasts_prefers_html(ngx_str_t *accept);
static ngx_int_t ngx_http_mtasts_refreshed(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx);
static ngx_int_t ngx_http_mtasts_status_wait(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx);
static ngx_uint_t ngx_http_mtasts_status_gone(ngx_http_request_t *r);
static void ngx_http_mtasts_status_poll(ngx_event_t *ev);
static void ngx_http_mtasts_status_slice(ngx_event_t *ev);
static void ngx_http_mtasts_status_cleanup(void *data);
static void ngx_http_mtasts_status_unwait(ngx_http_mtasts_status_ctx_t *ctx);
static void ngx_http_mtasts_status_wake(void);
static ngx_int_t ngx_http_mtasts_status_send(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx);
static ngx_int_t ngx_http_mtasts_status_output(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx);


/* the refresh requests of this worker that wait for checks */
static ngx_queue_t  ngx_http_mtasts_waiting;


static ngx_http_mtasts_format_t  ngx_http_mtasts_formats[] = {

    { ngx_string("json"), ngx_string("application/json"),
      NGX_HTTP_MTASTS_JSON },

    { ngx_string("text"), ngx_string("text/plain; charset=utf-8"),
      NGX_HTTP_MTASTS_TEXT },

    { ngx_string("prometheus"),
      ngx_string("text/plain; version=0.0.4; charset=utf-8"),
      NGX_HTTP_MTASTS_PROMETHEUS },

    { ngx_string("html"), ngx_string("text/html; charset=utf-8"),
      NGX_HTTP_MTASTS_HTML },

    { ngx_string("zone"), ngx_string("text/plain; charset=utf-8"),
      NGX_HTTP_MTASTS_ZONE },

    { ngx_null_string, ngx_null_string, 0 }
};


ngx_int_t
ngx_http_mtasts_status_init_process(ngx_cycle_t *cycle)
{
    ngx_queue_init(&ngx_http_mtasts_waiting);

    ngx_http_mtasts_check_on_idle(ngx_http_mtasts_status_wake);

    return NGX_OK;
}


ngx_int_t
ngx_http_mtasts_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_uint_t                     i, refresh;
    ngx_http_mtasts_status_ctx_t  *ctx;
    ngx_http_mtasts_main_conf_t   *mmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_mtasts_not_allowed(r);
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mtasts_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_mtasts_status_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->poll.data = r;
    ctx->poll.log = r->connection->log;

    rc = ngx_http_mtasts_status_args(r, ctx, &refresh);

    if (rc != NGX_OK) {
        return rc;
    }

    if (!refresh || ctx->n == 0) {
        rc = ngx_http_mtasts_status_send(r, ctx);
        return (rc == NGX_BUSY) ? ngx_http_mtasts_status_wait(r, ctx) : rc;
    }

    /* refresh=1: wait until every selected domain has been checked anew */

    ctx->serials = ngx_palloc(r->pool, ctx->n * sizeof(ngx_uint_t));
    ctx->restarted = ngx_pcalloc(r->pool, ctx->n);
    if (ctx->serials == NULL || ctx->restarted == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    for (i = 0; i < ctx->n; i++) {
        ctx->serials[i] = ctx->domains[i]->node->serial;
    }

    ngx_shmtx_unlock(&mmcf->shpool->mutex);

    if (ngx_http_mtasts_check_start(mmcf, ctx->domains, ctx->n, 1,
                                    r->connection->log)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_mtasts_refreshed(r, ctx) == NGX_OK) {
        rc = ngx_http_mtasts_status_send(r, ctx);
        return (rc == NGX_BUSY) ? ngx_http_mtasts_status_wait(r, ctx) : rc;
    }

    ctx->deadline = ngx_time() + 2 * mmcf->stale;
    ctx->poll.handler = ngx_http_mtasts_status_poll;

    ngx_add_timer(&ctx->poll, NGX_HTTP_MTASTS_POLL);

    ngx_queue_insert_tail(&ngx_http_mtasts_waiting, &ctx->queue);

    return ngx_http_mtasts_status_wait(r, ctx);
}


/*
 * The request waits for checks, or for the slices of its answer: its
 * ctx->poll event resumes it.
 */

static ngx_int_t
ngx_http_mtasts_status_wait(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx)
{
    ngx_http_cleanup_t  *cln;

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        ngx_http_mtasts_status_cleanup(ctx);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_mtasts_status_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_mtasts_module);

    /* a client that goes away is noticed while it waits */

    r->read_event_handler = ngx_http_test_reading;

    r->main->count++;

    return NGX_DONE;
}


static ngx_int_t
ngx_http_mtasts_status_args(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx, ngx_uint_t *refresh)
{
    u_char                       *p, *last;
    ngx_str_t                     value, domain;
    ngx_uint_t                    i;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *h;
    ngx_http_mtasts_entry_t      *entry;
    ngx_http_mtasts_format_t     *f;
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mtasts_module);

    /* format: the argument, else HTML for browsers, else JSON */

    ctx->format = &ngx_http_mtasts_formats[0];

    if (ngx_http_arg(r, (u_char *) "format", 6, &value) == NGX_OK) {

        for (f = ngx_http_mtasts_formats; f->name.len; f++) {
            if (f->name.len == value.len
                && ngx_strncmp(f->name.data, value.data, value.len) == 0)
            {
                break;
            }
        }

        if (f->name.len == 0) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "mta_sts: unknown status format \"%V\"", &value);
            return NGX_HTTP_BAD_REQUEST;
        }

        ctx->format = f;

    } else {
        part = &r->headers_in.headers.part;
        h = part->elts;

        for (i = 0; /* void */ ; i++) {

            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }

                part = part->next;
                h = part->elts;
                i = 0;
            }

            if (h[i].key.len == sizeof("Accept") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                                   sizeof("Accept") - 1) == 0
                && ngx_http_mtasts_prefers_html(&h[i].value))
            {
                ctx->format = &ngx_http_mtasts_formats[3];
                break;
            }
        }
    }

    *refresh = (ngx_http_arg(r, (u_char *) "refresh", 7, &value) == NGX_OK
                && value.len == 1 && value.data[0] == '1');

    if (ngx_http_arg(r, (u_char *) "domain", 6, &value) != NGX_OK) {
        ctx->domains = mmcf->list;
        ctx->n = (mmcf->shm_zone && mmcf->ndomains) ? mmcf->ndomains : 0;
        return NGX_OK;
    }

    if (mmcf->shm_zone == NULL || mmcf->ndomains == 0) {
        return NGX_HTTP_NOT_FOUND;
    }

    /* one domain: lower case, no trailing dot, percent-decoded */

    domain.data = ngx_pnalloc(r->pool, value.len);
    if (domain.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = domain.data;
    last = value.data;
    ngx_unescape_uri(&p, &last, value.len, NGX_UNESCAPE_URI);
    domain.len = p - domain.data;

    if (domain.len && domain.data[domain.len - 1] == '.') {
        domain.len--;
    }

    ngx_strlow(domain.data, domain.data, domain.len);

    entry = ngx_http_mtasts_lookup(mmcf, &domain);

    if (entry == NULL) {
        return NGX_HTTP_NOT_FOUND;
    }

    ctx->domains = ngx_palloc(r->pool, sizeof(ngx_http_mtasts_entry_t *));
    if (ctx->domains == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->domains[0] = entry;
    ctx->n = 1;

    return NGX_OK;
}


/*
 * HTML when the client lists text/html with a non-zero quality before any
 * JSON type, as browsers do; curl's "*" + "/" + "*" gets JSON.
 */

static ngx_uint_t
ngx_http_mtasts_prefers_html(ngx_str_t *accept)
{
    u_char  *p, *last, *end, *q;

    p = accept->data;
    last = p + accept->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ',')) {
            p++;
        }

        end = ngx_strlchr(p, last, ',');
        if (end == NULL) {
            end = last;
        }

        if (end - p >= 16
            && ngx_strncasecmp(p, (u_char *) "application/json", 16) == 0)
        {
            return 0;
        }

        if (end - p >= 9
            && ngx_strncasecmp(p, (u_char *) "text/html", 9) == 0)
        {
            q = ngx_strlcasestrn(p, end, (u_char *) "q=0", 3 - 1);

            /* "q=0", "q=0.0", "q=0.00" refuse it; "q=0.5" does not */

            if (q == NULL) {
                return 1;
            }

            for (q += 3; q < end && (*q == '.' || *q == '0'); q++) {
                /* void */
            }

            return (q < end && *q >= '1' && *q <= '9');
        }

        p = end;
    }

    return 0;
}


/*
 * NGX_OK when every selected domain has been checked since the refresh.
 * A domain that nobody checks any more (its worker went away, or its
 * result belonged to an older configuration) is checked once more here.
 */

static ngx_int_t
ngx_http_mtasts_refreshed(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx)
{
    time_t                        now;
    ngx_int_t                     rc;
    ngx_uint_t                    i, n;
    ngx_http_mtasts_node_t       *node;
    ngx_http_mtasts_entry_t     **again;
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mtasts_module);
    rc = NGX_OK;
    now = ngx_time();
    again = NULL;
    n = 0;

    ngx_shmtx_lock(&mmcf->shpool->mutex);

    /* a serial only grows: the domains seen done are not looked at again */

    for (i = ctx->first; i < ctx->n; i++) {
        node = ctx->domains[i]->node;

        if (node->serial != ctx->serials[i]) {

            if (i == ctx->first) {
                ctx->first++;
            }

            continue;
        }

        rc = NGX_AGAIN;

        if (ctx->restarted == NULL || ctx->restarted[i]
            || !ngx_http_mtasts_forgotten(mmcf, node, now))
        {
            continue;
        }

        if (again == NULL) {
            again = ngx_palloc(r->pool,
                               ctx->n * sizeof(ngx_http_mtasts_entry_t *));
            if (again == NULL) {
                break;
            }
        }

        ctx->restarted[i] = 1;
        again[n++] = ctx->domains[i];
    }

    ngx_shmtx_unlock(&mmcf->shpool->mutex);

    if (n) {
        (void) ngx_http_mtasts_check_start(mmcf, again, n, 1,
                                           r->connection->log);
    }

    return rc;
}


static void
ngx_http_mtasts_status_poll(ngx_event_t *ev)
{
    ngx_http_request_t *r = ev->data;

    ngx_int_t                      rc;
    ngx_connection_t              *c;
    ngx_http_mtasts_status_ctx_t  *ctx;

    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_mtasts_module);

    if (ngx_http_mtasts_status_gone(r)) {
        rc = NGX_HTTP_CLIENT_CLOSED_REQUEST;

    /*
     * answer with what there is when a check outlives its deadline, or
     * when the worker shuts down: it checks nothing more
     */

    } else if (!ngx_exiting && !ngx_terminate && !ngx_quit
               && ngx_http_mtasts_refreshed(r, ctx) == NGX_AGAIN
               && ngx_time() < ctx->deadline)
    {
        ngx_add_timer(ev, NGX_HTTP_MTASTS_POLL);
        return;

    } else {
        ngx_http_mtasts_status_unwait(ctx);

        rc = ngx_http_mtasts_status_send(r, ctx);

        if (rc == NGX_BUSY) {
            return;
        }
    }

    /* a timer is no request event: posted requests are ours to run */

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* the next slice of the answer */

static void
ngx_http_mtasts_status_slice(ngx_event_t *ev)
{
    ngx_http_request_t *r = ev->data;

    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = r->connection;

    if (ngx_http_mtasts_status_gone(r)) {
        rc = NGX_HTTP_CLIENT_CLOSED_REQUEST;

    } else {
        rc = ngx_http_mtasts_status_output(r,
                       ngx_http_get_module_ctx(r, ngx_http_mtasts_module));

        if (rc == NGX_BUSY) {
            return;
        }
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* a client that closed at once: epoll told while the request was read */

static ngx_uint_t
ngx_http_mtasts_status_gone(ngx_http_request_t *r)
{
    ngx_connection_t  *c;

    c = r->connection;

    if (c->error
#if (NGX_HAVE_EPOLLRDHUP)
        || (c->read->pending_eof && r->http_version < NGX_HTTP_VERSION_20)
#endif
       )
    {
        c->error = 1;
        return 1;
    }

    return 0;
}


static void
ngx_http_mtasts_status_cleanup(void *data)
{
    ngx_http_mtasts_status_ctx_t  *ctx = data;

    if (ctx->poll.timer_set) {
        ngx_del_timer(&ctx->poll);
    }

    if (ctx->poll.posted) {
        ngx_delete_posted_event(&ctx->poll);
    }

    ngx_http_mtasts_status_unwait(ctx);
}


/* no longer among the requests that wait for checks */

static void
ngx_http_mtasts_status_unwait(ngx_http_mtasts_status_ctx_t *ctx)
{
    if (ctx->queue.next) {
        ngx_queue_remove(&ctx->queue);
        ctx->queue.next = NULL;
    }
}


/*
 * This worker has no check left to run: its waiting refresh requests look
 * now whether their domains are done, instead of at their next poll (the
 * poll stays for checks that other workers run).
 */

static void
ngx_http_mtasts_status_wake(void)
{
    ngx_queue_t                   *q;
    ngx_http_mtasts_status_ctx_t  *ctx;

    for (q = ngx_queue_head(&ngx_http_mtasts_waiting);
         q != ngx_queue_sentinel(&ngx_http_mtasts_waiting);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_http_mtasts_status_ctx_t, queue);

        if (ctx->poll.timer_set) {
            ngx_del_timer(&ctx->poll);
            ngx_post_event(&ctx->poll, &ngx_posted_events);
        }
    }
}


static ngx_int_t
ngx_http_mtasts_status_send(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx)
{
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mtasts_module);

    if (ngx_http_mtasts_snapshot(r->pool, mmcf, ctx->domains, ctx->n,
                                 &ctx->view) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->render = ngx_http_mtasts_render_create(r, &ctx->view,
                                                ctx->format->id);
    if (ctx->render == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_mtasts_status_output(r, ctx);
}


/*
 * A slice of the answer per turn of the event loop: the requests that are
 * ready are served in between.  NGX_BUSY: the next slice is posted; else
 * what the output filter says, or an HTTP status.
 */

static ngx_int_t
ngx_http_mtasts_status_output(ngx_http_request_t *r,
    ngx_http_mtasts_status_ctx_t *ctx)
{
    off_t         len;
    ngx_int_t     rc;
    ngx_chain_t  *out, *cl;

    static ngx_str_t  cache_control = ngx_string("Cache-Control");
    static ngx_str_t  no_store = ngx_string("no-store");

    rc = ngx_http_mtasts_render(ctx->render, &out);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_AGAIN) {
        ctx->poll.handler = ngx_http_mtasts_status_slice;
        ngx_post_event(&ctx->poll, &ngx_posted_next_events);
        return NGX_BUSY;
    }

    len = 0;

    for (cl = out; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mta-sts status: %O bytes", len);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type = ctx->format->type;
    r->headers_out.content_type_len = ctx->format->type.len;
    r->headers_out.content_type_lowcase = NULL;

    if (ngx_http_mtasts_add_header(r, &cache_control, &no_store) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}
