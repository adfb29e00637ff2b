
/*
 * Copyright (C) ngx_http_mtasts_module authors
 */


#include <string.h>
#include <ctype.h>
#include <strings.h>

#include "ngx_mtasts_tsig.h"


typedef struct {
    const unsigned char  *p;
    const unsigned char  *last;
    unsigned              line;
} mtasts_tsig_in_t;


typedef struct {
    const unsigned char  *data;
    size_t                len;
    int                   quoted;
} mtasts_tsig_tok_t;


static const char *mtasts_tsig_bind(mtasts_tsig_in_t *in,
    mtasts_tsig_key_t *key, unsigned *line);
static const char *mtasts_tsig_knot(mtasts_tsig_in_t *in,
    mtasts_tsig_key_t *key, unsigned *line);
static int mtasts_tsig_token(mtasts_tsig_in_t *in, mtasts_tsig_tok_t *tok);
static void mtasts_tsig_space(mtasts_tsig_in_t *in);
static const char *mtasts_tsig_name(const unsigned char *s, size_t len,
    mtasts_tsig_key_t *key);
static const char *mtasts_tsig_algorithm(const unsigned char *s, size_t len,
    mtasts_tsig_key_t *key);
static const char *mtasts_tsig_secret(const unsigned char *s, size_t len,
    mtasts_tsig_key_t *key);
static const char *mtasts_tsig_complete(mtasts_tsig_key_t *key,
    unsigned *line);


const char *
mtasts_tsig_parse(const unsigned char *data, size_t len,
    mtasts_tsig_key_t *key, unsigned *line)
{
    mtasts_tsig_in_t  in;

    memset(key, 0, sizeof(mtasts_tsig_key_t));

    in.p = data;
    in.last = data + len;
    in.line = 1;
    *line = 0;

    if (memchr(data, '\0', len)) {
        return "it holds a NUL byte";
    }

    mtasts_tsig_space(&in);

    if (in.last - in.p >= 4 && memcmp(in.p, "key:", 4) == 0) {
        return mtasts_tsig_knot(&in, key, line);
    }

    return mtasts_tsig_bind(&in, key, line);
}


/* key "name" { algorithm hmac-sha256; secret "..."; }; */

static const char *
mtasts_tsig_bind(mtasts_tsig_in_t *in, mtasts_tsig_key_t *key,
    unsigned *line)
{
    int                 seen_alg, seen_secret;
    const char         *err;
    mtasts_tsig_tok_t   tok, value, semi;

    seen_alg = 0;
    seen_secret = 0;

    mtasts_tsig_space(in);
    *line = in->line;

    if (!mtasts_tsig_token(in, &tok)) {
        *line = 0;
        return "it holds no key";
    }

    if (tok.quoted || tok.len != 3 || strncasecmp((char *) tok.data, "key", 3))
    {
        return "it does not begin with a \"key\" clause";
    }

    mtasts_tsig_space(in);
    *line = in->line;

    if (!mtasts_tsig_token(in, &tok)
        || (tok.len == 1 && !tok.quoted && strchr("{};", tok.data[0])))
    {
        return "the key has no name";
    }

    err = mtasts_tsig_name(tok.data, tok.len, key);
    if (err) {
        return err;
    }

    mtasts_tsig_space(in);
    *line = in->line;

    if (!mtasts_tsig_token(in, &tok) || tok.quoted || tok.len != 1
        || tok.data[0] != '{')
    {
        return "\"{\" is expected after the key name";
    }

    for ( ;; ) {
        mtasts_tsig_space(in);
        *line = in->line;

        if (!mtasts_tsig_token(in, &tok)) {
            return "the key clause is not closed with \"};\"";
        }

        if (!tok.quoted && tok.len == 1 && tok.data[0] == '}') {
            break;
        }

        if (!mtasts_tsig_token(in, &value)
            || !mtasts_tsig_token(in, &semi)
            || semi.quoted || semi.len != 1 || semi.data[0] != ';')
        {
            return "a statement of the key is not ended with \";\"";
        }

        if (tok.len == 9 && strncasecmp((char *) tok.data, "algorithm", 9)
            == 0)
        {
            if (seen_alg++) {
                return "the key has two algorithms";
            }

            err = mtasts_tsig_algorithm(value.data, value.len, key);

        } else if (tok.len == 6
                   && strncasecmp((char *) tok.data, "secret", 6) == 0)
        {
            if (seen_secret++) {
                return "the key has two secrets";
            }

            err = mtasts_tsig_secret(value.data, value.len, key);

        } else {
            return "the key has a statement other than \"algorithm\" "
                   "and \"secret\"";
        }

        if (err) {
            return err;
        }
    }

    mtasts_tsig_space(in);
    *line = in->line;

    if (!mtasts_tsig_token(in, &tok) || tok.quoted || tok.len != 1
        || tok.data[0] != ';')
    {
        return "the key clause is not closed with \"};\"";
    }

    mtasts_tsig_space(in);
    *line = in->line;

    if (mtasts_tsig_token(in, &tok)) {
        return "it holds more than one key clause";
    }

    return mtasts_tsig_complete(key, line);
}


/*
 * key:
 *   - id: name
 *     algorithm: hmac-sha256
 *     secret: ...
 */

static const char *
mtasts_tsig_knot(mtasts_tsig_in_t *in, mtasts_tsig_key_t *key,
    unsigned *line)
{
    size_t                len;
    const char           *err;
    const unsigned char  *p, *eol, *v, *ve;

    /* "key:" itself */

    p = in->p + 4;

    for ( ;; ) {
        eol = memchr(p, '\n', in->last - p);
        if (eol == NULL) {
            eol = in->last;
        }

        *line = in->line;

        while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r')) {
            p++;
        }

        if (p < eol && *p == '-') {
            if (key->name[0]) {
                return "it holds more than one key";
            }

            p++;

            while (p < eol && (*p == ' ' || *p == '\t')) {
                p++;
            }
        }

        if (p < eol && *p != '#') {
            v = memchr(p, ':', eol - p);
            if (v == NULL) {
                return "a line of the key section is not \"field: value\"";
            }

            len = v - p;

            for (v++; v < eol && (*v == ' ' || *v == '\t'); v++) {
                /* void */
            }

            for (ve = eol; ve > v && isspace(ve[-1]); ve--) {
                /* void */
            }

            if (ve - v >= 2 && (*v == '"' || *v == '\'') && ve[-1] == *v) {
                v++;
                ve--;
            }

            if (len == 2 && memcmp(p, "id", 2) == 0) {
                if (key->name[0]) {
                    return "it holds more than one key";
                }

                err = mtasts_tsig_name(v, ve - v, key);

            } else if (len == 9 && memcmp(p, "algorithm", 9) == 0) {
                if (key->algorithm[0]) {
                    return "the key has two algorithms";
                }

                err = mtasts_tsig_algorithm(v, ve - v, key);

            } else if (len == 6 && memcmp(p, "secret", 6) == 0) {
                if (key->secret[0]) {
                    return "the key has two secrets";
                }

                err = mtasts_tsig_secret(v, ve - v, key);

            } else {
                return "the key section has a field other than \"id\", "
                       "\"algorithm\" and \"secret\"";
            }

            if (err) {
                return err;
            }
        }

        if (eol == in->last) {
            break;
        }

        p = eol + 1;
        in->line++;

        /* the next top-level section ends the key's */

        if (p < in->last && *p != ' ' && *p != '\t' && *p != '-'
            && *p != '#' && *p != '\n' && *p != '\r')
        {
            return "it holds a section other than \"key:\"";
        }
    }

    return mtasts_tsig_complete(key, line);
}


static const char *
mtasts_tsig_complete(mtasts_tsig_key_t *key, unsigned *line)
{
    *line = 0;

    if (key->name[0] == '\0') {
        return "the key has no name";
    }

    if (key->algorithm[0] == '\0') {
        return "the key has no algorithm";
    }

    if (key->secret[0] == '\0') {
        return "the key has no secret";
    }

    return NULL;
}


static int
mtasts_tsig_token(mtasts_tsig_in_t *in, mtasts_tsig_tok_t *tok)
{
    const unsigned char  *p;

    mtasts_tsig_space(in);

    if (in->p == in->last) {
        return 0;
    }

    p = in->p;

    tok->quoted = 0;

    if (*p == '{' || *p == '}' || *p == ';') {
        tok->data = p;
        tok->len = 1;
        in->p++;
        return 1;
    }

    if (*p == '"') {
        for (p++; p < in->last && *p != '"' && *p != '\n'; p++) {
            /* void */
        }

        if (p == in->last || *p == '\n') {
            /* an unclosed string: the rest is one token, refused later */
            tok->data = in->p;
            tok->len = p - in->p;
            in->p = p;
            return 1;
        }

        tok->data = in->p + 1;
        tok->len = p - in->p - 1;
        tok->quoted = 1;
        in->p = p + 1;
        return 1;
    }

    while (p < in->last && !isspace(*p) && *p != '{' && *p != '}'
           && *p != ';' && *p != '"' && *p != '#')
    {
        p++;
    }

    tok->data = in->p;
    tok->len = p - in->p;
    in->p = p;

    return 1;
}


/* white space and the three kinds of comments of named.conf */

static void
mtasts_tsig_space(mtasts_tsig_in_t *in)
{
    const unsigned char  *p;

    p = in->p;

    while (p < in->last) {

        if (*p == '\n') {
            in->line++;
            p++;

        } else if (isspace(*p)) {
            p++;

        } else if (*p == '#'
                   || (*p == '/' && p + 1 < in->last && p[1] == '/'))
        {
            while (p < in->last && *p != '\n') {
                p++;
            }

        } else if (*p == '/' && p + 1 < in->last && p[1] == '*') {
            for (p += 2; p < in->last; p++) {
                if (*p == '\n') {
                    in->line++;

                } else if (*p == '*' && p + 1 < in->last && p[1] == '/') {
                    p += 2;
                    break;
                }
            }

        } else {
            break;
        }
    }

    in->p = p;
}


static const char *
mtasts_tsig_name(const unsigned char *s, size_t len, mtasts_tsig_key_t *key)
{
    size_t  i;

    if (len && s[len - 1] == '.') {
        len--;
    }

    if (len == 0) {
        return "the key name is empty";
    }

    if (len > MTASTS_TSIG_NAME_MAX) {
        return "the key name is longer than 253 characters";
    }

    for (i = 0; i < len; i++) {
        if (!isalnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
            return "the key name has a character other than letters, "
                   "digits, \"-\", \"_\" and \".\"";
        }

        if (s[i] == '.' && (i == 0 || s[i - 1] == '.')) {
            return "the key name has an empty label";
        }

        key->name[i] = (char) tolower(s[i]);
    }

    key->name[len] = '.';
    key->name[len + 1] = '\0';

    return NULL;
}


static const char *
mtasts_tsig_algorithm(const unsigned char *s, size_t len,
    mtasts_tsig_key_t *key)
{
    size_t        i;
    const char   *known[] = { "hmac-sha256", "hmac-sha512", NULL };

    if (len && s[len - 1] == '.') {
        len--;
    }

    for (i = 0; known[i]; i++) {
        if (len == strlen(known[i])
            && strncasecmp((const char *) s, known[i], len) == 0)
        {
            memcpy(key->algorithm, known[i], len);
            key->algorithm[len] = '.';
            key->algorithm[len + 1] = '\0';
            return NULL;
        }
    }

    if ((len == 8 && strncasecmp((const char *) s, "hmac-md5", 8) == 0)
        || (len == 26
            && strncasecmp((const char *) s, "hmac-md5.sig-alg.reg.int", 24)
               == 0)
        || (len == 9 && strncasecmp((const char *) s, "hmac-sha1", 9) == 0))
    {
        return "the key's algorithm is too weak, use hmac-sha256 or "
               "hmac-sha512";
    }

    /* ldns signs with SHA-384 and SHA-224 under no usable name */

    return "the key's algorithm is not hmac-sha256 or hmac-sha512";
}


static const char *
mtasts_tsig_secret(const unsigned char *s, size_t len, mtasts_tsig_key_t *key)
{
    size_t  i, pad;

    if (len == 0) {
        return "the key's secret is empty";
    }

    if (len > MTASTS_TSIG_SECRET_MAX) {
        return "the key's secret is longer than 512 base64 characters";
    }

    if (len % 4) {
        return "the key's secret is not base64";
    }

    pad = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '=') {
            if (i < len - 2) {
                return "the key's secret is not base64";
            }

            pad++;
            continue;
        }

        if (pad || !(isalnum(s[i]) || s[i] == '+' || s[i] == '/')) {
            return "the key's secret is not base64";
        }
    }

    key->bits = (len / 4 * 3 - pad) * 8;

    if (key->bits < 128) {
        return "the key's secret is shorter than 128 bits";
    }

    memcpy(key->secret, s, len);
    key->secret[len] = '\0';

    return NULL;
}
