
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Pure parsing and validation of MTA-STS values: host names, mx patterns,
 * policy ids and TLS-RPT report URIs.  Nothing here depends on the nginx
 * runtime, so the functions can be linked into fuzzers and unit tests.
 */


#ifndef _NGX_MTASTS_PARSE_H_INCLUDED_
#define _NGX_MTASTS_PARSE_H_INCLUDED_


#include <stddef.h>


#define MTASTS_NAME_MAX        253
#define MTASTS_LABEL_MAX       63
#define MTASTS_ID_MAX          32
#define MTASTS_MAX_AGE_MAX     31557600


/* flags of mtasts_name_normalize() */
#define MTASTS_NAME_WILDCARD   0x01


/* warnings set by mtasts_name_normalize() */
#define MTASTS_WARN_PUBLIC     0x01    /* "*." over a public suffix */
#define MTASTS_WARN_SINGLE     0x02    /* a single-label host name */
#define MTASTS_WARN_IDN        0x04    /* converted from a U-label */


typedef struct {
    unsigned char   data[MTASTS_NAME_MAX + 1];
    size_t          len;
    unsigned        wildcard:1;
    unsigned        warnings:8;
} mtasts_name_t;


/*
 * Each function returns NULL when the value is valid, or a static string
 * saying why it is not, in lower case and without a final period, ready to
 * follow "invalid value ... in ... directive, ".
 */

const char *mtasts_name_normalize(const unsigned char *in, size_t len,
    unsigned flags, mtasts_name_t *out);
const char *mtasts_check_id(const unsigned char *id, size_t len);
const char *mtasts_check_rua(const unsigned char *uri, size_t len);

int mtasts_mx_match(const unsigned char *pattern, size_t plen,
    const unsigned char *host, size_t hlen);


#endif /* _NGX_MTASTS_PARSE_H_INCLUDED_ */
