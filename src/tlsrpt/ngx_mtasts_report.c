
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Checking a TLS-RPT report (RFC 8460, section 4.4) that json-c parsed.
 * Required: organization-name, date-range, report-id, and policies with a
 * policy-type and the two session counts.  Tolerated, as real senders
 * send them: a missing or null contact-info, policy-string, mx-host,
 * policy-domain (no-policy-found) and the optional failure-detail fields;
 * date-times without a zone.  Counts are non-negative integers.
 */


#define _DEFAULT_SOURCE                       /* timegm() */

#include <string.h>

#include "ngx_mtasts_report.h"


#define MTASTS_COUNT_MAX  1000000000000000LL   /* 10^15 sessions */


static const char *mtasts_report_string(json_object *o, const char *key,
    const char **out);
static const char *mtasts_report_count(json_object *o, const char *key,
    uint64_t *out);
static const char *mtasts_report_check_policy(json_object *p);
static json_object *mtasts_report_details(json_object *root, size_t i);
static int mtasts_digits(const char **s, int n, int *v);


const char *
mtasts_report_check(json_object *root, mtasts_report_t *r)
{
    size_t        i, n;
    const char   *err, *s;
    json_object  *range, *policies;

    memset(r, 0, sizeof(mtasts_report_t));

    if (!json_object_is_type(root, json_type_object)) {
        return "the report is not a JSON object";
    }

    err = mtasts_report_string(root, "organization-name", &r->organization);
    if (err) {
        return err;
    }

    err = mtasts_report_string(root, "report-id", &r->report_id);
    if (err) {
        return err;
    }

    if (!json_object_object_get_ex(root, "date-range", &range)
        || !json_object_is_type(range, json_type_object))
    {
        return "no \"date-range\" object";
    }

    if (mtasts_report_string(range, "start-datetime", &s) != NULL
        || mtasts_report_datetime(s, &r->start) != 0)
    {
        return "no valid \"start-datetime\" in \"date-range\"";
    }

    if (mtasts_report_string(range, "end-datetime", &s) != NULL
        || mtasts_report_datetime(s, &r->end) != 0)
    {
        return "no valid \"end-datetime\" in \"date-range\"";
    }

    if (r->end < r->start) {
        return "the \"date-range\" ends before it starts";
    }

    if (!json_object_object_get_ex(root, "policies", &policies)
        || !json_object_is_type(policies, json_type_array))
    {
        return "no \"policies\" array";
    }

    n = json_object_array_length(policies);

    if (n == 0) {
        return "the \"policies\" array is empty";
    }

    if (n > MTASTS_REPORT_POLICIES) {
        return "more than 1024 policies";
    }

    for (i = 0; i < n; i++) {
        err = mtasts_report_check_policy(
                                  json_object_array_get_idx(policies, i));
        if (err) {
            return err;
        }
    }

    r->npolicies = n;

    return NULL;
}


static const char *
mtasts_report_check_policy(json_object *p)
{
    size_t        i, n;
    uint64_t      count;
    const char   *err, *s;
    json_object  *policy, *summary, *details, *d, *v;

    if (!json_object_is_type(p, json_type_object)) {
        return "a policy is not an object";
    }

    if (!json_object_object_get_ex(p, "policy", &policy)
        || !json_object_is_type(policy, json_type_object))
    {
        return "a policy has no \"policy\" object";
    }

    err = mtasts_report_string(policy, "policy-type", &s);
    if (err) {
        return "a policy has no \"policy-type\"";
    }

    /* a domain, when there is one, is a string */

    if (json_object_object_get_ex(policy, "policy-domain", &v)
        && v != NULL && !json_object_is_type(v, json_type_string))
    {
        return "a \"policy-domain\" is not a string";
    }

    if (!json_object_object_get_ex(p, "summary", &summary)
        || !json_object_is_type(summary, json_type_object))
    {
        return "a policy has no \"summary\" object";
    }

    err = mtasts_report_count(summary, "total-successful-session-count",
                              &count);
    if (err) {
        return err;
    }

    err = mtasts_report_count(summary, "total-failure-session-count",
                              &count);
    if (err) {
        return err;
    }

    if (!json_object_object_get_ex(p, "failure-details", &details)
        || details == NULL)
    {
        return NULL;
    }

    if (!json_object_is_type(details, json_type_array)) {
        return "\"failure-details\" is not an array";
    }

    n = json_object_array_length(details);

    if (n > MTASTS_REPORT_DETAILS) {
        return "more than 65536 failure details";
    }

    for (i = 0; i < n; i++) {
        d = json_object_array_get_idx(details, i);

        if (!json_object_is_type(d, json_type_object)) {
            return "a failure detail is not an object";
        }

        if (mtasts_report_string(d, "result-type", &s) != NULL) {
            return "a failure detail has no \"result-type\"";
        }

        err = mtasts_report_count(d, "failed-session-count", &count);
        if (err) {
            return err;
        }
    }

    return NULL;
}


void
mtasts_report_policy(json_object *root, size_t i,
    mtasts_report_policy_t *p)
{
    json_object  *policies, *e, *policy, *summary, *v;

    memset(p, 0, sizeof(mtasts_report_policy_t));

    (void) json_object_object_get_ex(root, "policies", &policies);
    e = json_object_array_get_idx(policies, i);

    (void) json_object_object_get_ex(e, "policy", &policy);
    (void) mtasts_report_string(policy, "policy-type", &p->type);

    if (json_object_object_get_ex(policy, "policy-domain", &v)
        && json_object_is_type(v, json_type_string)
        && json_object_get_string_len(v) > 0)
    {
        p->domain = json_object_get_string(v);
    }

    (void) json_object_object_get_ex(e, "summary", &summary);
    (void) mtasts_report_count(summary, "total-successful-session-count",
                               &p->successful);
    (void) mtasts_report_count(summary, "total-failure-session-count",
                               &p->failed);
}


static json_object *
mtasts_report_details(json_object *root, size_t i)
{
    json_object  *policies, *e, *details;

    (void) json_object_object_get_ex(root, "policies", &policies);
    e = json_object_array_get_idx(policies, i);

    if (!json_object_object_get_ex(e, "failure-details", &details)
        || !json_object_is_type(details, json_type_array))
    {
        return NULL;
    }

    return details;
}


size_t
mtasts_report_ndetails(json_object *root, size_t i)
{
    json_object  *details;

    details = mtasts_report_details(root, i);

    return details ? json_object_array_length(details) : 0;
}


void
mtasts_report_detail(json_object *root, size_t i, size_t j,
    mtasts_report_detail_t *d)
{
    json_object  *details, *e, *v;

    memset(d, 0, sizeof(mtasts_report_detail_t));

    details = mtasts_report_details(root, i);
    e = json_object_array_get_idx(details, j);

    (void) mtasts_report_string(e, "result-type", &d->result_type);
    (void) mtasts_report_count(e, "failed-session-count", &d->failed);

    if (json_object_object_get_ex(e, "receiving-mx-hostname", &v)
        && json_object_is_type(v, json_type_string)
        && json_object_get_string_len(v) > 0)
    {
        d->mx = json_object_get_string(v);
    }
}


/* a non-empty string member */

static const char *
mtasts_report_string(json_object *o, const char *key, const char **out)
{
    json_object  *v;

    *out = NULL;

    if (!json_object_object_get_ex(o, key, &v)
        || !json_object_is_type(v, json_type_string)
        || json_object_get_string_len(v) == 0)
    {
        if (strcmp(key, "organization-name") == 0) {
            return "no \"organization-name\" string";
        }

        if (strcmp(key, "report-id") == 0) {
            return "no \"report-id\" string";
        }

        return "a required string is missing";
    }

    *out = json_object_get_string(v);

    return NULL;
}


static const char *
mtasts_report_count(json_object *o, const char *key, uint64_t *out)
{
    int64_t       n;
    json_object  *v;

    *out = 0;

    if (!json_object_object_get_ex(o, key, &v)
        || !json_object_is_type(v, json_type_int))
    {
        return "a session count is missing or not an integer";
    }

    n = json_object_get_int64(v);

    if (n < 0) {
        return "a session count is negative";
    }

    if (n > MTASTS_COUNT_MAX) {
        return "a session count is out of range";
    }

    *out = (uint64_t) n;

    return NULL;
}


/*
 * "2016-04-01T00:00:00Z", with "t" or a space for "T", optional fractions
 * of a second, and a zone of "Z", "+hh:mm" or "-hh:mm", or none (UTC).
 */

int
mtasts_report_datetime(const char *s, time_t *t)
{
    int        year, mon, mday, hour, min, sec, zh, zm, sign;
    time_t     v;
    struct tm  tm;

    if (s == NULL
        || mtasts_digits(&s, 4, &year) || *s++ != '-'
        || mtasts_digits(&s, 2, &mon) || *s++ != '-'
        || mtasts_digits(&s, 2, &mday)
        || (*s != 'T' && *s != 't' && *s != ' '))
    {
        return -1;
    }

    s++;

    if (mtasts_digits(&s, 2, &hour) || *s++ != ':'
        || mtasts_digits(&s, 2, &min) || *s++ != ':'
        || mtasts_digits(&s, 2, &sec))
    {
        return -1;
    }

    if (*s == '.') {
        s++;

        if (*s < '0' || *s > '9') {
            return -1;
        }

        while (*s >= '0' && *s <= '9') {
            s++;
        }
    }

    zh = 0;
    zm = 0;
    sign = 0;

    if (*s == 'Z' || *s == 'z') {
        s++;

    } else if (*s == '+' || *s == '-') {
        sign = (*s++ == '-') ? -1 : 1;

        if (mtasts_digits(&s, 2, &zh) || *s++ != ':'
            || mtasts_digits(&s, 2, &zm) || zh > 23 || zm > 59)
        {
            return -1;
        }
    }

    if (*s != '\0'
        || year < 1970 || year > 9999 || mon < 1 || mon > 12
        || mday < 1 || mday > 31 || hour > 23 || min > 59 || sec > 60)
    {
        return -1;
    }

    memset(&tm, 0, sizeof(struct tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;

    v = timegm(&tm);

    /* 2016-02-31 is not a day */

    if (v == (time_t) -1 || tm.tm_mday != mday) {
        return -1;
    }

    *t = v - sign * (zh * 3600 + zm * 60);

    return 0;
}


static int
mtasts_digits(const char **s, int n, int *v)
{
    const char  *p;

    *v = 0;

    for (p = *s; n; n--, p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }

        *v = *v * 10 + (*p - '0');
    }

    *s = p;

    return 0;
}
