
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * mtasts_check_rua() on the whole input.  A URI it accepts is later
 * printed into status messages and compared with TXT records, so it must
 * be a "mailto:" or "https:" URI of printable ASCII with ",", "!", ";"
 * and "%" only in percent-encoded form (RFC 8460 section 3), and with
 * a host ("https:") or an address with a domain ("mailto:").  The host
 * of an "https:" URI is a host name, an IPv4 address or an IPv6 address
 * in brackets, and the port, if any, is digits (RFC 3986 section 3.2).
 */


#include <arpa/inet.h>

#include "fuzz.h"
#include "ngx_mtasts_parse.h"


#define lower(c)  (((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))
#define hex(c)    (((c) >= '0' && (c) <= '9')                                \
                   || (lower(c) >= 'a' && lower(c) <= 'f'))


static int
prefix(const unsigned char *p, size_t n, const char *s)
{
    size_t  i, len;

    len = strlen(s);

    if (n < len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (lower(p[i]) != (unsigned char) s[i]) {
            return 0;
        }
    }

    return 1;
}


static int
digits(const unsigned char *p, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
    }

    return 1;
}


static int
address(int af, const unsigned char *p, size_t n)
{
    int            rc;
    char          *s;
    unsigned char  buf[16];

    s = fuzz_str(p, n);
    rc = (strlen(s) == n && inet_pton(af, s, buf) == 1);
    free(s);

    return rc;
}


static void
check_https_host(const unsigned char *p, size_t n)
{
    size_t                len;
    mtasts_name_t         name;
    const unsigned char  *end, *colon, *close;

    for (len = 0; len < n; len++) {
        if (p[len] == '/' || p[len] == '?' || p[len] == '#') {
            break;
        }
    }

    end = p + len;

    FUZZ_ASSERT(len > 0);
    FUZZ_ASSERT(memchr(p, '@', len) == NULL);

    if (p[0] == '[') {
        close = memchr(p, ']', len);
        FUZZ_ASSERT(close != NULL);
        FUZZ_ASSERT(address(AF_INET6, p + 1, close - p - 1));
        FUZZ_ASSERT(close + 1 == end
                    || (close[1] == ':' && digits(close + 2,
                                                  end - close - 2)));
        return;
    }

    colon = memchr(p, ':', len);

    if (colon) {
        FUZZ_ASSERT(digits(colon + 1, end - colon - 1));
        len = colon - p;
    }

    FUZZ_ASSERT(mtasts_name_normalize(p, len, 0, &name) == NULL
                || address(AF_INET, p, len));
}


static void
check_valid(const unsigned char *p, size_t n)
{
    size_t                i;
    const unsigned char  *at, *host;

    FUZZ_ASSERT(n > 0);
    FUZZ_ASSERT(prefix(p, n, "mailto:") || prefix(p, n, "https:"));

    for (i = 0; i < n; i++) {
        FUZZ_ASSERT(p[i] > 0x20 && p[i] < 0x7f);
        FUZZ_ASSERT(p[i] != ',' && p[i] != '!' && p[i] != ';');
        FUZZ_ASSERT(p[i] != '"' && p[i] != '\\' && p[i] != '<'
                    && p[i] != '>');

        if (p[i] == '%') {
            FUZZ_ASSERT(i + 2 < n && hex(p[i + 1]) && hex(p[i + 2]));
        }
    }

    if (prefix(p, n, "mailto:")) {
        at = memchr(p, '@', n);
        FUZZ_ASSERT(at != NULL && at > p + 7 && at + 1 < p + n);
        FUZZ_ASSERT(at[1] != '?');
        return;
    }

    /* "https://" and a non-empty host */

    FUZZ_ASSERT(n > 8 && p[6] == '/' && p[7] == '/');

    host = p + 8;
    FUZZ_ASSERT(*host != '/' && *host != '?' && *host != '#' && *host != ':');

    check_https_host(host, n - 8);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char     *err;
    unsigned char  *in;

    in = fuzz_dup(data, size);

    err = mtasts_check_rua(in, size);

    if (err) {
        fuzz_check_error(err);

    } else {
        check_valid(in, size);
    }

    free(in);

    return 0;
}
