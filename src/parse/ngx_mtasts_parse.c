
/*
 * Copyright (C) ngx_http_mtasts_module authors
 */


#include <string.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <idn2.h>
#include <libpsl.h>

#include "ngx_mtasts_parse.h"


#define mtasts_lower(c)  (((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))
#define mtasts_digit(c)  ((c) >= '0' && (c) <= '9')
#define mtasts_alpha(c)  (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z')
#define mtasts_hex(c)    (mtasts_digit(c)                                   \
                          || (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'f'))


static const char *mtasts_idn_to_ascii(const unsigned char *in, size_t len,
    unsigned char *out, size_t *olen);
static int mtasts_alabel(const unsigned char *p, size_t n);
static const char *mtasts_check_labels(const unsigned char *p, size_t n);
static int mtasts_public_suffix(const unsigned char *name, size_t len);
static int mtasts_prefix(const unsigned char *s, size_t len,
    const char *prefix);
static const char *mtasts_check_uri_chars(const unsigned char *p, size_t n);
static const char *mtasts_check_mailto(const unsigned char *p, size_t n);
static const char *mtasts_check_https(const unsigned char *p, size_t n);
static int mtasts_inet(int af, const unsigned char *p, size_t n);


const char *
mtasts_name_normalize(const unsigned char *in, size_t len, unsigned flags,
    mtasts_name_t *out)
{
    size_t          n, i;
    unsigned        wildcard, warnings;
    const char     *err;
    unsigned char   ascii[MTASTS_NAME_MAX + 1];
    const unsigned char  *p;

    out->len = 0;
    out->wildcard = 0;
    out->warnings = 0;

    p = in;
    n = len;

    /* one trailing dot is the DNS presentation form of the same name */

    if (n > 0 && p[n - 1] == '.') {
        n--;
    }

    if (n == 0) {
        return "empty name";
    }

    if (n > 1024) {
        return "name is longer than 253 characters";
    }

    wildcard = 0;
    warnings = 0;

    if (p[0] == '*') {
        if (!(flags & MTASTS_NAME_WILDCARD)) {
            return "wildcards are not allowed here";
        }

        if (n < 3 || p[1] != '.') {
            return "a wildcard must be the whole leftmost label, "
                   "as in \"*.example.com\"";
        }

        wildcard = 1;
        p += 2;
        n -= 2;
    }

    for (i = 0; i < n; i++) {
        if (p[i] >= 0x80) {
            break;
        }
    }

    if (i < n) {
        err = mtasts_idn_to_ascii(p, n, ascii, &n);
        if (err) {
            return err;
        }

        p = ascii;
        warnings |= MTASTS_WARN_IDN;
    }

    if (n + (wildcard ? 2 : 0) > MTASTS_NAME_MAX) {
        return "name is longer than 253 characters";
    }

    err = mtasts_check_labels(p, n);
    if (err) {
        return err;
    }

    if (wildcard) {
        out->data[0] = '*';
        out->data[1] = '.';
        out->len = 2;
    }

    for (i = 0; i < n; i++) {
        out->data[out->len++] = mtasts_lower(p[i]);
    }

    out->data[out->len] = '\0';

    if (memchr(p, '.', n) == NULL) {
        warnings |= wildcard ? MTASTS_WARN_PUBLIC : MTASTS_WARN_SINGLE;

    } else if (wildcard
               && mtasts_public_suffix(out->data + 2, out->len - 2))
    {
        warnings |= MTASTS_WARN_PUBLIC;
    }

    out->wildcard = wildcard;
    out->warnings = warnings;

    return NULL;
}


static const char *
mtasts_idn_to_ascii(const unsigned char *in, size_t len, unsigned char *out,
    size_t *olen)
{
    int     rc;
    char   *a, buf[1025];
    size_t  n;

    if (len >= sizeof(buf)) {
        return "name is longer than 253 characters";
    }

    /* a NUL would end the string early: the rest would be ignored */

    if (memchr(in, '\0', len) != NULL) {
        return "host names contain only letters, digits, "
               "hyphens and dots";
    }

    memcpy(buf, in, len);
    buf[len] = '\0';

    rc = idn2_to_ascii_8z(buf, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
        return "not a valid internationalized domain name";
    }

    n = strlen(a);

    if (n > MTASTS_NAME_MAX) {
        idn2_free(a);
        return "name is longer than 253 characters";
    }

    memcpy(out, a, n);
    *olen = n;

    idn2_free(a);

    return NULL;
}


static const char *
mtasts_check_labels(const unsigned char *p, size_t n)
{
    size_t          i, start;
    unsigned        digits, alabel;
    unsigned char   c;

    start = 0;
    digits = 1;
    alabel = 0;

    for (i = 0; i <= n; i++) {

        c = (i < n) ? p[i] : '.';

        if (c == '.') {

            if (i == start) {
                return "empty label";
            }

            if (i - start > MTASTS_LABEL_MAX) {
                return "label longer than 63 characters";
            }

            if (p[start] == '-' || p[i - 1] == '-') {
                return "label begins or ends with a hyphen";
            }

            if (i == n && digits) {
                return "an IP address is not a host name";
            }

            /* told after the other faults, which are the plainer ones */

            if (!alabel
                && i - start >= 4
                && mtasts_lower(p[start]) == 'x'
                && mtasts_lower(p[start + 1]) == 'n'
                && p[start + 2] == '-' && p[start + 3] == '-'
                && !mtasts_alabel(p + start, i - start))
            {
                alabel = 1;
            }

            start = i + 1;
            digits = 1;
            continue;
        }

        if (mtasts_digit(c)) {
            continue;
        }

        digits = 0;

        if (mtasts_alpha(c) || c == '-') {
            continue;
        }

        switch (c) {

        case '_':
            return "underscore is not allowed in host names";

        case '*':
            return "a wildcard must be the whole leftmost label, "
                   "as in \"*.example.com\"";

        case '[':
        case ']':
        case ':':
            return "an IP address is not a host name";

        default:
            return "host names contain only letters, digits, "
                   "hyphens and dots";
        }
    }

    if (alabel) {
        return "a label that begins with \"xn--\" must be a valid "
               "A-label (punycode)";
    }

    return NULL;
}


/*
 * A label in "xn--" is an A-label: it must be punycode of a name that
 * IDNA2008 allows, or senders cannot use it (libidn2 decodes and encodes
 * it again).  Other labels are plain LDH labels, "ab--cd" included.
 */

static int
mtasts_alabel(const unsigned char *p, size_t n)
{
    int    rc;
    char  *a, buf[MTASTS_LABEL_MAX + 1];

    memcpy(buf, p, n);
    buf[n] = '\0';

    rc = idn2_to_ascii_8z(buf, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
        return 0;
    }

    idn2_free(a);

    return 1;
}


static int
mtasts_public_suffix(const unsigned char *name, size_t len)
{
    static const psl_ctx_t  *psl;

    (void) len;

    if (psl == NULL) {
        psl = psl_builtin();

        if (psl == NULL) {
            return 0;
        }
    }

    return psl_is_public_suffix(psl, (const char *) name);
}


const char *
mtasts_check_id(const unsigned char *id, size_t len)
{
    size_t  i;

    if (len == 0) {
        return "empty id";
    }

    if (len > MTASTS_ID_MAX) {
        return "an id is 1 to 32 letters and digits";
    }

    for (i = 0; i < len; i++) {
        if (!mtasts_alpha(id[i]) && !mtasts_digit(id[i])) {
            return "an id is 1 to 32 letters and digits";
        }
    }

    return NULL;
}


const char *
mtasts_check_rua(const unsigned char *uri, size_t len)
{
    const char  *err;

    if (len == 0) {
        return "empty URI";
    }

    err = mtasts_check_uri_chars(uri, len);
    if (err) {
        return err;
    }

    if (mtasts_prefix(uri, len, "mailto:")) {
        return mtasts_check_mailto(uri + 7, len - 7);
    }

    if (mtasts_prefix(uri, len, "https:")) {
        return mtasts_check_https(uri + 6, len - 6);
    }

    if (mtasts_prefix(uri, len, "http:")) {
        return "reports are not sent over plain \"http:\", "
               "use \"https:\" or \"mailto:\"";
    }

    return "only \"mailto:\" and \"https:\" URIs are allowed";
}


static int
mtasts_prefix(const unsigned char *s, size_t len, const char *prefix)
{
    size_t  i, n;

    n = strlen(prefix);

    if (len < n) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (mtasts_lower(s[i]) != (unsigned char) prefix[i]) {
            return 0;
        }
    }

    return 1;
}


static const char *
mtasts_check_uri_chars(const unsigned char *p, size_t n)
{
    size_t          i;
    unsigned char   c;

    for (i = 0; i < n; i++) {
        c = p[i];

        switch (c) {

        case '!':
            return "\"!\" must be percent-encoded as \"%21\" "
                   "(TLS-RPT has no size limit suffix)";

        case ',':
            return "\",\" must be percent-encoded as \"%2C\", "
                   "give several URIs as separate parameters";

        case ';':
            return "\";\" must be percent-encoded as \"%3B\"";

        case '%':
            if (i + 2 >= n || !mtasts_hex(p[i + 1]) || !mtasts_hex(p[i + 2]))
            {
                return "invalid percent-encoding";
            }

            i += 2;
            continue;
        }

        if (mtasts_alpha(c) || mtasts_digit(c)) {
            continue;
        }

        if (strchr("-._~:/?#[]@$&'()*+=", c) == NULL || c == '\0') {
            return "URIs contain no spaces, quotes or control characters, "
                   "percent-encode them";
        }
    }

    return NULL;
}


static const char *
mtasts_check_mailto(const unsigned char *p, size_t n)
{
    size_t          i, at;
    mtasts_name_t   name;

    for (i = 0; i < n; i++) {
        if (p[i] == '?') {
            break;
        }
    }

    n = i;
    at = n;

    for (i = 0; i < n; i++) {
        if (p[i] == '@') {
            at = i;
        }
    }

    if (at == 0 || at == n || at + 1 == n) {
        return "a \"mailto:\" URI needs an address, "
               "as in \"mailto:tlsrpt@example.com\"";
    }

    if (memchr(p, '@', at) != NULL) {
        return "a \"mailto:\" URI takes one address";
    }

    if (mtasts_name_normalize(p + at + 1, n - at - 1, 0, &name) != NULL) {
        return "the domain of the \"mailto:\" address is not a valid "
               "host name";
    }

    return NULL;
}


static const char *
mtasts_check_https(const unsigned char *p, size_t n)
{
    size_t          i, end, host;
    mtasts_name_t   name;

    if (n < 2 || p[0] != '/' || p[1] != '/') {
        return "an \"https:\" URI needs a host, "
               "as in \"https://reports.example.com/tlsrpt\"";
    }

    p += 2;
    n -= 2;

    for (end = 0; end < n; end++) {
        if (p[end] == '/' || p[end] == '?' || p[end] == '#') {
            break;
        }
    }

    if (memchr(p, '@', end) != NULL) {
        return "an \"https:\" URI must not carry user information";
    }

    if (end > 0 && p[0] == '[') {
        for (i = 1; i < end; i++) {
            if (p[i] == ']') {
                break;
            }
        }

        if (i == end || (i + 1 < end && p[i + 1] != ':')
            || !mtasts_inet(AF_INET6, p + 1, i - 1))
        {
            return "invalid IPv6 address in \"https:\" URI";
        }

        for (host = i + 2; host < end; host++) {
            if (!mtasts_digit(p[host])) {
                return "invalid port in \"https:\" URI";
            }
        }

        end = i + 1;

    } else {
        for (host = 0; host < end; host++) {
            if (p[host] == ':') {
                break;
            }
        }

        for (i = host + 1; i < end; i++) {
            if (!mtasts_digit(p[i])) {
                return "invalid port in \"https:\" URI";
            }
        }

        end = host;
    }

    if (end == 0) {
        return "an \"https:\" URI needs a host, "
               "as in \"https://reports.example.com/tlsrpt\"";
    }

    /* a dotted IPv4 address is a valid, if unusual, report host */

    if (p[0] != '['
        && mtasts_name_normalize(p, end, 0, &name) != NULL
        && !mtasts_inet(AF_INET, p, end))
    {
        return "the host of the \"https:\" URI is not a valid host name";
    }

    return NULL;
}


/* an IPv4 address in dotted-decimal form or an IPv6 address */

static int
mtasts_inet(int af, const unsigned char *p, size_t n)
{
    char           buf[64];
    unsigned char  addr[16];

    if (n >= sizeof(buf) || memchr(p, '\0', n) != NULL) {
        return 0;
    }

    memcpy(buf, p, n);
    buf[n] = '\0';

    return inet_pton(af, buf, addr) == 1;
}


int
mtasts_mx_match(const unsigned char *pattern, size_t plen,
    const unsigned char *host, size_t hlen)
{
    size_t  i;

    if (hlen > 0 && host[hlen - 1] == '.') {
        hlen--;
    }

    if (plen >= 2 && pattern[0] == '*' && pattern[1] == '.') {

        /* the wildcard stands for exactly one non-empty leftmost label */

        for (i = 0; i < hlen; i++) {
            if (host[i] == '.') {
                break;
            }
        }

        if (i == 0 || i == hlen) {
            return 0;
        }

        host += i + 1;
        hlen -= i + 1;
        pattern += 2;
        plen -= 2;
    }

    if (plen != hlen) {
        return 0;
    }

    for (i = 0; i < plen; i++) {
        if (mtasts_lower(pattern[i]) != mtasts_lower(host[i])) {
            return 0;
        }
    }

    return 1;
}
