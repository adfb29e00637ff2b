
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The status location: what the self-check found, in five formats.
 */


#ifndef _NGX_HTTP_MTASTS_STATUS_H_INCLUDED_
#define _NGX_HTTP_MTASTS_STATUS_H_INCLUDED_


#include "ngx_http_mtasts_check.h"


ngx_int_t ngx_http_mtasts_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_mtasts_status_init_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_MTASTS_STATUS_H_INCLUDED_ */
