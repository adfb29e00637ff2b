
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A render of a view in a format.  Each format is a list of sections, each
 * a head and a line per domain.  A render runs the sections once over the
 * view, into a chain of buffers; a call renders a slice of
 * NGX_HTTP_MTASTS_SLICE lines, so that a status answer of thousands of
 * domains takes many turns of the event loop and other requests are
 * served meanwhile.  The results are copied from the shared zone the same
 * way, a slice at a time, before the sections are.
 */


#include "ngx_http_mtasts_render.h"


#define NGX_HTTP_MTASTS_SLICE     256        /* lines rendered per call */


#define NGX_HTTP_MTASTS_PREPARE   0
#define NGX_HTTP_MTASTS_FILL      1


struct ngx_http_mtasts_render_s {
    ngx_http_request_t           *request;
    ngx_http_mtasts_section_t    *sections;
    ngx_http_mtasts_out_t         out;
    ngx_uint_t                    phase;
    ngx_uint_t                    section;     /* where the pass is */
    ngx_uint_t                    row;
    ngx_uint_t                    copied;      /* results up to here */
    ngx_uint_t                    started;     /* the section's head is out */
};


static ngx_int_t ngx_http_mtasts_pass(ngx_http_mtasts_render_t *rd,
    ngx_uint_t *budget);
static ngx_int_t ngx_http_mtasts_sts_record(ngx_pool_t *pool,
    ngx_http_mtasts_item_t *item, ngx_str_t *out);
static ngx_int_t ngx_http_mtasts_tlsrpt_record(ngx_pool_t *pool,
    ngx_http_mtasts_item_t *item, ngx_str_t *out);


/* as many as NGX_HTTP_MTASTS_NCHECKS */

static ngx_http_mtasts_check_t  ngx_http_mtasts_unchecked[] = {
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") }
};


/* as NGX_HTTP_MTASTS_JSON and the others */

static ngx_http_mtasts_section_t  *ngx_http_mtasts_formats[] = {
    ngx_http_mtasts_json_sections,
    ngx_http_mtasts_text_sections,
    ngx_http_mtasts_prometheus_sections,
    ngx_http_mtasts_html_sections,
    ngx_http_mtasts_zone_sections
};


ngx_http_mtasts_render_t *
ngx_http_mtasts_render_create(ngx_http_request_t *r,
    ngx_http_mtasts_view_t *view, ngx_uint_t format)
{
    ngx_http_mtasts_render_t  *rd;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_http_mtasts_render_t));
    if (rd == NULL) {
        return NULL;
    }

    rd->out.rows = ngx_palloc(r->pool,
                              view->nitems * sizeof(ngx_http_mtasts_row_t));
    if (rd->out.rows == NULL) {
        return NULL;
    }

    rd->request = r;
    rd->sections = ngx_http_mtasts_formats[format];
    rd->out.view = view;
    rd->out.pool = r->pool;
    rd->out.dane = ((ngx_http_mtasts_main_conf_t *)
                    ngx_http_get_module_main_conf(r, ngx_http_mtasts_module))
                   ->dane;
    rd->phase = NGX_HTTP_MTASTS_PREPARE;

    return rd;
}


static ngx_int_t
ngx_http_mtasts_sts_record(ngx_pool_t *pool, ngx_http_mtasts_item_t *item,
    ngx_str_t *out)
{
    u_char  *p;

    p = ngx_pnalloc(pool, sizeof("_mta-sts.. IN TXT \"\"") - 1
                          + item->domain.len + item->conf->sts_txt.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    out->len = ngx_sprintf(p, "_mta-sts.%V. IN TXT \"%V\"",
                           &item->domain, &item->conf->sts_txt)
               - p;

    return NGX_OK;
}


/*
 * A TXT string holds at most 255 bytes: a longer record is written as
 * several strings, which a reader concatenates.
 */

static ngx_int_t
ngx_http_mtasts_tlsrpt_record(ngx_pool_t *pool, ngx_http_mtasts_item_t *item,
    ngx_str_t *out)
{
    size_t      len, nstr, n;
    u_char     *p, *s, *last;
    ngx_str_t  *v;

    v = &item->conf->tlsrpt_txt;

    if (v->len == 0) {
        out->len = 0;
        out->data = NULL;
        return NGX_OK;
    }

    /* each string quoted, a space between two strings */

    nstr = (v->len + NGX_HTTP_MTASTS_TXT_MAX - 1) / NGX_HTTP_MTASTS_TXT_MAX;

    len = sizeof("_smtp._tls.. IN TXT ") - 1 + item->domain.len
          + v->len + nstr * 3 - 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    p = ngx_sprintf(p, "_smtp._tls.%V. IN TXT ", &item->domain);

    last = v->data + v->len;

    for (s = v->data; s < last; s += n) {
        n = ngx_min((size_t) (last - s), NGX_HTTP_MTASTS_TXT_MAX);

        if (s != v->data) {
            *p++ = ' ';
        }

        *p++ = '"';
        p = ngx_cpymem(p, s, n);
        *p++ = '"';
    }

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * One slice of a render: NGX_AGAIN while there is more, NGX_OK with the
 * chain (last_buf set) once the body is done.
 */

ngx_int_t
ngx_http_mtasts_render(ngx_http_mtasts_render_t *rd, ngx_chain_t **chain)
{
    ngx_uint_t                    budget, to;
    ngx_http_request_t           *r;
    ngx_http_mtasts_row_t        *row;
    ngx_http_mtasts_out_t        *out;
    ngx_http_mtasts_item_t       *item;
    ngx_http_mtasts_main_conf_t  *mmcf;

    r = rd->request;
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mtasts_module);
    out = &rd->out;
    budget = NGX_HTTP_MTASTS_SLICE;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mta-sts status slice: phase %ui, section %ui, row %ui",
                   rd->phase, rd->section, rd->row);

    if (rd->phase == NGX_HTTP_MTASTS_PREPARE) {

        if (rd->row == 0) {
            out->tlsrpt = ngx_http_mtasts_tlsrpt_totals(mmcf, out->refused);
            ngx_http_mtasts_publish_totals(mmcf, &out->publish);
        }

        for ( /* void */ ; rd->row < out->view->nitems; rd->row++) {

            if (budget-- == 0) {
                return NGX_AGAIN;
            }

            /* the results of the rows of this slice, this one included */

            if (rd->row == rd->copied) {
                to = ngx_min(rd->row + budget + 1, out->view->nitems);

                if (ngx_http_mtasts_snapshot_results(r->pool, mmcf,
                                                     out->view, rd->row, to)
                    != NGX_OK)
                {
                    return NGX_ERROR;
                }

                rd->copied = to;
            }

            item = &out->view->items[rd->row];
            row = &out->rows[rd->row];

            row->item = item;

            if (item->result) {
                row->checks = item->result->checks;
                row->status = item->result->status;

            } else {
                row->checks = ngx_http_mtasts_unchecked;
                row->status = NGX_HTTP_MTASTS_PENDING;
            }

            if (ngx_http_mtasts_sts_record(r->pool, item, &row->sts)
                != NGX_OK
                || ngx_http_mtasts_tlsrpt_record(r->pool, item, &row->tlsrpt)
                   != NGX_OK
                || ngx_http_mtasts_tlsrpt_summary(r->pool, mmcf,
                                                  &item->domain,
                                                  out->view->now,
                                                  &row->reports)
                   != NGX_OK
                || ngx_http_mtasts_publish_state(r->pool, mmcf, item->conf,
                                                 &item->domain,
                                                 &row->publish)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            if (row->reports.enabled) {
                row->reports_state = ngx_http_mtasts_tlsrpt_verdict(r->pool,
                                           &row->reports, item->conf->mode,
                                           &item->domain,
                                           &row->reports_verdict);
            }
        }

        rd->row = 0;
        rd->phase = NGX_HTTP_MTASTS_FILL;
    }

    if (ngx_http_mtasts_pass(rd, &budget) == NGX_AGAIN) {
        return out->failed ? NGX_ERROR : NGX_AGAIN;
    }

    /* the last buffer; an empty one when nothing was written */

    if (out->buf == NULL && out->chain == NULL) {
        out->buf = ngx_calloc_buf(r->pool);
        if (out->buf == NULL) {
            return NGX_ERROR;
        }
    }

    if (out->failed || ngx_http_mtasts_flush(out) != NGX_OK) {
        return NGX_ERROR;
    }

    out->last->buf->last_buf = (r == r->main) ? 1 : 0;
    out->last->buf->last_in_chain = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mta-sts status: %ui domains", out->view->nitems);

    *chain = out->chain;

    return NGX_OK;
}


/* the sections, from where the last slice stopped, within the budget */

static ngx_int_t
ngx_http_mtasts_pass(ngx_http_mtasts_render_t *rd, ngx_uint_t *budget)
{
    ngx_http_mtasts_out_t      *out;
    ngx_http_mtasts_section_t  *sec;

    out = &rd->out;

    for (sec = &rd->sections[rd->section];
         sec->text.len || sec->head || sec->line;
         sec = &rd->sections[++rd->section])
    {
        if (!rd->started) {
            ngx_http_mtasts_put_str(out, &sec->text);

            out->any = 0;

            if (sec->head) {
                sec->head(out);
            }

            rd->started = 1;
        }

        for ( /* void */ ;
             sec->line && rd->row < out->view->nitems;
             rd->row++)
        {
            if (*budget == 0) {
                return NGX_AGAIN;
            }

            (*budget)--;

            sec->line(out, &out->rows[rd->row]);
        }

        rd->row = 0;
        rd->started = 0;
    }

    rd->section = 0;

    return NGX_OK;
}
