
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * MTA-STS (RFC 8461) policies served from nginx.conf.
 */


#include "ngx_http_mtasts_policy.h"
#include "ngx_http_mtasts_check.h"
#include "ngx_http_mtasts_status.h"
#include "ngx_http_mtasts_tlsrpt.h"
#include "ngx_http_mtasts_publish.h"


static ngx_int_t ngx_http_mtasts_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_mtasts_init(ngx_conf_t *cf);
static void *ngx_http_mtasts_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_mtasts_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_mtasts_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_mtasts_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_mtasts_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_mtasts_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_http_mtasts_mode(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mtasts_mx(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mtasts_max_age(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mtasts_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mtasts_domains(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mtasts_domain(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf);
static char *ngx_http_mtasts_rua(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mtasts_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mtasts_tlsrpt_receive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mtasts_tlsrpt_window(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mtasts_tlsrpt_retention(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_mtasts_resolver(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mtasts_interval(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_mtasts_starttls(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_mtasts_timeout(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *value, ngx_msec_t *timeout,
    const char *reason);
static ngx_int_t ngx_http_mtasts_init_process(ngx_cycle_t *cycle);
static void ngx_http_mtasts_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_mtasts_invalid(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *value, const char *reason);


ngx_str_t  ngx_http_mtasts_modes[] = {
    ngx_string("none"),
    ngx_string("testing"),
    ngx_string("enforce"),
    ngx_null_string
};


static ngx_command_t  ngx_http_mtasts_commands[] = {

    { ngx_string("mta_sts"),
      NGX_HTTP_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_mtasts_srv_conf_t, enable),
      NULL },

    { ngx_string("mta_sts_mode"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mtasts_mode,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_mx"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_mtasts_mx,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mtasts_max_age,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_mtasts_id,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_domains"),
      NGX_HTTP_SRV_CONF|NGX_CONF_BLOCK|NGX_CONF_NOARGS,
      ngx_http_mtasts_domains,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_tlsrpt_rua"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_mtasts_rua,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_publish"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_mtasts_publish,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_mtasts_status,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_resolver"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_mtasts_resolver,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_check_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_mtasts_interval,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_check_starttls"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_mtasts_starttls,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_check_dane"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mtasts_main_conf_t, dane),
      NULL },

    { ngx_string("mta_sts_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_mtasts_main_conf_t, trusted),
      NULL },

    { ngx_string("mta_sts_tlsrpt_receive"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_mtasts_tlsrpt_receive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_tlsrpt_window"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_mtasts_tlsrpt_window,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_tlsrpt_retention"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_mtasts_tlsrpt_retention,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("mta_sts_tlsrpt_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_mtasts_loc_conf_t, tlsrpt_max_size),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_mtasts_module_ctx = {
    ngx_http_mtasts_preconfiguration,      /* preconfiguration */
    ngx_http_mtasts_init,                  /* postconfiguration */

    ngx_http_mtasts_create_main_conf,      /* create main configuration */
    ngx_http_mtasts_init_main_conf,        /* init main configuration */

    ngx_http_mtasts_create_srv_conf,       /* create server configuration */
    ngx_http_mtasts_merge_srv_conf,        /* merge server configuration */

    ngx_http_mtasts_create_loc_conf,       /* create location configuration */
    ngx_http_mtasts_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_mtasts_module = {
    NGX_MODULE_V1,
    &ngx_http_mtasts_module_ctx,           /* module context */
    ngx_http_mtasts_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_mtasts_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_mtasts_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_mtasts_domains_name = ngx_string("mta_sts_domains");


static ngx_int_t
ngx_http_mtasts_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_mtasts_add_variables(cf);
}


static void *
ngx_http_mtasts_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mtasts_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->list = NULL;
     *     mmcf->ndomains = 0;
     *     mmcf->enabled = 0;
     *     mmcf->status = 0;
     *     mmcf->resolver = { 0, NULL };
     *     mmcf->shm_zone = NULL;
     */

    mmcf->resolver_timeout = NGX_CONF_UNSET_MSEC;
    mmcf->resolver_attempts = NGX_CONF_UNSET_UINT;
    mmcf->interval = NGX_CONF_UNSET;
    mmcf->starttls = NGX_CONF_UNSET;
    mmcf->dane = NGX_CONF_UNSET;
    mmcf->starttls_timeout = NGX_CONF_UNSET_MSEC;
    mmcf->tlsrpt_window = NGX_CONF_UNSET;
    mmcf->tlsrpt_retention = NGX_CONF_UNSET;

    return mmcf;
}


static char *
ngx_http_mtasts_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_mtasts_main_conf_t *mmcf = conf;

    ngx_conf_init_msec_value(mmcf->resolver_timeout, 2000);
    ngx_conf_init_uint_value(mmcf->resolver_attempts, 2);
    ngx_conf_init_value(mmcf->interval, 3600);
    ngx_conf_init_value(mmcf->tlsrpt_window, 30 * 86400);
    ngx_conf_init_value(mmcf->tlsrpt_retention, 0);

    /* what the summary counts is not deleted under it */

    if (mmcf->tlsrpt_retention
        && mmcf->tlsrpt_retention < mmcf->tlsrpt_window)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"mta_sts_tlsrpt_retention\" of %T days is shorter "
                      "than \"mta_sts_tlsrpt_window\" of %T days: the "
                      "reports the status page counts would be deleted",
                      mmcf->tlsrpt_retention / 86400,
                      mmcf->tlsrpt_window / 86400);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_value(mmcf->starttls, 0);
    ngx_conf_init_value(mmcf->dane, 0);
    ngx_conf_init_msec_value(mmcf->starttls_timeout, 10000);

    if (mmcf->starttls_port == 0) {
        mmcf->starttls_port = 25;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_mtasts_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_mtasts_srv_conf_t  *mscf;

    mscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mtasts_srv_conf_t));
    if (mscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mscf->domains = NULL;
     *     mscf->id = { 0, NULL };      unset; "auto" is { 0, "" }
     *     mscf->names = { NULL, 0 };
     *     mscf->entry = NULL;
     *     mscf->body = { 0, NULL };
     *     mscf->policy_id = { 0, NULL };
     *     mscf->hosted = 0;
     */

    mscf->enable = NGX_CONF_UNSET;
    mscf->mode = NGX_CONF_UNSET_UINT;
    mscf->max_age = NGX_CONF_UNSET;
    mscf->mx = NGX_CONF_UNSET_PTR;
    mscf->rua = NGX_CONF_UNSET_PTR;
    mscf->publish = NGX_CONF_UNSET_PTR;

    return mscf;
}


static char *
ngx_http_mtasts_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mtasts_srv_conf_t *prev = parent;
    ngx_http_mtasts_srv_conf_t *conf = child;

    ngx_http_core_srv_conf_t  *cscf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_uint_value(conf->mode, prev->mode,
                              NGX_HTTP_MTASTS_TESTING);
    ngx_conf_merge_sec_value(conf->max_age, prev->max_age, 604800);
    ngx_conf_merge_ptr_value(conf->mx, prev->mx, NULL);
    ngx_conf_merge_ptr_value(conf->rua, prev->rua, NULL);
    ngx_conf_merge_ptr_value(conf->publish, prev->publish, NULL);

    if (conf->id.data == NULL) {
        conf->id = prev->id;
    }

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);

    if (!conf->enable) {

        if (conf->domains) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "\"mta_sts_domains\" is ignored without "
                          "\"mta_sts on\" in %s:%ui",
                          cscf->file_name, cscf->line);
        }

        return NGX_CONF_OK;
    }

    return ngx_http_mtasts_build_policy(cf, conf, cscf);
}


static char *
ngx_http_mtasts_invalid(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *value, const char *reason)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, %s",
                       value, directive, reason);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_mtasts_mode(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_srv_conf_t *mscf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (mscf->mode != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; ngx_http_mtasts_modes[i].len; i++) {
        if (ngx_http_mtasts_modes[i].len == value[1].len
            && ngx_strcasecmp(ngx_http_mtasts_modes[i].data, value[1].data)
               == 0)
        {
            mscf->mode = i;
            return NGX_CONF_OK;
        }
    }

    return ngx_http_mtasts_invalid(cf, &cmd->name, &value[1],
                                   "it must be \"enforce\", \"testing\" "
                                   "or \"none\"");
}


static char *
ngx_http_mtasts_mx(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_srv_conf_t *mscf = conf;

    ngx_str_t      *value, *mx, *pattern;
    ngx_uint_t      i, j;
    const char     *err;
    mtasts_name_t   name;

    if (mscf->mx == NGX_CONF_UNSET_PTR) {
        mscf->mx = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (mscf->mx == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        err = mtasts_name_normalize(value[i].data, value[i].len,
                                    MTASTS_NAME_WILDCARD, &name);
        if (err) {
            return ngx_http_mtasts_invalid(cf, &cmd->name, &value[i], err);
        }

        if (name.warnings & MTASTS_WARN_PUBLIC) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"mta_sts_mx\" pattern \"%s\" lets any host "
                               "under a public suffix receive the mail, "
                               "name the MX hosts", name.data);
        }

        if (name.warnings & MTASTS_WARN_SINGLE) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"mta_sts_mx\" pattern \"%s\" is a "
                               "single-label name", name.data);
        }

        mx = mscf->mx->elts;

        for (j = 0; j < mscf->mx->nelts; j++) {
            if (mx[j].len == name.len
                && ngx_strncmp(mx[j].data, name.data, name.len) == 0)
            {
                break;
            }

            if (mtasts_mx_match(mx[j].data, mx[j].len, name.data, name.len)
                || mtasts_mx_match(name.data, name.len, mx[j].data,
                                   mx[j].len))
            {
                ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                                   "\"mta_sts_mx\" pattern \"%s\" overlaps "
                                   "\"%V\"", name.data, &mx[j]);
            }
        }

        if (j < mscf->mx->nelts) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "duplicate \"mta_sts_mx\" pattern \"%s\"",
                               name.data);
            continue;
        }

        pattern = ngx_array_push(mscf->mx);
        if (pattern == NULL) {
            return NGX_CONF_ERROR;
        }

        pattern->len = name.len;
        pattern->data = ngx_pnalloc(cf->pool, name.len);
        if (pattern->data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(pattern->data, name.data, name.len);
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mtasts_max_age(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_srv_conf_t *mscf = conf;

    ngx_int_t   t;
    ngx_str_t  *value;

    if (mscf->max_age != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    t = ngx_parse_time(&value[1], 1);

    if (t == NGX_ERROR) {
        return ngx_http_mtasts_invalid(cf, &cmd->name, &value[1],
                                       "it must be a time in seconds or "
                                       "with a unit, as in \"604800\" "
                                       "or \"1w\"");
    }

    if (t > MTASTS_MAX_AGE_MAX) {
        return ngx_http_mtasts_invalid(cf, &cmd->name, &value[1],
                                       "it must not exceed 31557600 "
                                       "seconds (365.25 days)");
    }

    if (t < 86400) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"mta_sts_max_age\" of %i seconds is less than "
                           "a day: senders refetch the policy that often, "
                           "RFC 8461 expects weeks or more", t);

    } else if (t == MTASTS_MAX_AGE_MAX) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"mta_sts_max_age\" of 31557600 seconds is "
                           "taken as one day by some senders, "
                           "use 31557599 or less");
    }

    mscf->max_age = t;

    return NGX_CONF_OK;
}


static char *
ngx_http_mtasts_id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_srv_conf_t *mscf = conf;

    ngx_str_t   *value;
    const char  *err;

    if (mscf->id.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcasecmp(value[1].data, (u_char *) "auto") == 0) {
        mscf->id.len = 0;
        mscf->id.data = (u_char *) "";
        return NGX_CONF_OK;
    }

    err = mtasts_check_id(value[1].data, value[1].len);
    if (err) {
        return ngx_http_mtasts_invalid(cf, &cmd->name, &value[1],
                                       "it must be \"auto\" or 1 to 32 "
                                       "letters and digits");
    }

    mscf->id = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_mtasts_domains(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_srv_conf_t *mscf = conf;

    char        *rv;
    ngx_conf_t   save;

    /*
     * The list is read only while the configuration is loaded: the names
     * (in cf->pool) go on into the hash.  In the temporary pool, the list
     * and the copies it leaves behind as it grows (8 MB for 100,000
     * domains) do not stay in the memory of nginx.
     */

    if (mscf->domains == NULL) {
        mscf->domains = ngx_array_create(cf->temp_pool, 16,
                                         sizeof(ngx_http_mtasts_name_t));
        if (mscf->domains == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    save = *cf;
    cf->handler = ngx_http_mtasts_domain;
    cf->handler_conf = conf;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    return rv;
}


static char *
ngx_http_mtasts_domain(ngx_conf_t *cf, ngx_command_t *dummy, void *conf)
{
    ngx_http_mtasts_srv_conf_t *mscf = conf;

    ngx_str_t               *value;
    ngx_uint_t               i;
    const char              *err;
    mtasts_name_t            name;
    ngx_http_mtasts_name_t  *d;

    value = cf->args->elts;

    if (cf->args->nelts == 2
        && ngx_strcmp(value[0].data, "include") == 0)
    {
        return ngx_conf_include(cf, dummy, conf);
    }

    for (i = 0; i < cf->args->nelts; i++) {

        err = mtasts_name_normalize(value[i].data, value[i].len, 0, &name);
        if (err) {
            return ngx_http_mtasts_invalid(cf, &ngx_http_mtasts_domains_name,
                                           &value[i], err);
        }

        if (name.len > sizeof(NGX_HTTP_MTASTS_PREFIX) - 1
            && ngx_strncmp(name.data, NGX_HTTP_MTASTS_PREFIX,
                           sizeof(NGX_HTTP_MTASTS_PREFIX) - 1)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"mta_sts_domains\" lists policy domains: "
                               "\"%s\" is answered as "
                               "\"mta-sts.%s\"", name.data, name.data);
        }

        d = ngx_array_push(mscf->domains);
        if (d == NULL) {
            return NGX_CONF_ERROR;
        }

        d->name.len = name.len;
        d->name.data = ngx_pnalloc(cf->pool, name.len);
        if (d->name.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(d->name.data, name.data, name.len);

        d->file = cf->conf_file->file.name.data;
        d->line = cf->conf_file->line;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mtasts_rua(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_srv_conf_t *mscf = conf;

    ngx_str_t   *value, *uri;
    ngx_uint_t   i, j;
    const char  *err;

    if (mscf->rua == NGX_CONF_UNSET_PTR) {
        mscf->rua = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (mscf->rua == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        err = mtasts_check_rua(value[i].data, value[i].len);
        if (err) {
            return ngx_http_mtasts_invalid(cf, &cmd->name, &value[i], err);
        }

        uri = mscf->rua->elts;

        for (j = 0; j < mscf->rua->nelts; j++) {
            if (uri[j].len == value[i].len
                && ngx_strncmp(uri[j].data, value[i].data, value[i].len)
                   == 0)
            {
                break;
            }
        }

        if (j < mscf->rua->nelts) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "duplicate \"mta_sts_tlsrpt_rua\" URI \"%V\"",
                               &value[i]);
            continue;
        }

        uri = ngx_array_push(mscf->rua);
        if (uri == NULL) {
            return NGX_CONF_ERROR;
        }

        *uri = value[i];
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mtasts_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt          *h;
    ngx_http_core_main_conf_t    *cmcf;
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mtasts_module);

    if (ngx_http_mtasts_domains_init(cf, mmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (mmcf->enabled == 0) {
        return NGX_OK;
    }

    if (ngx_http_mtasts_publish_init(cf, mmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (mmcf->status && ngx_http_mtasts_check_init(cf, mmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the summary of TLS-RPT reports is for the status location */

    if (mmcf->status && mmcf->tlsrpt_paths
        && ngx_http_mtasts_tlsrpt_init(cf, mmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_mtasts_handler;

    return NGX_OK;
}







static char *
ngx_http_mtasts_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_main_conf_t *mmcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mtasts_status_handler;

    mmcf->status = 1;

    return NGX_CONF_OK;
}


/*
 * mta_sts_resolver address[:port] ... [timeout=time] [attempts=n];
 * c-ares takes addresses only, so names are refused here
 */

static char *
ngx_http_mtasts_resolver(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_main_conf_t *mmcf = conf;

    u_char      *p, *last;
    ngx_str_t   *value, s;
    ngx_int_t    n, rc;
    ngx_uint_t   i;
    ngx_addr_t   addr;

    if (mmcf->resolver.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    p = ngx_pnalloc(cf->pool, (cf->args->nelts - 1) * (NGX_SOCKADDR_STRLEN
                                                       + 1));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    mmcf->resolver.data = p;
    last = p + (cf->args->nelts - 1) * (NGX_SOCKADDR_STRLEN + 1);

    for (i = 1; i < cf->args->nelts; i++) {

        rc = ngx_http_mtasts_timeout(cf, cmd, &value[i],
                                     &mmcf->resolver_timeout,
                                     "the timeout must be a time, "
                                     "as in \"timeout=2s\"");
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        if (ngx_strncmp(value[i].data, "attempts=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);
            if (n == NGX_ERROR || n < 1 || n > 10) {
                return ngx_http_mtasts_invalid(cf, &cmd->name, &value[i],
                                               "attempts must be a number "
                                               "from 1 to 10");
            }

            mmcf->resolver_attempts = (ngx_uint_t) n;
            continue;
        }

        s = value[i];

        /* "[::1]" without a port */

        if (s.len > 2 && s.data[0] == '[' && s.data[s.len - 1] == ']') {
            s.data++;
            s.len -= 2;
        }

        if (ngx_parse_addr_port(cf->pool, &addr, s.data, s.len) != NGX_OK) {
            return ngx_http_mtasts_invalid(cf, &cmd->name, &value[i],
                                           "it must be an IP address with "
                                           "an optional port, as in "
                                           "\"127.0.0.1:53\" or "
                                           "\"[::1]:5353\"");
        }

        if (ngx_inet_get_port(addr.sockaddr) == 0) {
            ngx_inet_set_port(addr.sockaddr, 53);
        }

        if (p != mmcf->resolver.data) {
            *p++ = ',';
        }

        p += ngx_sock_ntop(addr.sockaddr, addr.socklen, p, last - p, 1);
    }

    mmcf->resolver.len = p - mmcf->resolver.data;

    if (mmcf->resolver.len == 0) {
        return "needs at least one address";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_mtasts_interval(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_main_conf_t *mmcf = conf;

    ngx_int_t   t;
    ngx_str_t  *value;

    if (mmcf->interval != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mmcf->interval = 0;
        return NGX_CONF_OK;
    }

    t = ngx_parse_time(&value[1], 1);

    if (t == NGX_ERROR || t < 10) {
        return ngx_http_mtasts_invalid(cf, &cmd->name, &value[1],
                                       "it must be \"off\" or a time of "
                                       "at least 10 seconds, as in \"1h\"");
    }

    mmcf->interval = t;

    return NGX_CONF_OK;
}


/*
 * mta_sts_check_starttls on | off [port=25] [timeout=10s];
 */

static char *
ngx_http_mtasts_starttls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_main_conf_t *mmcf = conf;

    ngx_int_t    n, rc;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (mmcf->starttls != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "on") == 0) {
        mmcf->starttls = 1;

    } else if (ngx_strcmp(value[1].data, "off") == 0) {
        mmcf->starttls = 0;

    } else {
        return ngx_http_mtasts_invalid(cf, &cmd->name, &value[1],
                                       "it must be \"on\" or \"off\"");
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "port=", 5) == 0) {
            n = ngx_atoi(value[i].data + 5, value[i].len - 5);
            if (n < 1 || n > 65535) {
                return ngx_http_mtasts_invalid(cf, &cmd->name, &value[i],
                                               "the port must be a number "
                                               "from 1 to 65535");
            }

            mmcf->starttls_port = (in_port_t) n;
            continue;
        }

        rc = ngx_http_mtasts_timeout(cf, cmd, &value[i],
                                     &mmcf->starttls_timeout,
                                     "the timeout must be a time, "
                                     "as in \"timeout=10s\"");
        if (rc == NGX_ERROR) {
            return NGX_CONF_ERROR;
        }

        if (rc == NGX_OK) {
            continue;
        }

        return ngx_http_mtasts_invalid(cf, &cmd->name, &value[i],
                                       "it must be \"port=\" or "
                                       "\"timeout=\"");
    }

    return NGX_CONF_OK;
}


/*
 * A "timeout=" parameter: NGX_OK once set, NGX_ERROR with the reason
 * logged, NGX_DECLINED when the parameter is another one.
 */

static ngx_int_t
ngx_http_mtasts_timeout(ngx_conf_t *cf, ngx_command_t *cmd, ngx_str_t *value,
    ngx_msec_t *timeout, const char *reason)
{
    ngx_int_t  n;
    ngx_str_t  s;

    if (ngx_strncmp(value->data, "timeout=", 8) != 0) {
        return NGX_DECLINED;
    }

    s.len = value->len - 8;
    s.data = value->data + 8;

    n = ngx_parse_time(&s, 0);
    if (n == NGX_ERROR || n == 0) {
        (void) ngx_http_mtasts_invalid(cf, &cmd->name, value, reason);
        return NGX_ERROR;
    }

    *timeout = (ngx_msec_t) n;

    return NGX_OK;
}



static void *
ngx_http_mtasts_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_mtasts_loc_conf_t  *mlcf;

    mlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mtasts_loc_conf_t));
    if (mlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mlcf->tlsrpt = NULL;
     */

    mlcf->tlsrpt_max_size = NGX_CONF_UNSET_SIZE;

    return mlcf;
}


static char *
ngx_http_mtasts_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_mtasts_loc_conf_t *prev = parent;
    ngx_http_mtasts_loc_conf_t *conf = child;

    ngx_conf_merge_size_value(conf->tlsrpt_max_size, prev->tlsrpt_max_size,
                              20 * 1024 * 1024);

    return NGX_CONF_OK;
}


/*
 * mta_sts_tlsrpt_receive dir: the directory is made at start, as nginx
 * makes its temporary paths, for the worker processes' user.
 */

static char *
ngx_http_mtasts_tlsrpt_receive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mtasts_loc_conf_t *mlcf = conf;

    ngx_str_t                    *value;
    ngx_uint_t                    i;
    ngx_path_t                   *path, **pp;
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_mtasts_main_conf_t  *mmcf;

    if (mlcf->tlsrpt) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return ngx_http_mtasts_invalid(cf, &cmd->name, &value[1],
                                       "a directory is needed");
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_CONF_ERROR;
    }

    path->name = value[1];

    if (path->name.len > 1 && path->name.data[path->name.len - 1] == '/') {
        path->name.len--;
    }

    if (ngx_conf_full_name(cf->cycle, &path->name, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    path->conf_file = cf->conf_file->file.name.data;
    path->line = cf->conf_file->line;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    mlcf->tlsrpt = path;

    /* the directories whose reports the summary reads at start */

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mtasts_module);

    if (mmcf->tlsrpt_paths == NULL) {
        mmcf->tlsrpt_paths = ngx_array_create(cf->pool, 2,
                                              sizeof(ngx_path_t *));
        if (mmcf->tlsrpt_paths == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    pp = mmcf->tlsrpt_paths->elts;

    for (i = 0; i < mmcf->tlsrpt_paths->nelts; i++) {
        if (pp[i] == path) {
            break;
        }
    }

    if (i == mmcf->tlsrpt_paths->nelts) {
        pp = ngx_array_push(mmcf->tlsrpt_paths);
        if (pp == NULL) {
            return NGX_CONF_ERROR;
        }

        *pp = path;
    }

#if (NGX_THREADS)

    /* reports are made durable there, not in the worker */

    if (mmcf->tlsrpt_pool == NULL) {
        mmcf->tlsrpt_pool = ngx_thread_pool_add(cf, NULL);
        if (mmcf->tlsrpt_pool == NULL) {
            return NGX_CONF_ERROR;
        }
    }

#endif

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_mtasts_tlsrpt_handler;

    return NGX_CONF_OK;
}


/* mta_sts_tlsrpt_window time: from 1 day to 366 days */

static char *
ngx_http_mtasts_tlsrpt_window(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mtasts_main_conf_t *mmcf = conf;

    time_t      t;
    ngx_str_t  *value;

    if (mmcf->tlsrpt_window != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    t = ngx_parse_time(&value[1], 1);

    if (t == (time_t) NGX_ERROR || t < 86400 || t > 366 * 86400) {
        return ngx_http_mtasts_invalid(cf, &cmd->name, &value[1],
                                       "it must be a time from 1d to 366d");
    }

    mmcf->tlsrpt_window = t;

    return NGX_CONF_OK;
}


/* mta_sts_tlsrpt_retention time | off: at least 1 day */

static char *
ngx_http_mtasts_tlsrpt_retention(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_mtasts_main_conf_t *mmcf = conf;

    time_t      t;
    ngx_str_t  *value;

    if (mmcf->tlsrpt_retention != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        mmcf->tlsrpt_retention = 0;
        return NGX_CONF_OK;
    }

    t = ngx_parse_time(&value[1], 1);

    if (t == (time_t) NGX_ERROR || t < 86400) {
        return ngx_http_mtasts_invalid(cf, &cmd->name, &value[1],
                                       "it must be \"off\" or a time of "
                                       "1d or more");
    }

    mmcf->tlsrpt_retention = t;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_mtasts_init_process(ngx_cycle_t *cycle)
{
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    if (ngx_http_mtasts_check_init_process(cycle) != NGX_OK
        || ngx_http_mtasts_tlsrpt_init_process(cycle) != NGX_OK
        || ngx_http_mtasts_publish_init_process(cycle) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_mtasts_status_init_process(cycle);
}


static void
ngx_http_mtasts_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_mtasts_check_exit_process(cycle);
    ngx_http_mtasts_tlsrpt_exit_process(cycle);
    ngx_http_mtasts_publish_exit_process(cycle);
}
