
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A TLS-RPT aggregate report (RFC 8460, section 4), as json-c parsed it:
 * checked for what a report must have, with what real senders omit
 * tolerated.  Nothing here depends on nginx, so that the fuzzers and the
 * unit tests link it alone.
 */


#ifndef _NGX_MTASTS_REPORT_H_INCLUDED_
#define _NGX_MTASTS_REPORT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>


#define MTASTS_REPORT_DEPTH     16      /* JSON nesting accepted */
#define MTASTS_REPORT_POLICIES  1024    /* policies in one report */
#define MTASTS_REPORT_DETAILS   65536   /* failure details in one report */


typedef struct {
    const char     *organization;
    const char     *report_id;
    time_t          start;
    time_t          end;
    size_t          npolicies;
} mtasts_report_t;


typedef struct {
    const char     *type;       /* "sts", "tlsa", "no-policy-found" */
    const char     *domain;     /* NULL: none given */
    uint64_t        successful;
    uint64_t        failed;
} mtasts_report_policy_t;


typedef struct {
    const char     *result_type;
    const char     *mx;         /* receiving-mx-hostname, or NULL */
    uint64_t        failed;
} mtasts_report_detail_t;


/*
 * NULL if "root" is a report, else a static reason in lower case without
 * a final period.  The strings it sets belong to "root".
 */

const char *mtasts_report_check(json_object *root, mtasts_report_t *r);

/* the i-th policy of a report that passed mtasts_report_check() */

void mtasts_report_policy(json_object *root, size_t i,
    mtasts_report_policy_t *p);

/* the failure details of the i-th policy: how many, and the j-th */

size_t mtasts_report_ndetails(json_object *root, size_t i);
void mtasts_report_detail(json_object *root, size_t i, size_t j,
    mtasts_report_detail_t *d);

/* RFC 3339 date-time, a zone optional (UTC then): 0 on success */

int mtasts_report_datetime(const char *s, time_t *t);


#endif /* _NGX_MTASTS_REPORT_H_INCLUDED_ */
