
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The HTML format: a page of the domains, each with its checks, what was
 * found and the records to publish.
 */


#include "ngx_http_mtasts_render.h"
#include "ngx_http_mtasts_dane.h"


static void ngx_http_mtasts_html_head(ngx_http_mtasts_out_t *out);
static void ngx_http_mtasts_html_line(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_section(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_found(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_dane(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_starttls(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_or_none(ngx_http_mtasts_out_t *out,
    ngx_str_t *s);
static void ngx_http_mtasts_html_reports(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row);
static void ngx_http_mtasts_html_days(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_tlsrpt_sum_t *sum, time_t now);
static void ngx_http_mtasts_html_expires(ngx_http_mtasts_out_t *out,
    time_t expires);
static void ngx_http_mtasts_put_html(ngx_http_mtasts_out_t *out, ngx_str_t *s);


static ngx_str_t  ngx_http_mtasts_html_checks[NGX_HTTP_MTASTS_NCHECKS] = {
    ngx_string("STS record"),
    ngx_string("TLS-RPT record"),
    ngx_string("MX"),
    ngx_string("Policy host"),
    ngx_string("Certificate"),
    ngx_string("STARTTLS"),
    ngx_string("DANE")
};


ngx_http_mtasts_section_t  ngx_http_mtasts_html_sections[] = {
    { ngx_null_string, ngx_http_mtasts_html_head, ngx_http_mtasts_html_line },
    { ngx_string("</tbody>\n</table>\n"), NULL,
      ngx_http_mtasts_html_section },
    { ngx_string("</body>\n</html>\n"), NULL, NULL },
    { ngx_null_string, NULL, NULL }
};


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
        "svg.days rect.ok{fill:#5cb85c}\n"
        "svg.days rect.failed{fill:#d9534f}\n"
        "svg.days line{stroke:#888}\n"
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

    if (out->dane) {
        ngx_http_mtasts_html_dane(out, row);
    }

    if (row->reports.enabled) {
        ngx_http_mtasts_html_reports(out, row);
    }

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


/*
 * DANE: the DNSSEC state of the MX records, then a row per MX host whose
 * TLSA records were looked up.  The records come from DNS.
 */

static void
ngx_http_mtasts_html_dane(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    u_char                    *p, *last, *nl;
    ngx_str_t                  r;
    ngx_uint_t                 i;
    ngx_http_mtasts_tlsa_t    *t;
    ngx_http_mtasts_result_t  *res;

    res = row->item->result;

    if (res == NULL) {
        return;
    }

    ngx_http_mtasts_puts(out, "<h3>DANE</h3>\n<p>MX records: ");
    ngx_http_mtasts_put_str(out, &ngx_http_mtasts_dnssec_names[res->dnssec]);
    if (res->dane_ready) {
        ngx_http_mtasts_puts(out, "; DANE authenticates every MX host");
    }

    ngx_http_mtasts_puts(out, ".</p>\n");

    if (res->ntlsa == 0) {
        return;
    }

    ngx_http_mtasts_puts(out,
        "<table>\n"
        "<thead><tr><th>MX host</th><th>Addresses</th><th>TLSA</th>"
        "<th>Records</th><th>Usable</th><th>Matched by the probes</th>"
        "</tr></thead>\n"
        "<tbody>\n");

    for (i = 0; i < res->ntlsa; i++) {
        t = &res->tlsa[i];

        ngx_http_mtasts_puts(out, "<tr><td>");
        ngx_http_mtasts_put_html(out, &t->host);
        ngx_http_mtasts_puts(out, "</td><td>");
        ngx_http_mtasts_put_str(out,
                                &ngx_http_mtasts_dnssec_names[t->addr_dnssec]);
        ngx_http_mtasts_puts(out, "</td><td>");
        ngx_http_mtasts_put_str(out, &ngx_http_mtasts_dnssec_names[t->dnssec]);
        ngx_http_mtasts_puts(out, "</td><td>");

        if (t->records.len == 0) {
            ngx_http_mtasts_puts(out, NGX_HTTP_MTASTS_DASH);
        }

        p = t->records.data;
        last = t->records.len ? p + t->records.len : p;

        while (p < last) {
            nl = ngx_strlchr(p, last, '\n');
            if (nl == NULL) {
                nl = last;
            }

            r.data = p;
            r.len = nl - p;

            ngx_http_mtasts_puts(out, "<code>");
            ngx_http_mtasts_put_html(out, &r);
            ngx_http_mtasts_puts(out, "</code>");

            if (nl < last) {
                ngx_http_mtasts_puts(out, "<br>");
            }

            p = nl + 1;
        }

        ngx_http_mtasts_printf(out, "</td><td>%ui</td><td>", t->usable);

        if (t->probed == 0) {
            ngx_http_mtasts_puts(out, NGX_HTTP_MTASTS_DASH);

        } else if (t->match.len) {
            ngx_http_mtasts_puts(out, "<code>");
            ngx_http_mtasts_put_html(out, &t->match);
            ngx_http_mtasts_puts(out, "</code>");

        } else {
            ngx_http_mtasts_puts(out, "<span class=\"s error\">no "
                                 "record</span>");
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


/* what senders reported: the verdict, a chart of the days, the counts */

static void
ngx_http_mtasts_html_reports(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_row_t *row)
{
    ngx_str_t                       *state;
    ngx_uint_t                       i;
    ngx_http_mtasts_tlsrpt_sum_t    *sum;
    ngx_http_mtasts_tlsrpt_count_t  *c;

    sum = &row->reports;
    state = &ngx_http_mtasts_states[row->reports_state];

    ngx_http_mtasts_puts(out, "<h3>TLS-RPT reports</h3>\n"
                              "<p><span class=\"s ");
    ngx_http_mtasts_put_str(out, state);
    ngx_http_mtasts_puts(out, "\">");
    ngx_http_mtasts_put_str(out, state);
    ngx_http_mtasts_puts(out, "</span> ");
    ngx_http_mtasts_put_html(out, &row->reports_verdict);
    ngx_http_mtasts_puts(out, "</p>\n");

    if (sum->reports == 0) {
        return;
    }

    ngx_http_mtasts_html_days(out, sum, out->view->now);

    ngx_http_mtasts_printf(out, "<dl>\n<dt>reports</dt><dd>%uL</dd>\n"
                           "<dt>sessions</dt><dd>%uL successful, "
                           "%uL failed</dd>\n",
                           sum->reports, sum->successful, sum->failed);

    c = sum->failures.elts;

    for (i = 0; i < sum->failures.nelts; i++) {
        if (i == 0) {
            ngx_http_mtasts_puts(out, "<dt>failures</dt>");
        }

        ngx_http_mtasts_puts(out, "<dd>");
        ngx_http_mtasts_put_html(out, &c[i].name);
        ngx_http_mtasts_printf(out, " %uL</dd>\n", c[i].failed);
    }

    c = sum->mx.elts;

    for (i = 0; i < sum->mx.nelts; i++) {
        if (i == 0) {
            ngx_http_mtasts_puts(out, "<dt>MX hosts</dt>");
        }

        ngx_http_mtasts_puts(out, "<dd>");
        ngx_http_mtasts_put_html(out, &c[i].name);
        ngx_http_mtasts_printf(out, " %uL failed</dd>\n", c[i].failed);
    }

    c = sum->senders.elts;

    for (i = 0; i < sum->senders.nelts; i++) {
        if (i == 0) {
            ngx_http_mtasts_puts(out, "<dt>senders</dt>");
        }

        ngx_http_mtasts_puts(out, "<dd>");
        ngx_http_mtasts_put_html(out, &c[i].name);
        ngx_http_mtasts_printf(out, ": %uL report%s, %uL successful, "
                               "%uL failed</dd>\n", c[i].reports,
                               c[i].reports == 1 ? "" : "s",
                               c[i].successful, c[i].failed);
    }

    ngx_http_mtasts_puts(out, "</dl>\n");
}


/*
 * A bar per day of the window, oldest first: successful sessions above
 * the line, failed ones below, each scaled to its own largest day.  No
 * script, nothing from elsewhere: inline SVG, a title per bar.
 */

static void
ngx_http_mtasts_html_days(ngx_http_mtasts_out_t *out,
    ngx_http_mtasts_tlsrpt_sum_t *sum, time_t now)
{
    time_t                         first, last, day;
    uint64_t                       max_ok, max_failed, h;
    ngx_tm_t                       tm;
    ngx_uint_t                     i, n, x;
    ngx_http_mtasts_tlsrpt_day_t  *d;

    first = (now - sum->window) / 86400;
    last = now / 86400;
    n = (ngx_uint_t) (last - first + 1);

    d = sum->days.elts;
    max_ok = 1;
    max_failed = 1;

    for (i = 0; i < sum->days.nelts; i++) {
        max_ok = ngx_max(max_ok, d[i].successful);
        max_failed = ngx_max(max_failed, d[i].failed);
    }

    ngx_http_mtasts_printf(out, "<svg class=\"days\" role=\"img\" "
                           "width=\"%ui\" height=\"82\" "
                           "viewBox=\"0 0 %ui 82\" "
                           "xmlns=\"http://www.w3.org/2000/svg\">\n"
                           "<title>Sessions per day, successful above, "
                           "failed below</title>\n"
                           "<line x1=\"0\" y1=\"41\" x2=\"%ui\" "
                           "y2=\"41\"/>\n", n * 8, n * 8, n * 8);

    for (i = 0; i < sum->days.nelts; i++) {
        day = d[i].day;

        if (day < first || day > last) {
            continue;
        }

        x = (ngx_uint_t) (day - first) * 8;

        ngx_gmtime(day * 86400, &tm);

        h = d[i].successful * 40 / max_ok;

        ngx_http_mtasts_printf(out, "<rect class=\"ok\" x=\"%ui\" "
                               "y=\"%uL\" width=\"6\" height=\"%uL\">"
                               "<title>%4d-%02d-%02d: %uL successful, "
                               "%uL failed</title></rect>\n",
                               x, 40 - h, h, tm.ngx_tm_year, tm.ngx_tm_mon,
                               tm.ngx_tm_mday, d[i].successful, d[i].failed);

        if (d[i].failed) {
            h = ngx_max(d[i].failed * 40 / max_failed, 1);

            ngx_http_mtasts_printf(out, "<rect class=\"failed\" "
                                   "x=\"%ui\" y=\"42\" width=\"6\" "
                                   "height=\"%uL\"/>\n", x, h);
        }
    }

    ngx_http_mtasts_puts(out, "</svg>\n");
}
