
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The text format: a table of the domains and their checks, then what is
 * wrong and how to fix it, then the records to publish.
 */


#include "ngx_http_mtasts_render.h"


static ngx_uint_t ngx_http_mtasts_testing_ready(ngx_http_mtasts_item_t *item);
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
static void ngx_http_mtasts_text_details(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_text_cols(ngx_http_mtasts_row_t *row,
    ngx_str_t *cols);
static void ngx_http_mtasts_text_row(ngx_http_mtasts_out_t *out,
    ngx_str_t *cols, size_t *width);


static ngx_str_t  ngx_http_mtasts_text_head[NGX_HTTP_MTASTS_NCOLS] = {
    ngx_string("DOMAIN"),
    ngx_string("STATUS"),
    ngx_string("MODE"),
    ngx_string("STS_RECORD"),
    ngx_string("TLSRPT_RECORD"),
    ngx_string("MX"),
    ngx_string("POLICY_HOST"),
    ngx_string("CERTIFICATE"),
    ngx_string("STARTTLS"),
    ngx_string("DANE")
};


static ngx_str_t  ngx_http_mtasts_pub_waiting =
    ngx_string("not yet sent: the old workers may still serve the old "
               "policy");


ngx_http_mtasts_section_t  ngx_http_mtasts_text_sections[] = {

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
        && !ngx_http_mtasts_testing_ready(row->item)
        && (!row->reports.enabled
            || row->reports_state == NGX_HTTP_MTASTS_OK
            || row->reports_state == NGX_HTTP_MTASTS_PENDING)
        && (!row->publish.enabled
            || row->publish.state == NGX_HTTP_MTASTS_PUB_OK))
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

    /* what senders reported */

    if (row->reports.enabled && row->reports_state != NGX_HTTP_MTASTS_OK) {
        ngx_http_mtasts_put_text(out, &item->domain);
        ngx_http_mtasts_puts(out, " tlsrpt_reports: ");
        ngx_http_mtasts_put_str(out,
                                &ngx_http_mtasts_states[row->reports_state]);
        ngx_http_mtasts_puts(out, ": ");
        ngx_http_mtasts_put_text(out, &row->reports_verdict);
        ngx_http_mtasts_puts(out, "\n");
    }

    /* what the DNS server said to the update */

    if (row->publish.enabled && row->publish.state != NGX_HTTP_MTASTS_PUB_OK)
    {
        ngx_http_mtasts_put_text(out, &item->domain);
        ngx_http_mtasts_puts(out, " publish: ");
        ngx_http_mtasts_put_str(out, ngx_http_mtasts_pub_states
                                     + row->publish.state);
        ngx_http_mtasts_puts(out, ": ");
        ngx_http_mtasts_put_text(out, row->publish.message.len
                                      ? &row->publish.message
                                      : &ngx_http_mtasts_pub_waiting);
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
