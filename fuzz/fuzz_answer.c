
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A DNS server's answer as mta_sts_publish reads it (ldns): the first two
 * bytes of the input are the id of our query, the rest the answer, given
 * to mtasts_msg_read(), then mtasts_msg_txt() for the TXT records of
 * "_mta-sts.example.com.", mtasts_msg_zone(), mtasts_msg_address() and
 * mtasts_msg_verify() with a key.  The input is hostile: whatever a server or a forger sends.
 *
 * Checks: an answer that is read has the query's id and a name for its
 * code; the records seen are TXT records; "current" only with records
 * seen; a zone and its primary are names ending in a dot; an address is
 * IPv4 or IPv6 of its size; an unsigned answer never verifies.
 */


#include <sys/socket.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "ngx_mtasts_update.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char               zone[256], mname[256];
    size_t             i, len;
    struct sockaddr_storage  ss;
    uint16_t           id;
    ldns_pkt          *pkt;
    ldns_rdf          *mac;
    const char        *err;
    unsigned char     *copy;
    mtasts_answer_t    a;
    mtasts_rrname_t    n;
    mtasts_tsig_key_t  key;

    if (size < 2) {
        return 0;
    }

    id = (uint16_t) ((data[0] << 8) | data[1]);
    copy = fuzz_dup(data + 2, size - 2);

    err = mtasts_msg_read(copy, size - 2, id, &pkt, &a);

    if (err) {
        FUZZ_ASSERT(pkt == NULL);
        free(copy);
        return 0;
    }

    FUZZ_ASSERT(ldns_pkt_id(pkt) == id && a.name != NULL);

    memset(&n, 0, sizeof(n));
    n.owner = "_mta-sts.example.com.";
    n.prefix = "v=STSv1";
    n.value = "v=STSv1; id=fuzz1";

    if (mtasts_msg_txt(pkt, &n) == 0) {
        for (i = 0; i < ldns_rr_list_rr_count(n.seen); i++) {
            FUZZ_ASSERT(ldns_rr_get_type(ldns_rr_list_rr(n.seen, i))
                        == LDNS_RR_TYPE_TXT);
        }

        FUZZ_ASSERT(!n.current || ldns_rr_list_rr_count(n.seen) > 0);
    }

    mtasts_rrname_free(&n);

    if (mtasts_msg_zone(pkt, zone, sizeof(zone), mname, sizeof(mname))
        == 0)
    {
        FUZZ_ASSERT(zone[0] != '\0' && zone[strlen(zone) - 1] == '.');
        FUZZ_ASSERT(mname[0] != '\0' && mname[strlen(mname) - 1] == '.');
    }

    len = sizeof(ss);

    if (mtasts_msg_address(pkt, &ss, &len) == 0) {
        FUZZ_ASSERT((ss.ss_family == AF_INET
                     && len == sizeof(struct sockaddr_in))
                    || (ss.ss_family == AF_INET6
                        && len == sizeof(struct sockaddr_in6)));
    }

    memset(&key, 0, sizeof(key));
    strcpy(key.name, "fuzz-key.");
    strcpy(key.algorithm, "hmac-sha256.");
    strcpy(key.secret, "c2FtZSBuYW1lLCBhbm90aGVyIHNlY3JldCE=");
    key.bits = 208;

    mac = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_INT16_DATA, "0");

    err = mtasts_msg_verify(pkt, copy, size - 2, &key, mac);
    FUZZ_ASSERT(ldns_pkt_tsig(pkt) != NULL || err != NULL);

    if (mac) {
        ldns_rdf_deep_free(mac);
    }

    ldns_pkt_free(pkt);
    free(copy);

    return 0;
}
