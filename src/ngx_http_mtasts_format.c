
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The formats of the status location: JSON, text, Prometheus, HTML and
 * zone file.  Each format is a list of sections, each a head and a line
 * per domain.  A render runs the sections twice over the same view: once
 * to measure the body, once to fill one buffer of exactly that size; a
 * call renders a slice of NGX_HTTP_MTASTS_SLICE lines, so that a status
 * answer of thousands of domains takes many turns of the event loop and
 * other requests are served meanwhile.
 */


#include "ngx_http_mtasts_status.h"


#define NGX_HTTP_MTASTS_TXT_MAX   255        /* bytes in a TXT string */
#define NGX_HTTP_MTASTS_FMT_LEN   256        /* numbers, times: no strings */
#define NGX_HTTP_MTASTS_NCOLS     (3 + NGX_HTTP_MTASTS_NCHECKS)
#define NGX_HTTP_MTASTS_DASH      "\xe2\x80\x94"   /* U+2014: no value */
#define NGX_HTTP_MTASTS_SLICE     256        /* lines rendered per call */


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
} ngx_http_mtasts_row_t;


typedef struct {
    ngx_http_mtasts_view_t       *view;
    ngx_http_mtasts_row_t        *rows;
    u_char                       *pos;         /* NULL: measuring */
    u_char                       *end;
    size_t                        size;
    ngx_uint_t                    overflow;
    ngx_uint_t                    any;         /* a line in this section */
    size_t                        width[NGX_HTTP_MTASTS_NCOLS];
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


struct ngx_http_mtasts_render_s {
    ngx_http_request_t           *request;
    ngx_http_mtasts_section_t    *sections;
    ngx_http_mtasts_out_t         out;
    ngx_buf_t                    *buf;
    ngx_uint_t                    phase;
    ngx_uint_t                    section;     /* where the pass is */
    ngx_uint_t                    row;
    ngx_uint_t                    started;     /* the section's head is out */
};


#define NGX_HTTP_MTASTS_PREPARE   0
#define NGX_HTTP_MTASTS_MEASURE   1
#define NGX_HTTP_MTASTS_FILL      2


static ngx_int_t ngx_http_mtasts_pass(ngx_http_mtasts_render_t *rd,
    ngx_uint_t *budget);

static void ngx_http_mtasts_json_head(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_json_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_json_domain(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_json_tls(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_tls_t *tls);
static ngx_uint_t ngx_http_mtasts_testing_ready(
    ngx_http_mtasts_item_t *item);
static void ngx_http_mtasts_text_widths(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_text_width(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_text_titles(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_text_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_text_problems(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_text_publish(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_text_cols(ngx_http_mtasts_row_t *row,
    ngx_str_t *cols);
static void ngx_http_mtasts_text_row(ngx_http_mtasts_out_t *out,
    ngx_str_t *cols, size_t *width);
static void ngx_http_mtasts_text_details(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_domains(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_checks(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_domain(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_ready(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_policy(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_max_age(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_checked(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_cert(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_tls_ok(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_tls_cert(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_requests(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_state(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row, ngx_str_t *check, ngx_uint_t state);
static void ngx_http_mtasts_prometheus_tls(ngx_http_mtasts_out_t *out,
    ngx_str_t *metric, ngx_http_mtasts_item_t *item,
    ngx_http_mtasts_tls_t *tls);
static void ngx_http_mtasts_html_head(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_html_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_section(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_found(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_starttls(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_or_none(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);
static void ngx_http_mtasts_html_expires(ngx_http_mtasts_out_t *out,
    time_t expires);
static void ngx_http_mtasts_zone_head(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_zone_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);

static ngx_uint_t ngx_http_mtasts_room(ngx_http_mtasts_out_t *out,
    size_t len);
static void ngx_http_mtasts_put(ngx_http_mtasts_out_t *out, u_char *data,
    size_t len);
static void ngx_http_mtasts_pad(ngx_http_mtasts_out_t *out, size_t n);
static void ngx_http_mtasts_printf(ngx_http_mtasts_out_t *out,
    const char *fmt, ...);
static void ngx_http_mtasts_put_time(ngx_http_mtasts_out_t *out, time_t t);
static time_t ngx_http_mtasts_days_left(ngx_http_mtasts_out_t *out,
    time_t t);
static void ngx_http_mtasts_put_bool(ngx_http_mtasts_out_t *out,
    ngx_uint_t v);
static void ngx_http_mtasts_put_json(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);
static void ngx_http_mtasts_put_json_or_null(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);
static void ngx_http_mtasts_put_text(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);
static void ngx_http_mtasts_put_label(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);
static void ngx_http_mtasts_put_html(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);
static u_char *ngx_http_mtasts_utf8_char(u_char *p, u_char *last);
static void ngx_http_mtasts_put_record(ngx_http_mtasts_out_t *out,
    ngx_str_t *record, ngx_str_t *domain, ngx_http_mtasts_put_pt put);


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
    ngx_null_string
};


/* as many as NGX_HTTP_MTASTS_NCHECKS */

static ngx_http_mtasts_check_t  ngx_http_mtasts_unchecked[] = {
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") },
    { NGX_HTTP_MTASTS_PENDING, ngx_string("not checked yet") }
};


static ngx_str_t  ngx_http_mtasts_text_head[NGX_HTTP_MTASTS_NCOLS] = {
    ngx_string("DOMAIN"),
    ngx_string("STATUS"),
    ngx_string("MODE"),
    ngx_string("STS_RECORD"),
    ngx_string("TLSRPT_RECORD"),
    ngx_string("MX"),
    ngx_string("POLICY_HOST"),
    ngx_string("CERTIFICATE"),
    ngx_string("STARTTLS")
};


static ngx_str_t  ngx_http_mtasts_html_checks[NGX_HTTP_MTASTS_NCHECKS] = {
    ngx_string("STS record"),
    ngx_string("TLS-RPT record"),
    ngx_string("MX"),
    ngx_string("Policy host"),
    ngx_string("Certificate"),
    ngx_string("STARTTLS")
};


static ngx_str_t  ngx_http_mtasts_methods[] = {
    ngx_string("GET"),
    ngx_string("HEAD"),
    ngx_string("other")
};


static ngx_http_mtasts_section_t  ngx_http_mtasts_json_sections[] = {
    { ngx_null_string, ngx_http_mtasts_json_head, ngx_http_mtasts_json_line },
    { ngx_string("}}\n"), NULL, NULL },
    { ngx_null_string, NULL, NULL }
};


static ngx_http_mtasts_section_t  ngx_http_mtasts_text_sections[] = {

    /* the widths of the columns first */

    { ngx_null_string, ngx_http_mtasts_text_widths,
      ngx_http_mtasts_text_width },

    { ngx_null_string, ngx_http_mtasts_text_titles,
      ngx_http_mtasts_text_line },

    /* what is wrong, and what is being done */

    { ngx_null_string, NULL, ngx_http_mtasts_text_problems },

    /* the records to publish where DNS does not have them right */

    { ngx_null_string, NULL, ngx_http_mtasts_text_publish },

    { ngx_null_string, NULL, NULL }
};


static ngx_http_mtasts_section_t  ngx_http_mtasts_prometheus_sections[] = {

    { ngx_null_string, ngx_http_mtasts_prometheus_domains,
      ngx_http_mtasts_prometheus_checks },

    { ngx_string("# HELP mta_sts_domain_state State of a domain: its worst "
                 "check, 1 for the current state.\n"
                 "# TYPE mta_sts_domain_state gauge\n"),
      NULL, ngx_http_mtasts_prometheus_domain },

    { ngx_string("# HELP mta_sts_enforce_ready Whether a domain passes "
                 "every check that \"mta_sts_mode enforce\" needs.\n"
                 "# TYPE mta_sts_enforce_ready gauge\n"),
      NULL, ngx_http_mtasts_prometheus_ready },

    { ngx_string("# HELP mta_sts_policy_info The policy served for a "
                 "domain.\n"
                 "# TYPE mta_sts_policy_info gauge\n"),
      NULL, ngx_http_mtasts_prometheus_policy },

    { ngx_string("# HELP mta_sts_policy_max_age_seconds The max_age of the "
                 "policy served for a domain.\n"
                 "# TYPE mta_sts_policy_max_age_seconds gauge\n"),
      NULL, ngx_http_mtasts_prometheus_max_age },

    { ngx_string("# HELP mta_sts_last_check_timestamp_seconds When the last "
                 "check of a domain ended.\n"
                 "# TYPE mta_sts_last_check_timestamp_seconds gauge\n"),
      NULL, ngx_http_mtasts_prometheus_checked },

    { ngx_string("# HELP mta_sts_certificate_expiry_timestamp_seconds When "
                 "the certificate served for mta-sts.<domain> expires.\n"
                 "# TYPE mta_sts_certificate_expiry_timestamp_seconds "
                 "gauge\n"),
      NULL, ngx_http_mtasts_prometheus_cert },

    /* one sample per STARTTLS probe, address="" for a host without one */

    { ngx_string("# HELP mta_sts_mx_tls_ok Whether an MX host accepted "
                 "STARTTLS at an address with a trusted certificate valid "
                 "for its name.\n"
                 "# TYPE mta_sts_mx_tls_ok gauge\n"),
      NULL, ngx_http_mtasts_prometheus_tls_ok },

    { ngx_string("# HELP mta_sts_mx_certificate_expiry_timestamp_seconds "
                 "When the certificate that an MX host presented at an "
                 "address expires.\n"
                 "# TYPE mta_sts_mx_certificate_expiry_timestamp_seconds "
                 "gauge\n"),
      NULL, ngx_http_mtasts_prometheus_tls_cert },

    { ngx_string("# HELP mta_sts_policy_requests_total Policy requests for "
                 "a domain answered by this server since it started.\n"
                 "# TYPE mta_sts_policy_requests_total counter\n"),
      NULL, ngx_http_mtasts_prometheus_requests },

    { ngx_null_string, NULL, NULL }
};


static ngx_http_mtasts_section_t  ngx_http_mtasts_html_sections[] = {
    { ngx_null_string, ngx_http_mtasts_html_head, ngx_http_mtasts_html_line },
    { ngx_string("</tbody>\n</table>\n"), NULL,
      ngx_http_mtasts_html_section },
    { ngx_string("</body>\n</html>\n"), NULL, NULL },
    { ngx_null_string, NULL, NULL }
};


static ngx_http_mtasts_section_t  ngx_http_mtasts_zone_sections[] = {
    { ngx_null_string, ngx_http_mtasts_zone_head, ngx_http_mtasts_zone_line },
    { ngx_null_string, NULL, NULL }
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
    rd->phase = NGX_HTTP_MTASTS_PREPARE;

    return rd;
}


ngx_int_t
ngx_http_mtasts_sts_record(ngx_pool_t *pool, ngx_http_mtasts_item_t *item,
    ngx_str_t *out)
{
    size_t                       len;
    u_char                      *p;
    ngx_http_mtasts_srv_conf_t  *conf;

    conf = item->conf;

    len = sizeof("_mta-sts.. IN TXT \"v=STSv1; id=\"") - 1
          + item->domain.len + conf->policy_id.len;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    out->len = ngx_sprintf(p, "_mta-sts.%V. IN TXT \"v=STSv1; id=%V\"",
                           &item->domain, &conf->policy_id)
               - p;

    return NGX_OK;
}


/*
 * A TXT string holds at most 255 bytes: a longer record is written as
 * several strings, which a reader concatenates.
 */

ngx_int_t
ngx_http_mtasts_tlsrpt_record(ngx_pool_t *pool, ngx_http_mtasts_item_t *item,
    ngx_str_t *out)
{
    size_t                       len, vlen, nstr, n;
    u_char                      *p, *v, *s, *last;
    ngx_str_t                   *uri;
    ngx_uint_t                   i;
    ngx_http_mtasts_srv_conf_t  *conf;

    conf = item->conf;

    if (conf->rua == NULL || conf->rua->nelts == 0) {
        out->len = 0;
        out->data = NULL;
        return NGX_OK;
    }

    uri = conf->rua->elts;

    vlen = sizeof("v=TLSRPTv1; rua=") - 1 + conf->rua->nelts - 1;

    for (i = 0; i < conf->rua->nelts; i++) {
        vlen += uri[i].len;
    }

    /* each string quoted, a space between two strings */

    nstr = (vlen + NGX_HTTP_MTASTS_TXT_MAX - 1) / NGX_HTTP_MTASTS_TXT_MAX;

    len = sizeof("_smtp._tls.. IN TXT ") - 1 + item->domain.len
          + vlen + nstr * 3 - 1;

    /* the value first, then the record made of it */

    v = ngx_pnalloc(pool, vlen + len);
    if (v == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(v, "v=TLSRPTv1; rua=", sizeof("v=TLSRPTv1; rua=") - 1);

    for (i = 0; i < conf->rua->nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, uri[i].data, uri[i].len);
    }

    last = p;
    out->data = p;

    p = ngx_sprintf(p, "_smtp._tls.%V. IN TXT ", &item->domain);

    for (s = v; s < last; s += n) {
        n = ngx_min((size_t) (last - s), NGX_HTTP_MTASTS_TXT_MAX);

        if (s != v) {
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
    ngx_uint_t               budget;
    ngx_chain_t             *cl;
    ngx_http_request_t      *r;
    ngx_http_mtasts_row_t   *row;
    ngx_http_mtasts_out_t   *out;
    ngx_http_mtasts_item_t  *item;

    r = rd->request;
    out = &rd->out;
    budget = NGX_HTTP_MTASTS_SLICE;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mta-sts status slice: phase %ui, section %ui, row %ui",
                   rd->phase, rd->section, rd->row);

    if (rd->phase == NGX_HTTP_MTASTS_PREPARE) {

        for ( /* void */ ; rd->row < out->view->nitems; rd->row++) {

            if (budget-- == 0) {
                return NGX_AGAIN;
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
                   != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        rd->row = 0;
        rd->phase = NGX_HTTP_MTASTS_MEASURE;
    }

    if (rd->phase == NGX_HTTP_MTASTS_MEASURE) {

        if (ngx_http_mtasts_pass(rd, &budget) == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        rd->buf = ngx_create_temp_buf(r->pool, out->size);
        if (rd->buf == NULL) {
            return NGX_ERROR;
        }

        out->pos = rd->buf->pos;
        out->end = rd->buf->end;
        rd->phase = NGX_HTTP_MTASTS_FILL;
    }

    if (ngx_http_mtasts_pass(rd, &budget) == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (out->overflow) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "mta-sts status changed while rendered");
        return NGX_ERROR;
    }

    rd->buf->last = out->pos;
    rd->buf->last_buf = (r == r->main) ? 1 : 0;
    rd->buf->last_in_chain = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mta-sts status: %ui domains, %uz bytes",
                   out->view->nitems, out->size);

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = rd->buf;
    cl->next = NULL;

    *chain = cl;

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


static void
ngx_http_mtasts_json_head(ngx_http_mtasts_out_t *out)
{
    ngx_http_mtasts_puts(out, "{\"generated\":\"");
    ngx_http_mtasts_put_time(out, out->view->now);
    ngx_http_mtasts_puts(out, "\",\"domains\":{");
}


static void
ngx_http_mtasts_json_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    if (row != out->rows) {
        ngx_http_mtasts_puts(out, ",");
    }

    ngx_http_mtasts_json_domain(out, row);
}


static void
ngx_http_mtasts_json_domain(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t                   *mx, *state;
    ngx_uint_t                   i;
    ngx_http_mtasts_item_t      *item;
    ngx_http_mtasts_result_t    *res;
    ngx_http_mtasts_srv_conf_t  *conf;

    item = row->item;
    conf = item->conf;
    res = item->result;

    ngx_http_mtasts_put_json(out, &item->domain);

    ngx_http_mtasts_puts(out, ":{\"status\":");
    ngx_http_mtasts_put_json(out, &ngx_http_mtasts_states[row->status]);

    ngx_http_mtasts_puts(out, ",\"checked\":");

    if (res) {
        ngx_http_mtasts_puts(out, "\"");
        ngx_http_mtasts_put_time(out, res->checked);
        ngx_http_mtasts_puts(out, "\"");

    } else {
        ngx_http_mtasts_puts(out, "null");
    }

    ngx_http_mtasts_puts(out, ",\"checking\":");
    ngx_http_mtasts_put_bool(out, item->in_flight);

    ngx_http_mtasts_puts(out, ",\"enforce_ready\":");
    ngx_http_mtasts_put_bool(out, res && res->enforce_ready);

    ngx_http_mtasts_puts(out, ",\"summary\":");
    ngx_http_mtasts_put_json_or_null(out, res ? &res->summary : NULL);

    /* the policy served */

    ngx_http_mtasts_puts(out, ",\"policy\":{\"mode\":");
    ngx_http_mtasts_put_json(out, &ngx_http_mtasts_modes[conf->mode]);
    ngx_http_mtasts_puts(out, ",\"mx\":[");

    if (conf->mx) {
        mx = conf->mx->elts;

        for (i = 0; i < conf->mx->nelts; i++) {
            if (i) {
                ngx_http_mtasts_puts(out, ",");
            }

            ngx_http_mtasts_put_json(out, &mx[i]);
        }
    }

    ngx_http_mtasts_printf(out, "],\"max_age\":%T,\"id\":", conf->max_age);
    ngx_http_mtasts_put_json(out, &conf->policy_id);

    /* what to publish, and what DNS publishes */

    ngx_http_mtasts_puts(out, "},\"records\":{\"mta_sts\":");
    ngx_http_mtasts_put_json(out, &row->sts);
    ngx_http_mtasts_puts(out, ",\"tlsrpt\":");
    ngx_http_mtasts_put_json_or_null(out, &row->tlsrpt);

    ngx_http_mtasts_puts(out, "},\"published\":{\"sts_id\":");
    ngx_http_mtasts_put_json_or_null(out, res ? &res->sts_id : NULL);
    ngx_http_mtasts_puts(out, ",\"tlsrpt\":");
    ngx_http_mtasts_put_json_or_null(out, res ? &res->tlsrpt : NULL);

    ngx_http_mtasts_puts(out, "},\"mx_hosts\":[");

    for (i = 0; res && i < res->nmx; i++) {
        if (i) {
            ngx_http_mtasts_puts(out, ",");
        }

        ngx_http_mtasts_puts(out, "{\"name\":");
        ngx_http_mtasts_put_json(out, &res->mx[i].name);
        ngx_http_mtasts_printf(out, ",\"preference\":%ui,\"matched\":",
                               res->mx[i].pref);
        ngx_http_mtasts_put_bool(out, res->mx[i].matched);
        ngx_http_mtasts_puts(out, "}");
    }

    ngx_http_mtasts_puts(out, "],\"policy_host_addresses\":[");

    for (i = 0; res && i < res->naddresses; i++) {
        if (i) {
            ngx_http_mtasts_puts(out, ",");
        }

        ngx_http_mtasts_put_json(out, &res->addresses[i]);
    }

    ngx_http_mtasts_puts(out, "],\"certificate\":");

    if (res && res->cert_expires) {
        ngx_http_mtasts_puts(out, "{\"expires\":\"");
        ngx_http_mtasts_put_time(out, res->cert_expires);
        ngx_http_mtasts_printf(out, "\",\"days_left\":%T}",
                               ngx_http_mtasts_days_left(out,
                                                         res->cert_expires));

    } else {
        ngx_http_mtasts_puts(out, "null");
    }

    ngx_http_mtasts_puts(out, ",\"starttls\":[");

    for (i = 0; res && i < res->ntls; i++) {
        if (i) {
            ngx_http_mtasts_puts(out, ",");
        }

        ngx_http_mtasts_json_tls(out, &res->tls[i]);
    }

    ngx_http_mtasts_puts(out, "]");

    ngx_http_mtasts_printf(out,
                           ",\"requests\":{\"GET\":%uA,\"HEAD\":%uA,"
                           "\"other\":%uA}",
                           item->requests[NGX_HTTP_MTASTS_REQ_GET],
                           item->requests[NGX_HTTP_MTASTS_REQ_HEAD],
                           item->requests[NGX_HTTP_MTASTS_REQ_OTHER]);

    ngx_http_mtasts_puts(out, ",\"checks\":{");

    for (i = 0; i < NGX_HTTP_MTASTS_NCHECKS; i++) {
        if (i) {
            ngx_http_mtasts_puts(out, ",");
        }

        state = &ngx_http_mtasts_states[row->checks[i].state];

        ngx_http_mtasts_put_json(out, &ngx_http_mtasts_check_names[i]);
        ngx_http_mtasts_puts(out, ":{\"status\":");
        ngx_http_mtasts_put_json(out, state);
        ngx_http_mtasts_puts(out, ",\"message\":");
        ngx_http_mtasts_put_json(out, &row->checks[i].message);
        ngx_http_mtasts_puts(out, "}");
    }

    ngx_http_mtasts_puts(out, "}}");
}


/* one STARTTLS probe: the strings come from the MX host, untrusted */

static void
ngx_http_mtasts_json_tls(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_tls_t *tls)
{
    ngx_http_mtasts_puts(out, "{\"host\":");
    ngx_http_mtasts_put_json(out, &tls->host);
    ngx_http_mtasts_puts(out, ",\"address\":");
    ngx_http_mtasts_put_json_or_null(out, &tls->address);
    ngx_http_mtasts_puts(out, ",\"ok\":");
    ngx_http_mtasts_put_bool(out, tls->ok);
    ngx_http_mtasts_puts(out, ",\"reason\":");
    ngx_http_mtasts_put_json_or_null(out, &tls->reason);
    ngx_http_mtasts_puts(out, ",\"tls_version\":");
    ngx_http_mtasts_put_json_or_null(out, &tls->version);
    ngx_http_mtasts_puts(out, ",\"cipher\":");
    ngx_http_mtasts_put_json_or_null(out, &tls->cipher);
    ngx_http_mtasts_puts(out, ",\"subject\":");
    ngx_http_mtasts_put_json_or_null(out, &tls->subject);
    ngx_http_mtasts_puts(out, ",\"issuer\":");
    ngx_http_mtasts_put_json_or_null(out, &tls->issuer);
    ngx_http_mtasts_puts(out, ",\"expires\":");

    if (tls->expires) {
        ngx_http_mtasts_puts(out, "\"");
        ngx_http_mtasts_put_time(out, tls->expires);
        ngx_http_mtasts_printf(out, "\",\"days_left\":%T}",
                               ngx_http_mtasts_days_left(out, tls->expires));

    } else {
        ngx_http_mtasts_puts(out, "null,\"days_left\":null}");
    }
}


/* a domain in testing mode that could switch to enforce: worth a line */

static ngx_uint_t
ngx_http_mtasts_testing_ready(ngx_http_mtasts_item_t *item)
{
    return item->conf->mode == NGX_HTTP_MTASTS_TESTING
           && item->result && item->result->enforce_ready;
}


static void
ngx_http_mtasts_text_widths(ngx_http_mtasts_out_t *out)
{
    ngx_uint_t  k;

    for (k = 0; k < NGX_HTTP_MTASTS_NCOLS; k++) {
        out->width[k] = ngx_http_mtasts_text_head[k].len;
    }
}


static void
ngx_http_mtasts_text_width(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t   cols[NGX_HTTP_MTASTS_NCOLS];
    ngx_uint_t  k;

    ngx_http_mtasts_text_cols(row, cols);

    for (k = 0; k < NGX_HTTP_MTASTS_NCOLS; k++) {
        out->width[k] = ngx_max(out->width[k], cols[k].len);
    }
}


static void
ngx_http_mtasts_text_titles(ngx_http_mtasts_out_t *out)
{
    ngx_http_mtasts_text_row(out, ngx_http_mtasts_text_head, out->width);
}


static void
ngx_http_mtasts_text_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t  cols[NGX_HTTP_MTASTS_NCOLS];

    ngx_http_mtasts_text_cols(row, cols);
    ngx_http_mtasts_text_row(out, cols, out->width);
}


static void
ngx_http_mtasts_text_problems(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    if (row->status == NGX_HTTP_MTASTS_OK && !row->item->in_flight
        && !ngx_http_mtasts_testing_ready(row->item))
    {
        return;
    }

    if (!out->any) {
        ngx_http_mtasts_puts(out, "\n");
        out->any = 1;
    }

    ngx_http_mtasts_text_details(out, row);
}


static void
ngx_http_mtasts_text_publish(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    if (row->checks[NGX_HTTP_MTASTS_STS_RECORD].state == NGX_HTTP_MTASTS_OK
        && row->checks[NGX_HTTP_MTASTS_TLSRPT].state == NGX_HTTP_MTASTS_OK)
    {
        return;
    }

    if (!out->any) {
        ngx_http_mtasts_puts(out, "\nrecords to publish:\n");
        out->any = 1;
    }

    if (row->checks[NGX_HTTP_MTASTS_STS_RECORD].state != NGX_HTTP_MTASTS_OK) {
        ngx_http_mtasts_put_text(out, &row->sts);
        ngx_http_mtasts_puts(out, "\n");
    }

    if (row->checks[NGX_HTTP_MTASTS_TLSRPT].state != NGX_HTTP_MTASTS_OK) {
        ngx_http_mtasts_put_record(out, &row->tlsrpt, &row->item->domain,
                                   ngx_http_mtasts_put_text);
    }
}


/*
 * A domain's lines: its summary, the STARTTLS probes that failed, a check
 * in flight, the checks that are not ok.
 */

static void
ngx_http_mtasts_text_details(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t                 *state;
    ngx_uint_t                 c, i;
    ngx_http_mtasts_tls_t     *tls;
    ngx_http_mtasts_item_t    *item;
    ngx_http_mtasts_result_t  *res;

    item = row->item;
    res = item->result;

    if (res && res->summary.len
        && (row->status != NGX_HTTP_MTASTS_OK
            || ngx_http_mtasts_testing_ready(item)))
    {
        ngx_http_mtasts_put_text(out, &item->domain);
        ngx_http_mtasts_puts(out, ": ");
        ngx_http_mtasts_put_text(out, &res->summary);
        ngx_http_mtasts_puts(out, "\n");
    }

    for (i = 0; res && i < res->ntls; i++) {
        tls = &res->tls[i];

        if (tls->ok) {
            continue;
        }

        ngx_http_mtasts_put_text(out, &item->domain);
        ngx_http_mtasts_puts(out, " starttls ");
        ngx_http_mtasts_put_text(out, &tls->host);

        if (tls->address.len) {
            ngx_http_mtasts_puts(out, " [");
            ngx_http_mtasts_put_text(out, &tls->address);
            ngx_http_mtasts_puts(out, "]");
        }

        ngx_http_mtasts_puts(out, ": failed");

        if (tls->reason.len) {
            ngx_http_mtasts_puts(out, ": ");
            ngx_http_mtasts_put_text(out, &tls->reason);
        }

        ngx_http_mtasts_puts(out, "\n");
    }

    if (item->in_flight) {
        ngx_http_mtasts_put_text(out, &item->domain);
        ngx_http_mtasts_puts(out, ": a check is running\n");
    }

    for (c = 0; c < NGX_HTTP_MTASTS_NCHECKS; c++) {
        if (row->checks[c].state == NGX_HTTP_MTASTS_OK) {
            continue;
        }

        state = &ngx_http_mtasts_states[row->checks[c].state];

        ngx_http_mtasts_put_text(out, &item->domain);
        ngx_http_mtasts_puts(out, " ");
        ngx_http_mtasts_put_str(out, &ngx_http_mtasts_check_names[c]);
        ngx_http_mtasts_puts(out, ": ");
        ngx_http_mtasts_put_str(out, state);
        ngx_http_mtasts_puts(out, ": ");
        ngx_http_mtasts_put_text(out, &row->checks[c].message);
        ngx_http_mtasts_puts(out, "\n");
    }
}


static void
ngx_http_mtasts_text_cols(ngx_http_mtasts_row_t *row, ngx_str_t *cols)
{
    ngx_uint_t  c;

    cols[0] = row->item->domain;
    cols[1] = ngx_http_mtasts_states[row->status];
    cols[2] = ngx_http_mtasts_modes[row->item->conf->mode];

    for (c = 0; c < NGX_HTTP_MTASTS_NCHECKS; c++) {
        cols[3 + c] = ngx_http_mtasts_states[row->checks[c].state];
    }
}


static void
ngx_http_mtasts_text_row(ngx_http_mtasts_out_t *out, ngx_str_t *cols,
    size_t *width)
{
    ngx_uint_t  k;

    for (k = 0; k < NGX_HTTP_MTASTS_NCOLS; k++) {
        ngx_http_mtasts_put_text(out, &cols[k]);

        if (k + 1 < NGX_HTTP_MTASTS_NCOLS) {
            ngx_http_mtasts_pad(out, width[k] - cols[k].len + 2);
        }
    }

    ngx_http_mtasts_puts(out, "\n");
}


static void
ngx_http_mtasts_prometheus_domains(ngx_http_mtasts_out_t *out)
{
    ngx_http_mtasts_puts(out,
        "# HELP mta_sts_domains Domains whose MTA-STS policy is served "
        "here.\n"
        "# TYPE mta_sts_domains gauge\n");

    ngx_http_mtasts_printf(out, "mta_sts_domains %ui\n", out->view->nitems);

    ngx_http_mtasts_puts(out,
        "# HELP mta_sts_check_state State of a self-check of a domain, "
        "1 for the current state.\n"
        "# TYPE mta_sts_check_state gauge\n");
}


static void
ngx_http_mtasts_prometheus_checks(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_uint_t  c;

    for (c = 0; c < NGX_HTTP_MTASTS_NCHECKS; c++) {
        ngx_http_mtasts_prometheus_state(out, row,
                                         &ngx_http_mtasts_check_names[c],
                                         row->checks[c].state);
    }
}


static void
ngx_http_mtasts_prometheus_domain(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_http_mtasts_prometheus_state(out, row, NULL, row->status);
}


static void
ngx_http_mtasts_prometheus_ready(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_http_mtasts_item_t  *item;

    item = row->item;

    ngx_http_mtasts_puts(out, "mta_sts_enforce_ready{domain=\"");
    ngx_http_mtasts_put_label(out, &item->domain);
    ngx_http_mtasts_printf(out, "\"} %d\n",
                           item->result && item->result->enforce_ready);
}


static void
ngx_http_mtasts_prometheus_policy(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_http_mtasts_item_t      *item;
    ngx_http_mtasts_srv_conf_t  *conf;

    item = row->item;
    conf = item->conf;

    ngx_http_mtasts_puts(out, "mta_sts_policy_info{domain=\"");
    ngx_http_mtasts_put_label(out, &item->domain);
    ngx_http_mtasts_puts(out, "\",mode=\"");
    ngx_http_mtasts_put_label(out, &ngx_http_mtasts_modes[conf->mode]);
    ngx_http_mtasts_puts(out, "\",id=\"");
    ngx_http_mtasts_put_label(out, &conf->policy_id);
    ngx_http_mtasts_puts(out, "\"} 1\n");
}


static void
ngx_http_mtasts_prometheus_max_age(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_http_mtasts_puts(out, "mta_sts_policy_max_age_seconds{domain=\"");
    ngx_http_mtasts_put_label(out, &row->item->domain);
    ngx_http_mtasts_printf(out, "\"} %T\n", row->item->conf->max_age);
}


static void
ngx_http_mtasts_prometheus_checked(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_http_mtasts_item_t  *item;

    item = row->item;

    if (item->result == NULL) {
        return;
    }

    ngx_http_mtasts_puts(out,
                         "mta_sts_last_check_timestamp_seconds{domain=\"");
    ngx_http_mtasts_put_label(out, &item->domain);
    ngx_http_mtasts_printf(out, "\"} %T\n", item->result->checked);
}


static void
ngx_http_mtasts_prometheus_cert(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_http_mtasts_item_t  *item;

    item = row->item;

    if (item->result == NULL || item->result->cert_expires == 0) {
        return;
    }

    ngx_http_mtasts_puts(out,
                         "mta_sts_certificate_expiry_timestamp_seconds"
                         "{domain=\"");
    ngx_http_mtasts_put_label(out, &item->domain);
    ngx_http_mtasts_printf(out, "\"} %T\n", item->result->cert_expires);
}


static void
ngx_http_mtasts_prometheus_tls_ok(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t                metric;
    ngx_uint_t               t;
    ngx_http_mtasts_tls_t   *tls;
    ngx_http_mtasts_item_t  *item;

    ngx_str_set(&metric, "mta_sts_mx_tls_ok");

    item = row->item;

    for (t = 0; item->result && t < item->result->ntls; t++) {
        tls = &item->result->tls[t];

        ngx_http_mtasts_prometheus_tls(out, &metric, item, tls);
        ngx_http_mtasts_printf(out, "\"} %d\n", tls->ok ? 1 : 0);
    }
}


static void
ngx_http_mtasts_prometheus_tls_cert(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t                metric;
    ngx_uint_t               t;
    ngx_http_mtasts_tls_t   *tls;
    ngx_http_mtasts_item_t  *item;

    ngx_str_set(&metric, "mta_sts_mx_certificate_expiry_timestamp_seconds");

    item = row->item;

    for (t = 0; item->result && t < item->result->ntls; t++) {
        tls = &item->result->tls[t];

        if (tls->expires == 0) {
            continue;
        }

        ngx_http_mtasts_prometheus_tls(out, &metric, item, tls);
        ngx_http_mtasts_printf(out, "\"} %T\n", tls->expires);
    }
}


static void
ngx_http_mtasts_prometheus_requests(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_uint_t  m;

    for (m = 0; m < NGX_HTTP_MTASTS_NREQ; m++) {
        ngx_http_mtasts_puts(out, "mta_sts_policy_requests_total{domain=\"");
        ngx_http_mtasts_put_label(out, &row->item->domain);
        ngx_http_mtasts_puts(out, "\",method=\"");
        ngx_http_mtasts_put_str(out, &ngx_http_mtasts_methods[m]);
        ngx_http_mtasts_printf(out, "\"} %uA\n", row->item->requests[m]);
    }
}


/* a state set: one sample per state, 1 for the current one */

static void
ngx_http_mtasts_prometheus_state(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row, ngx_str_t *check, ngx_uint_t state)
{
    ngx_uint_t  s;

    for (s = 0; ngx_http_mtasts_states[s].len; s++) {

        if (check) {
            ngx_http_mtasts_puts(out, "mta_sts_check_state{domain=\"");
            ngx_http_mtasts_put_label(out, &row->item->domain);
            ngx_http_mtasts_puts(out, "\",check=\"");
            ngx_http_mtasts_put_str(out, check);

        } else {
            ngx_http_mtasts_puts(out, "mta_sts_domain_state{domain=\"");
            ngx_http_mtasts_put_label(out, &row->item->domain);
        }

        ngx_http_mtasts_puts(out, "\",state=\"");
        ngx_http_mtasts_put_str(out, &ngx_http_mtasts_states[s]);
        ngx_http_mtasts_printf(out, "\"} %d\n", s == state);
    }
}


/* a probe's sample, up to the closing quote of its last label */

static void
ngx_http_mtasts_prometheus_tls(ngx_http_mtasts_out_t *out,
    ngx_str_t *metric, ngx_http_mtasts_item_t *item,
    ngx_http_mtasts_tls_t *tls)
{
    ngx_http_mtasts_put_str(out, metric);
    ngx_http_mtasts_puts(out, "{domain=\"");
    ngx_http_mtasts_put_label(out, &item->domain);
    ngx_http_mtasts_puts(out, "\",mx=\"");
    ngx_http_mtasts_put_label(out, &tls->host);
    ngx_http_mtasts_puts(out, "\",address=\"");
    ngx_http_mtasts_put_label(out, &tls->address);
}


static void
ngx_http_mtasts_html_head(ngx_http_mtasts_out_t *out)
{
    ngx_uint_t  c;

    ngx_http_mtasts_puts(out,
        "<!DOCTYPE html>\n"
        "<html lang=\"en\">\n"
        "<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width\">\n"
        "<title>MTA-STS status</title>\n"
        "<style>\n"
        "body{font-family:sans-serif;margin:1em 2em;color:#222}\n"
        "table{border-collapse:collapse}\n"
        "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}\n"
        "th{background:#eee}\n"
        "section{border-top:1px solid #bbb;margin-top:1.5em}\n"
        "dt{font-weight:bold;margin-top:.4em}\n"
        "dd{margin-left:1.5em}\n"
        "pre{background:#f4f4f4;padding:.5em;overflow-x:auto}\n"
        "span.s{padding:0 .4em;border-radius:.2em}\n"
        ".ok{background:#b9e4b9}\n"
        ".warning{background:#ffd88a}\n"
        ".error{background:#f5a9a9}\n"
        ".pending,.skipped{background:#ddd}\n"
        "p.summary{font-size:1.15em;font-weight:bold;padding:.3em .6em;"
        "border-left:.3em solid #888;background:#f4f4f4}\n"
        "</style>\n"
        "</head>\n"
        "<body>\n"
        "<h1>MTA-STS status</h1>\n"
        "<p>Generated <time>");

    ngx_http_mtasts_put_time(out, out->view->now);

    ngx_http_mtasts_printf(out, "</time>, %ui domains.</p>\n",
                           out->view->nitems);

    ngx_http_mtasts_puts(out,
        "<table>\n"
        "<thead><tr><th>Domain</th><th>Status</th><th>Mode</th>");

    for (c = 0; c < NGX_HTTP_MTASTS_NCHECKS; c++) {
        ngx_http_mtasts_puts(out, "<th>");
        ngx_http_mtasts_put_str(out, &ngx_http_mtasts_html_checks[c]);
        ngx_http_mtasts_puts(out, "</th>");
    }

    ngx_http_mtasts_puts(out, "</tr></thead>\n<tbody>\n");
}


static void
ngx_http_mtasts_html_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t               *state;
    ngx_uint_t               c;
    ngx_http_mtasts_item_t  *item;

    item = row->item;
    state = &ngx_http_mtasts_states[row->status];

    ngx_http_mtasts_puts(out, "<tr><td><a href=\"#");
    ngx_http_mtasts_put_html(out, &item->domain);
    ngx_http_mtasts_puts(out, "\">");
    ngx_http_mtasts_put_html(out, &item->domain);
    ngx_http_mtasts_puts(out, "</a></td><td class=\"");
    ngx_http_mtasts_put_str(out, state);

    if (item->result && item->result->summary.len) {
        ngx_http_mtasts_puts(out, "\" title=\"");
        ngx_http_mtasts_put_html(out, &item->result->summary);
    }

    ngx_http_mtasts_puts(out, "\">");
    ngx_http_mtasts_put_str(out, state);

    if (item->in_flight) {
        ngx_http_mtasts_puts(out, " (checking)");
    }

    ngx_http_mtasts_puts(out, "</td><td>");
    ngx_http_mtasts_put_str(out, &ngx_http_mtasts_modes[item->conf->mode]);
    ngx_http_mtasts_puts(out, "</td>");

    for (c = 0; c < NGX_HTTP_MTASTS_NCHECKS; c++) {
        state = &ngx_http_mtasts_states[row->checks[c].state];

        ngx_http_mtasts_puts(out, "<td class=\"");
        ngx_http_mtasts_put_str(out, state);
        ngx_http_mtasts_puts(out, "\" title=\"");
        ngx_http_mtasts_put_html(out, &row->checks[c].message);
        ngx_http_mtasts_puts(out, "\">");
        ngx_http_mtasts_put_str(out, state);
        ngx_http_mtasts_puts(out, "</td>");
    }

    ngx_http_mtasts_puts(out, "</tr>\n");
}


static void
ngx_http_mtasts_html_section(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t                   *state, *mx;
    ngx_uint_t                   c, i;
    ngx_http_mtasts_item_t      *item;
    ngx_http_mtasts_srv_conf_t  *conf;

    item = row->item;
    conf = item->conf;
    state = &ngx_http_mtasts_states[row->status];

    ngx_http_mtasts_puts(out, "<section id=\"");
    ngx_http_mtasts_put_html(out, &item->domain);
    ngx_http_mtasts_puts(out, "\">\n<h2>");
    ngx_http_mtasts_put_html(out, &item->domain);
    ngx_http_mtasts_puts(out, "</h2>\n");

    if (item->result && item->result->summary.len) {
        ngx_http_mtasts_puts(out, "<p class=\"summary\">");
        ngx_http_mtasts_put_html(out, &item->result->summary);
        ngx_http_mtasts_puts(out, "</p>\n");
    }

    ngx_http_mtasts_puts(out, "<p>Status <span class=\"s ");
    ngx_http_mtasts_put_str(out, state);
    ngx_http_mtasts_puts(out, "\">");
    ngx_http_mtasts_put_str(out, state);
    ngx_http_mtasts_puts(out, "</span>, ");

    if (item->result) {
        ngx_http_mtasts_puts(out, "checked <time>");
        ngx_http_mtasts_put_time(out, item->result->checked);
        ngx_http_mtasts_puts(out, "</time>");

    } else {
        ngx_http_mtasts_puts(out, "not checked yet");
    }

    if (item->in_flight) {
        ngx_http_mtasts_puts(out, ", a check is running");
    }

    if (item->result && item->result->enforce_ready) {
        ngx_http_mtasts_puts(out, ", ready for mode enforce");
    }

    ngx_http_mtasts_puts(out, ".</p>\n<h3>Checks</h3>\n<dl>\n");

    for (c = 0; c < NGX_HTTP_MTASTS_NCHECKS; c++) {
        state = &ngx_http_mtasts_states[row->checks[c].state];

        ngx_http_mtasts_puts(out, "<dt>");
        ngx_http_mtasts_put_str(out, &ngx_http_mtasts_html_checks[c]);
        ngx_http_mtasts_puts(out, "</dt><dd><span class=\"s ");
        ngx_http_mtasts_put_str(out, state);
        ngx_http_mtasts_puts(out, "\">");
        ngx_http_mtasts_put_str(out, state);
        ngx_http_mtasts_puts(out, "</span> ");
        ngx_http_mtasts_put_html(out, &row->checks[c].message);
        ngx_http_mtasts_puts(out, "</dd>\n");
    }

    ngx_http_mtasts_puts(out,
        "</dl>\n"
        "<h3>Policy</h3>\n"
        "<dl>\n"
        "<dt>mode</dt><dd>");
    ngx_http_mtasts_put_str(out, &ngx_http_mtasts_modes[conf->mode]);
    ngx_http_mtasts_puts(out, "</dd>\n<dt>mx</dt>");

    if (conf->mx && conf->mx->nelts) {
        mx = conf->mx->elts;

        for (i = 0; i < conf->mx->nelts; i++) {
            ngx_http_mtasts_puts(out, "<dd>");
            ngx_http_mtasts_put_html(out, &mx[i]);
            ngx_http_mtasts_puts(out, "</dd>");
        }

    } else {
        ngx_http_mtasts_puts(out, "<dd>none</dd>");
    }

    ngx_http_mtasts_printf(out, "\n<dt>max_age</dt><dd>%T</dd>\n"
                           "<dt>id</dt><dd>", conf->max_age);
    ngx_http_mtasts_put_html(out, &conf->policy_id);
    ngx_http_mtasts_puts(out, "</dd>\n</dl>\n");

    ngx_http_mtasts_html_found(out, row);
    ngx_http_mtasts_html_starttls(out, row);

    ngx_http_mtasts_puts(out, "<h3>Records to publish</h3>\n<pre>");
    ngx_http_mtasts_put_html(out, &row->sts);
    ngx_http_mtasts_puts(out, "\n");
    ngx_http_mtasts_put_record(out, &row->tlsrpt, &item->domain,
                               ngx_http_mtasts_put_html);
    ngx_http_mtasts_puts(out, "</pre>\n</section>\n");
}


/* what the last check found in DNS and on this server */

static void
ngx_http_mtasts_html_found(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_uint_t                 i;
    ngx_http_mtasts_result_t  *res;

    res = row->item->result;

    if (res == NULL) {
        return;
    }

    ngx_http_mtasts_puts(out,
        "<h3>Found</h3>\n"
        "<dl>\n"
        "<dt>published policy id</dt><dd>");

    if (res->sts_id.len) {
        ngx_http_mtasts_put_html(out, &res->sts_id);

    } else {
        ngx_http_mtasts_puts(out, "none");
    }

    ngx_http_mtasts_puts(out, "</dd>\n<dt>published TLS-RPT</dt><dd>");

    if (res->tlsrpt.len) {
        ngx_http_mtasts_put_html(out, &res->tlsrpt);

    } else {
        ngx_http_mtasts_puts(out, "none");
    }

    ngx_http_mtasts_puts(out, "</dd>\n<dt>MX hosts</dt>");

    for (i = 0; i < res->nmx; i++) {
        ngx_http_mtasts_printf(out, "<dd>%ui ", res->mx[i].pref);
        ngx_http_mtasts_put_html(out, &res->mx[i].name);

        if (!res->mx[i].matched) {
            ngx_http_mtasts_puts(out, " (matches no mx pattern)");
        }

        ngx_http_mtasts_puts(out, "</dd>");
    }

    if (res->nmx == 0) {
        ngx_http_mtasts_puts(out, "<dd>none</dd>");
    }

    ngx_http_mtasts_puts(out, "\n<dt>addresses of mta-sts.");
    ngx_http_mtasts_put_html(out, &row->item->domain);
    ngx_http_mtasts_puts(out, "</dt>");

    for (i = 0; i < res->naddresses; i++) {
        ngx_http_mtasts_puts(out, "<dd>");
        ngx_http_mtasts_put_html(out, &res->addresses[i]);
        ngx_http_mtasts_puts(out, "</dd>");
    }

    if (res->naddresses == 0) {
        ngx_http_mtasts_puts(out, "<dd>none</dd>");
    }

    ngx_http_mtasts_puts(out, "\n<dt>certificate expires</dt><dd>");

    if (res->cert_expires) {
        ngx_http_mtasts_html_expires(out, res->cert_expires);

    } else {
        ngx_http_mtasts_puts(out, "not known");
    }

    ngx_http_mtasts_puts(out, "</dd>\n</dl>\n");
}


/*
 * The STARTTLS probes of the last check, one row per MX host address.
 * Everything but the host and the address comes from the MX host.
 */

static void
ngx_http_mtasts_html_starttls(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t                 *failed;
    ngx_uint_t                 i, state;
    ngx_http_mtasts_tls_t     *tls;
    ngx_http_mtasts_result_t  *res;

    res = row->item->result;

    if (res == NULL) {
        return;
    }

    ngx_http_mtasts_puts(out, "<h3>STARTTLS</h3>\n");

    if (res->ntls == 0) {
        ngx_http_mtasts_puts(out, "<p>No MX host address was probed "
                             "(see the STARTTLS check).</p>\n");
        return;
    }

    /* a failed probe has the color of the check: error or warning */

    state = row->checks[NGX_HTTP_MTASTS_STARTTLS].state;

    if (state != NGX_HTTP_MTASTS_WARNING) {
        state = NGX_HTTP_MTASTS_ERROR;
    }

    failed = &ngx_http_mtasts_states[state];

    ngx_http_mtasts_puts(out,
        "<table>\n"
        "<thead><tr><th>MX host</th><th>Address</th><th>Result</th>"
        "<th>TLS version</th><th>Cipher</th><th>Certificate subject</th>"
        "<th>Issuer</th><th>Expires</th></tr></thead>\n"
        "<tbody>\n");

    for (i = 0; i < res->ntls; i++) {
        tls = &res->tls[i];

        ngx_http_mtasts_puts(out, "<tr><td>");
        ngx_http_mtasts_put_html(out, &tls->host);
        ngx_http_mtasts_puts(out, "</td><td>");
        ngx_http_mtasts_html_or_none(out, &tls->address);

        if (tls->ok) {
            ngx_http_mtasts_puts(out, "</td><td class=\"ok\">ok");

        } else {
            ngx_http_mtasts_puts(out, "</td><td class=\"");
            ngx_http_mtasts_put_str(out, failed);
            ngx_http_mtasts_puts(out, "\">failed");

            if (tls->reason.len) {
                ngx_http_mtasts_puts(out, ": ");
                ngx_http_mtasts_put_html(out, &tls->reason);
            }
        }

        ngx_http_mtasts_puts(out, "</td><td>");
        ngx_http_mtasts_html_or_none(out, &tls->version);
        ngx_http_mtasts_puts(out, "</td><td>");
        ngx_http_mtasts_html_or_none(out, &tls->cipher);
        ngx_http_mtasts_puts(out, "</td><td>");
        ngx_http_mtasts_html_or_none(out, &tls->subject);
        ngx_http_mtasts_puts(out, "</td><td>");
        ngx_http_mtasts_html_or_none(out, &tls->issuer);
        ngx_http_mtasts_puts(out, "</td><td>");

        if (tls->expires) {
            ngx_http_mtasts_html_expires(out, tls->expires);

        } else {
            ngx_http_mtasts_puts(out, NGX_HTTP_MTASTS_DASH);
        }

        ngx_http_mtasts_puts(out, "</td></tr>\n");
    }

    ngx_http_mtasts_puts(out, "</tbody>\n</table>\n");
}


/* a table cell's text, or a dash for nothing */

static void
ngx_http_mtasts_html_or_none(ngx_http_mtasts_out_t *out, ngx_str_t *s)
{
    if (s->len == 0) {
        ngx_http_mtasts_puts(out, NGX_HTTP_MTASTS_DASH);
        return;
    }

    ngx_http_mtasts_put_html(out, s);
}


/* a certificate's notAfter, and the days left */

static void
ngx_http_mtasts_html_expires(ngx_http_mtasts_out_t *out, time_t expires)
{
    time_t  left;

    left = expires - out->view->now;

    ngx_http_mtasts_puts(out, "<time>");
    ngx_http_mtasts_put_time(out, expires);
    ngx_http_mtasts_puts(out, "</time>");

    if (left > 0) {
        ngx_http_mtasts_printf(out, ", %T days left", left / 86400);

    } else {
        ngx_http_mtasts_puts(out, ", expired");
    }
}


static void
ngx_http_mtasts_zone_head(ngx_http_mtasts_out_t *out)
{
    ngx_http_mtasts_puts(out, "; MTA-STS records generated ");
    ngx_http_mtasts_put_time(out, out->view->now);
    ngx_http_mtasts_puts(out, "\n");
}


static void
ngx_http_mtasts_zone_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_http_mtasts_item_t   *item;
    ngx_http_mtasts_check_t  *check;

    item = row->item;

    ngx_http_mtasts_puts(out, "\n; ");
    ngx_http_mtasts_put_text(out, &item->domain);
    ngx_http_mtasts_puts(out, ": mode ");
    ngx_http_mtasts_put_str(out, &ngx_http_mtasts_modes[item->conf->mode]);
    ngx_http_mtasts_puts(out, ", status ");
    ngx_http_mtasts_put_str(out, &ngx_http_mtasts_states[row->status]);
    ngx_http_mtasts_puts(out, "\n");

    ngx_http_mtasts_put_text(out, &row->sts);
    ngx_http_mtasts_puts(out, "\n");
    ngx_http_mtasts_put_record(out, &row->tlsrpt, &item->domain,
                               ngx_http_mtasts_put_text);

    /* what is wrong with the address of the policy host, if anything */

    check = &row->checks[NGX_HTTP_MTASTS_POLICY_HOST];

    if (check->state == NGX_HTTP_MTASTS_WARNING
        || check->state == NGX_HTTP_MTASTS_ERROR)
    {
        ngx_http_mtasts_puts(out, "; ");
        ngx_http_mtasts_put_text(out, &check->message);
        ngx_http_mtasts_puts(out, "\n");
    }
}


/*
 * Whether "len" bytes are to be written now: not while measuring, and
 * never past the buffer, should the view have changed since.
 */

static ngx_uint_t
ngx_http_mtasts_room(ngx_http_mtasts_out_t *out, size_t len)
{
    if (out->pos == NULL) {
        out->size += len;
        return 0;
    }

    if ((size_t) (out->end - out->pos) < len) {
        out->overflow = 1;
        return 0;
    }

    return 1;
}


static void
ngx_http_mtasts_put(ngx_http_mtasts_out_t *out, u_char *data, size_t len)
{
    if (len && ngx_http_mtasts_room(out, len)) {
        out->pos = ngx_cpymem(out->pos, data, len);
    }
}


static void
ngx_http_mtasts_pad(ngx_http_mtasts_out_t *out, size_t n)
{
    if (ngx_http_mtasts_room(out, n)) {
        ngx_memset(out->pos, ' ', n);
        out->pos += n;
    }
}


/* numbers and times only: the result must fit NGX_HTTP_MTASTS_FMT_LEN */

static void
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


static void
ngx_http_mtasts_put_time(ngx_http_mtasts_out_t *out, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    ngx_http_mtasts_printf(out, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                           tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                           tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* whole days from now to t, rounded down: negative once t has passed */

static time_t
ngx_http_mtasts_days_left(ngx_http_mtasts_out_t *out, time_t t)
{
    time_t  left;

    left = t - out->view->now;

    return left / 86400 - (left % 86400 < 0);
}


static void
ngx_http_mtasts_put_bool(ngx_http_mtasts_out_t *out, ngx_uint_t v)
{
    if (v) {
        ngx_http_mtasts_puts(out, "true");

    } else {
        ngx_http_mtasts_puts(out, "false");
    }
}


/*
 * A JSON string.  Bytes that are not UTF-8 (DNS may publish anything)
 * become U+FFFD, so that the document stays valid.  One pass: runs of
 * printable ASCII, most of any string, are copied as they are.
 */

static void
ngx_http_mtasts_put_json(ngx_http_mtasts_out_t *out, ngx_str_t *s)
{
    u_char  *p, *q, *start, *last;

    ngx_http_mtasts_puts(out, "\"");

    p = s->data;
    /* NULL + 0 is undefined: an empty string may have no data */

    last = s->len ? s->data + s->len : s->data;

    while (p < last) {
        start = p;

        while (p < last && *p >= 0x20 && *p < 0x7f && *p != '"'
               && *p != '\\')
        {
            p++;
        }

        ngx_http_mtasts_put(out, start, p - start);

        if (p == last) {
            break;
        }

        if (*p < 0x80) {

            /* a quote, a backslash, a control character or DEL */

            if (ngx_http_mtasts_room(out, 1 + ngx_escape_json(NULL, p, 1))) {
                out->pos = (u_char *) ngx_escape_json(out->pos, p, 1);
            }

            p++;
            continue;
        }

        q = ngx_http_mtasts_utf8_char(p, last);

        if (q == NULL) {
            ngx_http_mtasts_puts(out, "\\ufffd");
            p++;
            continue;
        }

        ngx_http_mtasts_put(out, p, q - p);
        p = q;
    }

    ngx_http_mtasts_puts(out, "\"");
}


static void
ngx_http_mtasts_put_json_or_null(ngx_http_mtasts_out_t *out, ngx_str_t *s)
{
    if (s == NULL || s->len == 0) {
        ngx_http_mtasts_puts(out, "null");
        return;
    }

    ngx_http_mtasts_put_json(out, s);
}


/* the end of the one valid UTF-8 character at p, or NULL */

static u_char *
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

static void
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


/* a Prometheus label value: backslash, double quote and newline escaped */

static void
ngx_http_mtasts_put_label(ngx_http_mtasts_out_t *out, ngx_str_t *s)
{
    u_char  *p, *last;

    /* NULL + 0 is undefined: an empty string may have no data */

    last = s->len ? s->data + s->len : s->data;

    for (p = s->data; p < last; p++) {

        switch (*p) {

        case '\\':
            ngx_http_mtasts_puts(out, "\\\\");
            break;

        case '"':
            ngx_http_mtasts_puts(out, "\\\"");
            break;

        case '\n':
            ngx_http_mtasts_puts(out, "\\n");
            break;

        default:
            ngx_http_mtasts_put(out, p, 1);
        }
    }
}


/* HTML text; what is not UTF-8, or is a control character, is U+FFFD */

static void
ngx_http_mtasts_put_html(ngx_http_mtasts_out_t *out, ngx_str_t *s)
{
    u_char  *p, *q, *start, *last;

    p = s->data;
    /* NULL + 0 is undefined: an empty string may have no data */

    last = s->len ? s->data + s->len : s->data;

    while (p < last) {
        start = p;

        while (p < last && *p >= 0x20 && *p < 0x7f && *p != '"'
               && *p != '<' && *p != '>' && *p != '&')
        {
            p++;
        }

        ngx_http_mtasts_put(out, start, p - start);

        if (p == last) {
            break;
        }

        if (*p == '\t' || *p == '\n' || *p == '\r') {
            ngx_http_mtasts_put(out, p++, 1);
            continue;
        }

        if (*p >= 0x20 && *p < 0x7f) {

            /* one of the characters HTML escapes */

            if (ngx_http_mtasts_room(out, 1 + ngx_escape_html(NULL, p, 1))) {
                out->pos = (u_char *) ngx_escape_html(out->pos, p, 1);
            }

            p++;
            continue;
        }

        q = (*p < 0x80) ? NULL : ngx_http_mtasts_utf8_char(p, last);

        if (q == NULL) {
            ngx_http_mtasts_puts(out, "\xef\xbf\xbd");
            p++;
            continue;
        }

        ngx_http_mtasts_put(out, p, q - p);
        p = q;
    }
}


/* the TLS-RPT record line, or why there is none */

static void
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
