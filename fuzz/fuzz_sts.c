
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * mtasts_check_sts().  Input lines ("\n"-separated):
 *
 *     the policy domain
 *     the served id (if it is not a valid id, "fuzz1" is used: callers
 *         pass a validated id)
 *     the TXT records at _mta-sts.<domain>, one per line (none if the
 *         input ends after the id)
 *
 * Checks: the message is printable ASCII inside its buffer, the counts
 * add up, only a record beginning "v=STSv1" *WSP ";" counts as one, the
 * id reported is a valid id, and "ok" means exactly one record, no other
 * TXT record and the served id.
 */


#include "fuzz.h"
#include "ngx_mtasts_record.h"
#include "txt.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char            *domain, *served;
    size_t           i, len, nrec;
    const uint8_t   *line;
    fuzz_split_t     rec;
    mtasts_txt_t     txt[FUZZ_MAX_PARTS];
    mtasts_check_t   c;

    line = fuzz_next_line(&data, &size, &len);
    domain = fuzz_str(line, len);

    line = fuzz_next_line(&data, &size, &len);
    served = fuzz_str(line, len);

    if (mtasts_check_id((unsigned char *) served, strlen(served)) != NULL) {
        free(served);
        served = fuzz_str((const uint8_t *) "fuzz1", 5);
    }

    fuzz_split(data, size, '\n', FUZZ_MAX_PARTS, &rec);

    nrec = 0;

    for (i = 0; i < rec.n; i++) {
        txt[i].data = rec.part[i].data;
        txt[i].len = rec.part[i].len;

        nrec += fuzz_txt_is_record(txt[i].data, txt[i].len, "v=STSv1");
    }

    memset(&c, 0xa5, sizeof(c));

    mtasts_check_sts(txt, rec.n, domain, served, &c);

    fuzz_txt_check(&c, rec.n, nrec);

    FUZZ_ASSERT(strnlen(c.id, sizeof(c.id)) < sizeof(c.id));

    if (c.id[0] != '\0') {
        FUZZ_ASSERT(mtasts_check_id((unsigned char *) c.id, strlen(c.id))
                    == NULL);
        FUZZ_ASSERT(c.nrecords == 1);
    }

    if (rec.n == 0 || c.nrecords != 1 || c.nother != 0) {
        FUZZ_ASSERT(c.state == MTASTS_ERROR);
    }

    if (c.state == MTASTS_OK) {
        FUZZ_ASSERT(strcmp(c.id, served) == 0);
    }

    fuzz_split_free(&rec);
    free(domain);
    free(served);

    return 0;
}
