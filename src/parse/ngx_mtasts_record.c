
/*
 * Copyright (C) ngx_http_mtasts_module authors
 */


#include <stdio.h>
#include <stdarg.h>
#include <string.h>

#include "ngx_mtasts_parse.h"
#include "ngx_mtasts_record.h"


#define mtasts_lower(c)  (((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))
#define mtasts_digit(c)  ((c) >= '0' && (c) <= '9')
#define mtasts_alpha(c)  (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z')
#define mtasts_wsp(c)    ((c) == ' ' || (c) == '\t')


/* record text and names quoted in messages are cut to about this */
#define MTASTS_QUOTE_SIZE  72
#define MTASTS_HOST_SIZE   (MTASTS_NAME_MAX + 8)
#define MTASTS_URIS_SIZE   384
#define MTASTS_PUB_SIZE    (MTASTS_HOST_SIZE + MTASTS_URIS_SIZE + 64)


#define MTASTS_TXT_OTHER   0
#define MTASTS_TXT_NEAR    1    /* looks like the record, is discarded */
#define MTASTS_TXT_VALID   2    /* begins "v=...;" */
#define MTASTS_TXT_SPACE   3    /* begins "v=..." WSP ";" (erratum 6285) */


#if defined(__GNUC__) || defined(__clang__)
#define MTASTS_PRINTF(f, a)  __attribute__((format(printf, f, a)))
#else
#define MTASTS_PRINTF(f, a)
#endif


typedef struct {
    char                 *buf;
    size_t                size;
    size_t                len;
    mtasts_state_e       *state;
} mtasts_msg_t;


typedef struct {
    const unsigned char  *name;
    size_t                nlen;
    const unsigned char  *value;
    size_t                vlen;
} mtasts_field_t;


typedef struct {
    mtasts_field_t        id;       /* sts: the "id" field */
    mtasts_field_t        ext;      /* the first extension field */
    mtasts_field_t        dup;      /* the first field given twice */
    mtasts_field_t        hint;     /* "ID=" or "RUA=": case differs */
    mtasts_field_t        bad;      /* tlsrpt: the first unusable URI */
    const char           *bad_err;
    unsigned              next;
    unsigned              nrua;     /* tlsrpt: "rua" fields */
    unsigned              nuri;     /* tlsrpt: usable report URIs */
    unsigned              nbad;     /* tlsrpt: URIs of other schemes */
} mtasts_rec_t;


/* the TXT records at a name, classified by mtasts_txt_scan() */

typedef struct {
    size_t                first;    /* the first record that counts */
    size_t                near;     /* the first near-miss */
    size_t                other;    /* the first other record */
    unsigned              space;    /* records "v=..." WSP ";" */
    const char           *near_why;
} mtasts_scan_t;


static void mtasts_msg_init(mtasts_msg_t *m, char *buf, size_t size,
    mtasts_state_e *state);
static void mtasts_msg(mtasts_msg_t *m, mtasts_state_e state,
    const char *fmt, ...) MTASTS_PRINTF(3, 4);
static void mtasts_list_add(char *buf, size_t size, size_t *len,
    const char *fmt, ...) MTASTS_PRINTF(4, 5);
static void mtasts_vappend(char *buf, size_t size, size_t *len,
    const char *fmt, va_list args) MTASTS_PRINTF(4, 0);
static char *mtasts_quote(char *dst, size_t size, const unsigned char *p,
    size_t n);
static char *mtasts_domain(char *dst, size_t size, const char *domain);
static int mtasts_icase_prefix(const unsigned char *p, size_t n,
    const char *s);
static int mtasts_icase_find(const unsigned char *p, size_t n,
    const char *s);
static void mtasts_txt_scan(const mtasts_txt_t *records, size_t n,
    const char *version, mtasts_check_t *out, mtasts_scan_t *scan);
static int mtasts_txt_classify(const mtasts_txt_t *txt, const char *version,
    const char **why);
static const char *mtasts_txt_hint(const mtasts_txt_t *txt);
static const char *mtasts_txt_chars(const unsigned char *p, size_t n,
    size_t *at);
static const char *mtasts_field_next(const unsigned char *p, size_t n,
    size_t *pos, const char *list, mtasts_field_t *f);
static void mtasts_field_segment(const unsigned char *p, size_t n, size_t at,
    mtasts_field_t *f);
static int mtasts_field_name(const unsigned char *p, size_t n);
static int mtasts_field_is(const mtasts_field_t *f, const char *name);
static int mtasts_field_seen(const unsigned char *p, size_t n, size_t vlen,
    const char *list, const mtasts_field_t *f);
static char *mtasts_field_quote(char *dst, size_t size,
    const mtasts_field_t *f);
static int mtasts_rec_parse(const unsigned char *p, size_t n, size_t vlen,
    int tlsrpt, mtasts_rec_t *rec, char *err, size_t size);
static int mtasts_rec_error(char *err, size_t size, const char *e,
    const mtasts_field_t *f);
static int mtasts_rua_parse(const mtasts_field_t *f, mtasts_rec_t *rec,
    char *err, size_t size);
static int mtasts_uri_next(const unsigned char *p, size_t n, size_t *pos,
    const unsigned char **uri, size_t *len);
static int mtasts_uri_other(const unsigned char *p, size_t n);
static int mtasts_rua_listed(const unsigned char *p, size_t n, size_t vlen,
    const char *conf);
static int mtasts_mx_name(const unsigned char *p, size_t n,
    mtasts_name_t *name, const char **err);
static int mtasts_mx_dup(const mtasts_mx_t *mx, size_t i,
    const mtasts_name_t *name);
static int mtasts_mx_matches(const mtasts_name_t *name,
    const unsigned char *const *patterns, const size_t *plen,
    size_t npatterns);


static const char  *mtasts_modes[] = { "none", "testing", "enforce" };


void
mtasts_check_sts(const mtasts_txt_t *records, size_t n, const char *domain,
    const char *served_id, mtasts_check_t *out)
{
    char                  dom[MTASTS_HOST_SIZE], pub[MTASTS_PUB_SIZE];
    char                  txt[MTASTS_QUOTE_SIZE], err[256];
    size_t                i;
    const char           *hint;
    mtasts_msg_t          m;
    mtasts_rec_t          rec;
    mtasts_scan_t         scan;
    const mtasts_txt_t   *r;

    out->state = MTASTS_OK;
    out->id[0] = '\0';

    mtasts_msg_init(&m, out->message, sizeof(out->message), &out->state);

    if (served_id == NULL) {
        served_id = "";
    }

    mtasts_domain(dom, sizeof(dom), domain);

    snprintf(pub, sizeof(pub), "_mta-sts.%s. IN TXT \"v=STSv1; id=%.32s\"",
             dom, served_id);

    mtasts_txt_scan(records, n, "v=STSv1", out, &scan);

    if (n == 0) {
        mtasts_msg(&m, MTASTS_ERROR, "No _mta-sts TXT record: publish %s.",
                   pub);
        return;
    }

    if (out->nrecords == 0) {

        if (scan.near != n) {
            r = &records[scan.near];
            mtasts_msg(&m, MTASTS_ERROR,
                       "The _mta-sts.%s TXT record \"%s\" does not count, "
                       "senders discard it (%s): it must begin with "
                       "\"v=STSv1;\", publish %s instead.",
                       dom, mtasts_quote(txt, sizeof(txt), r->data, r->len),
                       scan.near_why, pub);

        } else {
            r = &records[scan.other];
            hint = mtasts_txt_hint(r);
            mtasts_msg(&m, MTASTS_ERROR,
                       "No TXT record at _mta-sts.%s begins with "
                       "\"v=STSv1;\", there %s only \"%s\"%s%s: publish %s "
                       "and remove the other records.",
                       dom, n == 1 ? "is" : "are",
                       mtasts_quote(txt, sizeof(txt), r->data, r->len),
                       n == 1 ? "" : " and others", hint, pub);
        }

        if (scan.near != n && out->nother > 1) {
            mtasts_msg(&m, MTASTS_ERROR,
                       "Remove the %u other TXT record%s at that name too: "
                       "some senders (go-mtasts) count every TXT record "
                       "there.", out->nother - 1,
                       out->nother == 2 ? "" : "s");
        }

        return;
    }

    if (out->nrecords > 1) {
        mtasts_msg(&m, MTASTS_ERROR,
                   "%u TXT records at _mta-sts.%s begin with \"v=STSv1;\": "
                   "senders ignore MTA-STS unless there is exactly one, "
                   "keep only %s.", out->nrecords, dom, pub);
    }

    if (out->nother > 0) {
        i = (scan.near != n) ? scan.near : scan.other;
        r = &records[i];

        mtasts_msg(&m, MTASTS_ERROR,
                   "Remove the %u other TXT record%s at _mta-sts.%s, "
                   "such as \"%s\"%s%s%s: some senders (go-mtasts) count "
                   "every TXT record at that name and then ignore "
                   "the policy, and checkers (checkdmarc) report them.",
                   out->nother, out->nother == 1 ? "" : "s", dom,
                   mtasts_quote(txt, sizeof(txt), r->data, r->len),
                   (i == scan.near) ? " (discarded: " : "",
                   (i == scan.near) ? scan.near_why : mtasts_txt_hint(r),
                   (i == scan.near) ? ")" : "");
    }

    if (out->nrecords > 1) {
        return;
    }

    r = &records[scan.first];

    if (scan.space) {
        mtasts_msg(&m, MTASTS_WARNING,
                   "The _mta-sts record has whitespace before the first "
                   "\";\" (\"v=STSv1 ;\"): the RFC 8461 grammar allows it, "
                   "but some senders (chasquid) ignore it; "
                   "remove the space.");
    }

    if (mtasts_rec_parse(r->data, r->len, 7, 0, &rec, err, sizeof(err))
        != 0)
    {
        mtasts_msg(&m, MTASTS_ERROR,
                   "The _mta-sts.%s TXT record \"%s\" is invalid (%s), "
                   "senders ignore it: publish %s.",
                   dom, mtasts_quote(txt, sizeof(txt), r->data, r->len),
                   err, pub);
        return;
    }

    memcpy(out->id, rec.id.value, rec.id.vlen);
    out->id[rec.id.vlen] = '\0';

    if (rec.dup.name) {
        mtasts_msg(&m, MTASTS_WARNING,
                   "The field \"%s\" repeats an earlier field: publish "
                   "each field once, senders differ in which one they use.",
                   mtasts_field_quote(txt, sizeof(txt), &rec.dup));
    }

    if (strcmp(out->id, served_id) != 0) {
        mtasts_msg(&m, MTASTS_ERROR,
                   "The TXT id is %s, the served policy's id is %.32s: "
                   "publish %s (senders do not fetch the policy again "
                   "until the TXT id changes).",
                   out->id, served_id, pub);

    } else {
        mtasts_msg(&m, MTASTS_OK,
                   "The published id matches the served policy (id=%s).",
                   out->id);
    }

    if (rec.next) {
        mtasts_msg(&m, MTASTS_OK,
                   "Senders ignore the extension field%s \"%s\"%s.",
                   rec.next == 1 ? "" : "s",
                   mtasts_field_quote(txt, sizeof(txt), &rec.ext),
                   rec.next == 1 ? "" : " and others");
    }
}


void
mtasts_check_tlsrpt(const mtasts_txt_t *records, size_t n,
    const char *domain, const char *const *rua, size_t nrua,
    int policy_testing, mtasts_check_t *out)
{
    char                  dom[MTASTS_HOST_SIZE], pub[MTASTS_PUB_SIZE];
    char                  uris[MTASTS_URIS_SIZE], missing[MTASTS_URIS_SIZE];
    char                  txt[MTASTS_QUOTE_SIZE], err[256];
    size_t                i, len, nmissing;
    mtasts_msg_t          m;
    mtasts_rec_t          rec;
    mtasts_scan_t         scan;
    const mtasts_txt_t   *r;

    out->state = MTASTS_OK;
    out->id[0] = '\0';

    mtasts_msg_init(&m, out->message, sizeof(out->message), &out->state);

    mtasts_domain(dom, sizeof(dom), domain);

    /* the record to publish lists every configured URI */

    if (nrua == 0) {
        snprintf(uris, sizeof(uris), "mailto:tlsrpt@%s", dom);

    } else {
        len = 0;
        uris[0] = '\0';

        for (i = 0; i < nrua; i++) {
            mtasts_list_add(uris, sizeof(uris), &len, "%s%s",
                            i ? "," : "", rua[i]);
        }
    }

    snprintf(pub, sizeof(pub),
             "_smtp._tls.%s. IN TXT \"v=TLSRPTv1; rua=%s\"", dom, uris);

    mtasts_txt_scan(records, n, "v=TLSRPTv1", out, &scan);

    if (out->nrecords == 0) {

        if (scan.near != n) {
            r = &records[scan.near];
            mtasts_msg(&m, MTASTS_WARNING,
                       "No usable TLS-RPT record: senders discard "
                       "the _smtp._tls.%s TXT record \"%s\" (%s), "
                       "it must begin with \"v=TLSRPTv1;\": publish %s "
                       "instead.",
                       dom, mtasts_quote(txt, sizeof(txt), r->data, r->len),
                       scan.near_why, pub);

        } else {
            mtasts_msg(&m, MTASTS_WARNING,
                       "No TLS-RPT record: publish %s.", pub);
        }

        if (policy_testing) {
            mtasts_msg(&m, MTASTS_WARNING,
                       "In testing mode the reports are the only way to "
                       "see which senders would fail to deliver once "
                       "the policy is enforced.");
        }

        return;
    }

    if (out->nrecords > 1) {
        mtasts_msg(&m, MTASTS_ERROR,
                   "%u TXT records at _smtp._tls.%s begin with "
                   "\"v=TLSRPTv1;\": senders then assume the domain has no "
                   "TLS-RPT, merge them into one: publish %s.",
                   out->nrecords, dom, pub);
        return;
    }

    r = &records[scan.first];

    if (scan.space) {
        mtasts_msg(&m, MTASTS_WARNING,
                   "The TLS-RPT record has whitespace before the first "
                   "\";\" (\"v=TLSRPTv1 ;\"): the RFC 8460 grammar allows it, "
                   "but senders that look for the prefix \"v=TLSRPTv1;\" "
                   "ignore the record; remove the space.");
    }

    if (mtasts_rec_parse(r->data, r->len, 10, 1, &rec, err, sizeof(err))
        != 0)
    {
        mtasts_msg(&m, MTASTS_ERROR,
                   "The _smtp._tls.%s TXT record \"%s\" is invalid (%s), "
                   "senders ignore it: publish %s.",
                   dom, mtasts_quote(txt, sizeof(txt), r->data, r->len),
                   err, pub);
        return;
    }

    if (rec.nrua > 1) {
        mtasts_msg(&m, MTASTS_WARNING,
                   "The record has %u \"rua=\" fields: merge them into one "
                   "\"rua=\" field with a comma-separated list "
                   "(checkdmarc rejects repeated fields).", rec.nrua);

    } else if (rec.dup.name) {
        mtasts_msg(&m, MTASTS_WARNING,
                   "The field \"%s\" repeats an earlier field: publish "
                   "each field once.",
                   mtasts_field_quote(txt, sizeof(txt), &rec.dup));
    }

    if (rec.nbad) {
        mtasts_msg(&m, MTASTS_WARNING,
                   "Senders do not use the report URI%s \"%s\"%s (%s): "
                   "use \"mailto:\" or \"https:\" URIs.",
                   rec.nbad == 1 ? "" : "s",
                   mtasts_field_quote(txt, sizeof(txt), &rec.bad),
                   rec.nbad == 1 ? "" : " and others", rec.bad_err);
    }

    len = 0;
    nmissing = 0;
    missing[0] = '\0';

    for (i = 0; i < nrua; i++) {
        if (mtasts_rua_listed(r->data, r->len, 10, rua[i])) {
            continue;
        }

        mtasts_list_add(missing, sizeof(missing), &len, "%s\"%s\"",
                        nmissing ? ", " : "", rua[i]);
        nmissing++;
    }

    if (nmissing) {
        mtasts_msg(&m, MTASTS_WARNING,
                   "The TLS-RPT record does not list the configured "
                   "rua %s: add %s to its \"rua=\" field.",
                   missing, nmissing == 1 ? "it" : "them");
    }

    if (out->state == MTASTS_OK) {
        mtasts_msg(&m, MTASTS_OK,
                   "The TLS-RPT record is valid (%u report URI%s).",
                   rec.nuri, rec.nuri == 1 ? "" : "s");
    }

    if (rec.next) {
        mtasts_msg(&m, MTASTS_OK,
                   "Senders ignore the extension field%s \"%s\"%s "
                   "(checkdmarc reports unknown fields).",
                   rec.next == 1 ? "" : "s",
                   mtasts_field_quote(txt, sizeof(txt), &rec.ext),
                   rec.next == 1 ? "" : " and others");
    }
}


void
mtasts_check_mx(const mtasts_mx_t *mx, size_t n, int nodata,
    const unsigned char *const *patterns, const size_t *plen,
    size_t npatterns, int mode, const char *domain, mtasts_mx_check_t *out)
{
    int                   rc, implicit;
    char                  dom[MTASTS_HOST_SIZE], host[MTASTS_HOST_SIZE];
    char                  list[512];
    size_t                i, j, nh, len, nnull;
    const char           *err, *mname;
    mtasts_mx_t           self;
    mtasts_msg_t          m;
    mtasts_name_t         name;
    mtasts_state_e        miss, stale;
    const mtasts_mx_t    *hosts;

    out->state = MTASTS_OK;
    out->nmatched = 0;
    out->nunmatched = 0;
    out->nunused = 0;

    mtasts_msg_init(&m, out->message, sizeof(out->message), &out->state);

    if (mode < MTASTS_MODE_NONE || mode > MTASTS_MODE_ENFORCE) {
        mode = MTASTS_MODE_ENFORCE;
    }

    mname = mtasts_modes[mode];

    miss = (mode == MTASTS_MODE_ENFORCE) ? MTASTS_ERROR
           : (mode == MTASTS_MODE_TESTING) ? MTASTS_WARNING : MTASTS_OK;
    stale = (mode == MTASTS_MODE_NONE) ? MTASTS_OK : MTASTS_WARNING;

    mtasts_domain(dom, sizeof(dom), domain);

    implicit = (nodata || n == 0);

    if (implicit) {

        /* RFC 5321 section 5.1: the domain itself is the implicit MX */

        self.name = (const unsigned char *) (domain ? domain : "");
        self.len = strlen((const char *) self.name);
        self.pref = 0;

        hosts = &self;
        nh = 1;

    } else {
        hosts = mx;
        nh = n;
    }

    /* a null MX, RFC 7505 */

    nnull = 0;

    for (i = 0; i < nh; i++) {
        if (mtasts_mx_name(hosts[i].name, hosts[i].len, &name, &err) == 0) {
            nnull++;
        }
    }

    if (!implicit && nnull == nh) {

        if (mode == MTASTS_MODE_NONE) {
            mtasts_msg(&m, MTASTS_OK,
                       "The domain publishes a null MX (accepts no mail) "
                       "and its policy is none.");

        } else {
            mtasts_msg(&m, MTASTS_ERROR,
                       "The domain publishes a null MX (accepts no mail) "
                       "but its policy is %s: serve \"mode: none\" or "
                       "publish the real MX records.", mname);
        }

        return;
    }

    /* count the hosts first: the worst news comes first */

    for (i = 0; i < nh; i++) {
        rc = mtasts_mx_name(hosts[i].name, hosts[i].len, &name, &err);

        if (rc == 0 || (rc == 1 && mtasts_mx_dup(hosts, i, &name))) {
            continue;
        }

        if (rc == 1 && mtasts_mx_matches(&name, patterns, plen, npatterns)) {
            out->nmatched++;

        } else {
            out->nunmatched++;
        }
    }

    for (j = 0; j < npatterns; j++) {

        for (i = 0; i < nh; i++) {
            if (mtasts_mx_name(hosts[i].name, hosts[i].len, &name, &err)
                == 1
                && mtasts_mx_match(patterns[j], plen[j], name.data, name.len))
            {
                break;
            }
        }

        if (i == nh) {
            out->nunused++;
        }
    }

    if (implicit && (out->nunmatched || out->nunused)) {
        mtasts_msg(&m, MTASTS_OK,
                   "No MX record: mail goes to %s itself (implicit MX).",
                   dom);
    }

    if (nnull) {
        mtasts_msg(&m, MTASTS_WARNING,
                   "A null MX (\"0 .\") is published beside other MX "
                   "records, which RFC 7505 forbids: remove it.");
    }

    if (npatterns == 0 && mode == MTASTS_MODE_NONE) {
        mtasts_msg(&m, MTASTS_OK,
                   "The policy (mode none) lists no MX hosts, "
                   "there is nothing to match.");
        return;
    }

    if (mode == MTASTS_MODE_ENFORCE && out->nunmatched && !out->nmatched) {
        mtasts_msg(&m, MTASTS_ERROR,
                   "No MX host matches the policy: senders that enforce "
                   "MTA-STS deliver no mail to %s.", dom);
    }

    for (i = 0; i < nh; i++) {
        rc = mtasts_mx_name(hosts[i].name, hosts[i].len, &name, &err);

        if (rc == 0 || (rc == 1 && mtasts_mx_dup(hosts, i, &name))) {
            continue;
        }

        if (rc == 1) {
            if (mtasts_mx_matches(&name, patterns, plen, npatterns)) {
                continue;
            }

            switch (mode) {

            case MTASTS_MODE_ENFORCE:
                mtasts_msg(&m, miss,
                           "Mail to %s would bounce: add mx: %s "
                           "(or a wildcard) to the policy.",
                           name.data, name.data);
                break;

            case MTASTS_MODE_TESTING:
                mtasts_msg(&m, miss,
                           "%s does not match the policy: senders deliver "
                           "anyway in testing mode but report a failure; "
                           "add mx: %s (or a wildcard) to the policy "
                           "before switching to enforce.",
                           name.data, name.data);
                break;

            default:
                mtasts_msg(&m, miss,
                           "%s does not match the policy (no effect in mode "
                           "none): add mx: %s (or a wildcard) to the policy "
                           "before switching to testing or enforce.",
                           name.data, name.data);
            }

            continue;
        }

        mtasts_quote(host, sizeof(host), hosts[i].name, hosts[i].len);

        mtasts_msg(&m, miss,
                   "No policy pattern can match the MX host \"%s\" (%s)%s: "
                   "point the MX record at a proper host name%s.",
                   host, err,
                   (mode == MTASTS_MODE_ENFORCE)
                       ? ", mail to it would bounce" : "",
                   (mode == MTASTS_MODE_ENFORCE) ? ""
                   : (mode == MTASTS_MODE_TESTING)
                       ? " before switching to enforce"
                       : " before switching to testing or enforce");
    }

    if (mode == MTASTS_MODE_ENFORCE && out->nunmatched && out->nmatched) {
        mtasts_msg(&m, MTASTS_ERROR,
                   "Until then senders that enforce MTA-STS deliver only "
                   "to the MX hosts that match.");
    }

    if (out->nunmatched == 0) {

        if (implicit) {
            if (out->nunused == 0) {
                mtasts_msg(&m, MTASTS_OK,
                           "No MX record: mail goes to %s itself "
                           "(implicit MX), which matches the policy.", dom);

            } else {
                mtasts_msg(&m, MTASTS_OK, "%s matches the policy.", dom);
            }

        } else if (out->nmatched == 1) {

            for (i = 0; i < nh; i++) {
                if (mtasts_mx_name(hosts[i].name, hosts[i].len, &name, &err)
                    == 1)
                {
                    break;
                }
            }

            mtasts_msg(&m, MTASTS_OK,
                       "The only MX host, %s, matches the policy.",
                       name.data);

        } else {
            mtasts_msg(&m, MTASTS_OK, "All %u MX hosts match the policy.",
                       out->nmatched);
        }
    }

    if (out->nunused == 0) {
        return;
    }

    len = 0;
    list[0] = '\0';

    for (j = 0; j < npatterns; j++) {

        for (i = 0; i < nh; i++) {
            if (mtasts_mx_name(hosts[i].name, hosts[i].len, &name, &err)
                == 1
                && mtasts_mx_match(patterns[j], plen[j], name.data, name.len))
            {
                break;
            }
        }

        if (i < nh) {
            continue;
        }

        mtasts_list_add(list, sizeof(list), &len, "%smx: %s",
                        len ? ", " : "",
                        mtasts_quote(host, sizeof(host), patterns[j],
                                     plen[j]));
    }

    if (out->nunused == 1) {
        mtasts_msg(&m, stale,
                   "The policy pattern %s matches no MX host: remove it, "
                   "unless it names a retired MX that senders may still "
                   "use from a cached policy (keep that until max_age has "
                   "passed)%s.", list,
                   (mode == MTASTS_MODE_NONE) ? "; no effect in mode none"
                                              : "");

    } else {
        mtasts_msg(&m, stale,
                   "The policy patterns %s match no MX host: remove them, "
                   "unless they name retired MXes that senders may still "
                   "use from a cached policy (keep those until max_age has "
                   "passed)%s.", list,
                   (mode == MTASTS_MODE_NONE) ? "; no effect in mode none"
                                              : "");
    }
}


static void
mtasts_msg_init(mtasts_msg_t *m, char *buf, size_t size,
    mtasts_state_e *state)
{
    m->buf = buf;
    m->size = size;
    m->len = 0;
    m->state = state;

    buf[0] = '\0';
}


/*
 * Appends a sentence and raises the state.  A message that does not fit is
 * cut and ends with "..."; later sentences are dropped, not their state.
 */

static void
mtasts_msg(mtasts_msg_t *m, mtasts_state_e state, const char *fmt, ...)
{
    va_list  args;

    if (state > *m->state) {
        *m->state = state;
    }

    if (m->len + 1 >= m->size) {
        return;
    }

    if (m->len > 0) {
        m->buf[m->len++] = ' ';
        m->buf[m->len] = '\0';
    }

    va_start(args, fmt);
    mtasts_vappend(m->buf, m->size, &m->len, fmt, args);
    va_end(args);
}


static void
mtasts_list_add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    mtasts_vappend(buf, size, len, fmt, args);
    va_end(args);
}


/* text that does not fit in "buf" is cut and ends with "..." */

static void
mtasts_vappend(char *buf, size_t size, size_t *len, const char *fmt,
    va_list args)
{
    int     rc;
    size_t  room;

    if (*len + 1 >= size) {
        return;
    }

    room = size - *len;

    rc = vsnprintf(buf + *len, room, fmt, args);

    if (rc < 0) {
        buf[*len] = '\0';
        return;
    }

    if ((size_t) rc >= room) {
        memcpy(buf + size - 4, "...", 4);
        *len = size - 1;
        return;
    }

    *len += rc;
}


/*
 * Text from DNS in zone file presentation form: bytes outside printable
 * ASCII as "\DDD", "\" and """ escaped; cut with "..." if too long.
 */

static char *
mtasts_quote(char *dst, size_t size, const unsigned char *p, size_t n)
{
    size_t          i, o, esc;
    unsigned char   c;

    o = 0;

    for (i = 0; i < n; i++) {
        c = p[i];

        esc = (c < 0x20 || c > 0x7e) ? 4 : (c == '\\' || c == '"') ? 2 : 1;

        if (o + esc + 4 > size) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }

        if (esc == 4) {
            snprintf(dst + o, 5, "\\%03u", (unsigned) c);

        } else if (esc == 2) {
            dst[o] = '\\';
            dst[o + 1] = (char) c;

        } else {
            dst[o] = (char) c;
        }

        o += esc;
    }

    dst[o] = '\0';

    return dst;
}


static char *
mtasts_domain(char *dst, size_t size, const char *domain)
{
    size_t  n;

    if (domain == NULL) {
        domain = "";
    }

    n = strlen(domain);

    if (n > 0 && domain[n - 1] == '.') {
        n--;
    }

    return mtasts_quote(dst, size, (const unsigned char *) domain, n);
}


static int
mtasts_icase_prefix(const unsigned char *p, size_t n, const char *s)
{
    size_t  i, len;

    len = strlen(s);

    if (n < len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (mtasts_lower(p[i]) != mtasts_lower((unsigned char) s[i])) {
            return 0;
        }
    }

    return 1;
}


static int
mtasts_icase_find(const unsigned char *p, size_t n, const char *s)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (mtasts_icase_prefix(p + i, n - i, s)) {
            return 1;
        }
    }

    return 0;
}


/*
 * Counts the records at a name that begin with the version (they count,
 * out->nrecords) and the others (out->nother), and remembers the first
 * that counts, the first near-miss with its reason and the first other.
 */

static void
mtasts_txt_scan(const mtasts_txt_t *records, size_t n, const char *version,
    mtasts_check_t *out, mtasts_scan_t *scan)
{
    int          cls;
    size_t       i;
    const char  *why;

    out->nrecords = 0;
    out->nother = 0;

    scan->first = n;
    scan->near = n;
    scan->other = n;
    scan->space = 0;
    scan->near_why = NULL;

    for (i = 0; i < n; i++) {
        cls = mtasts_txt_classify(&records[i], version, &why);

        switch (cls) {

        case MTASTS_TXT_VALID:
        case MTASTS_TXT_SPACE:
            out->nrecords++;

            if (scan->first == n) {
                scan->first = i;
            }

            if (cls == MTASTS_TXT_SPACE) {
                scan->space++;
            }

            break;

        case MTASTS_TXT_NEAR:
            out->nother++;

            if (scan->near == n) {
                scan->near = i;
                scan->near_why = why;
            }

            break;

        default:
            out->nother++;

            if (scan->other == n) {
                scan->other = i;
            }
        }
    }
}


/*
 * RFC 8461 section 3.1 and RFC 8460 section 3: "records that do not begin
 * with "v=STSv1;" are discarded".  The grammar also allows "v=STSv1 ;",
 * which counts here but gets a warning (erratum 6285).  Records that look
 * meant as the record but are discarded are "near", with the reason.
 */

static int
mtasts_txt_classify(const mtasts_txt_t *txt, const char *version,
    const char **why)
{
    size_t                i, n, vlen;
    const unsigned char  *p;

    p = txt->data;
    n = txt->len;
    vlen = strlen(version);

    *why = NULL;

    if (n >= vlen && memcmp(p, version, vlen) == 0) {

        for (i = vlen; i < n && mtasts_wsp(p[i]); i++) {
            /* void */
        }

        if (i < n && p[i] == ';') {
            return (i == vlen) ? MTASTS_TXT_VALID : MTASTS_TXT_SPACE;
        }

        *why = (i == n) ? "nothing follows the version"
                        : "the version is not followed by \";\"";

        return MTASTS_TXT_NEAR;
    }

    for (i = 0; i < n && mtasts_wsp(p[i]); i++) {
        /* void */
    }

    if (i > 0 && mtasts_icase_prefix(p + i, n - i, version)) {
        *why = "it begins with whitespace";
        return MTASTS_TXT_NEAR;
    }

    if (mtasts_icase_prefix(p, n, version)) {
        *why = "the version is case-sensitive";
        return MTASTS_TXT_NEAR;
    }

    if (mtasts_icase_find(p, n, version)) {
        *why = "the version must be the first field";
        return MTASTS_TXT_NEAR;
    }

    return MTASTS_TXT_OTHER;
}


static const char *
mtasts_txt_hint(const mtasts_txt_t *txt)
{
    if (mtasts_icase_prefix(txt->data, txt->len, "v=spf1")) {
        return " (does a wildcard TXT record answer for that name?)";
    }

    if (mtasts_icase_find(txt->data, txt->len, "v=TLSRPTv1")) {
        return " (a TLS-RPT record belongs at the \"_smtp._tls\" name)";
    }

    if (mtasts_icase_find(txt->data, txt->len, "v=DMARC1")) {
        return " (a DMARC record belongs at the \"_dmarc\" name)";
    }

    return "";
}


static const char *
mtasts_txt_chars(const unsigned char *p, size_t n, size_t *at)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        *at = i;

        if (p[i] >= 0x80) {
            return "a non-ASCII byte";
        }

        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
            return "a control character";
        }
    }

    return NULL;
}


/*
 * The next field after the version or the previous field:
 *
 *     field-delim = *WSP ";" *WSP
 *     field       = name "=" value
 *
 * A value ends at ";" or WSP, except in a field named "list" (TLS-RPT's
 * "rua"), where WSP may surround the commas: it ends at ";", less any
 * trailing WSP.  Returns NULL with f->name NULL at the end, or an error
 * with f->name set to the offending text, if any.
 */

static const char *
mtasts_field_next(const unsigned char *p, size_t n, size_t *pos,
    const char *list, mtasts_field_t *f)
{
    size_t  i, start, eq, end;

    f->name = NULL;
    f->nlen = 0;
    f->value = NULL;
    f->vlen = 0;

    for (i = *pos; i < n && mtasts_wsp(p[i]); i++) {
        /* void */
    }

    if (i == n) {
        start = *pos;
        *pos = n;

        return (i > start) ? "whitespace at the end without a final \";\""
                           : NULL;
    }

    if (p[i] != ';') {
        mtasts_field_segment(p, n, i, f);
        return "whitespace inside a field, fields are separated by \";\"";
    }

    for (i++; i < n && mtasts_wsp(p[i]); i++) {
        /* void */
    }

    if (i == n) {

        /* an optional final delimiter */

        *pos = n;
        return NULL;
    }

    if (p[i] == ';') {
        return "an empty field between two \";\"";
    }

    start = i;

    for (eq = i; eq < n; eq++) {
        if (p[eq] == '=' || p[eq] == ';' || mtasts_wsp(p[eq])) {
            break;
        }
    }

    if (eq == n || p[eq] != '=') {
        mtasts_field_segment(p, n, start, f);
        return "a field is not name=value";
    }

    if (!mtasts_field_name(p + start, eq - start)) {
        mtasts_field_segment(p, n, start, f);
        return "invalid field name, a name is a letter or digit and up to "
               "31 letters, digits, \"_\", \"-\" and \".\"";
    }

    f->name = p + start;
    f->nlen = eq - start;

    start = eq + 1;

    if (list && mtasts_field_is(f, list)) {
        for (end = start; end < n && p[end] != ';'; end++) {
            /* void */
        }

        while (end > start && mtasts_wsp(p[end - 1])) {
            end--;
        }

    } else {
        for (end = start; end < n; end++) {
            if (p[end] == ';' || mtasts_wsp(p[end])) {
                break;
            }
        }
    }

    f->value = p + start;
    f->vlen = end - start;

    *pos = end;

    return NULL;
}


/* the text between the semicolons around "at", without WSP at its ends */

static void
mtasts_field_segment(const unsigned char *p, size_t n, size_t at,
    mtasts_field_t *f)
{
    size_t  start, end;

    for (start = at; start > 0 && p[start - 1] != ';'; start--) {
        /* void */
    }

    for (end = at; end < n && p[end] != ';'; end++) {
        /* void */
    }

    while (start < end && mtasts_wsp(p[start])) {
        start++;
    }

    while (end > start && mtasts_wsp(p[end - 1])) {
        end--;
    }

    f->name = p + start;
    f->nlen = end - start;
    f->value = p + end;
    f->vlen = 0;
}


/* (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".") */

static int
mtasts_field_name(const unsigned char *p, size_t n)
{
    size_t  i;

    if (n == 0 || n > 32) {
        return 0;
    }

    if (!mtasts_alpha(p[0]) && !mtasts_digit(p[0])) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if (!mtasts_alpha(p[i]) && !mtasts_digit(p[i])
            && p[i] != '_' && p[i] != '-' && p[i] != '.')
        {
            return 0;
        }
    }

    return 1;
}


/* field names of the RFCs are case-sensitive (RFC 7405 %s"...") */

static int
mtasts_field_is(const mtasts_field_t *f, const char *name)
{
    return f->nlen == strlen(name) && memcmp(f->name, name, f->nlen) == 0;
}


static int
mtasts_field_seen(const unsigned char *p, size_t n, size_t vlen,
    const char *list, const mtasts_field_t *f)
{
    size_t          pos;
    mtasts_field_t  g;

    pos = vlen;

    for ( ;; ) {
        if (mtasts_field_next(p, n, &pos, list, &g) != NULL
            || g.name == NULL || g.name >= f->name)
        {
            return 0;
        }

        if (g.nlen == f->nlen && memcmp(g.name, f->name, g.nlen) == 0) {
            return 1;
        }
    }
}


/* the whole field, "name=value" */

static char *
mtasts_field_quote(char *dst, size_t size, const mtasts_field_t *f)
{
    const unsigned char  *end;

    end = f->value ? f->value + f->vlen : f->name + f->nlen;

    return mtasts_quote(dst, size, f->name, end - f->name);
}


/*
 * The strict parse of the single record, from the first field delimiter
 * after the version of length "vlen" (RFC 8461 section 3.1, RFC 8460
 * section 3).  Returns 0, or -1 with the reason in "err".
 */

static int
mtasts_rec_parse(const unsigned char *p, size_t n, size_t vlen, int tlsrpt,
    mtasts_rec_t *rec, char *err, size_t size)
{
    char             txt[MTASTS_QUOTE_SIZE];
    size_t           pos, at;
    const char      *e, *list, *need;
    mtasts_field_t   f;

    memset(rec, 0, sizeof(mtasts_rec_t));

    e = mtasts_txt_chars(p, n, &at);
    if (e) {
        snprintf(err, size, "%s at position %lu", e, (unsigned long) at + 1);
        return -1;
    }

    list = tlsrpt ? "rua" : NULL;
    need = tlsrpt ? "rua" : "id";
    pos = vlen;

    for ( ;; ) {
        e = mtasts_field_next(p, n, &pos, list, &f);
        if (e) {
            return mtasts_rec_error(err, size, e, &f);
        }

        if (f.name == NULL) {
            break;
        }

        if (!tlsrpt && mtasts_field_is(&f, "id")) {

            if (rec->id.name) {
                return mtasts_rec_error(err, size,
                                        "a second \"id=\" field, "
                                        "which mox rejects", &f);
            }

            e = mtasts_check_id(f.value, f.vlen);
            if (e) {
                snprintf(err, size, "%s: \"%s\"", e,
                         mtasts_field_quote(txt, sizeof(txt), &f));
                return -1;
            }

            rec->id = f;
            continue;
        }

        if (tlsrpt && mtasts_field_is(&f, "rua")) {
            rec->nrua++;

            if (mtasts_rua_parse(&f, rec, err, size) != 0) {
                return -1;
            }

            continue;
        }

        /* an extension: 1*(%x21-3A / %x3C / %x3E-7E) */

        if (f.vlen == 0) {
            return mtasts_rec_error(err, size, "a field without a value",
                                    &f);
        }

        if (memchr(f.value, '=', f.vlen) != NULL) {
            return mtasts_rec_error(err, size, "\"=\" inside a field value",
                                    &f);
        }

        if (mtasts_field_is(&f, "v")) {

            /* the version again: not an extension */

            if (rec->dup.name == NULL) {
                rec->dup = f;
            }

            continue;
        }

        if (rec->dup.name == NULL && mtasts_field_seen(p, n, vlen, list, &f))
        {
            rec->dup = f;
        }

        if (rec->hint.name == NULL
            && mtasts_icase_prefix(f.name, f.nlen, need)
            && f.nlen == strlen(need))
        {
            rec->hint = f;
        }

        if (rec->next++ == 0) {
            rec->ext = f;
        }
    }

    if ((tlsrpt && rec->nrua == 0) || (!tlsrpt && rec->id.name == NULL)) {

        if (rec->hint.name) {
            snprintf(err, size, "no \"%s=\" field, and field names are "
                     "case-sensitive: \"%s\" is not \"%s=\"", need,
                     mtasts_field_quote(txt, sizeof(txt), &rec->hint), need);

        } else {
            snprintf(err, size, "no \"%s=\" field", need);
        }

        return -1;
    }

    if (tlsrpt && rec->nuri == 0) {
        snprintf(err, size, "no usable report URI, \"%s\": %s",
                 mtasts_field_quote(txt, sizeof(txt), &rec->bad),
                 rec->bad_err);
        return -1;
    }

    return 0;
}


static int
mtasts_rec_error(char *err, size_t size, const char *e,
    const mtasts_field_t *f)
{
    char  txt[MTASTS_QUOTE_SIZE];

    if (f->name) {
        snprintf(err, size, "%s: \"%s\"", e,
                 mtasts_field_quote(txt, sizeof(txt), f));

    } else {
        snprintf(err, size, "%s", e);
    }

    return -1;
}


/* tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri) */

static int
mtasts_rua_parse(const mtasts_field_t *f, mtasts_rec_t *rec, char *err,
    size_t size)
{
    char                  txt[MTASTS_QUOTE_SIZE];
    size_t                pos, len;
    const char           *e;
    const unsigned char  *uri;

    if (f->vlen == 0) {
        return mtasts_rec_error(err, size, "an empty \"rua=\" field", f);
    }

    pos = 0;

    while (mtasts_uri_next(f->value, f->vlen, &pos, &uri, &len)) {

        if (len == 0) {
            return mtasts_rec_error(err, size,
                                    "an empty URI in the \"rua=\" list", f);
        }

        e = mtasts_check_rua(uri, len);

        if (e == NULL) {
            rec->nuri++;
            continue;
        }

        if (mtasts_uri_other(uri, len)) {
            if (rec->nbad++ == 0) {
                rec->bad.name = uri;
                rec->bad.nlen = len;
                rec->bad.value = NULL;
                rec->bad.vlen = 0;
                rec->bad_err = e;
            }

            continue;
        }

        snprintf(err, size, "invalid report URI \"%s\": %s",
                 mtasts_quote(txt, sizeof(txt), uri, len), e);
        return -1;
    }

    return 0;
}


static int
mtasts_uri_next(const unsigned char *p, size_t n, size_t *pos,
    const unsigned char **uri, size_t *len)
{
    size_t  i, start, end;

    if (*pos > n) {
        return 0;
    }

    for (i = *pos; i < n && p[i] != ','; i++) {
        /* void */
    }

    start = *pos;
    end = i;

    while (start < end && mtasts_wsp(p[start])) {
        start++;
    }

    while (end > start && mtasts_wsp(p[end - 1])) {
        end--;
    }

    *uri = p + start;
    *len = end - start;
    *pos = i + 1;

    return 1;
}


/* a well-formed URI of a scheme other than "mailto:" and "https:" */

static int
mtasts_uri_other(const unsigned char *p, size_t n)
{
    size_t  i;

    if (n == 0 || !mtasts_alpha(p[0])) {
        return 0;
    }

    for (i = 1; i < n && p[i] != ':'; i++) {
        if (!mtasts_alpha(p[i]) && !mtasts_digit(p[i])
            && p[i] != '+' && p[i] != '-' && p[i] != '.')
        {
            return 0;
        }
    }

    if (i == n
        || mtasts_icase_prefix(p, n, "mailto:")
        || mtasts_icase_prefix(p, n, "https:"))
    {
        return 0;
    }

    for ( /* void */ ; i < n; i++) {
        if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '!' || p[i] == '"') {
            return 0;
        }
    }

    return 1;
}


/* the URI is listed: the scheme compares case-insensitively, the rest not */

static int
mtasts_rua_listed(const unsigned char *p, size_t n, size_t vlen,
    const char *conf)
{
    size_t                pos, upos, len, clen, i;
    mtasts_field_t        f;
    const unsigned char  *uri, *c;

    c = (const unsigned char *) conf;
    clen = strlen(conf);
    pos = vlen;

    for ( ;; ) {
        if (mtasts_field_next(p, n, &pos, "rua", &f) != NULL
            || f.name == NULL)
        {
            return 0;
        }

        if (!mtasts_field_is(&f, "rua")) {
            continue;
        }

        upos = 0;

        while (mtasts_uri_next(f.value, f.vlen, &upos, &uri, &len)) {

            if (len != clen) {
                continue;
            }

            for (i = 0; i < len && c[i] != ':'; i++) {
                if (mtasts_lower(uri[i]) != mtasts_lower(c[i])) {
                    break;
                }
            }

            if (i < len && c[i] == ':'
                && memcmp(uri + i, c + i, len - i) == 0)
            {
                return 1;
            }
        }
    }
}


/*
 * 0: a null MX (RFC 7505); 1: a host name, lower case, A-labels, without
 * the trailing dot; -1: a name that no policy pattern can match.
 */

static int
mtasts_mx_name(const unsigned char *p, size_t n, mtasts_name_t *name,
    const char **err)
{
    if (n == 0 || (n == 1 && p[0] == '.')) {
        return 0;
    }

    *err = mtasts_name_normalize(p, n, 0, name);

    return (*err == NULL) ? 1 : -1;
}


/* the same host name was given by an earlier MX record */

static int
mtasts_mx_dup(const mtasts_mx_t *mx, size_t i, const mtasts_name_t *name)
{
    size_t          j;
    const char     *err;
    mtasts_name_t   prev;

    for (j = 0; j < i; j++) {
        if (mtasts_mx_name(mx[j].name, mx[j].len, &prev, &err) == 1
            && prev.len == name->len
            && memcmp(prev.data, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static int
mtasts_mx_matches(const mtasts_name_t *name,
    const unsigned char *const *patterns, const size_t *plen,
    size_t npatterns)
{
    size_t  j;

    for (j = 0; j < npatterns; j++) {
        if (mtasts_mx_match(patterns[j], plen[j], name->data, name->len)) {
            return 1;
        }
    }

    return 0;
}
