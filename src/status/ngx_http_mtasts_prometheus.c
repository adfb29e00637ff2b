
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The Prometheus format: the text exposition format, one metric family per
 * section.
 */


#include "ngx_http_mtasts_render.h"
#include "ngx_http_mtasts_dane.h"


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
static void ngx_http_mtasts_put_label(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);
static void ngx_http_mtasts_prometheus_reports_head(
    ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_reports(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_sessions_head(
    ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_sessions(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_failures_head(
    ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_failures(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_window_head(
    ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_window(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_refused(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_publish_head(
    ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_publish(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_updates(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_dane_head(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_dane(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_dnssec_head(
    ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_dnssec(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_tlsa_head(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_tlsa(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_match_head(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_prometheus_match(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_prometheus_sample(ngx_http_mtasts_out_t *out,
    const char *metric, ngx_str_t *domain, const char *label,
    ngx_str_t *value, uint64_t n);


static ngx_str_t  ngx_http_mtasts_methods[] = {
    ngx_string("GET"),
    ngx_string("HEAD"),
    ngx_string("other")
};


ngx_http_mtasts_section_t  ngx_http_mtasts_prometheus_sections[] = {

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

    /* DANE, with mta_sts_check_dane on: the families then only */

    { ngx_null_string, ngx_http_mtasts_prometheus_dane_head,
      ngx_http_mtasts_prometheus_dane },

    { ngx_null_string, ngx_http_mtasts_prometheus_dnssec_head,
      ngx_http_mtasts_prometheus_dnssec },

    { ngx_null_string, ngx_http_mtasts_prometheus_tlsa_head,
      ngx_http_mtasts_prometheus_tlsa },

    { ngx_null_string, ngx_http_mtasts_prometheus_match_head,
      ngx_http_mtasts_prometheus_match },

    /* TLS-RPT reports, when they are received: the families then only */

    { ngx_null_string, ngx_http_mtasts_prometheus_reports_head,
      ngx_http_mtasts_prometheus_reports },

    { ngx_null_string, ngx_http_mtasts_prometheus_sessions_head,
      ngx_http_mtasts_prometheus_sessions },

    { ngx_null_string, ngx_http_mtasts_prometheus_failures_head,
      ngx_http_mtasts_prometheus_failures },

    { ngx_null_string, ngx_http_mtasts_prometheus_window_head,
      ngx_http_mtasts_prometheus_window },

    { ngx_null_string, ngx_http_mtasts_prometheus_refused, NULL },

    /* mta_sts_publish, when it is on */

    { ngx_null_string, ngx_http_mtasts_prometheus_publish_head,
      ngx_http_mtasts_prometheus_publish },

    { ngx_null_string, ngx_http_mtasts_prometheus_updates, NULL },

    { ngx_null_string, NULL, NULL }
};


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


/*
 * TLS-RPT.  The *_total families count what this nginx stored since its
 * zone was made (they start again at 0 when nginx restarts, and sum up
 * across nodes that each store their own reports); the window gauge is
 * what the verdict counts.
 */

static void
ngx_http_mtasts_prometheus_reports_head(ngx_http_mtasts_out_t *out)
{
    if (out->tlsrpt) {
        ngx_http_mtasts_puts(out,
            "# HELP mta_sts_tlsrpt_reports_total TLS-RPT reports for a "
            "domain stored by this server.\n"
            "# TYPE mta_sts_tlsrpt_reports_total counter\n");
    }
}


static void
ngx_http_mtasts_prometheus_reports(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    if (row->reports.enabled) {
        ngx_http_mtasts_prometheus_sample(out, "mta_sts_tlsrpt_reports_total",
                                          &row->item->domain, NULL, NULL,
                                          row->reports.stored);
    }
}


static void
ngx_http_mtasts_prometheus_sessions_head(ngx_http_mtasts_out_t *out)
{
    if (out->tlsrpt) {
        ngx_http_mtasts_puts(out,
            "# HELP mta_sts_tlsrpt_sessions_total Sessions that the TLS-RPT "
            "reports stored by this server count for a domain.\n"
            "# TYPE mta_sts_tlsrpt_sessions_total counter\n");
    }
}


static void
ngx_http_mtasts_prometheus_sessions(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    static ngx_str_t  ok = ngx_string("successful");
    static ngx_str_t  failed = ngx_string("failed");

    if (row->reports.enabled) {
        ngx_http_mtasts_prometheus_sample(out,
                                          "mta_sts_tlsrpt_sessions_total",
                                          &row->item->domain, "result", &ok,
                                          row->reports.stored_successful);
        ngx_http_mtasts_prometheus_sample(out,
                                          "mta_sts_tlsrpt_sessions_total",
                                          &row->item->domain, "result",
                                          &failed,
                                          row->reports.stored_failed);
    }
}


static void
ngx_http_mtasts_prometheus_failures_head(ngx_http_mtasts_out_t *out)
{
    if (out->tlsrpt) {
        ngx_http_mtasts_puts(out,
            "# HELP mta_sts_tlsrpt_failures_total Failed sessions by result "
            "type in the TLS-RPT reports stored by this server.\n"
            "# TYPE mta_sts_tlsrpt_failures_total counter\n");
    }
}


static void
ngx_http_mtasts_prometheus_failures(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_uint_t                       i;
    ngx_http_mtasts_tlsrpt_count_t  *c;

    if (!row->reports.enabled) {
        return;
    }

    c = row->reports.stored_failures.elts;

    for (i = 0; i < row->reports.stored_failures.nelts; i++) {
        ngx_http_mtasts_prometheus_sample(out,
                                          "mta_sts_tlsrpt_failures_total",
                                          &row->item->domain, "result_type",
                                          &c[i].name, c[i].failed);
    }
}


static void
ngx_http_mtasts_prometheus_window_head(ngx_http_mtasts_out_t *out)
{
    if (out->tlsrpt) {
        ngx_http_mtasts_puts(out,
            "# HELP mta_sts_tlsrpt_window_sessions Sessions in the kept "
            "TLS-RPT reports of the window (mta_sts_tlsrpt_window).\n"
            "# TYPE mta_sts_tlsrpt_window_sessions gauge\n");
    }
}


static void
ngx_http_mtasts_prometheus_window(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    static ngx_str_t  ok = ngx_string("successful");
    static ngx_str_t  failed = ngx_string("failed");

    if (row->reports.enabled) {
        ngx_http_mtasts_prometheus_sample(out,
                                          "mta_sts_tlsrpt_window_sessions",
                                          &row->item->domain, "result", &ok,
                                          row->reports.successful);
        ngx_http_mtasts_prometheus_sample(out,
                                          "mta_sts_tlsrpt_window_sessions",
                                          &row->item->domain, "result",
                                          &failed, row->reports.failed);
    }
}


static void
ngx_http_mtasts_prometheus_refused(ngx_http_mtasts_out_t *out)
{
    ngx_uint_t  i;

    if (!out->tlsrpt) {
        return;
    }

    ngx_http_mtasts_puts(out,
        "# HELP mta_sts_tlsrpt_refused_total TLS-RPT reports refused by "
        "this server, by reason.\n"
        "# TYPE mta_sts_tlsrpt_refused_total counter\n");

    for (i = 0; i < NGX_HTTP_MTASTS_TLSRPT_NREFUSED; i++) {
        ngx_http_mtasts_puts(out, "mta_sts_tlsrpt_refused_total{reason=\"");
        ngx_http_mtasts_put_str(out, &ngx_http_mtasts_tlsrpt_reasons[i]);
        ngx_http_mtasts_printf(out, "\"} %uL\n", out->refused[i]);
    }
}


static void
ngx_http_mtasts_prometheus_publish_head(ngx_http_mtasts_out_t *out)
{
    if (out->publish.enabled) {
        ngx_http_mtasts_puts(out,
            "# HELP mta_sts_publish_state State of the publishing of a "
            "domain's records by DNS UPDATE, 1 for the current state.\n"
            "# TYPE mta_sts_publish_state gauge\n");
    }
}


static void
ngx_http_mtasts_prometheus_publish(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_uint_t  i;

    if (!row->publish.enabled) {
        return;
    }

    for (i = 0; ngx_http_mtasts_pub_states[i].len; i++) {
        ngx_http_mtasts_prometheus_sample(out, "mta_sts_publish_state",
                                          &row->item->domain, "state",
                                          &ngx_http_mtasts_pub_states[i],
                                          row->publish.state == i);
    }
}


static void
ngx_http_mtasts_prometheus_updates(ngx_http_mtasts_out_t *out)
{
    ngx_uint_t                     i;
    ngx_http_mtasts_pub_totals_t  *pt;

    pt = &out->publish;

    if (!pt->enabled) {
        return;
    }

    ngx_http_mtasts_puts(out,
        "# HELP mta_sts_publish_updates_sent_total DNS UPDATE messages "
        "sent by this server.\n"
        "# TYPE mta_sts_publish_updates_sent_total counter\n");
    ngx_http_mtasts_printf(out, "mta_sts_publish_updates_sent_total %uL\n",
                           pt->sent);
    ngx_http_mtasts_puts(out,
        "# HELP mta_sts_publish_updates_succeeded_total DNS UPDATE "
        "messages answered NOERROR.\n"
        "# TYPE mta_sts_publish_updates_succeeded_total counter\n");
    ngx_http_mtasts_printf(out,
                           "mta_sts_publish_updates_succeeded_total %uL\n",
                           pt->succeeded);
    ngx_http_mtasts_puts(out,
        "# HELP mta_sts_publish_updates_failed_total DNS UPDATE messages "
        "that failed, by the server's answer.\n"
        "# TYPE mta_sts_publish_updates_failed_total counter\n");

    for (i = 0; i < NGX_HTTP_MTASTS_PUB_NREASONS; i++) {
        ngx_http_mtasts_puts(out,
                             "mta_sts_publish_updates_failed_total{reason=\"");
        ngx_http_mtasts_put_str(out, &ngx_http_mtasts_pub_reasons[i]);
        ngx_http_mtasts_printf(out, "\"} %uL\n", pt->failed[i]);
    }
}


/* metric{domain="...",label="..."} n */

static void
ngx_http_mtasts_prometheus_dane_head(ngx_http_mtasts_out_t *out)
{
    if (out->dane) {
        ngx_http_mtasts_puts(out,
            "# HELP mta_sts_dane_ready Whether DANE authenticates every MX "
            "host of a domain and fails for none.\n"
            "# TYPE mta_sts_dane_ready gauge\n");
    }
}


static void
ngx_http_mtasts_prometheus_dane(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_http_mtasts_result_t  *res;

    res = row->item->result;

    if (out->dane) {
        ngx_http_mtasts_prometheus_sample(out, "mta_sts_dane_ready",
                                          &row->item->domain, NULL, NULL,
                                          res && res->dane_ready);
    }
}


static void
ngx_http_mtasts_prometheus_dnssec_head(ngx_http_mtasts_out_t *out)
{
    if (out->dane) {
        ngx_http_mtasts_puts(out,
            "# HELP mta_sts_dane_dnssec_state The DNSSEC state of a "
            "domain's MX records, 1 for the current state.\n"
            "# TYPE mta_sts_dane_dnssec_state gauge\n");
    }
}


/* "unknown" also before the first check and through a resolver that
 * does not validate */

static void
ngx_http_mtasts_prometheus_dnssec(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_uint_t                 i, state;
    ngx_http_mtasts_result_t  *res;

    if (!out->dane) {
        return;
    }

    res = row->item->result;
    state = res ? res->dnssec : MTASTS_DNSSEC_UNKNOWN;

    for (i = 0; i <= MTASTS_DNSSEC_BOGUS; i++) {
        ngx_http_mtasts_prometheus_sample(out, "mta_sts_dane_dnssec_state",
                                          &row->item->domain, "state",
                                          &ngx_http_mtasts_dnssec_names[i],
                                          state == i);
    }
}


static void
ngx_http_mtasts_prometheus_tlsa_head(ngx_http_mtasts_out_t *out)
{
    if (out->dane) {
        ngx_http_mtasts_puts(out,
            "# HELP mta_sts_dane_tlsa_usable The TLSA records of an MX "
            "host that DANE senders can use (signed MX records only).\n"
            "# TYPE mta_sts_dane_tlsa_usable gauge\n");
    }
}


static void
ngx_http_mtasts_prometheus_tlsa(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_uint_t                 i;
    ngx_http_mtasts_result_t  *res;

    res = row->item->result;

    for (i = 0; out->dane && res && i < res->ntlsa; i++) {
        ngx_http_mtasts_prometheus_sample(out, "mta_sts_dane_tlsa_usable",
                                          &row->item->domain, "mx",
                                          &res->tlsa[i].host,
                                          res->tlsa[i].dnssec
                                          == MTASTS_DNSSEC_SECURE
                                          ? res->tlsa[i].usable : 0);
    }
}


static void
ngx_http_mtasts_prometheus_match_head(ngx_http_mtasts_out_t *out)
{
    if (out->dane) {
        ngx_http_mtasts_puts(out,
            "# HELP mta_sts_dane_tlsa_match Whether every STARTTLS probe "
            "of an MX host matched one of its TLSA records.\n"
            "# TYPE mta_sts_dane_tlsa_match gauge\n");
    }
}


/* only for the hosts whose records a probe used */

static void
ngx_http_mtasts_prometheus_match(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_uint_t                 i;
    ngx_http_mtasts_result_t  *res;

    res = row->item->result;

    for (i = 0; out->dane && res && i < res->ntlsa; i++) {
        if (res->tlsa[i].probed == 0) {
            continue;
        }

        ngx_http_mtasts_prometheus_sample(out, "mta_sts_dane_tlsa_match",
                                          &row->item->domain, "mx",
                                          &res->tlsa[i].host,
                                          res->tlsa[i].match.len != 0);
    }
}


static void
ngx_http_mtasts_prometheus_sample(ngx_http_mtasts_out_t *out,
    const char *metric, ngx_str_t *domain, const char *label,
    ngx_str_t *value, uint64_t n)
{
    ngx_http_mtasts_put(out, (u_char *) metric, ngx_strlen(metric));
    ngx_http_mtasts_puts(out, "{domain=\"");
    ngx_http_mtasts_put_label(out, domain);

    if (label) {
        ngx_http_mtasts_puts(out, "\",");
        ngx_http_mtasts_put(out, (u_char *) label, ngx_strlen(label));
        ngx_http_mtasts_puts(out, "=\"");
        ngx_http_mtasts_put_label(out, value);
    }

    ngx_http_mtasts_printf(out, "\"} %uL\n", n);
}
