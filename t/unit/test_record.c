
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Unit tests of the DNS self-check (src/parse/ngx_mtasts_record.c).  Prints TAP:
 * one "ok"/"not ok" line per CHECK, the plan at the end, then a last line
 * "N passed, M failed"; exits non-zero if any check failed.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_mtasts_record.h"


static unsigned     passed, failed;
static const char  *case_name = "";
static const char  *message = "";
static const char  *shown;


#define CASE(name)  case_name = (name)

#define CHECK(cond)                                                          \
    check((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

#define HAS(s)  (strstr(message, (s)) != NULL)


static mtasts_check_t     c;
static mtasts_mx_check_t  x;


static void
check(int ok, const char *cond, const char *file, int line)
{
    unsigned  n;

    n = passed + failed + 1;

    /* TEST_VERBOSE=1: each case's message as a TAP comment */

    if (shown != case_name && getenv("TEST_VERBOSE") != NULL) {
        shown = case_name;
        printf("# %s: %s\n", case_name, message);
    }

    if (ok) {
        passed++;
        printf("ok %u - %s: %s\n", n, case_name, cond);
        return;
    }

    failed++;
    printf("not ok %u - %s: %s\n", n, case_name, cond);
    printf("#   failed at %s:%d\n", file, line);
    printf("#   message: %s\n", message);
}


static void
sts(const char *served, size_t n, const char *r0, const char *r1,
    const char *r2)
{
    size_t        i;
    const char   *r[3];
    mtasts_txt_t  txt[3];

    r[0] = r0;
    r[1] = r1;
    r[2] = r2;

    for (i = 0; i < n; i++) {
        txt[i].data = (const unsigned char *) r[i];
        txt[i].len = strlen(r[i]);
    }

    mtasts_check_sts(txt, n, "example.com", served, &c);
    message = c.message;
}


static void
sts1(const char *record, const char *served)
{
    sts(served, 1, record, NULL, NULL);
}


static void
rpt(size_t n, const char *r0, const char *r1, const char *const *rua,
    size_t nrua, int testing)
{
    size_t        i;
    const char   *r[2];
    mtasts_txt_t  txt[2];

    r[0] = r0;
    r[1] = r1;

    for (i = 0; i < n; i++) {
        txt[i].data = (const unsigned char *) r[i];
        txt[i].len = strlen(r[i]);
    }

    mtasts_check_tlsrpt(txt, n, "example.com", rua, nrua, testing, &c);
    message = c.message;
}


static void
rpt1(const char *record)
{
    rpt(1, record, NULL, NULL, 0, 0);
}


/* hosts and patterns: NULL-terminated lists */

static void
mx(int mode, const char *const *hosts, const char *const *pats)
{
    size_t                n, np;
    size_t                plen[16];
    mtasts_mx_t           m[64];
    const unsigned char  *p[16];

    for (n = 0; hosts && hosts[n]; n++) {
        m[n].name = (const unsigned char *) hosts[n];
        m[n].len = strlen(hosts[n]);
        m[n].pref = (unsigned) (10 * n);
    }

    for (np = 0; pats[np]; np++) {
        p[np] = (const unsigned char *) pats[np];
        plen[np] = strlen(pats[np]);
    }

    mtasts_check_mx(m, n, n == 0, p, plen, np, mode, "example.com", &x);
    message = x.message;
}


static void
test_sts(void)
{
    char  id33[64], rec[128];

    CASE("sts: no record");
    sts("abc123", 0, NULL, NULL, NULL);
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("No _mta-sts TXT record"));
    CHECK(HAS("publish _mta-sts.example.com. IN TXT "
              "\"v=STSv1; id=abc123\""));
    CHECK(c.nrecords == 0 && c.id[0] == '\0');

    CASE("sts: valid record, id matches");
    sts1("v=STSv1; id=abc123", "abc123");
    CHECK(c.state == MTASTS_OK);
    CHECK(HAS("published id matches the served policy"));
    CHECK(strcmp(c.id, "abc123") == 0);
    CHECK(c.nrecords == 1 && c.nother == 0);

    CASE("sts: multi-string record, concatenated by the caller");
    sts1("v=STSv1; " "id=abc123", "abc123");
    CHECK(c.state == MTASTS_OK);

    CASE("sts: trailing \";\"");
    sts1("v=STSv1; id=abc;", "abc");
    CHECK(c.state == MTASTS_OK);

    CASE("sts: trailing \" ;  \"");
    sts1("v=STSv1; id=abc ;  ", "abc");
    CHECK(c.state == MTASTS_OK);

    CASE("sts: no space after \";\"");
    sts1("v=STSv1;id=abc", "abc");
    CHECK(c.state == MTASTS_OK);
    CHECK(strcmp(c.id, "abc") == 0);

    CASE("sts: trailing space");
    sts1("v=STSv1; id=abc ", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("whitespace at the end"));
    CHECK(HAS("is invalid"));
    CHECK(c.id[0] == '\0');

    CASE("sts: empty id");
    sts1("v=STSv1; id=", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("empty id"));

    CASE("sts: 33-character id");
    memset(id33, 'a', 33);
    id33[33] = '\0';
    snprintf(rec, sizeof(rec), "v=STSv1; id=%s", id33);
    sts1(rec, "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("1 to 32 letters and digits"));

    CASE("sts: 32-character id");
    id33[32] = '\0';
    snprintf(rec, sizeof(rec), "v=STSv1; id=%s", id33);
    sts1(rec, id33);
    CHECK(c.state == MTASTS_OK);
    CHECK(strcmp(c.id, id33) == 0);

    CASE("sts: hyphen in id");
    sts1("v=STSv1; id=a-b", "ab");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("1 to 32 letters and digits: \"id=a-b\""));

    CASE("sts: empty field");
    sts1("v=STSv1;; id=a", "a");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("empty field"));

    CASE("sts: empty field before the trailing delimiter");
    sts1("v=STSv1; id=a; ; ", "a");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("empty field"));

    CASE("sts: version not first");
    sts1("id=abc; v=STSv1", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(c.nrecords == 0 && c.nother == 1);
    CHECK(HAS("the version must be the first field"));
    CHECK(HAS("publish _mta-sts.example.com. IN TXT"));

    CASE("sts: two valid records");
    sts("abc", 2, "v=STSv1; id=abc", "v=STSv1; id=def", NULL);
    CHECK(c.state == MTASTS_ERROR);
    CHECK(c.nrecords == 2);
    CHECK(HAS("2 TXT records at _mta-sts.example.com begin with"));
    CHECK(HAS("exactly one"));

    CASE("sts: SPF record beside the record");
    sts("abc", 2, "v=spf1 -all", "v=STSv1; id=abc", NULL);
    CHECK(c.state == MTASTS_ERROR);
    CHECK(c.nrecords == 1 && c.nother == 1);
    CHECK(HAS("Remove the 1 other TXT record at _mta-sts.example.com"));
    CHECK(HAS("v=spf1 -all"));
    CHECK(HAS("go-mtasts"));
    CHECK(strcmp(c.id, "abc") == 0);

    CASE("sts: only an SPF record");
    sts1("v=spf1 -all", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(c.nrecords == 0 && c.nother == 1);
    CHECK(HAS("wildcard TXT"));

    CASE("sts: space before the first \";\"");
    sts1("v=STSv1 ; id=abc", "abc");
    CHECK(c.state == MTASTS_WARNING);
    CHECK(c.nrecords == 1);
    CHECK(HAS("chasquid"));
    CHECK(HAS("remove the space"));
    CHECK(HAS("published id matches"));

    CASE("sts: tab before the first \";\"");
    sts1("v=STSv1\t;\tid=abc", "abc");
    CHECK(c.state == MTASTS_WARNING);

    CASE("sts: id differs from the served id");
    sts1("v=STSv1; id=old1", "new2");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("The TXT id is old1, the served policy's id is new2"));
    CHECK(HAS("publish _mta-sts.example.com. IN TXT "
              "\"v=STSv1; id=new2\""));
    CHECK(strcmp(c.id, "old1") == 0);

    CASE("sts: ids are case-sensitive");
    sts1("v=STSv1; id=ABC", "abc");
    CHECK(c.state == MTASTS_ERROR);

    CASE("sts: version alone");
    sts1("v=STSv1", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(c.nrecords == 0);
    CHECK(HAS("nothing follows the version"));

    CASE("sts: version without \";\"");
    sts1("v=STSv1 id=abc", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("not followed by"));

    CASE("sts: upper-case V");
    sts1("V=STSv1; id=abc", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(c.nrecords == 0);
    CHECK(HAS("case-sensitive"));

    CASE("sts: lower-case version");
    sts1("v=stsv1; id=abc", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("case-sensitive"));

    CASE("sts: leading space");
    sts1(" v=STSv1; id=abc", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("begins with whitespace"));

    CASE("sts: duplicate id");
    sts1("v=STSv1; id=abc; id=abc", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("second \"id=\" field"));

    CASE("sts: no id");
    sts1("v=STSv1;", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("no \"id=\" field"));

    CASE("sts: ID= is not id=");
    sts1("v=STSv1; ID=abc", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("case-sensitive"));

    CASE("sts: extension");
    sts1("v=STSv1; id=abc; ext=val", "abc");
    CHECK(c.state == MTASTS_OK);
    CHECK(HAS("extension field \"ext=val\""));
    CHECK(HAS("published id matches"));

    CASE("sts: repeated version field");
    sts1("v=STSv1; v=STSv1; id=abc", "abc");
    CHECK(c.state == MTASTS_WARNING);
    CHECK(HAS("repeats"));
    CHECK(!HAS("extension"));

    CASE("sts: a discarded record beside the record");
    sts("abc", 2, "v=STSv1; id=abc", "v=STSv1", NULL);
    CHECK(c.state == MTASTS_ERROR);
    CHECK(c.nrecords == 1 && c.nother == 1);
    CHECK(HAS("(discarded: nothing follows the version)"));

    CASE("sts: a discarded record and an SPF record, no record");
    sts("abc", 3, "v=spf1 -all", "v=STSv1 id=abc", "x");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(c.nrecords == 0 && c.nother == 3);
    CHECK(HAS("\"v=STSv1 id=abc\" does not count"));
    CHECK(HAS("Remove the 2 other TXT records"));

    CASE("sts: space inside a field");
    sts1("v=STSv1; id=abc def", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("whitespace inside a field"));

    CASE("sts: field without \"=\"");
    sts1("v=STSv1; id=abc; foo", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("not name=value"));

    CASE("sts: \"=\" in an extension value");
    sts1("v=STSv1; id=abc; e=a=b", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("\"=\" inside a field value"));

    CASE("sts: non-ASCII");
    sts1("v=STSv1; id=abc; e=caf\xc3\xa9", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("non-ASCII"));
    CHECK(HAS("\\195\\169"));

    CASE("sts: TLS-RPT record at _mta-sts");
    sts1("v=TLSRPTv1; rua=mailto:a@example.com", "abc");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("_smtp._tls"));
}


static void
test_tlsrpt(void)
{
    static const char  *conf[] = { "mailto:tls@example.com",
                                   "https://r.example.net/tlsrpt" };

    CASE("tlsrpt: no record");
    rpt(0, NULL, NULL, NULL, 0, 0);
    CHECK(c.state == MTASTS_WARNING);
    CHECK(HAS("No TLS-RPT record: publish _smtp._tls.example.com. IN TXT "
              "\"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\""));
    CHECK(!HAS("testing mode"));

    CASE("tlsrpt: no record, rua configured, testing");
    rpt(0, NULL, NULL, conf, 1, 1);
    CHECK(c.state == MTASTS_WARNING);
    CHECK(HAS("rua=mailto:tls@example.com\""));
    CHECK(HAS("testing mode"));

    CASE("tlsrpt: only an SPF record");
    rpt(1, "v=spf1 -all", NULL, NULL, 0, 0);
    CHECK(c.state == MTASTS_WARNING);
    CHECK(c.nrecords == 0 && c.nother == 1);

    CASE("tlsrpt: valid mailto");
    rpt1("v=TLSRPTv1; rua=mailto:tlsrpt@example.com");
    CHECK(c.state == MTASTS_OK);
    CHECK(HAS("valid (1 report URI)"));
    CHECK(c.nrecords == 1);

    CASE("tlsrpt: valid https");
    rpt1("v=TLSRPTv1;rua=https://reports.example.net/tlsrpt");
    CHECK(c.state == MTASTS_OK);

    CASE("tlsrpt: list with spaces around the comma");
    rpt1("v=TLSRPTv1; rua=mailto:a@example.com ,\t"
         "https://r.example.net/x;");
    CHECK(c.state == MTASTS_OK);
    CHECK(HAS("2 report URIs"));

    CASE("tlsrpt: !10m size suffix");
    rpt1("v=TLSRPTv1; rua=mailto:a@b.c!10m");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("mailto:a@b.c!10m"));
    CHECK(HAS("%21"));

    CASE("tlsrpt: no rua");
    rpt1("v=TLSRPTv1;");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("no \"rua=\" field"));

    CASE("tlsrpt: only an extension");
    rpt1("v=TLSRPTv1; x=y");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("no \"rua=\" field"));

    CASE("tlsrpt: RUA= is not rua=");
    rpt1("v=TLSRPTv1; RUA=mailto:a@example.com");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("case-sensitive"));

    CASE("tlsrpt: empty rua");
    rpt1("v=TLSRPTv1; rua=");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("empty"));

    CASE("tlsrpt: empty URI in the list");
    rpt1("v=TLSRPTv1; rua=mailto:a@example.com,,mailto:b@example.com");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("empty URI"));

    CASE("tlsrpt: two rua fields");
    rpt1("v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com");
    CHECK(c.state == MTASTS_WARNING);
    CHECK(HAS("2 \"rua=\" fields"));
    CHECK(HAS("checkdmarc"));

    CASE("tlsrpt: configured rua missing");
    rpt(1, "v=TLSRPTv1; rua=mailto:tls@example.com", NULL, conf, 2, 0);
    CHECK(c.state == MTASTS_WARNING);
    CHECK(HAS("does not list the configured rua "
              "\"https://r.example.net/tlsrpt\""));
    CHECK(!HAS("\"mailto:tls@example.com\""));

    CASE("tlsrpt: configured rua listed, scheme case differs");
    rpt(1, "v=TLSRPTv1; rua=MAILTO:tls@example.com, "
        "https://r.example.net/tlsrpt", NULL, conf, 2, 1);
    CHECK(c.state == MTASTS_OK);

    CASE("tlsrpt: configured rua listed, address case differs");
    rpt(1, "v=TLSRPTv1; rua=mailto:TLS@example.com", NULL, conf, 1, 0);
    CHECK(c.state == MTASTS_WARNING);

    CASE("tlsrpt: two records");
    rpt(2, "v=TLSRPTv1; rua=mailto:a@example.com",
        "v=TLSRPTv1; rua=mailto:b@example.com", NULL, 0, 0);
    CHECK(c.state == MTASTS_ERROR);
    CHECK(c.nrecords == 2);
    CHECK(HAS("no TLS-RPT"));

    CASE("tlsrpt: other record beside");
    rpt(2, "v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com",
        NULL, 0, 0);
    CHECK(c.state == MTASTS_OK);
    CHECK(c.nrecords == 1 && c.nother == 1);

    CASE("tlsrpt: space before the first \";\"");
    rpt1("v=TLSRPTv1 ; rua=mailto:a@example.com");
    CHECK(c.state == MTASTS_WARNING);
    CHECK(HAS("remove the space"));

    CASE("tlsrpt: lower-case version");
    rpt1("v=tlsrptv1; rua=mailto:a@example.com");
    CHECK(c.state == MTASTS_WARNING);
    CHECK(c.nrecords == 0);
    CHECK(HAS("case-sensitive"));

    CASE("tlsrpt: empty field");
    rpt1("v=TLSRPTv1;;rua=mailto:a@example.com");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("empty field"));

    CASE("tlsrpt: trailing space");
    rpt1("v=TLSRPTv1; rua=mailto:a@example.com ");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("whitespace at the end"));

    CASE("tlsrpt: extension");
    rpt1("v=TLSRPTv1; rua=mailto:a@example.com; ext=1");
    CHECK(c.state == MTASTS_OK);
    CHECK(HAS("ext=1"));

    CASE("tlsrpt: only http:");
    rpt1("v=TLSRPTv1; rua=http://r.example.net/x");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("no usable report URI"));
    CHECK(HAS("plain"));

    CASE("tlsrpt: unknown scheme beside mailto:");
    rpt1("v=TLSRPTv1; rua=mailto:a@example.com,ftp://r.example.net/x");
    CHECK(c.state == MTASTS_WARNING);
    CHECK(HAS("ftp://r.example.net/x"));

    CASE("tlsrpt: mailto: without @");
    rpt1("v=TLSRPTv1; rua=mailto:example.com");
    CHECK(c.state == MTASTS_ERROR);
    CHECK(HAS("needs an address"));
}


static void
test_mx(void)
{
    size_t              i;
    char                names[40][32];
    const char         *many[41];

    static const char  *pats[] = { "mx1.example.com", "*.mail.example.net",
                                   NULL };
    static const char  *two[] = { "mx1.example.com", "a.mail.example.net",
                                  NULL };
    static const char  *miss[] = { "mx1.example.com", "a.mail.example.net",
                                   "mx2.example.com", NULL };
    static const char  *deep[] = { "a.b.mail.example.net", NULL };
    static const char  *upper[] = { "MX1.Example.COM.",
                                    "B.Mail.Example.Net.", NULL };
    static const char  *null[] = { ".", NULL };
    static const char  *nullmix[] = { ".", "mx1.example.com",
                                      "a.mail.example.net", NULL };
    static const char  *one[] = { "mx1.example.com", NULL };
    static const char  *under[] = { "mx_1.example.com", "a.mail.example.net",
                                    "mx1.example.com", NULL };
    static const char  *ip[] = { "192.0.2.1", NULL };
    static const char  *dups[] = { "mx1.example.com", "MX1.example.com.",
                                   "a.mail.example.net", NULL };
    static const char  *other[] = { "mx.other.example", NULL };
    static const char  *idn[] = { "mx.b\xc3\xbc" "cher.example", NULL };
    static const char  *self[] = { "example.com", NULL };
    static const char  *idnpat[] = { "mx.xn--bcher-kva.example", NULL };
    static const char  *none[] = { NULL };

    CASE("mx: all match (enforce)");
    mx(MTASTS_MODE_ENFORCE, two, pats);
    CHECK(x.state == MTASTS_OK);
    CHECK(HAS("All 2 MX hosts match the policy"));
    CHECK(x.nmatched == 2 && x.nunmatched == 0 && x.nunused == 0);

    CASE("mx: unmatched host (enforce)");
    mx(MTASTS_MODE_ENFORCE, miss, pats);
    CHECK(x.state == MTASTS_ERROR);
    CHECK(HAS("Mail to mx2.example.com would bounce: "
              "add mx: mx2.example.com (or a wildcard) to the policy"));
    CHECK(!HAS("No MX host matches"));
    CHECK(HAS("deliver only to the MX hosts that match"));
    CHECK(x.nmatched == 2 && x.nunmatched == 1);

    CASE("mx: unmatched host (testing)");
    mx(MTASTS_MODE_TESTING, miss, pats);
    CHECK(x.state == MTASTS_WARNING);
    CHECK(HAS("mx2.example.com does not match the policy"));
    CHECK(HAS("before switching to enforce"));

    CASE("mx: unmatched host (none)");
    mx(MTASTS_MODE_NONE, miss, pats);
    CHECK(x.state == MTASTS_OK);
    CHECK(HAS("mx2.example.com does not match the policy"));

    CASE("mx: wildcard matches one label only");
    mx(MTASTS_MODE_ENFORCE, deep, pats);
    CHECK(x.state == MTASTS_ERROR);
    CHECK(x.nunmatched == 1 && x.nmatched == 0);
    CHECK(HAS("No MX host matches the policy"));
    CHECK(HAS("a.b.mail.example.net would bounce"));

    CASE("mx: upper case and trailing dots");
    mx(MTASTS_MODE_ENFORCE, upper, pats);
    CHECK(x.state == MTASTS_OK);
    CHECK(x.nmatched == 2);

    CASE("mx: null MX (enforce)");
    mx(MTASTS_MODE_ENFORCE, null, pats);
    CHECK(x.state == MTASTS_ERROR);
    CHECK(HAS("null MX (accepts no mail) but its policy is enforce"));

    CASE("mx: null MX (testing)");
    mx(MTASTS_MODE_TESTING, null, pats);
    CHECK(x.state == MTASTS_ERROR);
    CHECK(HAS("policy is testing"));

    CASE("mx: null MX (none)");
    mx(MTASTS_MODE_NONE, null, pats);
    CHECK(x.state == MTASTS_OK);
    CHECK(HAS("null MX"));

    CASE("mx: null MX beside other MX records");
    mx(MTASTS_MODE_ENFORCE, nullmix, pats);
    CHECK(x.state == MTASTS_WARNING);
    CHECK(HAS("RFC 7505"));
    CHECK(x.nmatched == 2);

    CASE("mx: no MX, implicit MX matches");
    mx(MTASTS_MODE_ENFORCE, NULL, self);
    CHECK(x.state == MTASTS_OK);
    CHECK(HAS("No MX record: mail goes to example.com itself "
              "(implicit MX), which matches the policy"));

    CASE("mx: no MX, implicit MX does not match");
    mx(MTASTS_MODE_ENFORCE, NULL, pats);
    CHECK(x.state == MTASTS_ERROR);
    CHECK(HAS("No MX record: mail goes to example.com itself "
              "(implicit MX)"));
    CHECK(HAS("Mail to example.com would bounce"));
    CHECK(x.nunmatched == 1 && x.nunused == 2);

    CASE("mx: no MX, implicit MX does not match (testing)");
    mx(MTASTS_MODE_TESTING, NULL, pats);
    CHECK(x.state == MTASTS_WARNING);

    CASE("mx: stale pattern");
    mx(MTASTS_MODE_ENFORCE, one, pats);
    CHECK(x.state == MTASTS_WARNING);
    CHECK(x.nunused == 1 && x.nmatched == 1);
    CHECK(HAS("The only MX host, mx1.example.com, matches the policy"));
    CHECK(HAS("The policy pattern mx: *.mail.example.net matches no MX"));

    CASE("mx: stale pattern (none)");
    mx(MTASTS_MODE_NONE, one, pats);
    CHECK(x.state == MTASTS_OK);
    CHECK(HAS("matches no MX"));

    CASE("mx: unmatched host and stale patterns (enforce)");
    mx(MTASTS_MODE_ENFORCE, other, pats);
    CHECK(x.state == MTASTS_ERROR);
    CHECK(HAS("would bounce"));
    CHECK(HAS("The policy patterns mx: mx1.example.com, "
              "mx: *.mail.example.net match no MX host"));
    CHECK(x.nunused == 2);

    CASE("mx: underscore in an MX name (enforce)");
    mx(MTASTS_MODE_ENFORCE, under, pats);
    CHECK(x.state == MTASTS_ERROR);
    CHECK(HAS("No policy pattern can match the MX host "
              "\"mx_1.example.com\""));
    CHECK(HAS("underscore"));
    CHECK(x.nunmatched == 1 && x.nmatched == 2);

    CASE("mx: underscore in an MX name (testing)");
    mx(MTASTS_MODE_TESTING, under, pats);
    CHECK(x.state == MTASTS_WARNING);
    CHECK(HAS("No policy pattern can match"));

    CASE("mx: IP address as MX name");
    mx(MTASTS_MODE_ENFORCE, ip, pats);
    CHECK(x.state == MTASTS_ERROR);
    CHECK(HAS("IP address"));

    CASE("mx: the same host twice");
    mx(MTASTS_MODE_ENFORCE, dups, pats);
    CHECK(x.state == MTASTS_OK);
    CHECK(x.nmatched == 2);
    CHECK(HAS("All 2 MX hosts"));

    CASE("mx: U-label MX, A-label pattern");
    mx(MTASTS_MODE_ENFORCE, idn, idnpat);
    CHECK(x.state == MTASTS_OK);
    CHECK(x.nmatched == 1);

    CASE("mx: mode none without patterns");
    mx(MTASTS_MODE_NONE, two, none);
    CHECK(x.state == MTASTS_OK);
    CHECK(HAS("lists no MX hosts"));

    CASE("mx: long message is cut");

    for (i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "host%u.elsewhere.example",
                 (unsigned) i);
        many[i] = names[i];
    }

    many[40] = NULL;

    mx(MTASTS_MODE_ENFORCE, many, pats);
    CHECK(x.state == MTASTS_ERROR);
    CHECK(x.nunmatched == 40 && x.nunused == 2);
    CHECK(strlen(x.message) == sizeof(x.message) - 1);
    CHECK(strcmp(x.message + sizeof(x.message) - 4, "...") == 0);
}


int
main(void)
{
    /* a sanitizer abort must not lose the output so far */

    setvbuf(stdout, NULL, _IOLBF, 0);

    test_sts();
    test_tlsrpt();
    test_mx();

    printf("1..%u\n", passed + failed);
    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
