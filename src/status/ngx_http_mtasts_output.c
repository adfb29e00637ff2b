
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Writing a render's output: a chain of buffers, each filled before the
 * next is made; numbers, times and text.
 */


#include "ngx_http_mtasts_render.h"


#define NGX_HTTP_MTASTS_BUF_SIZE  65536


ngx_str_t  ngx_http_mtasts_states[] = {
    ngx_string("ok"),
    ngx_string("skipped"),
    ngx_string("pending"),
    ngx_string("warning"),
    ngx_string("error"),
    ngx_null_string
};


ngx_str_t  ngx_http_mtasts_check_names[] = {
    ngx_string("sts_record"),
    ngx_string("tlsrpt_record"),
    ngx_string("mx"),
    ngx_string("policy_host"),
    ngx_string("certificate"),
    ngx_string("starttls"),
    ngx_string("dane"),
    ngx_null_string
};


/*
 * Whether "len" bytes can be written at out->pos: when the last buffer
 * has not that much room left, it joins the chain and a new one is made,
 * of at least "len" bytes.  0 once memory ran out.
 */

ngx_uint_t
ngx_http_mtasts_room(ngx_http_mtasts_out_t *out, size_t len)
{
    ngx_buf_t  *b;

    if (out->pos && (size_t) (out->end - out->pos) >= len) {
        return 1;
    }

    if (out->failed || ngx_http_mtasts_flush(out) != NGX_OK) {
        return 0;
    }

    b = ngx_create_temp_buf(out->pool,
                            ngx_max(len, NGX_HTTP_MTASTS_BUF_SIZE));
    if (b == NULL) {
        out->failed = 1;
        return 0;
    }

    out->buf = b;
    out->pos = b->pos;
    out->end = b->end;

    return 1;
}


/* the last buffer, what it holds, joins the chain */

ngx_int_t
ngx_http_mtasts_flush(ngx_http_mtasts_out_t *out)
{
    ngx_chain_t  *cl;

    if (out->buf == NULL) {
        return NGX_OK;
    }

    out->buf->last = out->pos;

    cl = ngx_alloc_chain_link(out->pool);
    if (cl == NULL) {
        out->failed = 1;
        return NGX_ERROR;
    }

    cl->buf = out->buf;
    cl->next = NULL;

    if (out->last) {
        out->last->next = cl;

    } else {
        out->chain = cl;
    }

    out->last = cl;

    out->buf = NULL;
    out->pos = NULL;
    out->end = NULL;

    return NGX_OK;
}


void
ngx_http_mtasts_put(ngx_http_mtasts_out_t *out, u_char *data, size_t len)
{
    if (len && ngx_http_mtasts_room(out, len)) {
        out->pos = ngx_cpymem(out->pos, data, len);
    }
}


void
ngx_http_mtasts_pad(ngx_http_mtasts_out_t *out, size_t n)
{
    if (ngx_http_mtasts_room(out, n)) {
        ngx_memset(out->pos, ' ', n);
        out->pos += n;
    }
}


/* numbers and times only: the result must fit NGX_HTTP_MTASTS_FMT_LEN */

void
ngx_http_mtasts_printf(ngx_http_mtasts_out_t *out, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    buf[NGX_HTTP_MTASTS_FMT_LEN];

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);

    ngx_http_mtasts_put(out, buf, p - buf);
}


void
ngx_http_mtasts_put_time(ngx_http_mtasts_out_t *out, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    ngx_http_mtasts_printf(out, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                           tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                           tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* whole days from now to t, rounded down: negative once t has passed */

time_t
ngx_http_mtasts_days_left(ngx_http_mtasts_out_t *out, time_t t)
{
    time_t  left;

    left = t - out->view->now;

    return left / 86400 - (left % 86400 < 0);
}


void
ngx_http_mtasts_put_bool(ngx_http_mtasts_out_t *out, ngx_uint_t v)
{
    if (v) {
        ngx_http_mtasts_puts(out, "true");

    } else {
        ngx_http_mtasts_puts(out, "false");
    }
}


/* the end of the one valid UTF-8 character at p, or NULL */

u_char *
ngx_http_mtasts_utf8_char(u_char *p, u_char *last)
{
    u_char    *q, *c;
    uint32_t   u;

    q = p;
    u = ngx_utf8_decode(&q, last - p);

    if (u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff)) {
        return NULL;
    }

    for (c = p + 1; c < q; c++) {
        if ((*c & 0xc0) != 0x80) {
            return NULL;
        }
    }

    return q;
}


/* plain ASCII for a terminal: no control characters, no escapes */

void
ngx_http_mtasts_put_text(ngx_http_mtasts_out_t *out, ngx_str_t *s)
{
    u_char  *p, *last;

    if (!ngx_http_mtasts_room(out, s->len)) {
        return;
    }

    /* NULL + 0 is undefined: an empty string may have no data */

    last = s->len ? s->data + s->len : s->data;

    for (p = s->data; p < last; p++) {
        *out->pos++ = (*p < 0x20 || *p > 0x7e) ? '?' : *p;
    }
}


/* the TLS-RPT record line, or why there is none */

void
ngx_http_mtasts_put_record(ngx_http_mtasts_out_t *out, ngx_str_t *record,
    ngx_str_t *domain, ngx_http_mtasts_put_pt put)
{
    if (record->len) {
        put(out, record);
        ngx_http_mtasts_puts(out, "\n");
        return;
    }

    ngx_http_mtasts_puts(out, "; _smtp._tls.");
    put(out, domain);
    ngx_http_mtasts_puts(out, ": no mta_sts_tlsrpt_rua configured\n");
}
