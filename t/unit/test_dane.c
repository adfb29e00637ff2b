
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Unit tests of the DNSSEC queries and TLSA records of
 * src/dane/ngx_mtasts_dane.c, against packets made with ldns.  Prints TAP
 * as test_record.c does.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_mtasts_dane.h"


static unsigned     passed, failed;
static const char  *case_name = "";


#define CASE(name)  case_name = (name)

#define CHECK(cond)                                                          \
    check((cond) ? 1 : 0, #cond, __FILE__, __LINE__)


static void
check(int ok, const char *cond, const char *file, int line)
{
    unsigned  n;

    n = passed + failed + 1;

    if (ok) {
        passed++;
        printf("ok %u - %s: %s\n", n, case_name, cond);
        return;
    }

    failed++;
    printf("not ok %u - %s: %s\n", n, case_name, cond);
    printf("#   failed at %s:%d\n", file, line);
}


/* an answer made of the records given, as wire bytes */

static uint8_t *
answer(unsigned rcode, int ad, int qr, const char **rrs, size_t *len)
{
    size_t     i;
    uint8_t   *wire;
    ldns_rr   *rr;
    ldns_pkt  *p;

    p = ldns_pkt_new();
    ldns_pkt_set_id(p, 4711);
    ldns_pkt_set_qr(p, qr);
    ldns_pkt_set_rd(p, 1);
    ldns_pkt_set_ra(p, 1);
    ldns_pkt_set_ad(p, ad);
    ldns_pkt_set_rcode(p, (uint8_t) rcode);

    for (i = 0; rrs && rrs[i]; i++) {
        if (ldns_rr_new_frm_str(&rr, rrs[i], 0, NULL, NULL)
            != LDNS_STATUS_OK)
        {
            printf("# bad test record: %s\n", rrs[i]);
            exit(2);
        }

        ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
    }

    if (ldns_pkt2wire(&wire, p, len) != LDNS_STATUS_OK) {
        exit(2);
    }

    ldns_pkt_free(p);

    return wire;
}


static void
test_query(void)
{
    size_t     len;
    uint8_t   *wire;
    ldns_pkt  *p;
    ldns_rr   *q;
    char      *owner;

    CASE("query, DO and AD, no CD");
    CHECK(mtasts_dnssec_query("_25._tcp.mx.example.test.", LDNS_RR_TYPE_TLSA,
                              0, &wire, &len) == 0);
    CHECK(ldns_wire2pkt(&p, wire, len) == LDNS_STATUS_OK);
    CHECK(ldns_pkt_edns_do(p) == 1);
    CHECK(ldns_pkt_edns_udp_size(p) == 1232);
    CHECK(ldns_pkt_rd(p) == 1);
    CHECK(ldns_pkt_ad(p) == 1);
    CHECK(ldns_pkt_cd(p) == 0);
    CHECK(ldns_pkt_qr(p) == 0);
    CHECK(ldns_rr_list_rr_count(ldns_pkt_question(p)) == 1);
    q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
    CHECK(ldns_rr_get_type(q) == LDNS_RR_TYPE_TLSA);
    owner = ldns_rdf2str(ldns_rr_owner(q));
    CHECK(strcmp(owner, "_25._tcp.mx.example.test.") == 0);
    free(owner);
    ldns_pkt_free(p);
    free(wire);

    CASE("query with CD");
    CHECK(mtasts_dnssec_query("example.test", LDNS_RR_TYPE_MX, 1, &wire,
                              &len) == 0);
    CHECK(ldns_wire2pkt(&p, wire, len) == LDNS_STATUS_OK);
    CHECK(ldns_pkt_cd(p) == 1);
    CHECK(ldns_pkt_edns_do(p) == 1);
    CHECK(ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(p), 0))
          == LDNS_RR_TYPE_MX);
    ldns_pkt_free(p);
    free(wire);

    CASE("query of a name no DNS message can carry");
    CHECK(mtasts_dnssec_query("a.0123456789012345678901234567890123456789"
                              "012345678901234567890123456789.test",
                              LDNS_RR_TYPE_TLSA, 0, &wire, &len) == -1);
}


static void
test_read(void)
{
    char            text[256];
    size_t          len;
    uint8_t        *wire;
    unsigned        rcode;
    int             ad;
    ldns_pkt       *p;
    mtasts_tlsa_t   t;

    static const char  *two[] = {
        "_25._tcp.mx.example.test. 300 IN CNAME tlsa.example.test.",
        "tlsa.example.test. 300 IN TLSA 3 1 1 "
            "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1",
        "tlsa.example.test. 300 IN TLSA 2 0 1 "
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        NULL
    };

    CASE("a secure answer with a CNAME and two TLSA records");
    wire = answer(LDNS_RCODE_NOERROR, 1, 1, two, &len);
    CHECK(mtasts_dnssec_read(wire, len, &p, &rcode, &ad) == 0);
    CHECK(rcode == LDNS_RCODE_NOERROR);
    CHECK(ad == 1);
    CHECK(mtasts_tlsa_get(p, 0, &t) == 0);
    CHECK(t.usage == 3 && t.selector == 1 && t.mtype == 1 && t.len == 32);
    CHECK(mtasts_tlsa_unusable(&t) == NULL);
    CHECK(mtasts_tlsa_text(&t, text, sizeof(text))
          == sizeof("3 1 1 ") + 64);
    CHECK(strcmp(text, "3 1 1 8cb0fc6c527506a053f4f14c8464bebbd6dede2738d"
                       "11468dd953d7d6a3021f1") == 0);
    CHECK(mtasts_tlsa_get(p, 1, &t) == 0);
    CHECK(t.usage == 2 && t.selector == 0 && t.mtype == 1);
    CHECK(mtasts_tlsa_get(p, 2, &t) == -1);

    CASE("a record text cut to the buffer");
    CHECK(mtasts_tlsa_text(&t, text, 10) == sizeof("2 0 1 ") + 64);
    CHECK(strcmp(text, "2 0 1 ") == 0);
    CHECK(mtasts_tlsa_text(&t, text, 4) == sizeof("2 0 1 ") + 64);
    CHECK(strcmp(text, "2 0") == 0);
    ldns_pkt_free(p);
    free(wire);

    CASE("an insecure NXDOMAIN");
    wire = answer(LDNS_RCODE_NXDOMAIN, 0, 1, NULL, &len);
    CHECK(mtasts_dnssec_read(wire, len, &p, &rcode, &ad) == 0);
    CHECK(rcode == LDNS_RCODE_NXDOMAIN);
    CHECK(ad == 0);
    CHECK(mtasts_tlsa_get(p, 0, &t) == -1);
    ldns_pkt_free(p);
    free(wire);

    CASE("a query is not an answer");
    wire = answer(LDNS_RCODE_NOERROR, 0, 0, NULL, &len);
    CHECK(mtasts_dnssec_read(wire, len, &p, &rcode, &ad) == -1);
    CHECK(p == NULL);
    free(wire);

    CASE("bytes that are no DNS message");
    CHECK(mtasts_dnssec_read((const uint8_t *) "\x12\x34\x81", 3, &p,
                             &rcode, &ad) == -1);
    CHECK(p == NULL);
}


static void
test_usable(void)
{
    uint8_t        d[64];
    mtasts_tlsa_t  t;

    memset(d, 0xab, sizeof(d));
    t.data = d;

    CASE("usages 0 and 1 are not for SMTP");
    t.usage = 0;
    t.selector = 1;
    t.mtype = 1;
    t.len = 32;
    CHECK(strstr(mtasts_tlsa_unusable(&t), "PKIX-TA") != NULL);
    t.usage = 1;
    CHECK(strstr(mtasts_tlsa_unusable(&t), "PKIX-EE") != NULL);
    t.usage = 4;
    CHECK(strstr(mtasts_tlsa_unusable(&t), "unknown usage") != NULL);

    CASE("selectors and matching types");
    t.usage = 2;
    t.selector = 2;
    CHECK(strstr(mtasts_tlsa_unusable(&t), "unknown selector") != NULL);
    t.selector = 0;
    t.mtype = 3;
    CHECK(strstr(mtasts_tlsa_unusable(&t), "unknown matching") != NULL);
    t.mtype = 2;
    t.len = 64;
    CHECK(mtasts_tlsa_unusable(&t) == NULL);
    t.len = 32;
    CHECK(strstr(mtasts_tlsa_unusable(&t), "SHA-512") != NULL);
    t.mtype = 1;
    t.len = 31;
    CHECK(strstr(mtasts_tlsa_unusable(&t), "SHA-256") != NULL);
    t.mtype = 0;
    t.len = 0;
    CHECK(strcmp(mtasts_tlsa_unusable(&t), "no data") == 0);
    t.len = 40;
    CHECK(mtasts_tlsa_unusable(&t) == NULL);
}


int
main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);

    test_query();
    test_read();
    test_usable();

    printf("1..%u\n", passed + failed);
    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
