
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * The domains served, collected at load time from the servers with
 * "mta_sts on": who serves which domain, checked for conflicts, and the
 * policy ids compared where a domain is served twice.
 */


#include "ngx_http_mtasts_policy.h"


typedef struct {
    ngx_str_t                     domain;
    ngx_http_mtasts_srv_conf_t   *conf;
    u_char                       *file;
    ngx_uint_t                    line;
} ngx_http_mtasts_key_t;


static ngx_int_t ngx_http_mtasts_collect(ngx_conf_t *cf,
    ngx_array_t *keys);
static int ngx_libc_cdecl ngx_http_mtasts_cmp_keys(const void *one,
    const void *two);
static ngx_int_t ngx_http_mtasts_build_domains(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_array_t *keys);
static ngx_int_t ngx_http_mtasts_server_names(ngx_conf_t *cf,
    ngx_http_mtasts_entry_t **e, ngx_uint_t n);
static void ngx_http_mtasts_check_ids(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf);
#if (NGX_HTTP_SSL)
static ngx_int_t ngx_http_mtasts_chains(ngx_conf_t *cf,
    ngx_http_mtasts_srv_conf_t *mscf);
#endif


/*
 * The domains served, from the servers with "mta_sts on": each server's
 * certificates, and the list of domains, sorted, that the policy handler
 * and the self-check look up.
 */

ngx_int_t
ngx_http_mtasts_domains_init(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf)
{
    ngx_array_t  keys;

    if (ngx_array_init(&keys, cf->temp_pool, 64,
                       sizeof(ngx_http_mtasts_key_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_mtasts_collect(cf, &keys) != NGX_OK) {
        return NGX_ERROR;
    }

    if (mmcf->enabled == 0) {
        return NGX_OK;
    }

    return ngx_http_mtasts_build_domains(cf, mmcf, &keys);
}


/*
 * The domains of each server with "mta_sts on": those of its exact
 * "mta-sts.<domain>" server names, and its "mta_sts_domains".
 */

static ngx_int_t
ngx_http_mtasts_collect(ngx_conf_t *cf, ngx_array_t *keys)
{
    ngx_str_t                     *name;
    ngx_uint_t                     s, i, n, wildcard;
    const char                    *err;
    mtasts_name_t                  norm;
    ngx_http_mtasts_key_t         *k;
    ngx_http_mtasts_name_t        *d;
    ngx_http_server_name_t        *sn;
    ngx_http_core_srv_conf_t     **cscfp;
    ngx_http_core_main_conf_t     *cmcf;
    ngx_http_mtasts_srv_conf_t    *mscf;
    ngx_http_mtasts_main_conf_t   *mmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_mtasts_module);

    cscfp = cmcf->servers.elts;

    for (s = 0; s < cmcf->servers.nelts; s++) {

        mscf = cscfp[s]->ctx->srv_conf[ngx_http_mtasts_module.ctx_index];

        if (!mscf->enable) {
            continue;
        }

        mscf->index = mmcf->enabled++;
        n = keys->nelts;
        wildcard = 0;

#if (NGX_HTTP_SSL)
        mscf->ssl = cscfp[s]->ctx->srv_conf[ngx_http_ssl_module.ctx_index];

        if (ngx_http_mtasts_chains(cf, mscf) != NGX_OK) {
            return NGX_ERROR;
        }
#endif

        sn = cscfp[s]->server_names.elts;

        for (i = 0; i < cscfp[s]->server_names.nelts; i++) {
            name = &sn[i].name;

#if (NGX_PCRE)
            if (sn[i].regex) {
                wildcard = 1;
                continue;
            }
#endif

            if (name->len <= sizeof(NGX_HTTP_MTASTS_PREFIX) - 1
                || ngx_strncasecmp(name->data,
                                   (u_char *) NGX_HTTP_MTASTS_PREFIX,
                                   sizeof(NGX_HTTP_MTASTS_PREFIX) - 1)
                   != 0)
            {
                continue;
            }

            if (ngx_strlchr(name->data, name->data + name->len, '*')) {
                wildcard = 1;
                continue;
            }

            /* "mta-sts.Example.COM.", "mta-sts.bücher.example" */

            err = mtasts_name_normalize(name->data
                                        + sizeof(NGX_HTTP_MTASTS_PREFIX) - 1,
                                        name->len
                                        - (sizeof(NGX_HTTP_MTASTS_PREFIX) - 1),
                                        0, &norm);
            if (err) {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "server name \"%V\" in %s:%ui is no policy "
                              "host: %s", name, cscfp[s]->file_name,
                              cscfp[s]->line, err);
                continue;
            }

            k = ngx_array_push(keys);
            if (k == NULL) {
                return NGX_ERROR;
            }

            k->domain.len = norm.len;
            k->domain.data = ngx_pnalloc(cf->pool, norm.len);
            if (k->domain.data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(k->domain.data, norm.data, norm.len);
            k->conf = mscf;
            k->file = cscfp[s]->file_name;
            k->line = cscfp[s]->line;
        }

        d = mscf->domains ? mscf->domains->elts : NULL;

        for (i = 0; d && i < mscf->domains->nelts; i++) {
            k = ngx_array_push(keys);
            if (k == NULL) {
                return NGX_ERROR;
            }

            k->domain = d[i].name;
            k->conf = mscf;
            k->file = d[i].file;
            k->line = d[i].line;
        }

        /* an explicit list, even empty, is never "any domain" */

        mscf->hosted = (keys->nelts == n && mscf->domains == NULL);

        if (mscf->domains && mscf->domains->nelts == 0 && keys->nelts == n) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "empty \"mta_sts_domains\" in the server in "
                          "%s:%ui: it answers for no domain",
                          cscfp[s]->file_name, cscfp[s]->line);
        }

        if (mscf->hosted && !wildcard) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "the server in %s:%ui has \"mta_sts on\" but "
                          "no \"mta-sts.<domain>\" name and no "
                          "\"mta_sts_domains\": it answers for any "
                          "mta-sts.* host that reaches it",
                          cscfp[s]->file_name, cscfp[s]->line);
        }
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_mtasts_cmp_keys(const void *one, const void *two)
{
    const ngx_http_mtasts_key_t  *a = one;
    const ngx_http_mtasts_key_t  *b = two;

    ngx_int_t  rc;

    /* the order of the status list, which is searched in halves */

    rc = ngx_memn2cmp(a->domain.data, b->domain.data, a->domain.len,
                      b->domain.len);

    if (rc != 0) {
        return (int) rc;
    }

    if (a->conf != b->conf) {
        return ((uintptr_t) a->conf < (uintptr_t) b->conf) ? -1 : 1;
    }

    return (a->line < b->line) ? -1 : (a->line > b->line);
}


/*
 * One entry per domain and server; a domain served by several servers (on
 * other listen sockets) chains its entries.  The domains in name order
 * serve the status location; each server gets its own domains to look
 * its requests up in.
 */

static ngx_int_t
ngx_http_mtasts_build_domains(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_array_t *keys)
{
    u_char                       *hfile;
    ngx_uint_t                    i, j, n, nentries, hline, *first;
    ngx_http_mtasts_key_t        *k;
    ngx_http_mtasts_entry_t      *entries, *e, *head, *other, **byconf;
    ngx_http_mtasts_srv_conf_t   *conf;

    k = keys->elts;

    ngx_qsort(k, keys->nelts, sizeof(ngx_http_mtasts_key_t),
              ngx_http_mtasts_cmp_keys);

    entries = ngx_pcalloc(cf->pool,
                          keys->nelts * sizeof(ngx_http_mtasts_entry_t) + 1);
    mmcf->list = ngx_palloc(cf->pool, (keys->nelts + 1)
                                      * sizeof(ngx_http_mtasts_entry_t *));
    byconf = ngx_palloc(cf->temp_pool, (keys->nelts + 1)
                                       * sizeof(ngx_http_mtasts_entry_t *));
    if (entries == NULL || mmcf->list == NULL || byconf == NULL) {
        return NGX_ERROR;
    }

    e = entries;
    n = 0;
    head = NULL;
    hfile = NULL;
    hline = 0;

    for (i = 0; i < keys->nelts; i++) {

        if (head
            && head->domain.len == k[i].domain.len
            && ngx_memcmp(head->domain.data, k[i].domain.data,
                          k[i].domain.len)
               == 0)
        {
            if (k[i].conf == k[i - 1].conf) {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "domain \"%V\" is listed twice for the same "
                              "server in %s:%ui",
                              &k[i].domain, k[i].file, k[i].line);
                continue;
            }

            if (k[i].conf->body.len != head->conf->body.len
                || ngx_memcmp(k[i].conf->body.data, head->conf->body.data,
                              head->conf->body.len)
                   != 0)
            {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "domain \"%V\" is served with another policy "
                              "in %s:%ui than in %s:%ui: senders get the "
                              "one of the server they reach",
                              &k[i].domain, k[i].file, k[i].line,
                              hfile, hline);
            }

            e->domain = k[i].domain;
            e->conf = k[i].conf;
            e->next = head->next;
            head->next = e++;

            continue;
        }

        head = e++;
        head->domain = k[i].domain;
        head->conf = k[i].conf;
        head->next = NULL;

        hfile = k[i].file;
        hline = k[i].line;

        mmcf->list[n++] = head;
    }

    mmcf->ndomains = n;
    nentries = e - entries;

    /*
     * A domain of several servers is checked with the head's policy and
     * certificates: those of a server with a certificate, if there is
     * one, since senders fetch the policy over HTTPS.  The pairs of
     * domain and server stay the same; only which entry holds which moves.
     */

    for (i = 0; i < n; i++) {
        head = mmcf->list[i];

        if (head->next == NULL
            || (head->conf->certs && head->conf->certs->nelts))
        {
            continue;
        }

        for (other = head->next; other; other = other->next) {
            if (other->conf->certs && other->conf->certs->nelts) {
                conf = head->conf;
                head->conf = other->conf;
                other->conf = conf;
                break;
            }
        }
    }

    /* each server's entries together: counted, then placed */

    first = ngx_pcalloc(cf->temp_pool,
                        (mmcf->enabled + 1) * sizeof(ngx_uint_t));
    if (first == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < nentries; i++) {
        first[entries[i].conf->index + 1]++;
    }

    for (i = 0; i < mmcf->enabled; i++) {
        first[i + 1] += first[i];
    }

    for (i = 0; i < nentries; i++) {
        byconf[first[entries[i].conf->index]++] = &entries[i];
    }

    for (i = 0; i < nentries; i = j) {

        for (j = i + 1;
             j < nentries && byconf[j]->conf == byconf[i]->conf;
             j++)
        {
            /* void */
        }

        if (ngx_http_mtasts_server_names(cf, &byconf[i], j - i) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ngx_http_mtasts_check_ids(cf, mmcf);

    return NGX_OK;
}


/*
 * A server of one domain compares the host with it.  More get a hash:
 * buckets wide enough for the longest name, and as many buckets as names,
 * so that lookups stay one or two comparisons at any domain count.  Only
 * the server's own names are in it, and each element points to the
 * domain's entry: a request touches no other server's data.
 */

static ngx_int_t
ngx_http_mtasts_server_names(ngx_conf_t *cf, ngx_http_mtasts_entry_t **e,
    ngx_uint_t n)
{
    size_t                       elt, max;
    ngx_uint_t                   i;
    ngx_hash_key_t              *names;
    ngx_hash_init_t              hash;
    ngx_http_mtasts_srv_conf_t  *conf;

    conf = e[0]->conf;

    if (n == 1) {
        conf->entry = e[0];
        return NGX_OK;
    }

    names = ngx_palloc(cf->temp_pool, n * sizeof(ngx_hash_key_t));
    if (names == NULL) {
        return NGX_ERROR;
    }

    max = 0;

    for (i = 0; i < n; i++) {
        names[i].key = e[i]->domain;
        names[i].key_hash = ngx_hash_key(e[i]->domain.data,
                                         e[i]->domain.len);
        names[i].value = e[i];

        elt = sizeof(void *) + ngx_align(e[i]->domain.len + 2,
                                         sizeof(void *));
        if (elt > max) {
            max = elt;
        }
    }

    hash.hash = &conf->names;
    hash.key = ngx_hash_key;
    hash.max_size = ngx_max(n, 1024);

    /*
     * ngx_hash_init() looks for the smallest size that fits, trying every
     * size up from about n / 32: from a few thousand names on, that takes
     * longer than the rest of the configuration.  Given a maximum above
     * 10000, it starts at the maximum less 1000 and fits at once.
     */

    if (n > 1024) {
        hash.max_size = ngx_max(n, 10001);
    }

    hash.bucket_size = ngx_align(ngx_max(512, max + sizeof(void *)),
                                 ngx_cacheline_size);
    hash.name = "mta_sts_domains_hash";
    hash.pool = cf->pool;
    hash.temp_pool = NULL;

    return ngx_hash_init(&hash, names, n);
}


/*
 * On reload: a domain whose policy content changed while its explicit
 * "mta_sts_id" stayed the same keeps the old policy in senders' caches.
 */

static void
ngx_http_mtasts_check_ids(ngx_conf_t *cf, ngx_http_mtasts_main_conf_t *mmcf)
{
    ngx_uint_t                    i;
    ngx_cycle_t                  *old;
    ngx_http_conf_ctx_t          *octx;
    ngx_http_mtasts_entry_t      *e, *oe;
    ngx_http_mtasts_srv_conf_t   *conf, *oconf;
    ngx_http_mtasts_main_conf_t  *omcf;

    old = cf->cycle->old_cycle;

    if (old == NULL || old->conf_ctx == NULL || old->modules == NULL) {
        return;
    }

    for (i = 0; old->modules[i]; i++) {
        if (old->modules[i] == &ngx_http_mtasts_module) {
            break;
        }
    }

    if (old->modules[i] == NULL) {
        return;
    }

    octx = (ngx_http_conf_ctx_t *) old->conf_ctx[ngx_http_module.index];

    if (octx == NULL) {
        return;
    }

    omcf = octx->main_conf[ngx_http_mtasts_module.ctx_index];

    if (omcf == NULL || omcf->ndomains == 0) {
        return;
    }

    for (i = 0; i < mmcf->ndomains; i++) {

        for (e = mmcf->list[i]; e; e = e->next) {
            conf = e->conf;

            if (conf->id.len == 0) {
                continue;
            }

            oe = ngx_http_mtasts_lookup(omcf, &e->domain);

            for ( /* void */ ; oe; oe = oe->next) {
                oconf = oe->conf;

                if (oconf->policy_id.len != conf->policy_id.len
                    || ngx_strncmp(oconf->policy_id.data,
                                   conf->policy_id.data,
                                   conf->policy_id.len)
                       != 0)
                {
                    continue;
                }

                if (oconf->body.len == conf->body.len
                    && ngx_strncmp(oconf->body.data, conf->body.data,
                                   conf->body.len)
                       == 0)
                {
                    continue;
                }

                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "the policy of \"%V\" changed but its "
                              "\"mta_sts_id %V\" did not: senders keep "
                              "the old policy for up to %T seconds, "
                              "change the id and publish it in "
                              "\"_mta-sts.%V\"",
                              &e->domain, &conf->policy_id,
                              oconf->max_age, &e->domain);
                break;
            }
        }
    }
}


#if (NGX_HTTP_SSL)

/*
 * The certificates of a server with the chain nginx sends with each, for
 * the certificate check; captured at load, as nginx's OCSP stapling does.
 */

static ngx_int_t
ngx_http_mtasts_chains(ngx_conf_t *cf, ngx_http_mtasts_srv_conf_t *mscf)
{
    X509                     *cert;
    STACK_OF(X509)           *chain;
    ngx_http_ssl_srv_conf_t  *sscf;
    ngx_http_mtasts_cert_t   *c;

    sscf = mscf->ssl;

    if (sscf == NULL || sscf->ssl.ctx == NULL || sscf->certificate_values) {
        return NGX_OK;
    }

    mscf->certs = ngx_array_create(cf->pool, 2,
                                   sizeof(ngx_http_mtasts_cert_t));
    if (mscf->certs == NULL) {
        return NGX_ERROR;
    }

    for (cert = SSL_CTX_get_ex_data(sscf->ssl.ctx, ngx_ssl_certificate_index);
         cert;
         cert = X509_get_ex_data(cert, ngx_ssl_next_certificate_index))
    {
        chain = NULL;

        if (SSL_CTX_select_current_cert(sscf->ssl.ctx, cert)) {
            (void) SSL_CTX_get0_chain_certs(sscf->ssl.ctx, &chain);
        }

        c = ngx_array_push(mscf->certs);
        if (c == NULL) {
            return NGX_ERROR;
        }

        c->cert = cert;
        c->chain = chain;
    }

    return NGX_OK;
}

#endif
