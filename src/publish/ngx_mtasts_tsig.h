
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * A TSIG key file, as BIND's tsig-keygen writes it
 *
 *     key "name" { algorithm hmac-sha256; secret "base64"; };
 *
 * or Knot DNS's keymgr -t (its "key:" section: id, algorithm, secret).
 * Pure C: linked alone into the unit tests and a fuzzer.  No reason it
 * returns ever quotes the secret.
 */


#ifndef _NGX_MTASTS_TSIG_H_INCLUDED_
#define _NGX_MTASTS_TSIG_H_INCLUDED_


#include <stddef.h>


#define MTASTS_TSIG_NAME_MAX    253
#define MTASTS_TSIG_SECRET_MAX  512     /* base64 */


typedef struct {
    char            name[MTASTS_TSIG_NAME_MAX + 2];    /* with a final dot */
    char            algorithm[16];                      /* "hmac-sha256." */
    char            secret[MTASTS_TSIG_SECRET_MAX + 1]; /* base64 */
    size_t          bits;                               /* of the secret */
} mtasts_tsig_key_t;


/*
 * NULL when the file holds exactly one usable key, or why not; "*line"
 * is then the line the reason is about (0: the whole file)
 */

const char *mtasts_tsig_parse(const unsigned char *data, size_t len,
    mtasts_tsig_key_t *key, unsigned *line);


#endif /* _NGX_MTASTS_TSIG_H_INCLUDED_ */
