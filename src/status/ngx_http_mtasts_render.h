
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Rendering the status: a view of the results in one of five formats.
 * The render (ngx_http_mtasts_render.c) runs a format's sections; each
 * format has its file; the output helpers are ngx_http_mtasts_output.c.
 */


#ifndef _NGX_HTTP_MTASTS_RENDER_H_INCLUDED_
#define _NGX_HTTP_MTASTS_RENDER_H_INCLUDED_


#include "ngx_http_mtasts_check.h"
#include "ngx_http_mtasts_tlsrpt.h"
#include "ngx_http_mtasts_publish.h"


#define NGX_HTTP_MTASTS_TXT_MAX   255        /* bytes in a TXT string */
#define NGX_HTTP_MTASTS_FMT_LEN   256        /* numbers, times: no strings */
#define NGX_HTTP_MTASTS_NCOLS     (3 + NGX_HTTP_MTASTS_NCHECKS)
#define NGX_HTTP_MTASTS_DASH      "\xe2\x80\x94"   /* U+2014: no value */


/* the formats, as the sections of ngx_http_mtasts_render.c */

#define NGX_HTTP_MTASTS_JSON        0
#define NGX_HTTP_MTASTS_TEXT        1
#define NGX_HTTP_MTASTS_PROMETHEUS  2
#define NGX_HTTP_MTASTS_HTML        3
#define NGX_HTTP_MTASTS_ZONE        4


#define ngx_http_mtasts_puts(out, s)                                         \
    ngx_http_mtasts_put(out, (u_char *) s, sizeof(s) - 1)

#define ngx_http_mtasts_put_str(out, s)                                      \
    ngx_http_mtasts_put(out, (s)->data, (s)->len)


typedef struct {
    ngx_http_mtasts_item_t       *item;
    ngx_http_mtasts_check_t      *checks;      /* the result's, or pending */
    ngx_uint_t                    status;
    ngx_str_t                     sts;         /* the records to publish */
    ngx_str_t                     tlsrpt;      /* empty: no rua */
    ngx_http_mtasts_tlsrpt_sum_t  reports;     /* TLS-RPT, if received */
    ngx_uint_t                    reports_state;
    ngx_str_t                     reports_verdict;
    ngx_http_mtasts_pub_state_t   publish;     /* mta_sts_publish */
} ngx_http_mtasts_row_t;


typedef struct {
    ngx_http_mtasts_view_t       *view;
    ngx_http_mtasts_row_t        *rows;
    ngx_pool_t                   *pool;
    u_char                       *pos;         /* in the last buffer */
    u_char                       *end;
    ngx_buf_t                    *buf;         /* the last buffer */
    ngx_chain_t                  *chain;       /* the buffers before it */
    ngx_chain_t                  *last;        /* chain's last link */
    ngx_uint_t                    failed;      /* out of memory */
    ngx_uint_t                    any;         /* a line in this section */
    size_t                        width[NGX_HTTP_MTASTS_NCOLS];
    ngx_uint_t                    tlsrpt;      /* reports are summed up */
    uint64_t                      refused[NGX_HTTP_MTASTS_TLSRPT_NREFUSED];
    ngx_http_mtasts_pub_totals_t  publish;
    ngx_uint_t                    dane;        /* mta_sts_check_dane on */
} ngx_http_mtasts_out_t;


typedef void (*ngx_http_mtasts_head_pt)(ngx_http_mtasts_out_t *out);
typedef void (*ngx_http_mtasts_line_pt)(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
typedef void (*ngx_http_mtasts_put_pt)(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);


/* text, then head(), then line() for each domain; all may be empty */

typedef struct {
    ngx_str_t                     text;
    ngx_http_mtasts_head_pt       head;
    ngx_http_mtasts_line_pt       line;
} ngx_http_mtasts_section_t;


typedef struct ngx_http_mtasts_render_s  ngx_http_mtasts_render_t;


extern ngx_str_t  ngx_http_mtasts_states[];
extern ngx_str_t  ngx_http_mtasts_check_names[];

extern ngx_http_mtasts_section_t  ngx_http_mtasts_json_sections[];
extern ngx_http_mtasts_section_t  ngx_http_mtasts_text_sections[];
extern ngx_http_mtasts_section_t  ngx_http_mtasts_prometheus_sections[];
extern ngx_http_mtasts_section_t  ngx_http_mtasts_html_sections[];
extern ngx_http_mtasts_section_t  ngx_http_mtasts_zone_sections[];


/*
 * A render of a view in a format: each call renders a slice, and returns
 * NGX_AGAIN until the body is done, then NGX_OK with a chain, last_buf set
 */

ngx_http_mtasts_render_t *ngx_http_mtasts_render_create(
    ngx_http_request_t *r, ngx_http_mtasts_view_t *view, ngx_uint_t format);
ngx_int_t ngx_http_mtasts_render(ngx_http_mtasts_render_t *rd,
    ngx_chain_t **chain);

/* the output: ngx_http_mtasts_output.c */

ngx_uint_t ngx_http_mtasts_room(ngx_http_mtasts_out_t *out, size_t len);
ngx_int_t ngx_http_mtasts_flush(ngx_http_mtasts_out_t *out);
void ngx_http_mtasts_put(ngx_http_mtasts_out_t *out, u_char *data, size_t len);
void ngx_http_mtasts_pad(ngx_http_mtasts_out_t *out, size_t n);
void ngx_http_mtasts_printf(ngx_http_mtasts_out_t *out, const char *fmt, ...);
void ngx_http_mtasts_put_time(ngx_http_mtasts_out_t *out, time_t t);
time_t ngx_http_mtasts_days_left(ngx_http_mtasts_out_t *out, time_t t);
void ngx_http_mtasts_put_bool(ngx_http_mtasts_out_t *out, ngx_uint_t v);
u_char *ngx_http_mtasts_utf8_char(u_char *p, u_char *last);
void ngx_http_mtasts_put_text(ngx_http_mtasts_out_t *out, ngx_str_t *s);
void ngx_http_mtasts_put_record(ngx_http_mtasts_out_t *out, ngx_str_t *record,
    ngx_str_t *domain, ngx_http_mtasts_put_pt put);


#endif /* _NGX_HTTP_MTASTS_RENDER_H_INCLUDED_ */
