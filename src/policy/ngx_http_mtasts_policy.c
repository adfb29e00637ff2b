
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The policy body and its id, prepared once at configuration time.
 */


#include <openssl/evp.h>

#include "ngx_http_mtasts_policy.h"


static ngx_int_t ngx_http_mtasts_auto_id(ngx_http_mtasts_srv_conf_t *mscf,
    ngx_pool_t *pool);
static ngx_int_t ngx_http_mtasts_txt_values(ngx_http_mtasts_srv_conf_t *mscf,
    ngx_pool_t *pool);


char *
ngx_http_mtasts_build_policy(ngx_conf_t *cf, ngx_http_mtasts_srv_conf_t *mscf,
    ngx_http_core_srv_conf_t *cscf)
{
    size_t       len;
    u_char      *p;
    ngx_str_t   *mx, *mode;
    ngx_uint_t   i, nmx;

    mode = &ngx_http_mtasts_modes[mscf->mode];
    nmx = mscf->mx ? mscf->mx->nelts : 0;
    mx = nmx ? mscf->mx->elts : NULL;

    if (nmx == 0 && mscf->mode != NGX_HTTP_MTASTS_NONE) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no \"mta_sts_mx\" is defined for "
                      "\"mta_sts_mode %V\" in %s:%ui",
                      mode, cscf->file_name, cscf->line);
        return NGX_CONF_ERROR;
    }

    if (nmx == 0) {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "\"mta_sts_mode none\" without \"mta_sts_mx\" in "
                      "%s:%ui: some senders reject such a policy and keep "
                      "using the one they cached, keep the mx patterns",
                      cscf->file_name, cscf->line);
    }

    len = sizeof("version: STSv1" CRLF "mode: " CRLF "max_age: " CRLF) - 1
          + mode->len + NGX_TIME_T_LEN;

    for (i = 0; i < nmx; i++) {
        len += sizeof("mx: " CRLF) - 1 + mx[i].len;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    mscf->body.data = p;

    p = ngx_sprintf(p, "version: STSv1" CRLF "mode: %V" CRLF, mode);

    for (i = 0; i < nmx; i++) {
        p = ngx_sprintf(p, "mx: %V" CRLF, &mx[i]);
    }

    p = ngx_sprintf(p, "max_age: %T" CRLF, mscf->max_age);

    mscf->body.len = p - mscf->body.data;

    if (mscf->body.len >= NGX_HTTP_MTASTS_BODY_MAX) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "the policy of the server in %s:%ui is %uz bytes, "
                      "senders accept at most %d: use wildcard "
                      "\"mta_sts_mx\" patterns",
                      cscf->file_name, cscf->line, mscf->body.len,
                      NGX_HTTP_MTASTS_BODY_MAX - 1);
        return NGX_CONF_ERROR;
    }

    if (mscf->body.len > NGX_HTTP_MTASTS_BODY_WARN) {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "the policy of the server in %s:%ui is %uz bytes, "
                      "some checkers warn above %d",
                      cscf->file_name, cscf->line, mscf->body.len,
                      NGX_HTTP_MTASTS_BODY_WARN);
    }

    if (mscf->id.len) {
        mscf->policy_id = mscf->id;

    } else if (ngx_http_mtasts_auto_id(mscf, cf->pool) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "could not compute the policy id of the server "
                      "in %s:%ui", cscf->file_name, cscf->line);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_mtasts_txt_values(mscf, cf->pool) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The values of the two TXT records that go with the policy, as they are
 * published and shown: "v=STSv1; id=<id>" and, with "mta_sts_tlsrpt_rua",
 * "v=TLSRPTv1; rua=<uri>,<uri>".  Both end in a NUL that len leaves out.
 */

static ngx_int_t
ngx_http_mtasts_txt_values(ngx_http_mtasts_srv_conf_t *mscf, ngx_pool_t *pool)
{
    size_t       len;
    u_char      *p;
    ngx_str_t   *uri;
    ngx_uint_t   i;

    p = ngx_pnalloc(pool, sizeof("v=STSv1; id=") + mscf->policy_id.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    mscf->sts_txt.data = p;
    mscf->sts_txt.len = ngx_sprintf(p, "v=STSv1; id=%V%Z", &mscf->policy_id)
                        - p - 1;

    if (mscf->rua == NULL || mscf->rua->nelts == 0) {
        ngx_str_null(&mscf->tlsrpt_txt);
        return NGX_OK;
    }

    uri = mscf->rua->elts;
    len = sizeof("v=TLSRPTv1; rua=") + mscf->rua->nelts;

    for (i = 0; i < mscf->rua->nelts; i++) {
        len += uri[i].len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    mscf->tlsrpt_txt.data = p;
    p = ngx_cpymem(p, "v=TLSRPTv1; rua=", sizeof("v=TLSRPTv1; rua=") - 1);

    for (i = 0; i < mscf->rua->nelts; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, uri[i].data, uri[i].len);
    }

    *p = '\0';
    mscf->tlsrpt_txt.len = p - mscf->tlsrpt_txt.data;

    return NGX_OK;
}


/*
 * "auto": the first 80 bits of the SHA-256 of the body, in hex.  The same
 * content gives the same id on any machine, and any change gives a new one.
 */

static ngx_int_t
ngx_http_mtasts_auto_id(ngx_http_mtasts_srv_conf_t *mscf, ngx_pool_t *pool)
{
    u_char        *p;
    unsigned int   n;
    u_char         md[EVP_MAX_MD_SIZE];

    if (EVP_Digest(mscf->body.data, mscf->body.len, md, &n, EVP_sha256(),
                   NULL)
        != 1)
    {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, NGX_HTTP_MTASTS_AUTO_ID);
    if (p == NULL) {
        return NGX_ERROR;
    }

    mscf->policy_id.data = p;
    mscf->policy_id.len = ngx_hex_dump(p, md, NGX_HTTP_MTASTS_AUTO_ID / 2)
                          - p;

    return NGX_OK;
}
