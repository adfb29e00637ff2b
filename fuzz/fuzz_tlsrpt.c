
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * mtasts_check_tlsrpt().  Input lines ("\n"-separated):
 *
 *     the policy domain
 *     "testing" for a policy in testing mode, anything else otherwise
 *     the configured report URIs, separated by spaces; those that
 *         mtasts_check_rua() refuses are dropped, as the configuration
 *         refuses them
 *     the TXT records at _smtp._tls.<domain>, one per line
 *
 * Checks: the message is printable ASCII inside its buffer, the counts
 * add up, only a record beginning "v=TLSRPTv1" *WSP ";" counts as one,
 * no record is a warning, several are an error, and "ok" means one
 * record that lists every configured URI.
 */


#include "fuzz.h"
#include "ngx_mtasts_record.h"
#include "txt.h"


/* the URI after its scheme appears in the record */

static int
listed(const unsigned char *p, size_t n, const char *uri)
{
    size_t       i, len;
    const char  *colon;

    colon = strchr(uri, ':');
    FUZZ_ASSERT(colon != NULL);

    len = strlen(colon);

    for (i = 0; i + len <= n; i++) {
        if (memcmp(p + i, colon, len) == 0) {
            return 1;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              testing;
    char            *domain, *rua[FUZZ_MAX_PARTS];
    size_t           i, len, nrec, nrua, first;
    const uint8_t   *line;
    fuzz_split_t     conf, rec;
    mtasts_txt_t     txt[FUZZ_MAX_PARTS];
    mtasts_check_t   c;

    line = fuzz_next_line(&data, &size, &len);
    domain = fuzz_str(line, len);

    line = fuzz_next_line(&data, &size, &len);
    testing = (len == 7 && memcmp(line, "testing", 7) == 0);

    line = fuzz_next_line(&data, &size, &len);
    fuzz_split(line, len, ' ', FUZZ_MAX_PARTS, &conf);

    nrua = 0;

    for (i = 0; i < conf.n; i++) {
        if (mtasts_check_rua(conf.part[i].data, conf.part[i].len) == NULL) {
            rua[nrua++] = fuzz_str(conf.part[i].data, conf.part[i].len);
        }
    }

    fuzz_split(data, size, '\n', FUZZ_MAX_PARTS, &rec);

    nrec = 0;
    first = rec.n;

    for (i = 0; i < rec.n; i++) {
        txt[i].data = rec.part[i].data;
        txt[i].len = rec.part[i].len;

        if (fuzz_txt_is_record(txt[i].data, txt[i].len, "v=TLSRPTv1")) {
            nrec++;

            if (first == rec.n) {
                first = i;
            }
        }
    }

    memset(&c, 0xa5, sizeof(c));

    mtasts_check_tlsrpt(txt, rec.n, domain, (const char *const *) rua, nrua,
                        testing, &c);

    fuzz_txt_check(&c, rec.n, nrec);
    FUZZ_ASSERT(c.id[0] == '\0');

    if (nrec == 0) {
        FUZZ_ASSERT(c.state == MTASTS_WARNING);
    }

    if (nrec > 1) {
        FUZZ_ASSERT(c.state == MTASTS_ERROR);
    }

    if (c.state == MTASTS_OK) {
        FUZZ_ASSERT(nrec == 1);

        for (i = 0; i < nrua; i++) {
            FUZZ_ASSERT(listed(txt[first].data, txt[first].len, rua[i]));
        }
    }

    for (i = 0; i < nrua; i++) {
        free(rua[i]);
    }

    fuzz_split_free(&conf);
    fuzz_split_free(&rec);
    free(domain);

    return 0;
}
