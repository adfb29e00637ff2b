
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A TLS-RPT report as the intake parses it: json-c's tokener with the
 * depth limit, strict and with UTF-8 checked, then mtasts_report_check()
 * and mtasts_report_policy() on each policy.  The input is the report.
 *
 * Checks: a report that passes has its strings, a date range in order,
 * at most MTASTS_REPORT_POLICIES policies, each with a type and counts
 * that are not absurd; a policy domain, when set, is not empty; each
 * failure detail has a result type, a sane count, no empty MX name.
 */


#include "fuzz.h"
#include "ngx_mtasts_report.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                   i, j, n;
    const char              *err;
    unsigned char           *copy;
    json_object             *root;
    json_tokener            *tok;
    mtasts_report_t          r;
    mtasts_report_policy_t   p;
    mtasts_report_detail_t   d;

    tok = json_tokener_new_ex(MTASTS_REPORT_DEPTH);
    FUZZ_ASSERT(tok != NULL);

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT
                                |JSON_TOKENER_VALIDATE_UTF8
                                |JSON_TOKENER_ALLOW_TRAILING_CHARS);

    /* in two pieces, as the intake feeds it chunk by chunk */

    copy = fuzz_dup(data, size);

    root = json_tokener_parse_ex(tok, (const char *) copy, (int) (size / 2));

    if (root == NULL
        && json_tokener_get_error(tok) == json_tokener_continue)
    {
        root = json_tokener_parse_ex(tok, (const char *) copy + size / 2,
                                     (int) (size - size / 2));
    }

    json_tokener_free(tok);
    free(copy);

    if (root == NULL) {
        return 0;
    }

    err = mtasts_report_check(root, &r);

    if (err == NULL) {
        FUZZ_ASSERT(r.organization != NULL && r.organization[0] != '\0');
        FUZZ_ASSERT(r.report_id != NULL && r.report_id[0] != '\0');
        FUZZ_ASSERT(r.start <= r.end);
        FUZZ_ASSERT(r.npolicies > 0
                    && r.npolicies <= MTASTS_REPORT_POLICIES);

        for (i = 0; i < r.npolicies; i++) {
            mtasts_report_policy(root, i, &p);

            FUZZ_ASSERT(p.type != NULL && p.type[0] != '\0');
            FUZZ_ASSERT(p.domain == NULL || p.domain[0] != '\0');
            FUZZ_ASSERT(p.successful <= 1000000000000000ULL);
            FUZZ_ASSERT(p.failed <= 1000000000000000ULL);

            n = mtasts_report_ndetails(root, i);
            FUZZ_ASSERT(n <= MTASTS_REPORT_DETAILS);

            for (j = 0; j < n; j++) {
                mtasts_report_detail(root, i, j, &d);

                FUZZ_ASSERT(d.result_type != NULL
                            && d.result_type[0] != '\0');
                FUZZ_ASSERT(d.mx == NULL || d.mx[0] != '\0');
                FUZZ_ASSERT(d.failed <= 1000000000000000ULL);
            }
        }

    } else {
        FUZZ_ASSERT(err[0] != '\0');
    }

    json_object_put(root);

    return 0;
}
