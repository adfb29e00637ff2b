
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Receiving TLS-RPT reports (RFC 8460, section 5.3).  nginx reads the body
 * as it reads any (client_max_body_size, client_body_buffer_size, a
 * temporary file); then the body is taken in chunks: inflated if it is
 * gzip (whatever its label says), counted against mta_sts_tlsrpt_max_size,
 * written to a temporary file in the directory, and fed to json-c's
 * incremental tokener (depth limit, strict, UTF-8 checked).  At most
 * NGX_HTTP_MTASTS_TLSRPT_SLICE bytes are handled per turn of the event
 * loop, so that a large report never holds the worker's other requests.
 *
 * A report is stored under a name made of its end date and the SHA-256 of
 * what identifies it (organization, report-id, date range, policy
 * domains): made durable, then linked into place, so that a duplicate
 * finds the name taken and nothing stored is ever overwritten or
 * half-written.  The syncs and the link() wait for the disk: they run in
 * nginx's "default" thread pool, so that the worker goes on serving
 * meanwhile, and the threads that wait at the same time share them.  A
 * report of up to NGX_HTTP_MTASTS_TLSRPT_MEMORY bytes, as most are, is
 * kept in memory until then, and the thread writes it too, to a file
 * without a name (O_TMPFILE) until it is linked into place: the worker
 * makes no file, which costs the file system more than anything else a
 * report does.  A larger one is written as it comes to a temporary file.
 */


#include "ngx_http_mtasts_tlsrpt.h"
#include "ngx_http_mtasts_policy.h"

#include <zlib.h>
#include <openssl/evp.h>


#define NGX_HTTP_MTASTS_TLSRPT_CHUNK  65536
#define NGX_HTTP_MTASTS_TLSRPT_SLICE  (4 * NGX_HTTP_MTASTS_TLSRPT_CHUNK)
#define NGX_HTTP_MTASTS_TLSRPT_KEY    32        /* hex digits in a name */
#define NGX_HTTP_MTASTS_TLSRPT_MEMORY 65536     /* a report kept in memory */

/* the room of a temporary name in the directory of ctx */
#define NGX_HTTP_MTASTS_TLSRPT_TMP(ctx)                                      \
    ((ctx)->conf->tlsrpt->name.len + sizeof("/.tlsrpt--.tmp")                 \
     + 2 * NGX_INT_T_LEN)


/*
 * The files of a report: the worker's while it takes the body, the
 * thread's while it makes them durable.
 */

typedef struct ngx_http_mtasts_tlsrpt_save_s  ngx_http_mtasts_tlsrpt_save_t;


#if (NGX_THREADS)

/*
 * The reports of a directory that wait for the disk at the same time
 * (group commit): the first thread that finds none being linked takes
 * them all, its own with the others', and links them with one fsync() of
 * the directory, in place of one each.  The others wait for it.
 */

typedef struct ngx_http_mtasts_tlsrpt_dir_s  ngx_http_mtasts_tlsrpt_dir_t;

struct ngx_http_mtasts_tlsrpt_dir_s {
    ngx_str_t                       name;
    pthread_mutex_t                 mutex;
    pthread_cond_t                  cond;
    ngx_http_mtasts_tlsrpt_save_t  *waiting;     /* written, not yet durable */
    ngx_uint_t                      busy;        /* a thread commits */
    ngx_http_mtasts_tlsrpt_dir_t   *next;
};

#endif


struct ngx_http_mtasts_tlsrpt_save_s {
    ngx_fd_t                      fd;          /* the temporary file */
    u_char                       *tmp;         /* its name, or NULL */
    u_char                       *spare;       /* one, without O_TMPFILE */
    u_char                       *data;        /* the report in memory */
    size_t                        len;
    size_t                        size;
    u_char                       *name;        /* where it goes */
    ngx_str_t                    *dir;         /* fsync'd after */
    const char                   *failed;      /* the call, or NULL */
    u_char                       *what;        /* on what */
    ngx_err_t                     err;
    ngx_uint_t                    duplicate;   /* the name was taken */
    ngx_uint_t                    linked;
    ngx_uint_t                    done;
    ngx_http_mtasts_tlsrpt_save_t  *next;       /* committed with it */
#if (NGX_THREADS)
    ngx_http_mtasts_tlsrpt_dir_t   *group;
#endif
};


typedef struct {
    ngx_http_request_t           *request;
    ngx_http_mtasts_loc_conf_t   *conf;
    ngx_chain_t                  *in;          /* the body, where we are */
    off_t                         offset;      /* in its first buffer */
    ngx_uint_t                    started;
    ngx_uint_t                    gzip;
    ngx_uint_t                    zinit;
    ngx_uint_t                    zend;
    z_stream                      z;
    u_char                       *chunk;       /* read from a file */
    u_char                       *out;         /* inflated */
    size_t                        size;        /* inflated, or as sent */
    size_t                        budget;      /* left in this slice */
    json_tokener                 *tok;
    json_object                  *root;
    ngx_uint_t                    status;      /* the answer */
    const char                   *reason;
    ngx_event_t                   ev;          /* the next slice */
    mtasts_report_t               rep;         /* what is being saved */
    ngx_http_mtasts_tlsrpt_save_t  save;
#if (NGX_THREADS)
    ngx_event_t                   busy;        /* holds an exiting worker */
#endif
} ngx_http_mtasts_tlsrpt_ctx_t;


static ngx_uint_t ngx_http_mtasts_tlsrpt_type(ngx_http_request_t *r);
static void ngx_http_mtasts_tlsrpt_body(ngx_http_request_t *r);
static void ngx_http_mtasts_tlsrpt_slice(ngx_event_t *ev);
static ngx_int_t ngx_http_mtasts_tlsrpt_run(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx);
static ngx_int_t ngx_http_mtasts_tlsrpt_feed(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx, u_char *data, size_t len);
static ngx_int_t ngx_http_mtasts_tlsrpt_inflate(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx);
static ngx_int_t ngx_http_mtasts_tlsrpt_take(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx, u_char *data, size_t len);
static ngx_int_t ngx_http_mtasts_tlsrpt_end(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx);
static ngx_int_t ngx_http_mtasts_tlsrpt_keep(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx, u_char *data, size_t len);
static void ngx_http_mtasts_tlsrpt_tmp_name(ngx_http_mtasts_tlsrpt_ctx_t *ctx,
    u_char *p);
static ngx_int_t ngx_http_mtasts_tlsrpt_write_fd(ngx_fd_t fd, u_char *data,
    size_t len);
static ngx_int_t ngx_http_mtasts_tlsrpt_open(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx);
static ngx_int_t ngx_http_mtasts_tlsrpt_write(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx, u_char *data, size_t len);
static ngx_int_t ngx_http_mtasts_tlsrpt_create(
    ngx_http_mtasts_tlsrpt_save_t *save);
static void ngx_http_mtasts_tlsrpt_commit(
    ngx_http_mtasts_tlsrpt_save_t *save);
static void ngx_http_mtasts_tlsrpt_durable(
    ngx_http_mtasts_tlsrpt_save_t *batch);
static void ngx_http_mtasts_tlsrpt_link(ngx_http_mtasts_tlsrpt_save_t *save);
static void ngx_http_mtasts_tlsrpt_failed(ngx_http_mtasts_tlsrpt_save_t *save,
    const char *call, u_char *what, ngx_err_t err);
#if (NGX_THREADS)
static ngx_http_mtasts_tlsrpt_dir_t *ngx_http_mtasts_tlsrpt_group(
    ngx_str_t *name, ngx_log_t *log);
#endif
static ngx_int_t ngx_http_mtasts_tlsrpt_store(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx);
static void ngx_http_mtasts_tlsrpt_save(void *data, ngx_log_t *log);
static void ngx_http_mtasts_tlsrpt_saved(ngx_http_mtasts_tlsrpt_ctx_t *ctx);
#if (NGX_THREADS)
static ngx_int_t ngx_http_mtasts_tlsrpt_offload(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx);
static void ngx_http_mtasts_tlsrpt_back(ngx_event_t *ev);
static void ngx_http_mtasts_tlsrpt_busy(ngx_event_t *ev);
#endif
static void ngx_http_mtasts_tlsrpt_go(ngx_http_mtasts_tlsrpt_ctx_t *ctx);
static void ngx_http_mtasts_tlsrpt_finish(ngx_http_mtasts_tlsrpt_ctx_t *ctx);
static ngx_int_t ngx_http_mtasts_tlsrpt_fail(
    ngx_http_mtasts_tlsrpt_ctx_t *ctx, ngx_uint_t status,
    const char *reason);
static ngx_int_t ngx_http_mtasts_tlsrpt_io(ngx_http_mtasts_tlsrpt_ctx_t *ctx,
    const char *what, u_char *name);
static ngx_int_t ngx_http_mtasts_tlsrpt_answer(ngx_http_request_t *r,
    ngx_uint_t status, const char *text);
static int ngx_libc_cdecl ngx_http_mtasts_tlsrpt_cmp(const void *one,
    const void *two);
static void ngx_http_mtasts_tlsrpt_drop(ngx_http_mtasts_tlsrpt_ctx_t *ctx);
static void ngx_http_mtasts_tlsrpt_cleanup(void *data);


static ngx_uint_t  ngx_http_mtasts_tlsrpt_serial;
#if (NGX_THREADS)
static ngx_http_mtasts_tlsrpt_dir_t  *ngx_http_mtasts_tlsrpt_dirs;
#endif


ngx_int_t
ngx_http_mtasts_tlsrpt_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_pool_cleanup_t            *cln;
    ngx_http_mtasts_tlsrpt_ctx_t  *ctx;

    static ngx_str_t  allow = ngx_string("Allow");
    static ngx_str_t  post = ngx_string("POST");

    if (!(r->method & NGX_HTTP_POST)) {
        if (ngx_http_mtasts_add_header(r, &allow, &post) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_mtasts_tlsrpt_answer(r, NGX_HTTP_NOT_ALLOWED,
                                             "reports are POSTed");
    }

    if (!ngx_http_mtasts_tlsrpt_type(r)) {
        rc = ngx_http_discard_request_body(r);

        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_mtasts_tlsrpt_answer(r,
                   NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                   "a report is application/tlsrpt+gzip "
                   "or application/tlsrpt+json");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_mtasts_tlsrpt_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->conf = ngx_http_get_module_loc_conf(r, ngx_http_mtasts_module);
    ctx->save.fd = NGX_INVALID_FILE;
    ctx->ev.data = ctx;
    ctx->ev.handler = ngx_http_mtasts_tlsrpt_slice;
    ctx->ev.log = r->connection->log;

    cln->handler = ngx_http_mtasts_tlsrpt_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_mtasts_module);

    rc = ngx_http_read_client_request_body(r, ngx_http_mtasts_tlsrpt_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* the media type, parameters aside, in any case */

static ngx_uint_t
ngx_http_mtasts_tlsrpt_type(ngx_http_request_t *r)
{
    u_char  *p, *last;
    size_t   len;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    for (len = 0; p + len < last; len++) {
        if (p[len] == ';' || p[len] == ' ' || p[len] == '\t') {
            break;
        }
    }

    return (len == sizeof("application/tlsrpt+gzip") - 1
            && ngx_strncasecmp(p, (u_char *) "application/tlsrpt+gzip", len)
               == 0)
           || (len == sizeof("application/tlsrpt+json") - 1
               && ngx_strncasecmp(p, (u_char *) "application/tlsrpt+json",
                                  len)
                  == 0);
}


static void
ngx_http_mtasts_tlsrpt_body(ngx_http_request_t *r)
{
    ngx_http_mtasts_tlsrpt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_mtasts_module);

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        ngx_http_finalize_request(r, ngx_http_mtasts_tlsrpt_answer(r,
                                         NGX_HTTP_BAD_REQUEST,
                                         "no report in the body"));
        return;
    }

    ctx->in = r->request_body->bufs;
    ctx->chunk = ngx_pnalloc(r->pool, NGX_HTTP_MTASTS_TLSRPT_CHUNK);
    ctx->out = ngx_pnalloc(r->pool, NGX_HTTP_MTASTS_TLSRPT_CHUNK);

    ctx->tok = json_tokener_new_ex(MTASTS_REPORT_DEPTH);

    if (ctx->chunk == NULL || ctx->out == NULL || ctx->tok == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* what follows the report is looked at here, for a clearer answer */

    json_tokener_set_flags(ctx->tok,
                           JSON_TOKENER_STRICT|JSON_TOKENER_VALIDATE_UTF8
                           |JSON_TOKENER_ALLOW_TRAILING_CHARS);

    ngx_http_mtasts_tlsrpt_go(ctx);
}


static void
ngx_http_mtasts_tlsrpt_slice(ngx_event_t *ev)
{
    ngx_http_mtasts_tlsrpt_ctx_t *ctx = ev->data;

    ngx_connection_t  *c;

    c = ctx->request->connection;

    ngx_http_mtasts_tlsrpt_go(ctx);
    ngx_http_run_posted_requests(c);
}


/* a slice, then the next one, the thread pool, or the answer */

static void
ngx_http_mtasts_tlsrpt_go(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    switch (ngx_http_mtasts_tlsrpt_run(ctx)) {

    case NGX_AGAIN:
        ngx_post_event(&ctx->ev, &ngx_posted_next_events);
        return;

    case NGX_BUSY:
        return;                 /* the thread pool finishes it */

    default:
        ngx_http_mtasts_tlsrpt_finish(ctx);
    }
}


/*
 * A slice: NGX_AGAIN while there is more to take, NGX_BUSY while the
 * thread pool saves the report, else NGX_DONE with the answer in
 * ctx->status and ctx->reason.
 */

static ngx_int_t
ngx_http_mtasts_tlsrpt_run(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    u_char     *data;
    size_t      len;
    ssize_t     n;
    ngx_buf_t  *b;

    /* the budget counts the bytes read and the bytes inflated */

    ctx->budget = NGX_HTTP_MTASTS_TLSRPT_SLICE;

    for ( ;; ) {

        if (ctx->budget == 0) {
            return NGX_AGAIN;
        }

        /* what the last slice left to inflate, before reading more */

        if (ctx->gzip && ctx->z.avail_in) {
            if (ngx_http_mtasts_tlsrpt_inflate(ctx) != NGX_OK) {
                return NGX_DONE;
            }

            continue;
        }

        if (ctx->in == NULL) {
            break;
        }

        b = ctx->in->buf;

        if (b->in_file && !ngx_buf_in_memory(b)) {
            len = (size_t) ngx_min(b->file_last - b->file_pos - ctx->offset,
                                   NGX_HTTP_MTASTS_TLSRPT_CHUNK);

            n = ngx_read_file(b->file, ctx->chunk, len,
                              b->file_pos + ctx->offset);

            if (n != (ssize_t) len) {
                ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                              "mta_sts: could not read the report from "
                              "\"%V\"", &b->file->name);
                return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            }

            data = ctx->chunk;

        } else {
            len = (size_t) ngx_min(b->last - b->pos - ctx->offset,
                                   NGX_HTTP_MTASTS_TLSRPT_CHUNK);
            data = len ? b->pos + ctx->offset : NULL;   /* pos may be NULL */
        }

        ctx->offset += len;

        if (ctx->offset == (b->in_file && !ngx_buf_in_memory(b)
                            ? b->file_last - b->file_pos
                            : b->last - b->pos))
        {
            ctx->in = ctx->in->next;
            ctx->offset = 0;
        }

        if (len == 0) {
            continue;
        }

        ctx->budget -= ngx_min(ctx->budget, len);

        if (ngx_http_mtasts_tlsrpt_feed(ctx, data, len) != NGX_OK) {
            return NGX_DONE;
        }
    }

    return ngx_http_mtasts_tlsrpt_end(ctx);
}


/* a piece of the body, as sent: gzip or not, told by its first bytes */

static ngx_int_t
ngx_http_mtasts_tlsrpt_feed(ngx_http_mtasts_tlsrpt_ctx_t *ctx, u_char *data,
    size_t len)
{
    if (!ctx->started) {
        ctx->started = 1;
        ctx->gzip = (len >= 2 && data[0] == 0x1f && data[1] == 0x8b);

        if (ctx->gzip) {
            if (inflateInit2(&ctx->z, 16 + MAX_WBITS) != Z_OK) {
                return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
            }

            ctx->zinit = 1;
        }
    }

    if (!ctx->gzip) {
        return ngx_http_mtasts_tlsrpt_take(ctx, data, len);
    }

    if (ctx->zend) {
        return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                           "data after the gzip stream");
    }

    ctx->z.next_in = data;
    ctx->z.avail_in = len;

    return ngx_http_mtasts_tlsrpt_inflate(ctx);
}


/*
 * An output chunk at a time, within the slice's budget: a bomb is stopped
 * at the size limit, and a slice inflates at most its budget.  What is
 * left of the input stays in ctx->z for the next slice.
 */

static ngx_int_t
ngx_http_mtasts_tlsrpt_inflate(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    int     rc;
    size_t  n;

    while (ctx->z.avail_in && !ctx->zend && ctx->budget) {
        ctx->z.next_out = ctx->out;
        ctx->z.avail_out = NGX_HTTP_MTASTS_TLSRPT_CHUNK;

        rc = inflate(&ctx->z, Z_NO_FLUSH);

        if (rc == Z_STREAM_END) {
            ctx->zend = 1;

        } else if (rc != Z_OK) {
            return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                               "the gzip data is corrupt");
        }

        n = NGX_HTTP_MTASTS_TLSRPT_CHUNK - ctx->z.avail_out;
        ctx->budget -= ngx_min(ctx->budget, n);

        if (n && ngx_http_mtasts_tlsrpt_take(ctx, ctx->out, n) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ctx->zend && ctx->z.avail_in) {
        return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                           "data after the gzip stream");
    }

    return NGX_OK;
}


/* JSON text: counted, kept, parsed */

static ngx_int_t
ngx_http_mtasts_tlsrpt_take(ngx_http_mtasts_tlsrpt_ctx_t *ctx, u_char *data,
    size_t len)
{
    u_char                 *p, *last;
    size_t                  end;
    enum json_tokener_error  jerr;

    ctx->size += len;

    if (ctx->size > ctx->conf->tlsrpt_max_size) {
        return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       "the report is larger than "
                                       "mta_sts_tlsrpt_max_size");
    }

    if (ctx->save.fd != NGX_INVALID_FILE) {
        if (ngx_http_mtasts_tlsrpt_write(ctx, data, len) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (ctx->size <= NGX_HTTP_MTASTS_TLSRPT_MEMORY) {
        if (ngx_http_mtasts_tlsrpt_keep(ctx, data, len) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {

        /* too large to keep: a file, what was kept first */

        if (ngx_http_mtasts_tlsrpt_open(ctx) != NGX_OK
            || ngx_http_mtasts_tlsrpt_write(ctx, ctx->save.data,
                                            ctx->save.len)
               != NGX_OK
            || ngx_http_mtasts_tlsrpt_write(ctx, data, len) != NGX_OK)
        {
            return NGX_ERROR;
        }

        ctx->save.data = NULL;
        ctx->save.len = 0;
    }

    last = data + len;
    end = 0;

    if (ctx->root == NULL) {
        ctx->root = json_tokener_parse_ex(ctx->tok, (char *) data, len);

        if (ctx->root == NULL) {
            jerr = json_tokener_get_error(ctx->tok);

            if (jerr == json_tokener_continue) {
                return NGX_OK;
            }

            ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                          "mta_sts: TLS-RPT report refused: %s",
                          json_tokener_error_desc(jerr));

            return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                               jerr == json_tokener_error_depth
                                               ? "the JSON nests too deep"
                                               : "not valid JSON in UTF-8");
        }

        end = json_tokener_get_parse_end(ctx->tok);
    }

    /* the report is whole: only white space may follow */

    for (p = data + end; p < last; p++) {
        if (*p != ' ' && *p != '\t' && *p != CR && *p != LF) {
            return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                               "data after the JSON report");
        }
    }

    return NGX_OK;
}


/* the report so far, in memory: twice the room when it needs more */

static ngx_int_t
ngx_http_mtasts_tlsrpt_keep(ngx_http_mtasts_tlsrpt_ctx_t *ctx, u_char *data,
    size_t len)
{
    u_char                         *p;
    size_t                          size;
    ngx_http_mtasts_tlsrpt_save_t  *save;

    save = &ctx->save;

    if (save->size - save->len < len) {
        size = ngx_max(ngx_max(2 * save->size, save->len + len), 4096);
        size = ngx_min(size, NGX_HTTP_MTASTS_TLSRPT_MEMORY);

        p = ngx_pnalloc(ctx->request->pool, size);
        if (p == NULL) {
            return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        }

        if (save->len) {
            ngx_memcpy(p, save->data, save->len);
        }

        save->data = p;
        save->size = size;
    }

    ngx_memcpy(save->data + save->len, data, len);
    save->len += len;

    return NGX_OK;
}


/* the next temporary name of this worker, into NGX_HTTP_MTASTS_TLSRPT_TMP */

static void
ngx_http_mtasts_tlsrpt_tmp_name(ngx_http_mtasts_tlsrpt_ctx_t *ctx, u_char *p)
{
    ngx_sprintf(p, "%V/.tlsrpt-%P-%ui.tmp%Z", &ctx->conf->tlsrpt->name,
                ngx_pid, ngx_http_mtasts_tlsrpt_serial++);
}


/* all of it, or NGX_ERROR with errno set; in the worker or a thread */

static ngx_int_t
ngx_http_mtasts_tlsrpt_write_fd(ngx_fd_t fd, u_char *data, size_t len)
{
    u_char   *p, *last;
    ssize_t   n;

    for (p = data, last = data + len; p < last; p += n) {
        n = ngx_write_fd(fd, p, last - p);

        if (n == -1) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A temporary file in the directory, for a rename-free link(), made
 * here as nginx makes a request body's.  A name taken is left alone (a
 * crashed worker of the same pid left it; the reading at start deletes
 * it when it is an hour old), and the next one is tried.
 */

static ngx_int_t
ngx_http_mtasts_tlsrpt_open(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    u_char      *p;
    ngx_uint_t   i;

    p = ngx_pnalloc(ctx->request->pool, NGX_HTTP_MTASTS_TLSRPT_TMP(ctx));
    if (p == NULL) {
        return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    for (i = 0; i < 8; i++) {
        ngx_http_mtasts_tlsrpt_tmp_name(ctx, p);

        ctx->save.fd = ngx_open_file(p, NGX_FILE_WRONLY,
                                     NGX_FILE_CREATE_OR_OPEN|O_EXCL, 0600);

        if (ctx->save.fd != NGX_INVALID_FILE || ngx_errno != NGX_EEXIST) {
            break;
        }
    }

    if (ctx->save.fd == NGX_INVALID_FILE) {
        return ngx_http_mtasts_tlsrpt_io(ctx, ngx_open_file_n, p);
    }

    ctx->save.tmp = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtasts_tlsrpt_write(ngx_http_mtasts_tlsrpt_ctx_t *ctx,
    u_char *data, size_t len)
{
    if (ngx_http_mtasts_tlsrpt_write_fd(ctx->save.fd, data, len) != NGX_OK) {
        return ngx_http_mtasts_tlsrpt_io(ctx, ngx_write_fd_n, ctx->save.tmp);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtasts_tlsrpt_end(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    const char  *err;

    if (ctx->size == 0) {
        return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                           "no report in the body");
    }

    if (ctx->gzip && !ctx->zend) {
        return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                           "the gzip data is cut off");
    }

    if (ctx->root == NULL) {
        return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_BAD_REQUEST,
                                           "the JSON report is cut off");
    }

    err = mtasts_report_check(ctx->root, &ctx->rep);

    if (err) {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "mta_sts: TLS-RPT report refused: %s", err);
        return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_BAD_REQUEST, err);
    }

    return ngx_http_mtasts_tlsrpt_store(ctx);
}


static ngx_int_t
ngx_http_mtasts_tlsrpt_store(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    u_char                       *p, *name, *key;
    size_t                        len;
    ngx_tm_t                      tm;
    ngx_str_t                    *d;
    ngx_uint_t                    i, j, n, served;
    unsigned int                  mdlen;
    mtasts_report_t              *rep;
    ngx_http_request_t           *r;
    mtasts_report_policy_t        pol;
    u_char                        md[EVP_MAX_MD_SIZE];
    ngx_http_mtasts_main_conf_t  *mmcf;

    r = ctx->request;
    rep = &ctx->rep;
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mtasts_module);

    /* its policy domains, lower case, each once, sorted */

    d = ngx_palloc(r->pool, rep->npolicies * sizeof(ngx_str_t));
    if (d == NULL) {
        return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    n = 0;
    served = 0;
    len = 0;

    for (i = 0; i < rep->npolicies; i++) {
        mtasts_report_policy(ctx->root, i, &pol);

        if (pol.domain == NULL) {
            continue;
        }

        d[n].len = ngx_strlen(pol.domain);
        d[n].data = ngx_pnalloc(r->pool, d[n].len);
        if (d[n].data == NULL) {
            return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        }

        ngx_strlow(d[n].data, (u_char *) pol.domain, d[n].len);

        if (d[n].len && d[n].data[d[n].len - 1] == '.') {
            d[n].len--;
        }

        for (j = 0; j < n; j++) {
            if (d[j].len == d[n].len
                && ngx_strncmp(d[j].data, d[n].data, d[n].len) == 0)
            {
                break;
            }
        }

        if (j < n) {
            continue;
        }

        if (mmcf->ndomains && ngx_http_mtasts_lookup(mmcf, &d[n]) != NULL) {
            served++;
        }

        len += d[n].len + 1;
        n++;
    }

    if (served == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mta_sts: TLS-RPT report \"%s\" of \"%s\" refused: "
                      "none of its policy domains is served here",
                      rep->report_id, rep->organization);
        return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_FORBIDDEN,
                                           "no policy domain of the report "
                                           "is served here");
    }

    ngx_qsort(d, n, sizeof(ngx_str_t), ngx_http_mtasts_tlsrpt_cmp);

    /* what identifies it: organization, id, range, domains */

    len += ngx_strlen(rep->organization) + ngx_strlen(rep->report_id)
           + 2 * NGX_TIME_T_LEN + 4;

    key = ngx_pnalloc(r->pool, len);
    if (key == NULL) {
        return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    p = ngx_sprintf(key, "%s\n%s\n%T\n%T\n", rep->organization,
                    rep->report_id, rep->start, rep->end);

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "%V\n", &d[i]);
    }

    if (EVP_Digest(key, p - key, md, &mdlen, EVP_sha256(), NULL) != 1) {
        return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    name = ngx_pnalloc(r->pool, ctx->conf->tlsrpt->name.len
                                + sizeof("/YYYY-MM-DD-.json")
                                + NGX_HTTP_MTASTS_TLSRPT_KEY);
    if (name == NULL) {
        return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }

    ngx_gmtime(rep->end, &tm);

    p = ngx_sprintf(name, "%V/%4d-%02d-%02d-", &ctx->conf->tlsrpt->name,
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday);
    p = ngx_hex_dump(p, md, NGX_HTTP_MTASTS_TLSRPT_KEY / 2);
    ngx_sprintf(p, ".json%Z");

    /* on the disk before it is acknowledged */

    ctx->save.name = name;
    ctx->save.dir = &ctx->conf->tlsrpt->name;

    if (ctx->save.fd == NGX_INVALID_FILE) {

        /* made by the thread, where O_TMPFILE does not work */

        ctx->save.spare = ngx_pnalloc(r->pool, NGX_HTTP_MTASTS_TLSRPT_TMP(ctx));
        if (ctx->save.spare == NULL) {
            return ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        }

        ngx_http_mtasts_tlsrpt_tmp_name(ctx, ctx->save.spare);
    }

#if (NGX_THREADS)

    return ngx_http_mtasts_tlsrpt_offload(ctx);

#else

    ngx_http_mtasts_tlsrpt_save(&ctx->save, r->connection->log);
    ngx_http_mtasts_tlsrpt_saved(ctx);

    return NGX_DONE;

#endif
}


#if !(NGX_THREADS)

void
ngx_http_mtasts_tlsrpt_intake_exit(void)
{
}

#endif


/*
 * In a thread of the pool (or in the worker, without threads): the file
 * and its name made durable.  Nothing here logs: the worker does, after.
 */

static void
ngx_http_mtasts_tlsrpt_save(void *data, ngx_log_t *log)
{
    ngx_http_mtasts_tlsrpt_save_t *save = data;

    if (save->fd == NGX_INVALID_FILE
        && ngx_http_mtasts_tlsrpt_create(save) != NGX_OK)
    {
        return;
    }

    /*
     * Each thread its own file's fsync(), at the same time as the others:
     * the disk takes their writes together, and the block layer merges
     * the cache flushes that wait at once.  A syncfs() for a batch would
     * also write whatever else the file system has pending (seen: 0.3 s).
     */

    if (fsync(save->fd) == -1) {
        ngx_http_mtasts_tlsrpt_failed(save, "fsync()",
                                      save->tmp ? save->tmp : save->name,
                                      ngx_errno);
        return;
    }

    ngx_http_mtasts_tlsrpt_commit(save);
}


/*
 * In the thread: the report kept in memory written to a file without a
 * name in the directory, or, where the file system has no O_TMPFILE, to
 * the temporary file named in advance
 */

static ngx_int_t
ngx_http_mtasts_tlsrpt_create(ngx_http_mtasts_tlsrpt_save_t *save)
{
    save->fd = ngx_open_file(save->dir->data, NGX_FILE_WRONLY, O_TMPFILE,
                             0600);

    if (save->fd == NGX_INVALID_FILE
        && (ngx_errno == EOPNOTSUPP || ngx_errno == EISDIR
            || ngx_errno == EINVAL))
    {
        save->fd = ngx_open_file(save->spare, NGX_FILE_WRONLY,
                                 NGX_FILE_CREATE_OR_OPEN|O_EXCL, 0600);

        if (save->fd != NGX_INVALID_FILE) {
            save->tmp = save->spare;
        }
    }

    if (save->fd == NGX_INVALID_FILE) {
        ngx_http_mtasts_tlsrpt_failed(save, ngx_open_file_n, save->dir->data,
                                      ngx_errno);
        return NGX_ERROR;
    }

    if (ngx_http_mtasts_tlsrpt_write_fd(save->fd, save->data, save->len)
        != NGX_OK)
    {
        ngx_http_mtasts_tlsrpt_failed(save, ngx_write_fd_n,
                                      save->tmp ? save->tmp : save->name,
                                      ngx_errno);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* alone, or with the reports written meanwhile: see the group's comment */

static void
ngx_http_mtasts_tlsrpt_commit(ngx_http_mtasts_tlsrpt_save_t *save)
{
#if (NGX_THREADS)

    ngx_http_mtasts_tlsrpt_dir_t   *g;
    ngx_http_mtasts_tlsrpt_save_t  *batch, *s;

    g = save->group;

    if (g && pthread_mutex_lock(&g->mutex) == 0) {
        save->done = 0;
        save->next = g->waiting;
        g->waiting = save;

        while (!save->done) {

            if (g->busy) {
                (void) pthread_cond_wait(&g->cond, &g->mutex);
                continue;
            }

            batch = g->waiting;
            g->waiting = NULL;
            g->busy = 1;

            (void) pthread_mutex_unlock(&g->mutex);

            ngx_http_mtasts_tlsrpt_durable(batch);

            (void) pthread_mutex_lock(&g->mutex);

            for (s = batch; s; s = s->next) {
                s->done = 1;
            }

            g->busy = 0;
            (void) pthread_cond_broadcast(&g->cond);
        }

        (void) pthread_mutex_unlock(&g->mutex);
        return;
    }

#endif

    save->next = NULL;
    ngx_http_mtasts_tlsrpt_durable(save);
}


/*
 * The durable files of the batch linked into place, and their names made
 * durable with one fsync() of the directory.  Each report's result is in
 * its own "save".
 */

static void
ngx_http_mtasts_tlsrpt_durable(ngx_http_mtasts_tlsrpt_save_t *batch)
{
    ngx_fd_t                        dir;
    ngx_err_t                       err;
    ngx_uint_t                      linked;
    ngx_http_mtasts_tlsrpt_save_t  *s;

    dir = ngx_open_file(batch->dir->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    err = (dir == NGX_INVALID_FILE) ? ngx_errno : 0;

    linked = 0;

    for (s = batch; s; s = s->next) {

        if (err) {
            ngx_http_mtasts_tlsrpt_failed(s, ngx_open_file_n, s->dir->data,
                                          err);
            continue;
        }

        ngx_http_mtasts_tlsrpt_link(s);
        linked += s->linked;
    }

    if (linked && !err && fsync(dir) == -1) {
        err = ngx_errno;

        for (s = batch; s; s = s->next) {
            if (s->linked) {

                /* the report is there, but may not stay after a crash */

                (void) ngx_delete_file(s->name);
                s->linked = 0;
                ngx_http_mtasts_tlsrpt_failed(s, "fsync()", s->dir->data,
                                              err);
            }
        }
    }

    if (dir != NGX_INVALID_FILE) {
        (void) ngx_close_file(dir);
    }
}


/* a durable file linked into place: "linked", "duplicate" or "failed" */

static void
ngx_http_mtasts_tlsrpt_link(ngx_http_mtasts_tlsrpt_save_t *save)
{
    int          rc;
    ngx_err_t    err;
    const char  *call;
    u_char       path[sizeof("/proc/self/fd/") + NGX_INT_T_LEN];

    call = save->tmp ? "link()" : "linkat()";

    if (save->tmp == NULL) {

        /* a file without a name gets one through /proc, while open */

        ngx_sprintf(path, "/proc/self/fd/%d%Z", save->fd);

        rc = linkat(AT_FDCWD, (char *) path, AT_FDCWD, (char *) save->name,
                    AT_SYMLINK_FOLLOW);
        err = ngx_errno;

        if (ngx_close_file(save->fd) == NGX_FILE_ERROR && rc == 0) {
            err = ngx_errno;
            save->fd = NGX_INVALID_FILE;
            (void) ngx_delete_file(save->name);
            ngx_http_mtasts_tlsrpt_failed(save, ngx_close_file_n, save->name,
                                          err);
            return;
        }

        save->fd = NGX_INVALID_FILE;

    } else {

        if (ngx_close_file(save->fd) == NGX_FILE_ERROR) {
            save->fd = NGX_INVALID_FILE;
            ngx_http_mtasts_tlsrpt_failed(save, ngx_close_file_n, save->tmp,
                                          ngx_errno);
            return;
        }

        save->fd = NGX_INVALID_FILE;

        rc = link((char *) save->tmp, (char *) save->name);
        err = ngx_errno;

        (void) ngx_delete_file(save->tmp);
        save->tmp = NULL;
    }

    if (rc == 0) {
        save->linked = 1;

    } else if (err == NGX_EEXIST) {
        save->duplicate = 1;

    } else {
        ngx_http_mtasts_tlsrpt_failed(save, call, save->name, err);
    }
}


/* a report not stored: what failed, and nothing of it left on the disk */

static void
ngx_http_mtasts_tlsrpt_failed(ngx_http_mtasts_tlsrpt_save_t *save,
    const char *call, u_char *what, ngx_err_t err)
{
    save->failed = call;
    save->what = what;
    save->err = err;

    if (save->fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(save->fd);
        save->fd = NGX_INVALID_FILE;
    }

    if (save->tmp) {
        (void) ngx_delete_file(save->tmp);
        save->tmp = NULL;
    }
}


#if (NGX_THREADS)

/* in the worker: the directory's group, made at its first report */

static ngx_http_mtasts_tlsrpt_dir_t *
ngx_http_mtasts_tlsrpt_group(ngx_str_t *name, ngx_log_t *log)
{
    ngx_http_mtasts_tlsrpt_dir_t  *g;

    for (g = ngx_http_mtasts_tlsrpt_dirs; g; g = g->next) {
        if (g->name.len == name->len
            && ngx_strncmp(g->name.data, name->data, name->len) == 0)
        {
            return g;
        }
    }

    /* not in a cycle's pool: with "master_process off", cycles come and go */

    g = ngx_calloc(sizeof(ngx_http_mtasts_tlsrpt_dir_t) + name->len, log);
    if (g == NULL) {
        return NULL;
    }

    if (pthread_mutex_init(&g->mutex, NULL) != 0) {
        ngx_free(g);
        return NULL;
    }

    if (pthread_cond_init(&g->cond, NULL) != 0) {
        (void) pthread_mutex_destroy(&g->mutex);
        ngx_free(g);
        return NULL;
    }

    g->name.data = (u_char *) &g[1];
    g->name.len = name->len;
    ngx_memcpy(g->name.data, name->data, name->len);

    g->next = ngx_http_mtasts_tlsrpt_dirs;
    ngx_http_mtasts_tlsrpt_dirs = g;

    return g;
}

#endif


#if (NGX_THREADS)

void
ngx_http_mtasts_tlsrpt_intake_exit(void)
{
    ngx_http_mtasts_tlsrpt_dir_t  *g;

    /* no task is left: a worker with one in the pool does not exit */

    while (ngx_http_mtasts_tlsrpt_dirs) {
        g = ngx_http_mtasts_tlsrpt_dirs;
        ngx_http_mtasts_tlsrpt_dirs = g->next;

        (void) pthread_cond_destroy(&g->cond);
        (void) pthread_mutex_destroy(&g->mutex);
        ngx_free(g);
    }
}


/*
 * The files to a thread of the "default" pool: NGX_BUSY until it is done,
 * or NGX_DONE with the answer set.
 */

static ngx_int_t
ngx_http_mtasts_tlsrpt_offload(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    ngx_thread_task_t            *task;
    ngx_http_request_t           *r;
    ngx_http_mtasts_main_conf_t  *mmcf;

    r = ctx->request;
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mtasts_module);

    task = ngx_thread_task_alloc(r->pool, 0);
    if (task == NULL) {
        (void) ngx_http_mtasts_tlsrpt_fail(ctx,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return NGX_DONE;
    }

    /* without a group, the thread fsync()s the directory on its own */

    ctx->save.group = ngx_http_mtasts_tlsrpt_group(ctx->save.dir,
                                                   r->connection->log);

    task->ctx = &ctx->save;
    task->handler = ngx_http_mtasts_tlsrpt_save;
    task->event.data = ctx;
    task->event.handler = ngx_http_mtasts_tlsrpt_back;

    if (ngx_thread_task_post(mmcf->tlsrpt_pool, task) != NGX_OK) {
        (void) ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "the report cannot be stored now");
        return NGX_DONE;
    }

    r->main->blocked++;
    r->aio = 1;

    /*
     * A timer that is not cancelable: a worker that exits (a reload) waits
     * for the task, and answers, instead of leaving it half done.
     */

    ctx->busy.data = ctx;
    ctx->busy.handler = ngx_http_mtasts_tlsrpt_busy;
    ctx->busy.log = r->connection->log;
    ngx_add_timer(&ctx->busy, 60000);

    return NGX_BUSY;
}


static void
ngx_http_mtasts_tlsrpt_busy(ngx_event_t *ev)
{
    ngx_add_timer(ev, 60000);
}


static void
ngx_http_mtasts_tlsrpt_back(ngx_event_t *ev)
{
    ngx_http_mtasts_tlsrpt_ctx_t *ctx = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;
    r->aio = 0;

    if (ctx->busy.timer_set) {
        ngx_del_timer(&ctx->busy);
    }

    ngx_http_mtasts_tlsrpt_saved(ctx);
    ngx_http_mtasts_tlsrpt_finish(ctx);
    ngx_http_run_posted_requests(c);
}

#endif


/* back in the worker: what the disk said, logged, counted, answered */

static void
ngx_http_mtasts_tlsrpt_saved(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    ngx_http_request_t            *r;
    ngx_http_mtasts_tlsrpt_save_t  *save;

    r = ctx->request;
    save = &ctx->save;

    if (save->failed) {
        ngx_set_errno(save->err);
        (void) ngx_http_mtasts_tlsrpt_io(ctx, save->failed, save->what);
        return;
    }

    if (save->duplicate) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "mta_sts: TLS-RPT report \"%s\" of \"%s\" is already "
                      "stored as \"%s\"", ctx->rep.report_id,
                      ctx->rep.organization, save->name);

        ctx->status = NGX_HTTP_OK;
        ctx->reason = "a duplicate: the report was already stored";
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "mta_sts: TLS-RPT report \"%s\" of \"%s\" stored as "
                  "\"%s\"", ctx->rep.report_id, ctx->rep.organization,
                  save->name);

    ngx_http_mtasts_tlsrpt_count(
        ngx_http_get_module_main_conf(r, ngx_http_mtasts_module),
        ctx->root, &ctx->rep, save->name + ctx->conf->tlsrpt->name.len + 1,
        r->connection->log);

    ctx->status = NGX_HTTP_CREATED;
    ctx->reason = "stored";
}


static ngx_int_t
ngx_http_mtasts_tlsrpt_fail(ngx_http_mtasts_tlsrpt_ctx_t *ctx,
    ngx_uint_t status, const char *reason)
{
    ctx->status = status;
    ctx->reason = reason;
    ctx->in = NULL;

    return NGX_ERROR;
}


/* the disk: full, read-only, not ours: 503, and nothing is kept */

static ngx_int_t
ngx_http_mtasts_tlsrpt_io(ngx_http_mtasts_tlsrpt_ctx_t *ctx,
    const char *what, u_char *name)
{
    ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, ngx_errno,
                  "mta_sts: TLS-RPT report not stored, %s \"%s\" failed",
                  what, name);

    return ngx_http_mtasts_tlsrpt_fail(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "the report cannot be stored now");
}


static ngx_int_t
ngx_http_mtasts_tlsrpt_answer(ngx_http_request_t *r, ngx_uint_t status,
    const char *text)
{
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    ngx_http_mtasts_tlsrpt_refused(
        ngx_http_get_module_main_conf(r, ngx_http_mtasts_module), status);

    if (text == NULL) {
        return status;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, text, len);
    *b->last++ = LF;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len + 1;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static int ngx_libc_cdecl
ngx_http_mtasts_tlsrpt_cmp(const void *one, const void *two)
{
    const ngx_str_t  *a = one;
    const ngx_str_t  *b = two;

    ngx_int_t  rc;

    rc = ngx_strncmp(a->data, b->data, ngx_min(a->len, b->len));

    if (rc) {
        return (int) rc;
    }

    return (a->len > b->len) - (a->len < b->len);
}


static void
ngx_http_mtasts_tlsrpt_finish(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_http_mtasts_tlsrpt_drop(ctx);
    ngx_http_finalize_request(r, ngx_http_mtasts_tlsrpt_answer(r,
                                                ctx->status, ctx->reason));
}


/* the temporary file goes before the answer: the report is in place */

static void
ngx_http_mtasts_tlsrpt_drop(ngx_http_mtasts_tlsrpt_ctx_t *ctx)
{
    if (ctx->save.fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(ctx->save.fd);
        ctx->save.fd = NGX_INVALID_FILE;
    }

    if (ctx->save.tmp) {
        (void) ngx_delete_file(ctx->save.tmp);
        ctx->save.tmp = NULL;
    }
}


static void
ngx_http_mtasts_tlsrpt_cleanup(void *data)
{
    ngx_http_mtasts_tlsrpt_ctx_t  *ctx = data;

    if (ctx->ev.posted) {
        ngx_delete_posted_event(&ctx->ev);
    }

#if (NGX_THREADS)
    if (ctx->busy.timer_set) {
        ngx_del_timer(&ctx->busy);
    }
#endif

    if (ctx->root) {
        json_object_put(ctx->root);
    }

    if (ctx->tok) {
        json_tokener_free(ctx->tok);
    }

    if (ctx->zinit) {
        (void) inflateEnd(&ctx->z);
    }

    ngx_http_mtasts_tlsrpt_drop(ctx);
}
