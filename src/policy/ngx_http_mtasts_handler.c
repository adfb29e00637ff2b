
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Answering "/.well-known/mta-sts.txt": look the domain up, send the
 * buffer prepared at load time.
 */


#include "ngx_http_mtasts_policy.h"
#include "ngx_http_mtasts_check.h"


typedef enum {
    NGX_HTTP_MTASTS_VAR_DOMAIN = 0,
    NGX_HTTP_MTASTS_VAR_ID,
    NGX_HTTP_MTASTS_VAR_MODE
} ngx_http_mtasts_var_e;


static ngx_int_t ngx_http_mtasts_send(ngx_http_request_t *r,
    ngx_http_mtasts_srv_conf_t *mscf);
static ngx_int_t ngx_http_mtasts_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_mtasts_vars[] = {

    { ngx_string("mta_sts_domain"), NULL, ngx_http_mtasts_variable,
      NGX_HTTP_MTASTS_VAR_DOMAIN, 0, 0 },

    { ngx_string("mta_sts_policy_id"), NULL, ngx_http_mtasts_variable,
      NGX_HTTP_MTASTS_VAR_ID, 0, 0 },

    { ngx_string("mta_sts_mode"), NULL, ngx_http_mtasts_variable,
      NGX_HTTP_MTASTS_VAR_MODE, 0, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_mtasts_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_mtasts_srv_conf_t  *mscf;

    mscf = ngx_http_get_module_srv_conf(r, ngx_http_mtasts_module);

    if (!mscf->enable
        || r->uri.len != sizeof(NGX_HTTP_MTASTS_PATH) - 1
        || ngx_strncmp(r->uri.data, NGX_HTTP_MTASTS_PATH,
                       sizeof(NGX_HTTP_MTASTS_PATH) - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    rc = ngx_http_mtasts_send(r, mscf);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_mtasts_send(ngx_http_request_t *r, ngx_http_mtasts_srv_conf_t *mscf)
{
    ngx_int_t                     rc, found;
    ngx_str_t                     domain;
    ngx_buf_t                    *b;
    ngx_uint_t                    n;
    ngx_chain_t                   out;
    ngx_http_mtasts_entry_t      *entry;
    ngx_http_mtasts_main_conf_t  *mmcf;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    found = ngx_http_mtasts_find(r, mscf, &domain, &entry);

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_mtasts_module);

    /* without a status location, nothing counts the requests */

    if (found == NGX_OK && entry && mmcf->shm_zone && entry->node) {
        n = (r->method == NGX_HTTP_GET) ? NGX_HTTP_MTASTS_REQ_GET
            : (r->method == NGX_HTTP_HEAD) ? NGX_HTTP_MTASTS_REQ_HEAD
            : NGX_HTTP_MTASTS_REQ_OTHER;

        (void) ngx_atomic_fetch_add(&entry->node->requests[n], 1);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_mtasts_not_allowed(r);
    }

    if (found != NGX_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "mta-sts: no policy for host \"%V\"",
                       &r->headers_in.server);
        return NGX_HTTP_NOT_FOUND;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "mta-sts: policy \"%V\" for \"%V\"",
                   &mscf->policy_id, &domain);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = mscf->body.len;

    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.content_type_lowcase = NULL;

    /* only a 200 is a policy: never 304, 412 or 206 */

    r->disable_not_modified = 1;
    r->allow_ranges = 0;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = mscf->body.data;
    b->last = mscf->body.data + mscf->body.len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* 405, with the methods that are allowed: RFC 9110 wants them said */

ngx_int_t
ngx_http_mtasts_not_allowed(ngx_http_request_t *r)
{
    static ngx_str_t  allow = ngx_string("Allow");
    static ngx_str_t  methods = ngx_string("GET, HEAD");

    if (ngx_http_mtasts_add_header(r, &allow, &methods) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_HTTP_NOT_ALLOWED;
}


ngx_int_t
ngx_http_mtasts_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key = *key;
    h->value = *value;

    return NGX_OK;
}


/*
 * The policy domain of the request: its host less "mta-sts.", if this
 * server answers for it.  nginx has already lower-cased the host and
 * removed a port and one trailing dot.
 */

ngx_int_t
ngx_http_mtasts_find(ngx_http_request_t *r, ngx_http_mtasts_srv_conf_t *mscf,
    ngx_str_t *domain, ngx_http_mtasts_entry_t **entry)
{
    ngx_str_t   *host;
    ngx_uint_t   key;

    host = &r->headers_in.server;

    if (host->len <= sizeof(NGX_HTTP_MTASTS_PREFIX) - 1
        || ngx_strncmp(host->data, NGX_HTTP_MTASTS_PREFIX,
                       sizeof(NGX_HTTP_MTASTS_PREFIX) - 1)
           != 0)
    {
        return NGX_DECLINED;
    }

    domain->data = host->data + sizeof(NGX_HTTP_MTASTS_PREFIX) - 1;
    domain->len = host->len - (sizeof(NGX_HTTP_MTASTS_PREFIX) - 1);

    *entry = NULL;

    if (mscf->hosted) {
        return NGX_OK;
    }

    /*
     * The server's own domains: no other server's entry is looked at, and
     * a server of one domain needs no hash.
     */

    if (mscf->entry) {
        if (domain->len == mscf->entry->domain.len
            && ngx_memcmp(domain->data, mscf->entry->domain.data, domain->len)
               == 0)
        {
            *entry = mscf->entry;
            return NGX_OK;
        }

        return NGX_DECLINED;
    }

    if (mscf->names.size == 0) {
        return NGX_DECLINED;
    }

    key = ngx_hash_key(domain->data, domain->len);

    *entry = ngx_hash_find(&mscf->names, key, domain->data, domain->len);

    return (*entry) ? NGX_OK : NGX_DECLINED;
}


/* a domain of any server: the sorted list, searched in halves */

ngx_http_mtasts_entry_t *
ngx_http_mtasts_lookup(ngx_http_mtasts_main_conf_t *mmcf, ngx_str_t *domain)
{
    ngx_int_t                 rc;
    ngx_uint_t                lo, hi, mid;
    ngx_http_mtasts_entry_t  *e;

    lo = 0;
    hi = mmcf->ndomains;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        e = mmcf->list[mid];

        rc = ngx_memn2cmp(domain->data, e->domain.data, domain->len,
                          e->domain.len);

        if (rc == 0) {
            return e;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_mtasts_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_mtasts_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtasts_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t                    domain, *s;
    ngx_http_mtasts_entry_t     *entry;
    ngx_http_mtasts_srv_conf_t  *mscf;

    mscf = ngx_http_get_module_srv_conf(r, ngx_http_mtasts_module);

    if (!mscf->enable
        || ngx_http_mtasts_find(r, mscf, &domain, &entry) != NGX_OK)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_MTASTS_VAR_DOMAIN:
        s = &domain;
        break;

    case NGX_HTTP_MTASTS_VAR_ID:
        s = &mscf->policy_id;
        break;

    default: /* NGX_HTTP_MTASTS_VAR_MODE */
        s = &ngx_http_mtasts_modes[mscf->mode];
        break;
    }

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}
