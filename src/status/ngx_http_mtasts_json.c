
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The JSON format: one object, each domain's checks, records, MX hosts,
 * addresses and STARTTLS probes.
 */


#include "ngx_http_mtasts_render.h"
#include "ngx_http_mtasts_dane.h"


static void ngx_http_mtasts_json_head(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_json_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_json_domain(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_json_publish(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_pub_state_t *pub);
static void ngx_http_mtasts_json_reports(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_json_tlsa(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_result_t *res, ngx_str_t *host);
static void ngx_http_mtasts_json_tls(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_tls_t *tls);
static void ngx_http_mtasts_put_json(ngx_http_mtasts_out_t *out, ngx_str_t *s);
static void ngx_http_mtasts_put_json_or_null(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);


ngx_http_mtasts_section_t  ngx_http_mtasts_json_sections[] = {
    { ngx_null_string, ngx_http_mtasts_json_head, ngx_http_mtasts_json_line },
    { ngx_string("}}\n"), NULL, NULL },
    { ngx_null_string, NULL, NULL }
};


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

    /* DANE: the DNSSEC state of the MX records, if it is known */

    ngx_http_mtasts_puts(out, ",\"dane_ready\":");
    ngx_http_mtasts_put_bool(out, res && res->dane_ready);

    ngx_http_mtasts_puts(out, ",\"dnssec\":");
    ngx_http_mtasts_put_json_or_null(out,
        res && res->dnssec ? &ngx_http_mtasts_dnssec_names[res->dnssec]
                           : NULL);
    ngx_http_mtasts_puts(out, ",\"resolver_validates\":");

    if (res && res->validating != 2) {
        ngx_http_mtasts_put_bool(out, res->validating);

    } else {
        ngx_http_mtasts_puts(out, "null");
    }

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
        ngx_http_mtasts_json_tlsa(out, res, &res->mx[i].name);
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

    ngx_http_mtasts_puts(out, "}");

    if (row->reports.enabled) {
        ngx_http_mtasts_json_reports(out, row);
    }

    if (row->publish.enabled) {
        ngx_http_mtasts_json_publish(out, &row->publish);
    }

    ngx_http_mtasts_puts(out, "}");
}


/* mta_sts_publish: what was sent to the DNS server and its answer */

static void
ngx_http_mtasts_json_publish(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_pub_state_t *pub)
{
    ngx_http_mtasts_puts(out, ",\"publish\":{\"status\":");
    ngx_http_mtasts_put_json(out, &ngx_http_mtasts_pub_states[pub->state]);
    ngx_http_mtasts_puts(out, ",\"published_id\":");
    ngx_http_mtasts_put_json_or_null(out, pub->id.len ? &pub->id : NULL);
    ngx_http_mtasts_puts(out, ",\"at\":");

    if (pub->at) {
        ngx_http_mtasts_puts(out, "\"");
        ngx_http_mtasts_put_time(out, pub->at);
        ngx_http_mtasts_puts(out, "\"");

    } else {
        ngx_http_mtasts_puts(out, "null");
    }

    ngx_http_mtasts_puts(out, ",\"server\":");
    ngx_http_mtasts_put_json_or_null(out,
                                     pub->server.len ? &pub->server : NULL);
    ngx_http_mtasts_puts(out, ",\"answer\":");
    ngx_http_mtasts_put_json_or_null(out,
                                     pub->answer.len ? &pub->answer : NULL);
    ngx_http_mtasts_puts(out, ",\"message\":");
    ngx_http_mtasts_put_json_or_null(out,
                                     pub->message.len ? &pub->message : NULL);
    ngx_http_mtasts_puts(out, "}");
}


/* what senders reported, when nginx receives the reports */

static void
ngx_http_mtasts_json_reports(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_uint_t                       i;
    ngx_http_mtasts_tlsrpt_sum_t    *sum;
    ngx_http_mtasts_tlsrpt_count_t  *c;

    sum = &row->reports;

    ngx_http_mtasts_printf(out, ",\"tlsrpt\":{\"reports\":%uL,"
                           "\"window\":\"%Td\",\"loading\":%s,"
                           "\"successful_sessions\":%uL,"
                           "\"failed_sessions\":%uL,\"failures\":{",
                           sum->reports, sum->window / 86400,
                           sum->loading ? "true" : "false",
                           sum->successful, sum->failed);

    c = sum->failures.elts;

    for (i = 0; i < sum->failures.nelts; i++) {
        if (i) {
            ngx_http_mtasts_puts(out, ",");
        }

        ngx_http_mtasts_put_json(out, &c[i].name);
        ngx_http_mtasts_printf(out, ":%uL", c[i].failed);
    }

    ngx_http_mtasts_puts(out, "},\"by_organization\":{");

    c = sum->senders.elts;

    for (i = 0; i < sum->senders.nelts; i++) {
        if (i) {
            ngx_http_mtasts_puts(out, ",");
        }

        ngx_http_mtasts_put_json(out, &c[i].name);
        ngx_http_mtasts_printf(out, ":{\"reports\":%uL,"
                               "\"successful_sessions\":%uL,"
                               "\"failed_sessions\":%uL}",
                               c[i].reports, c[i].successful, c[i].failed);
    }

    ngx_http_mtasts_puts(out, "},\"by_mx\":{");

    c = sum->mx.elts;

    for (i = 0; i < sum->mx.nelts; i++) {
        if (i) {
            ngx_http_mtasts_puts(out, ",");
        }

        ngx_http_mtasts_put_json(out, &c[i].name);
        ngx_http_mtasts_printf(out, ":{\"failed_sessions\":%uL}",
                               c[i].failed);
    }

    ngx_http_mtasts_puts(out, "},\"verdict\":{\"status\":");
    ngx_http_mtasts_put_json(out, &ngx_http_mtasts_states[row->reports_state]);
    ngx_http_mtasts_puts(out, ",\"message\":");
    ngx_http_mtasts_put_json(out, &row->reports_verdict);
    ngx_http_mtasts_puts(out, "}}");
}


/* an MX host's TLSA records: null where they were not looked up */

static void
ngx_http_mtasts_json_tlsa(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_result_t *res, ngx_str_t *host)
{
    u_char                  *p, *last, *nl;
    ngx_str_t                r;
    ngx_uint_t               i;
    ngx_http_mtasts_tlsa_t  *t;

    ngx_http_mtasts_puts(out, ",\"tlsa\":");

    t = NULL;

    for (i = 0; i < res->ntlsa; i++) {
        if (res->tlsa[i].host.len == host->len
            && ngx_strncasecmp(res->tlsa[i].host.data, host->data,
                               host->len)
               == 0)
        {
            t = &res->tlsa[i];
            break;
        }
    }

    if (t == NULL) {
        ngx_http_mtasts_puts(out, "null");
        return;
    }

    ngx_http_mtasts_puts(out, "{\"dnssec\":");
    ngx_http_mtasts_put_json(out, &ngx_http_mtasts_dnssec_names[t->dnssec]);
    ngx_http_mtasts_puts(out, ",\"address_dnssec\":");
    ngx_http_mtasts_put_json(out,
                             &ngx_http_mtasts_dnssec_names[t->addr_dnssec]);
    ngx_http_mtasts_puts(out, ",\"records\":[");

    /* no records: no data pointer either */

    p = t->records.data;
    last = t->records.len ? p + t->records.len : p;

    while (p < last) {
        nl = ngx_strlchr(p, last, '\n');
        if (nl == NULL) {
            nl = last;
        }

        if (p != t->records.data) {
            ngx_http_mtasts_puts(out, ",");
        }

        r.data = p;
        r.len = nl - p;
        ngx_http_mtasts_put_json(out, &r);

        p = nl + 1;
    }

    ngx_http_mtasts_printf(out, "],\"usable\":%ui,\"match\":", t->usable);
    ngx_http_mtasts_put_json_or_null(out, t->probed ? &t->match : NULL);
    ngx_http_mtasts_puts(out, "}");
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
        ngx_http_mtasts_printf(out, "\",\"days_left\":%T",
                               ngx_http_mtasts_days_left(out, tls->expires));

    } else {
        ngx_http_mtasts_puts(out, "null,\"days_left\":null");
    }

    /* DANE: whether the host's TLSA records were matched, and which */

    ngx_http_mtasts_puts(out, ",\"dane_checked\":");
    ngx_http_mtasts_put_bool(out, tls->dane != 0);
    ngx_http_mtasts_puts(out, ",\"dane_match\":");
    ngx_http_mtasts_put_json_or_null(out, &tls->dane_match);
    ngx_http_mtasts_puts(out, "}");
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
