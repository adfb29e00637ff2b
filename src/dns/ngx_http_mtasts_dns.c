
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Asynchronous DNS for the self-checks: one c-ares channel per worker,
 * driven by the worker's own event loop.  c-ares opens and closes its
 * sockets; nginx watches them (level-triggered: c-ares reads a TCP answer's
 * length and body in separate calls) and keeps one timer for its timeouts.
 */


#include "ngx_http_mtasts_dns.h"


/*
 * Queries sent per turn of the event loop.  Each send on loopback also
 * runs the receiver's side of the network stack, 4 to 8 us: a round's
 * check starts five queries, and sent at once they made the turns in
 * which requests wait 40 to 60 us long.  The others wait in order.
 */

#define NGX_HTTP_MTASTS_DNS_SENDS    1


typedef struct {
    ares_socket_t                 fd;
    ngx_connection_t             *connection;
} ngx_http_mtasts_dns_sock_t;


/* a query waiting for its turn: a name and type, or a message (type 0) */

typedef struct {
    ngx_queue_t                   queue;
    ares_callback                 handler;
    void                         *data;
    int                           type;
    size_t                        len;
    u_char                        buf[1];
} ngx_http_mtasts_dns_wait_t;


typedef struct {
    ares_channel                  channel;
    ngx_event_t                   timer;
    ngx_event_t                   arm;
    ngx_event_t                   pace;
    ngx_queue_t                   waiting;
    ngx_log_t                    *log;
    ngx_http_mtasts_dns_sock_t    socks[NGX_HTTP_MTASTS_DNS_SOCKS];
    ngx_uint_t                    nsocks;
    ngx_uint_t                    active;
} ngx_http_mtasts_dns_t;


static void ngx_http_mtasts_dns_sock_state(void *data, ares_socket_t fd,
    int readable, int writable);
static ngx_int_t ngx_http_mtasts_dns_watch(ngx_event_t *ev, int on,
    ngx_int_t event);
static void ngx_http_mtasts_dns_read(ngx_event_t *ev);
static void ngx_http_mtasts_dns_write(ngx_event_t *ev);
static void ngx_http_mtasts_dns_timeout(ngx_event_t *ev);
static void ngx_http_mtasts_dns_arm(void);
static void ngx_http_mtasts_dns_arm_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_mtasts_dns_wait(const u_char *buf, size_t len,
    int type, ares_callback handler, void *data);
static void ngx_http_mtasts_dns_pace(ngx_event_t *ev);


/* per worker: a worker lives for one configuration */
static ngx_http_mtasts_dns_t  ngx_http_mtasts_dns;


ngx_int_t
ngx_http_mtasts_dns_init(ngx_cycle_t *cycle, ngx_str_t *servers,
    ngx_msec_t timeout, ngx_uint_t attempts)
{
    int                    rc;
    u_char                *csv;
    struct ares_options    opts;
    ngx_http_mtasts_dns_t *dns;

    dns = &ngx_http_mtasts_dns;

    rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "mta_sts: ares_library_init() failed: %s",
                      ares_strerror(rc));
        return NGX_ERROR;
    }

    ngx_memzero(&opts, sizeof(struct ares_options));

    opts.sock_state_cb = ngx_http_mtasts_dns_sock_state;
    opts.sock_state_cb_data = dns;
    opts.timeout = (int) timeout;
    opts.tries = (int) attempts;

    /*
     * NOCHECKRESP: SERVFAIL and REFUSED reach the callback as what they
     * are, instead of "connection refused" after trying every server;
     * the operator has to tell them apart.  STAYOPEN: c-ares 1.18 closes
     * its sockets whenever no query is left, which in a round is between
     * two turns of the event loop, thousands of times: a new socket,
     * connect(), fcntl() and epoll_ctl() each time.  One socket per
     * server stays open, as nginx's own resolver keeps it.
     */

    opts.flags = ARES_FLAG_NOSEARCH|ARES_FLAG_NOALIASES
                 |ARES_FLAG_NOCHECKRESP|ARES_FLAG_STAYOPEN;

    rc = ares_init_options(&dns->channel, &opts,
                           ARES_OPT_SOCK_STATE_CB|ARES_OPT_TIMEOUTMS
                           |ARES_OPT_TRIES|ARES_OPT_FLAGS);
    if (rc != ARES_SUCCESS) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "mta_sts: ares_init_options() failed: %s",
                      ares_strerror(rc));
        ares_library_cleanup();
        return NGX_ERROR;
    }

    if (servers->len) {
        csv = ngx_pnalloc(cycle->pool, servers->len + 1);
        if (csv == NULL) {
            goto failed;
        }

        (void) ngx_cpystrn(csv, servers->data, servers->len + 1);

        rc = ares_set_servers_ports_csv(dns->channel, (char *) csv);
        if (rc != ARES_SUCCESS) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "mta_sts: ares_set_servers_ports_csv(\"%s\") "
                          "failed: %s", csv, ares_strerror(rc));
            goto failed;
        }
    }

    dns->log = cycle->log;
    dns->timer.handler = ngx_http_mtasts_dns_timeout;
    dns->timer.log = cycle->log;
    dns->timer.data = dns;
    dns->timer.cancelable = 1;
    dns->arm.handler = ngx_http_mtasts_dns_arm_handler;
    dns->arm.log = cycle->log;
    dns->arm.data = dns;
    dns->pace.handler = ngx_http_mtasts_dns_pace;
    dns->pace.log = cycle->log;
    dns->pace.data = dns;
    ngx_queue_init(&dns->waiting);
    dns->active = 1;

    return NGX_OK;

failed:

    ares_destroy(dns->channel);
    ares_library_cleanup();

    return NGX_ERROR;
}


void
ngx_http_mtasts_dns_exit(void)
{
    ngx_queue_t                 *q;
    ngx_http_mtasts_dns_t       *dns;
    ngx_http_mtasts_dns_wait_t  *w;

    dns = &ngx_http_mtasts_dns;

    if (!dns->active) {
        return;
    }

    /* no query is taken from now on, none sent again */

    dns->active = 0;

    if (dns->pace.posted) {
        ngx_delete_posted_event(&dns->pace);
    }

    /*
     * The queries in the queue and those in flight end alike, with
     * ARES_EDESTRUCTION; sockets are released
     */

    while (!ngx_queue_empty(&dns->waiting)) {
        q = ngx_queue_head(&dns->waiting);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_mtasts_dns_wait_t, queue);
        w->handler(w->data, ARES_EDESTRUCTION, 0, NULL, 0);
        ngx_free(w);
    }

    ares_destroy(dns->channel);
    ares_library_cleanup();

    if (dns->timer.timer_set) {
        ngx_del_timer(&dns->timer);
    }

    if (dns->arm.posted) {
        ngx_delete_posted_event(&dns->arm);
    }
}


/*
 * c-ares 1.18 fails every query in flight to a server whose TCP connection
 * closed with "connection refused", UDP ones of other domains included:
 * such a query is sent again, up to three times, before it counts.
 */

ngx_uint_t
ngx_http_mtasts_dns_again(int status, ngx_uint_t *tries)
{
    if (status != ARES_ECONNREFUSED || *tries >= 3
        || !ngx_http_mtasts_dns.active || ngx_exiting)
    {
        return 0;
    }

    (*tries)++;

    return 1;
}


ngx_int_t
ngx_http_mtasts_dns_query(const char *name, int type,
    ares_callback handler, void *data)
{
    ngx_http_mtasts_dns_t  *dns;

    dns = &ngx_http_mtasts_dns;

    if (!dns->active) {
        return NGX_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, dns->log, 0,
                   "mta-sts dns query \"%s\" type %d", name, type);

    return ngx_http_mtasts_dns_wait((u_char *) name, ngx_strlen(name) + 1,
                                    type, handler, data);
}


/* a query built by the caller (DNSSEC bits), its answer as it came */

ngx_int_t
ngx_http_mtasts_dns_send(const u_char *buf, size_t len,
    ares_callback handler, void *data)
{
    ngx_http_mtasts_dns_t  *dns;

    dns = &ngx_http_mtasts_dns;

    if (!dns->active) {
        return NGX_ERROR;
    }

    return ngx_http_mtasts_dns_wait(buf, len, 0, handler, data);
}


/* a copy of the query in the queue, sent from the next turns */

static ngx_int_t
ngx_http_mtasts_dns_wait(const u_char *buf, size_t len, int type,
    ares_callback handler, void *data)
{
    ngx_http_mtasts_dns_t       *dns;
    ngx_http_mtasts_dns_wait_t  *w;

    dns = &ngx_http_mtasts_dns;

    w = ngx_alloc(offsetof(ngx_http_mtasts_dns_wait_t, buf) + len, dns->log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->handler = handler;
    w->data = data;
    w->type = type;
    w->len = len;
    ngx_memcpy(w->buf, buf, len);

    ngx_queue_insert_tail(&dns->waiting, &w->queue);

    ngx_post_event(&dns->pace, &ngx_posted_next_events);

    return NGX_OK;
}


/*
 * NGX_HTTP_MTASTS_DNS_SENDS queries of the queue sent, in the posted
 * events of a turn: after the requests that were ready.  An answer may
 * reach its handler inside ares_query() or ares_send().
 */

static void
ngx_http_mtasts_dns_pace(ngx_event_t *ev)
{
    ngx_http_mtasts_dns_t *dns = ev->data;

    ngx_uint_t                   n;
    ngx_queue_t                 *q;
    ngx_http_mtasts_dns_wait_t  *w;

    for (n = 0;
         n < NGX_HTTP_MTASTS_DNS_SENDS && dns->active
         && !ngx_queue_empty(&dns->waiting);
         n++)
    {
        q = ngx_queue_head(&dns->waiting);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_mtasts_dns_wait_t, queue);

        if (w->type) {
            ares_query(dns->channel, (char *) w->buf, 1 /* C_IN */, w->type,
                       w->handler, w->data);

        } else {
            ares_send(dns->channel, w->buf, (int) w->len, w->handler,
                      w->data);
        }

        ngx_free(w);
    }

    if (!dns->active) {
        return;
    }

    ngx_http_mtasts_dns_arm();

    if (!ngx_queue_empty(&dns->waiting)) {
        ngx_post_event(&dns->pace, &ngx_posted_next_events);
    }
}


static void
ngx_http_mtasts_dns_sock_state(void *data, ares_socket_t fd, int readable,
    int writable)
{
    ngx_http_mtasts_dns_t *dns = data;

    ngx_uint_t         i;
    ngx_connection_t  *c;

    for (i = 0; i < dns->nsocks; i++) {
        if (dns->socks[i].fd == fd) {
            break;
        }
    }

    c = (i < dns->nsocks) ? dns->socks[i].connection : NULL;

    if (!readable && !writable) {

        /* c-ares closes the socket itself once this returns */

        if (c == NULL) {
            return;
        }

        (void) ngx_http_mtasts_dns_watch(c->read, 0, NGX_READ_EVENT);
        (void) ngx_http_mtasts_dns_watch(c->write, 0, NGX_WRITE_EVENT);

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;

        dns->socks[i] = dns->socks[--dns->nsocks];
        return;
    }

    if (c == NULL) {

        if (dns->nsocks == NGX_HTTP_MTASTS_DNS_SOCKS) {
            ngx_log_error(NGX_LOG_ALERT, dns->log, 0,
                          "mta_sts: too many resolver sockets");
            return;
        }

        c = ngx_get_connection((ngx_socket_t) fd, dns->log);
        if (c == NULL) {
            return;
        }

        c->data = dns;
        c->read->handler = ngx_http_mtasts_dns_read;
        c->write->handler = ngx_http_mtasts_dns_write;
        c->read->log = dns->log;
        c->write->log = dns->log;

        dns->socks[dns->nsocks].fd = fd;
        dns->socks[dns->nsocks].connection = c;
        dns->nsocks++;
    }

    if (ngx_http_mtasts_dns_watch(c->read, readable, NGX_READ_EVENT)
        != NGX_OK
        || ngx_http_mtasts_dns_watch(c->write, writable, NGX_WRITE_EVENT)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, dns->log, ngx_socket_errno,
                      "mta_sts: could not watch a resolver socket");
    }
}


static ngx_int_t
ngx_http_mtasts_dns_watch(ngx_event_t *ev, int on, ngx_int_t event)
{
    if (on && !ev->active) {
        return ngx_add_event(ev, event, NGX_LEVEL_EVENT);
    }

    if (!on && ev->active) {
        return ngx_del_event(ev, event, 0);
    }

    return NGX_OK;
}


static void
ngx_http_mtasts_dns_read(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    ngx_http_mtasts_dns_t  *dns;

    /* the connection may be freed inside ares_process_fd() */

    dns = c->data;

    ares_process_fd(dns->channel, (ares_socket_t) c->fd, ARES_SOCKET_BAD);

    ngx_http_mtasts_dns_arm();
}


static void
ngx_http_mtasts_dns_write(ngx_event_t *ev)
{
    ngx_connection_t  *c = ev->data;

    ngx_http_mtasts_dns_t  *dns;

    dns = c->data;

    ares_process_fd(dns->channel, ARES_SOCKET_BAD, (ares_socket_t) c->fd);

    ngx_http_mtasts_dns_arm();
}


static void
ngx_http_mtasts_dns_timeout(ngx_event_t *ev)
{
    ngx_http_mtasts_dns_t  *dns = ev->data;

    ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);

    ngx_http_mtasts_dns_arm();
}


/*
 * One timer for c-ares' next deadline, set once per turn of the event
 * loop, after the events of the turn: ares_timeout() walks every query in
 * flight, too much to do after each query sent and each answer read.
 */

static void
ngx_http_mtasts_dns_arm(void)
{
    ngx_http_mtasts_dns_t  *dns;

    dns = &ngx_http_mtasts_dns;

    if (dns->active && !dns->arm.posted) {
        ngx_post_event(&dns->arm, &ngx_posted_events);
    }
}


/*
 * ares_timeout() rounds down and says 0 just before a deadline: wait at
 * least 1 ms, or the loop spins.
 */

static void
ngx_http_mtasts_dns_arm_handler(ngx_event_t *ev)
{
    ngx_msec_t              ms;
    struct timeval          tv, *tvp;
    ngx_http_mtasts_dns_t  *dns = ev->data;

    tvp = ares_timeout(dns->channel, NULL, &tv);

    if (tvp == NULL) {
        if (dns->timer.timer_set) {
            ngx_del_timer(&dns->timer);
        }

        return;
    }

    ms = (ngx_msec_t) tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;

    ngx_add_timer(&dns->timer, ms ? ms : 1);
}


const char *
ngx_http_mtasts_dns_strerror(int status)
{
    switch (status) {

    case ARES_ENOTFOUND:
        return "NXDOMAIN, the name does not exist";

    case ARES_ENODATA:
        return "no record of that type";

    case ARES_ESERVFAIL:
        return "SERVFAIL from the resolver";

    case ARES_EREFUSED:
        return "REFUSED by the resolver";

    case ARES_ETIMEOUT:
        return "timeout, no answer from the resolver";

    case ARES_ECONNREFUSED:
        return "the resolver refused the connection";

    case ARES_EFORMERR:
        return "FORMERR from the resolver";

    case ARES_EBADRESP:
        return "a malformed answer";

    case ARES_EDESTRUCTION:
        return "the worker is shutting down";

    default:
        return ares_strerror(status);
    }
}
