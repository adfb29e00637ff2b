
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * TLS-RPT reports received over HTTPS (RFC 8460, section 5.3): the
 * location of "mta_sts_tlsrpt_receive".
 */


#ifndef _NGX_HTTP_MTASTS_TLSRPT_H_INCLUDED_
#define _NGX_HTTP_MTASTS_TLSRPT_H_INCLUDED_


#include "ngx_http_mtasts.h"


ngx_int_t ngx_http_mtasts_tlsrpt_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MTASTS_TLSRPT_H_INCLUDED_ */
