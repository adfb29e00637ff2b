
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The zone format: the records each domain should publish, as a zone file
 * fragment.
 */


#include "ngx_http_mtasts_render.h"


static void ngx_http_mtasts_zone_head(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_zone_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_zone_tlsa(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_result_t *res);


ngx_http_mtasts_section_t  ngx_http_mtasts_zone_sections[] = {
    { ngx_null_string, ngx_http_mtasts_zone_head, ngx_http_mtasts_zone_line },
    { ngx_null_string, NULL, NULL }
};


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

    /*
     * DANE: the TLSA record of the key each MX host serves now (3 1 1),
     * once per host and key; checked only with the records it published
     */

    if (out->dane) {
        ngx_http_mtasts_zone_tlsa(out, item->result);
    }

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


static void
ngx_http_mtasts_zone_tlsa(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_result_t *res)
{
    ngx_uint_t              i, j;
    ngx_http_mtasts_tls_t  *t;

    for (i = 0; res && i < res->ntls; i++) {
        t = &res->tls[i];

        if (t->spki.len == 0) {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (res->tls[j].host.len == t->host.len
                && ngx_strncmp(res->tls[j].host.data, t->host.data,
                               t->host.len)
                   == 0
                && res->tls[j].spki.len == t->spki.len
                && ngx_strncmp(res->tls[j].spki.data, t->spki.data,
                               t->spki.len)
                   == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        ngx_http_mtasts_puts(out, "_25._tcp.");
        ngx_http_mtasts_put_text(out, &t->host);
        ngx_http_mtasts_puts(out, ". IN TLSA 3 1 1 ");
        ngx_http_mtasts_put_str(out, &t->spki);
        ngx_http_mtasts_puts(out, "\n");
    }
}
