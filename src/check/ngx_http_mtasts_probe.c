
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * STARTTLS probes: what a sender does before it hands an MX host its mail
 * (RFC 8461 section 4.2).  Connect, read the banner, EHLO, STARTTLS, TLS
 * handshake with SNI, then check the certificate chain against the trust
 * store and the certificate's names against the MX host name.
 */


#include "ngx_http_mtasts_probe.h"
#include "ngx_http_mtasts_dane.h"


#define NGX_HTTP_MTASTS_PROBES     16      /* probes at once, per worker */
#define NGX_HTTP_MTASTS_REPLY      4096    /* an SMTP reply, at most */


typedef enum {
    ngx_http_mtasts_st_connect = 0,
    ngx_http_mtasts_st_banner,
    ngx_http_mtasts_st_ehlo,
    ngx_http_mtasts_st_starttls,
    ngx_http_mtasts_st_handshake
} ngx_http_mtasts_probe_state_e;


struct ngx_http_mtasts_probe_s {
    ngx_queue_t                    queue;
    ngx_http_mtasts_main_conf_t   *mmcf;
    ngx_pool_t                    *pool;
    ngx_log_t                     *log;
    ngx_http_mtasts_tls_t         *result;
    ngx_array_t                   *tlsa;       /* DANE: the usable records */
    ngx_http_mtasts_probe_done_pt  done;
    void                          *data;
    ngx_peer_connection_t          peer;
    ngx_str_t                      name;       /* for the peer */
    u_char                        *host;       /* NUL-terminated, for SNI */
    ngx_buf_t                     *buf;
    ngx_http_mtasts_probe_state_e  state;
    ngx_uint_t                     active;
    ngx_uint_t                     offered;    /* STARTTLS in EHLO */
    ngx_uint_t                     rest;       /* bytes after a reply */
};


static void ngx_http_mtasts_probe_run(ngx_http_mtasts_probe_t *p);
static void ngx_http_mtasts_probe_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_mtasts_probe_reply(ngx_http_mtasts_probe_t *p,
    ngx_uint_t *code, ngx_str_t *first);
static ngx_int_t ngx_http_mtasts_probe_send(ngx_http_mtasts_probe_t *p,
    const char *verb, ngx_uint_t ehlo);
static void ngx_http_mtasts_probe_tls(ngx_http_mtasts_probe_t *p);
static void ngx_http_mtasts_probe_handshake(ngx_connection_t *c);
static void ngx_http_mtasts_probe_verify(ngx_http_mtasts_probe_t *p);
static ngx_int_t ngx_http_mtasts_probe_dane(ngx_http_mtasts_probe_t *p);
static void ngx_http_mtasts_probe_spki(ngx_http_mtasts_probe_t *p,
    X509 *cert);
static long ngx_http_mtasts_probe_pkix(ngx_http_mtasts_probe_t *p);
static void ngx_http_mtasts_probe_fail(ngx_http_mtasts_probe_t *p,
    const char *fmt, ...);
static void ngx_http_mtasts_probe_finish(ngx_http_mtasts_probe_t *p);
static ngx_int_t ngx_http_mtasts_probe_str(ngx_http_mtasts_probe_t *p,
    ngx_str_t *dst, const char *src);


/* per worker */
static ngx_queue_t  ngx_http_mtasts_probes_waiting;
static ngx_queue_t  ngx_http_mtasts_probes_active;
static ngx_uint_t   ngx_http_mtasts_probes_running;
static ngx_uint_t   ngx_http_mtasts_probes_exiting;


static const char  *ngx_http_mtasts_stage[] = {
    "connecting",
    "waiting for the banner",
    "waiting for the EHLO reply",
    "waiting for the STARTTLS reply",
    "in the TLS handshake"
};


ngx_int_t
ngx_http_mtasts_probe_start(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_pool_t *pool, ngx_str_t *host, ngx_addr_t *addr,
    ngx_array_t *tlsa, ngx_http_mtasts_tls_t *result,
    ngx_http_mtasts_probe_done_pt done, void *data)
{
    ngx_http_mtasts_probe_t  *p;

    if (ngx_http_mtasts_probes_waiting.next == NULL) {
        ngx_queue_init(&ngx_http_mtasts_probes_waiting);
        ngx_queue_init(&ngx_http_mtasts_probes_active);
    }

    p = ngx_pcalloc(pool, sizeof(ngx_http_mtasts_probe_t));
    if (p == NULL) {
        return NGX_ERROR;
    }

    p->mmcf = mmcf;
    p->pool = pool;
    p->log = pool->log;
    p->result = result;
    p->tlsa = (tlsa && tlsa->nelts) ? tlsa : NULL;
    p->done = done;
    p->data = data;

    p->host = ngx_pnalloc(pool, host->len + 1);
    p->buf = ngx_create_temp_buf(pool, NGX_HTTP_MTASTS_REPLY);
    if (p->host == NULL || p->buf == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p->host, "%V%Z", host);

    p->name = addr->name;
    p->peer.sockaddr = addr->sockaddr;
    p->peer.socklen = addr->socklen;
    p->peer.name = &p->name;
    p->peer.get = ngx_event_get_peer;
    p->peer.log = ngx_cycle->log;
    p->peer.log_error = NGX_ERROR_INFO;

    ngx_inet_set_port(p->peer.sockaddr, mmcf->starttls_port);

    if (ngx_http_mtasts_probes_running >= NGX_HTTP_MTASTS_PROBES) {
        ngx_queue_insert_tail(&ngx_http_mtasts_probes_waiting, &p->queue);
        return NGX_OK;
    }

    ngx_http_mtasts_probe_run(p);

    return NGX_OK;
}


void
ngx_http_mtasts_probe_exit(void)
{
    ngx_queue_t              *q;
    ngx_http_mtasts_probe_t  *p;

    if (ngx_http_mtasts_probes_waiting.next == NULL) {
        return;
    }

    ngx_http_mtasts_probes_exiting = 1;

    /* waiting probes belong to jobs that are dropped with the worker */

    ngx_queue_init(&ngx_http_mtasts_probes_waiting);

    while (!ngx_queue_empty(&ngx_http_mtasts_probes_active)) {
        q = ngx_queue_head(&ngx_http_mtasts_probes_active);
        p = ngx_queue_data(q, ngx_http_mtasts_probe_t, queue);

        ngx_http_mtasts_probe_fail(p, "the worker is shutting down");
    }
}


static void
ngx_http_mtasts_probe_run(ngx_http_mtasts_probe_t *p)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    p->active = 1;
    ngx_http_mtasts_probes_running++;
    ngx_queue_insert_tail(&ngx_http_mtasts_probes_active, &p->queue);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, p->log, 0,
                   "mta-sts starttls probe of \"%s\" at %V", p->host,
                   &p->name);

    rc = ngx_event_connect_peer(&p->peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_mtasts_probe_fail(p, "could not connect to port %d",
                                   (int) p->mmcf->starttls_port);
        return;
    }

    c = p->peer.connection;
    c->data = p;
    c->pool = p->pool;
    c->read->handler = ngx_http_mtasts_probe_handler;
    c->write->handler = ngx_http_mtasts_probe_handler;

    if (rc == NGX_AGAIN) {
        p->state = ngx_http_mtasts_st_connect;
        ngx_add_timer(c->write, p->mmcf->starttls_timeout);
        return;
    }

    p->state = ngx_http_mtasts_st_banner;
    ngx_add_timer(c->read, p->mmcf->starttls_timeout);
}


static void
ngx_http_mtasts_probe_handler(ngx_event_t *ev)
{
    int                       err;
    socklen_t                 len;
    ngx_str_t                 first;
    ngx_uint_t                code;
    ngx_connection_t         *c;
    ngx_http_mtasts_probe_t  *p;

    c = ev->data;
    p = c->data;

    if (ev->timedout) {
        ngx_http_mtasts_probe_fail(p, "timeout while %s",
                                   ngx_http_mtasts_stage[p->state]);
        return;
    }

    if (p->state == ngx_http_mtasts_st_connect) {

        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            ngx_http_mtasts_probe_fail(p, "%s on port %d",
                                       err == NGX_ECONNREFUSED
                                       ? "connection refused"
                                       : strerror(err),
                                       (int) p->mmcf->starttls_port);
            return;
        }

        if (c->write->timer_set) {
            ngx_del_timer(c->write);
        }

        /* the banner may be in already: read whatever event woke us */

        p->state = ngx_http_mtasts_st_banner;
        ngx_add_timer(c->read, p->mmcf->starttls_timeout);
    }

    if (ngx_http_mtasts_probe_reply(p, &code, &first) != NGX_OK) {
        return;
    }

    switch (p->state) {

    case ngx_http_mtasts_st_banner:

        if (code != 220) {
            ngx_http_mtasts_probe_fail(p, "the server greets with \"%V\", "
                                       "not 220", &first);
            return;
        }

        if (ngx_http_mtasts_probe_send(p, "EHLO", 1) != NGX_OK) {
            return;
        }

        p->state = ngx_http_mtasts_st_ehlo;
        break;

    case ngx_http_mtasts_st_ehlo:

        if (code != 250) {
            ngx_http_mtasts_probe_fail(p, "EHLO is refused: \"%V\"",
                                       &first);
            return;
        }

        if (!p->offered) {
            ngx_http_mtasts_probe_fail(p, "STARTTLS is not offered in the "
                                       "EHLO reply");
            return;
        }

        if (ngx_http_mtasts_probe_send(p, "STARTTLS", 0) != NGX_OK) {
            return;
        }

        p->state = ngx_http_mtasts_st_starttls;
        break;

    default: /* ngx_http_mtasts_st_starttls */

        if (code != 220) {
            ngx_http_mtasts_probe_fail(p, "STARTTLS is refused: \"%V\"",
                                       &first);
            return;
        }

        /*
         * nothing may come between the reply and the server's TLS: plain
         * text there breaks the handshake, however it is timed
         */

        if (p->rest) {
            ngx_http_mtasts_probe_fail(p, "the TLS handshake failed: the "
                                       "server sent plain text after its "
                                       "STARTTLS reply");
            return;
        }

        ngx_http_mtasts_probe_tls(p);
        return;
    }

    p->buf->pos = p->buf->start;
    p->buf->last = p->buf->start;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    ngx_add_timer(c->read, p->mmcf->starttls_timeout);
}


/*
 * Reads until a whole reply is in: its last line has a space after the
 * code.  On success *code is the code, *first the first line, and
 * p->offered whether a line of the reply announces STARTTLS.
 */

#define ngx_http_mtasts_digit(c)  ((c) >= '0' && (c) <= '9')


static ngx_int_t
ngx_http_mtasts_probe_reply(ngx_http_mtasts_probe_t *p, ngx_uint_t *code,
    ngx_str_t *first)
{
    u_char            *line, *eol, *q;
    ssize_t            n;
    ngx_buf_t         *b;
    ngx_uint_t         starttls;
    ngx_connection_t  *c;

    c = p->peer.connection;
    b = p->buf;

    for ( ;; ) {

        if (b->last == b->end) {
            ngx_http_mtasts_probe_fail(p, "the reply is longer than %d "
                                       "bytes", NGX_HTTP_MTASTS_REPLY);
            return NGX_ERROR;
        }

        n = c->recv(c, b->last, b->end - b->last);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
                ngx_http_mtasts_probe_fail(p, "could not wait for the "
                                           "reply");
                return NGX_ERROR;
            }

            return NGX_AGAIN;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_http_mtasts_probe_fail(p, "the server closed the "
                                       "connection while %s",
                                       ngx_http_mtasts_stage[p->state]);
            return NGX_ERROR;
        }

        b->last += n;

        /* look for the last line of the reply */

        starttls = 0;
        first->len = 0;

        for (line = b->pos; line < b->last; line = eol + 1) {

            eol = ngx_strlchr(line, b->last, '\n');
            if (eol == NULL) {
                break;
            }

            if (eol - line < 3
                || !ngx_http_mtasts_digit(line[0])
                || !ngx_http_mtasts_digit(line[1])
                || !ngx_http_mtasts_digit(line[2]))
            {
                ngx_http_mtasts_probe_fail(p, "the server does not speak "
                                           "SMTP while %s",
                                           ngx_http_mtasts_stage[p->state]);
                return NGX_ERROR;
            }

            if (first->len == 0) {
                first->data = line;
                first->len = eol - line;

                while (first->len && (first->data[first->len - 1] == '\r'
                                      || first->data[first->len - 1] == ' '))
                {
                    first->len--;
                }

                if (first->len > 120) {
                    first->len = 120;
                }
            }

            q = line + 4;

            if (eol - q >= 8 && ngx_strncasecmp(q, (u_char *) "STARTTLS", 8)
                                == 0
                && (eol - q == 8 || q[8] == '\r' || q[8] == ' '))
            {
                starttls = 1;
            }

            if (line + 3 == eol || line[3] == ' ' || line[3] == '\r') {
                *code = (line[0] - '0') * 100 + (line[1] - '0') * 10
                        + (line[2] - '0');

                p->offered = starttls;
                p->rest = b->last - (eol + 1);

                return NGX_OK;
            }
        }
    }
}


static ngx_int_t
ngx_http_mtasts_probe_send(ngx_http_mtasts_probe_t *p, const char *verb,
    ngx_uint_t ehlo)
{
    u_char             line[NGX_MAXHOSTNAMELEN + 16], *last;
    ssize_t            n;
    ngx_connection_t  *c;

    c = p->peer.connection;

    if (ehlo) {
        last = ngx_slprintf(line, line + sizeof(line), "%s %V" CRLF, verb,
                            &ngx_cycle->hostname);
    } else {
        last = ngx_slprintf(line, line + sizeof(line), "%s" CRLF, verb);
    }

    n = c->send(c, line, last - line);

    if (n != last - line) {
        ngx_http_mtasts_probe_fail(p, "could not send %s", verb);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_mtasts_probe_tls(ngx_http_mtasts_probe_t *p)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    c = p->peer.connection;
    p->state = ngx_http_mtasts_st_handshake;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (ngx_ssl_create_connection(p->mmcf->ssl, c, NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_mtasts_probe_fail(p, "could not start TLS");
        return;
    }

    if (SSL_set_tlsext_host_name(c->ssl->connection, (char *) p->host)
        == 0)
    {
        ngx_http_mtasts_probe_fail(p, "could not set SNI");
        return;
    }

    if (p->tlsa && ngx_http_mtasts_probe_dane(p) != NGX_OK) {
        ngx_http_mtasts_probe_fail(p, "could not set up DANE");
        return;
    }

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        ngx_add_timer(c->read, p->mmcf->starttls_timeout);
        c->ssl->handler = ngx_http_mtasts_probe_handshake;
        return;
    }

    ngx_http_mtasts_probe_handshake(c);
}


static void
ngx_http_mtasts_probe_handshake(ngx_connection_t *c)
{
    ngx_http_mtasts_probe_t  *p;

    p = c->data;

    if (c->read->timedout || c->write->timedout) {
        ngx_http_mtasts_probe_fail(p, "timeout in the TLS handshake");
        return;
    }

    if (!c->ssl->handshaked) {
        ngx_http_mtasts_probe_fail(p, "the TLS handshake failed");
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    ngx_http_mtasts_probe_verify(p);
}


static void
ngx_http_mtasts_probe_verify(ngx_http_mtasts_probe_t *p)
{
    long                    rc;
    X509                   *cert;
    size_t                  dlen;
    uint8_t                 usage, selector, mtype;
    ngx_tm_t                tm;
    ngx_str_t               host;
    mtasts_tlsa_t           t;
    const unsigned char    *data;
    ngx_connection_t       *c;
    ngx_http_mtasts_tls_t  *r;
    char                    buf[512];

    c = p->peer.connection;
    r = p->result;

    (void) ngx_http_mtasts_probe_str(p, &r->version,
                                     SSL_get_version(c->ssl->connection));
    (void) ngx_http_mtasts_probe_str(p, &r->cipher,
                                     SSL_get_cipher_name(c->ssl->connection));

    cert = SSL_get_peer_certificate(c->ssl->connection);

    if (cert == NULL) {
        ngx_http_mtasts_probe_fail(p, "the server sends no certificate");
        return;
    }

    (void) X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
    (void) ngx_http_mtasts_probe_str(p, &r->subject, buf);

    (void) X509_NAME_oneline(X509_get_issuer_name(cert), buf, sizeof(buf));
    (void) ngx_http_mtasts_probe_str(p, &r->issuer, buf);

    r->expires = ngx_http_mtasts_asn1_time(X509_get0_notAfter(cert));

    /* the key's digest: the "3 1 1" TLSA record of this certificate */

    ngx_http_mtasts_probe_spki(p, cert);

    X509_free(cert);

    /*
     * With DANE the handshake's verdict is DANE's (RFC 7671): which record
     * matched, if any.  The certificate is then verified against the trust
     * store on its own, as MTA-STS senders verify it.
     */

    if (p->tlsa) {
        if (SSL_get0_dane_tlsa(c->ssl->connection, &usage, &selector, &mtype,
                               &data, &dlen)
            >= 0)
        {
            t.usage = usage;
            t.selector = selector;
            t.mtype = mtype;
            t.data = data;
            t.len = dlen;

            r->dane = 1;
            r->dane_match.len = mtasts_tlsa_text(&t, NULL, 0);
            r->dane_match.data = ngx_pnalloc(p->pool, r->dane_match.len);

            if (r->dane_match.data == NULL) {
                r->dane_match.len = 0;

            } else {
                r->dane_match.len = mtasts_tlsa_text(&t,
                                        (char *) r->dane_match.data,
                                        r->dane_match.len)
                                    - 1;
            }

        } else {
            r->dane = 2;
        }

        rc = ngx_http_mtasts_probe_pkix(p);

    } else {
        rc = SSL_get_verify_result(c->ssl->connection);
    }

    if (rc == X509_V_ERR_CERT_HAS_EXPIRED && r->expires > ngx_time()) {
        ngx_http_mtasts_probe_fail(p, "a CA certificate of the chain has "
                                   "expired");
        return;
    }

    if (rc == X509_V_ERR_CERT_HAS_EXPIRED) {
        ngx_gmtime(r->expires, &tm);
        ngx_http_mtasts_probe_fail(p, "the certificate expired on "
                                   "%4d-%02d-%02d", tm.ngx_tm_year,
                                   tm.ngx_tm_mon, tm.ngx_tm_mday);
        return;
    }

    if (rc != X509_V_OK) {
        ngx_http_mtasts_probe_fail(p, "the certificate is not trusted: %s",
                                   X509_verify_cert_error_string(rc));
        return;
    }

    host.data = p->host;
    host.len = ngx_strlen(p->host);

    /* as senders match: DNS-IDs only, whole-label wildcards (RFC 6125) */

    cert = SSL_get_peer_certificate(c->ssl->connection);
    rc = cert ? X509_check_host(cert, (char *) p->host, host.len,
                                X509_CHECK_FLAG_NEVER_CHECK_SUBJECT
                                |X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL)
              : 0;

    if (cert) {
        X509_free(cert);
    }

    if (rc != 1) {
        ngx_http_mtasts_probe_fail(p, "the certificate (%V) is not valid "
                                   "for %V", &r->subject, &host);
        return;
    }

    r->ok = 1;

    /* a polite goodbye, as senders say it */

    (void) c->send(c, (u_char *) "QUIT\r\n", 6);

    ngx_http_mtasts_probe_finish(p);
}


/* the usable TLSA records for this connection; names are not checked */

static ngx_int_t
ngx_http_mtasts_probe_dane(ngx_http_mtasts_probe_t *p)
{
    SSL                        *ssl;
    ngx_uint_t                  i;
    ngx_http_mtasts_tlsa_rr_t  *rr;

    ssl = p->peer.connection->ssl->connection;

    if (SSL_dane_enable(ssl, (char *) p->host) <= 0) {
        return NGX_ERROR;
    }

    /* RFC 7672 3.1.1: DANE-EE(3) records bind the key, not the name */

    (void) SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);

    rr = p->tlsa->elts;

    for (i = 0; i < p->tlsa->nelts; i++) {
        if (SSL_dane_tlsa_add(ssl, rr[i].usage, rr[i].selector, rr[i].mtype,
                              rr[i].data.data, rr[i].data.len)
            < 0)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_mtasts_probe_spki(ngx_http_mtasts_probe_t *p, X509 *cert)
{
    int             len;
    u_char         *der, *q;
    unsigned int    n;
    unsigned char   md[EVP_MAX_MD_SIZE];

    len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), NULL);
    if (len <= 0) {
        return;
    }

    der = ngx_pnalloc(p->pool, len);
    if (der == NULL) {
        return;
    }

    q = der;

    if (i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &q) != len
        || EVP_Digest(der, len, md, &n, EVP_sha256(), NULL) != 1)
    {
        return;
    }

    p->result->spki.data = ngx_pnalloc(p->pool, 2 * n);
    if (p->result->spki.data == NULL) {
        return;
    }

    p->result->spki.len = ngx_hex_dump(p->result->spki.data, md, n)
                          - p->result->spki.data;
}


/* the chain the server sent, verified against the trust store */

static long
ngx_http_mtasts_probe_pkix(ngx_http_mtasts_probe_t *p)
{
    SSL             *ssl;
    long             rc;
    X509            *cert;
    X509_STORE_CTX  *ctx;

    ssl = p->peer.connection->ssl->connection;

    cert = SSL_get_peer_certificate(ssl);
    ctx = X509_STORE_CTX_new();

    if (cert == NULL || ctx == NULL) {
        rc = X509_V_ERR_OUT_OF_MEM;
        goto done;
    }

    if (X509_STORE_CTX_init(ctx, SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)),
                            cert, SSL_get_peer_cert_chain(ssl))
        != 1
        || X509_STORE_CTX_set_default(ctx, "ssl_server") != 1)
    {
        rc = X509_V_ERR_UNSPECIFIED;
        goto done;
    }

    rc = (X509_verify_cert(ctx) == 1) ? X509_V_OK
                                      : X509_STORE_CTX_get_error(ctx);

done:

    if (ctx) {
        X509_STORE_CTX_free(ctx);
    }

    if (cert) {
        X509_free(cert);
    }

    return rc;
}


static void
ngx_http_mtasts_probe_fail(ngx_http_mtasts_probe_t *p, const char *fmt, ...)
{
    u_char   *last, buf[512];
    va_list   args;

    va_start(args, fmt);
    last = ngx_vslprintf(buf, buf + sizeof(buf) - 1, fmt, args);
    va_end(args);

    *last = '\0';

    p->result->ok = 0;
    (void) ngx_http_mtasts_probe_str(p, &p->result->reason, (char *) buf);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, p->log, 0,
                   "mta-sts starttls probe of \"%s\": %s", p->host, buf);

    ngx_http_mtasts_probe_finish(p);
}


static void
ngx_http_mtasts_probe_finish(ngx_http_mtasts_probe_t *p)
{
    ngx_queue_t              *q;
    ngx_connection_t         *c;
    ngx_http_mtasts_probe_t  *next;

    c = p->peer.connection;

    if (c) {
        if (c->ssl) {
            c->ssl->no_wait_shutdown = 1;
            c->ssl->no_send_shutdown = 1;
            (void) ngx_ssl_shutdown(c);
        }

        ngx_close_connection(c);
        p->peer.connection = NULL;
    }

    if (p->active) {
        p->active = 0;
        ngx_queue_remove(&p->queue);
        ngx_http_mtasts_probes_running--;
    }

    p->done(p->data, ngx_http_mtasts_probes_exiting);

    /* the next waiting probe, if any */

    if (!ngx_queue_empty(&ngx_http_mtasts_probes_waiting)
        && ngx_http_mtasts_probes_running < NGX_HTTP_MTASTS_PROBES)
    {
        q = ngx_queue_head(&ngx_http_mtasts_probes_waiting);
        ngx_queue_remove(q);
        next = ngx_queue_data(q, ngx_http_mtasts_probe_t, queue);

        ngx_http_mtasts_probe_run(next);
    }
}


static ngx_int_t
ngx_http_mtasts_probe_str(ngx_http_mtasts_probe_t *p, ngx_str_t *dst,
    const char *src)
{
    size_t  len;

    len = src ? ngx_strlen(src) : 0;

    dst->len = 0;
    dst->data = ngx_pnalloc(p->pool, len + 1);

    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src, len);
    dst->len = len;

    return NGX_OK;
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
