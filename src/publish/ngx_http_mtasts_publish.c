
/*
 * Copyright (C) ngx_http_mtasts_module authors
 *
 * Publishing the records by DNS UPDATE.  A task publishes one domain: it
 * finds the zone (the SOA the server gives for the name, unless "zone="
 * says), asks the server for the TXT records at each name, and, unless
 * they are current, sends one UPDATE that replaces the record of ours at
 * each name on the condition that the RRset is still what it saw.  Each
 * message goes by UDP, then by TCP (a truncated answer, or the last try),
 * over the worker's event loop.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_http_mtasts_publish.h"
#include "ngx_mtasts_update.h"


#define NGX_HTTP_MTASTS_PUB_WORKERS    256
#define NGX_HTTP_MTASTS_PUB_TASKS      16       /* at once, per worker */
#define NGX_HTTP_MTASTS_PUB_STARTS     2        /* per event loop turn */
#define NGX_HTTP_MTASTS_PUB_STEPS      1        /* answers, per turn */
#define NGX_HTTP_MTASTS_PUB_TRIES      3        /* UDP, UDP, TCP */
#define NGX_HTTP_MTASTS_PUB_RACES      3        /* changed meanwhile */
#define NGX_HTTP_MTASTS_PUB_STALE      120      /* a claim is dead */
#define NGX_HTTP_MTASTS_PUB_RECHECK    3600     /* a current one again */
#define NGX_HTTP_MTASTS_PUB_BACKOFF    10       /* first retry, doubled */
#define NGX_HTTP_MTASTS_PUB_UDP_MAX    4096

#define NGX_HTTP_MTASTS_PUB_ZONE       0        /* SOA: zone, MNAME */
#define NGX_HTTP_MTASTS_PUB_PRIMARY    1        /* MNAME's address */
#define NGX_HTTP_MTASTS_PUB_TXT        2
#define NGX_HTTP_MTASTS_PUB_UPDATE     3

#define NGX_HTTP_MTASTS_PUB_RESOLVERS  3


typedef struct {
    ngx_pid_t                     pid;
    ngx_uint_t                    generation;
} ngx_http_mtasts_pub_worker_t;


struct ngx_http_mtasts_pub_node_s {
    ngx_str_node_t                sn;          /* the domain */
    ngx_uint_t                    state;
    ngx_uint_t                    generation;  /* of the last answer */
    time_t                        at;
    time_t                        tried;
    time_t                        next;        /* retry not before */
    ngx_uint_t                    failures;    /* in a row */
    time_t                        started;     /* a task since */
    ngx_pid_t                     owner;       /* in that worker */
    size_t                        id_len;
    size_t                        answer_len;
    size_t                        server_len;
    size_t                        message_len;
    u_char                        id[MTASTS_ID_MAX];
    u_char                        answer[NGX_HTTP_MTASTS_PUB_ANSWER];
    u_char                        server[NGX_HTTP_MTASTS_PUB_SERVER];
    u_char                        message[NGX_HTTP_MTASTS_PUB_MESSAGE];
    u_char                        data[1];
};


typedef struct {
    ngx_rbtree_t                  rbtree;
    ngx_rbtree_node_t             sentinel;
    ngx_uint_t                    generation;
    ngx_atomic_t                  sent;
    ngx_atomic_t                  succeeded;
    ngx_atomic_t                  failed[NGX_HTTP_MTASTS_PUB_NREASONS];
    ngx_http_mtasts_pub_worker_t  workers[NGX_HTTP_MTASTS_PUB_WORKERS];
} ngx_http_mtasts_pub_sh_t;


struct ngx_http_mtasts_pub_zone_s {
    ngx_addr_t                    resolvers[NGX_HTTP_MTASTS_PUB_RESOLVERS];
    ngx_uint_t                    nresolvers;  /* without "server=" */
    ngx_shm_zone_t               *shm_zone;
    ngx_slab_pool_t              *shpool;
    ngx_http_mtasts_pub_sh_t     *sh;
    ngx_uint_t                    generation;
};


typedef struct {
    ngx_queue_t                   queue;
    ngx_queue_t                   ready;       /* an answer to handle */
    ngx_pool_t                   *pool;
    ngx_log_t                    *log;
    ngx_http_mtasts_main_conf_t  *mmcf;
    ngx_http_mtasts_entry_t      *entry;
    ngx_http_mtasts_publish_conf_t  *pcf;

    mtasts_rrname_t               names[2];
    ngx_uint_t                    nnames;
    ngx_uint_t                    step;
    ngx_uint_t                    name;        /* asked for, STEP_TXT */
    ngx_uint_t                    tries;
    ngx_uint_t                    races;
    ngx_uint_t                    updated;     /* an UPDATE was answered */
    ngx_uint_t                    tcp;
    char                          zone[MTASTS_TSIG_NAME_MAX + 2];
    char                          primary[MTASTS_TSIG_NAME_MAX + 2];
    char                          id[MTASTS_ID_MAX + 1];

    ngx_addr_t                   *server;      /* the zone's primary */
    ngx_str_t                     server_name; /* as the status shows it */
    ngx_addr_t                    primary_addr;
    struct sockaddr_storage       primary_sa;

    uint8_t                      *msg;         /* ldns's, free() */
    size_t                        len;
    uint16_t                      msg_id;
    ldns_rdf                     *mac;

    ngx_peer_connection_t         peer;
    ngx_addr_t                   *to;          /* the peer's address */
    u_char                       *buf;         /* TCP: length, message */
    size_t                        sent;
    size_t                        got;
    size_t                        want;
    u_char                        length[2];

    u_char                       *answer;      /* read, not yet handled */
    size_t                        answer_len;
    unsigned                      queued:1;
} ngx_http_mtasts_pub_task_t;


static char *ngx_http_mtasts_publish_key(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_http_mtasts_publish_conf_t *pcf);
static ngx_int_t ngx_http_mtasts_publish_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_mtasts_publish_resolvers(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_http_mtasts_pub_zone_t *pz);
static void ngx_http_mtasts_pub_timer(ngx_event_t *ev);
static void ngx_http_mtasts_pub_fill_handler(ngx_event_t *ev);
static ngx_uint_t ngx_http_mtasts_pub_scan(
    ngx_http_mtasts_main_conf_t *mmcf, ngx_uint_t max, ngx_uint_t *started);
static ngx_uint_t ngx_http_mtasts_pub_old_workers(
    ngx_http_mtasts_pub_zone_t *pz);
static void ngx_http_mtasts_pub_start(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_entry_t *entry);
static void ngx_http_mtasts_pub_next(ngx_http_mtasts_pub_task_t *t);
static void ngx_http_mtasts_pub_send(ngx_http_mtasts_pub_task_t *t);
static void ngx_http_mtasts_pub_write(ngx_event_t *wev);
static void ngx_http_mtasts_pub_idle(ngx_event_t *ev);
static void ngx_http_mtasts_pub_read(ngx_event_t *rev);
static void ngx_http_mtasts_pub_queue(ngx_http_mtasts_pub_task_t *t,
    u_char *wire, size_t len);
static void ngx_http_mtasts_pub_pace(ngx_event_t *ev);
static void ngx_http_mtasts_pub_timedout(ngx_http_mtasts_pub_task_t *t);
static void ngx_http_mtasts_pub_close(ngx_http_mtasts_pub_task_t *t);
static void ngx_http_mtasts_pub_answer(ngx_http_mtasts_pub_task_t *t,
    u_char *wire, size_t len);
static void ngx_http_mtasts_pub_updated(ngx_http_mtasts_pub_task_t *t,
    ldns_pkt *pkt, mtasts_answer_t *a, u_char *wire, size_t len);
static void ngx_http_mtasts_pub_refused(ngx_http_mtasts_pub_task_t *t,
    mtasts_answer_t *a);
static void ngx_http_mtasts_pub_primary(ngx_http_mtasts_pub_task_t *t,
    ldns_pkt *pkt, mtasts_answer_t *a);
static void ngx_http_mtasts_pub_done(ngx_http_mtasts_pub_task_t *t,
    ngx_uint_t state, const char *answer, const char *fmt, ...);


ngx_str_t  ngx_http_mtasts_pub_reasons[] = {
    ngx_string("REFUSED"),
    ngx_string("NOTAUTH"),
    ngx_string("NOTZONE"),
    ngx_string("SERVFAIL"),
    ngx_string("FORMERR"),
    ngx_string("BADSIG"),
    ngx_string("BADKEY"),
    ngx_string("BADTIME"),
    ngx_string("YXRRSET"),
    ngx_string("NXRRSET"),
    ngx_string("timeout"),
    ngx_string("other"),
    ngx_null_string
};


ngx_str_t  ngx_http_mtasts_pub_states[] = {
    ngx_string("pending"),
    ngx_string("ok"),
    ngx_string("error"),
    ngx_null_string
};


static ngx_queue_t   ngx_http_mtasts_pub_tasks;
static ngx_uint_t    ngx_http_mtasts_pub_running;
static ngx_uint_t    ngx_http_mtasts_pub_slot = NGX_HTTP_MTASTS_PUB_WORKERS;
static ngx_event_t   ngx_http_mtasts_pub_event;
static ngx_event_t   ngx_http_mtasts_pub_fill;
static ngx_queue_t   ngx_http_mtasts_pub_ready;
static ngx_event_t   ngx_http_mtasts_pub_turn;
static ngx_uint_t    ngx_http_mtasts_pub_cursor;


/*
 * mta_sts_publish off | server=address[:port] key=file [zone=name]
 *     [ttl=time];
 */

char *
ngx_http_mtasts_publish(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_mtasts_srv_conf_t *mscf = conf;

    char                            *rv;
    time_t                           ttl;
    ngx_str_t                       *value, s;
    ngx_uint_t                       i;
    mtasts_name_t                    zone;
    const char                      *err;
    ngx_http_mtasts_publish_conf_t  *pcf;

    if (mscf->publish != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        mscf->publish = NULL;
        return NGX_CONF_OK;
    }

    pcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_mtasts_publish_conf_t));
    if (pcf == NULL) {
        return NGX_CONF_ERROR;
    }

    pcf->ttl = 300;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "server=", 7) == 0) {
            if (pcf->server) {
                goto duplicate;
            }

            pcf->server = ngx_pcalloc(cf->pool, sizeof(ngx_addr_t));
            if (pcf->server == NULL) {
                return NGX_CONF_ERROR;
            }

            if (ngx_parse_addr_port(cf->pool, pcf->server,
                                    value[i].data + 7, value[i].len - 7)
                != NGX_OK)
            {
                goto invalid;
            }

            if (ngx_inet_get_port(pcf->server->sockaddr) == 0) {
                ngx_inet_set_port(pcf->server->sockaddr, 53);
            }

            s.len = NGX_SOCKADDR_STRLEN;
            s.data = ngx_pnalloc(cf->pool, s.len);
            if (s.data == NULL) {
                return NGX_CONF_ERROR;
            }

            s.len = ngx_sock_ntop(pcf->server->sockaddr,
                                  pcf->server->socklen, s.data, s.len, 1);
            pcf->server->name = s;

            continue;
        }

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {
            if (pcf->key) {
                goto duplicate;
            }

            rv = ngx_http_mtasts_publish_key(cf, &value[i], pcf);
            if (rv != NGX_CONF_OK) {
                return rv;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            if (pcf->zone.data) {
                goto duplicate;
            }

            err = mtasts_name_normalize(value[i].data + 5, value[i].len - 5,
                                        0, &zone);
            if (err) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, %s", &value[i], &cmd->name,
                                   err);
                return NGX_CONF_ERROR;
            }

            pcf->zone.len = zone.len + 1;
            pcf->zone.data = ngx_pnalloc(cf->pool, zone.len + 2);
            if (pcf->zone.data == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memcpy(pcf->zone.data, zone.data, zone.len);
            pcf->zone.data[zone.len] = '.';
            pcf->zone.data[zone.len + 1] = '\0';

            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ttl = ngx_parse_time(&s, 1);

            if (ttl == (time_t) NGX_ERROR || ttl < 1 || ttl > 86400) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value \"%V\" in \"%V\" "
                                   "directive, it must be a time from 1s "
                                   "to 1d", &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }

            pcf->ttl = (uint32_t) ttl;

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in \"%V\" directive, "
                           "it must be \"server=\", \"key=\", \"zone=\" or "
                           "\"ttl=\"", &value[i], &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (pcf->key == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive needs \"key=\": the TSIG key "
                           "that signs the updates", &cmd->name);
        return NGX_CONF_ERROR;
    }

    mscf->publish = pcf;

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\" in \"%V\" directive",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, it must "
                       "be an IP address with an optional port",
                       &value[i], &cmd->name);
    return NGX_CONF_ERROR;
}


/* the key file: read at load, by the master; never its secret in a log */

static char *
ngx_http_mtasts_publish_key(ngx_conf_t *cf, ngx_str_t *arg,
    ngx_http_mtasts_publish_conf_t *pcf)
{
    u_char           *buf;
    ssize_t           n;
    unsigned          line;
    ngx_fd_t          fd;
    ngx_err_t         err;
    ngx_str_t         name;
    ngx_file_info_t   fi;
    const char       *reason;

    name.data = arg->data + 4;
    name.len = arg->len - 4;

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"mta_sts_publish\" "
                           "directive, it must name a TSIG key file", arg);
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    pcf->file = name;

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           "invalid value \"%V\" in \"mta_sts_publish\" "
                           "directive, the key file \"%V\" cannot be read",
                           arg, &name);
        return NGX_CONF_ERROR;
    }

    n = 0;
    buf = NULL;
    reason = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        reason = "cannot be read";

    } else if (!ngx_is_file(&fi)) {
        reason = "is not a file";

    } else if (ngx_file_size(&fi) > 65536) {
        reason = "is larger than 64k";
    }

    if (reason == NULL) {
        buf = ngx_pnalloc(cf->temp_pool, ngx_file_size(&fi) + 1);
        if (buf == NULL) {
            ngx_close_file(fd);
            return NGX_CONF_ERROR;
        }

        n = read(fd, buf, ngx_file_size(&fi) + 1);

        if (n < 0 || n > ngx_file_size(&fi)) {
            reason = "cannot be read";
        }
    }

    ngx_close_file(fd);

    if (reason) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"mta_sts_publish\" "
                           "directive, the key file \"%V\" %s",
                           arg, &name, reason);
        return NGX_CONF_ERROR;
    }

    pcf->key = ngx_pcalloc(cf->pool, sizeof(mtasts_tsig_key_t));
    if (pcf->key == NULL) {
        return NGX_CONF_ERROR;
    }

    reason = mtasts_tsig_parse(buf, (size_t) n, pcf->key, &line);

    ngx_explicit_memzero(buf, n);

    if (reason) {
        ngx_explicit_memzero(pcf->key, sizeof(mtasts_tsig_key_t));

        if (line) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"mta_sts_publish\" "
                               "directive, %V:%ud: %s", arg, &name, line,
                               reason);
        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value \"%V\" in \"mta_sts_publish\" "
                               "directive, %V: %s", arg, &name, reason);
        }

        return NGX_CONF_ERROR;
    }

    if (fi.st_mode & (S_IRWXG|S_IRWXO)) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "the TSIG key file \"%V\" can be read by others "
                           "than its owner: chmod 600 it", &name);
    }

    return NGX_CONF_OK;
}


/*
 * Postconfiguration: the zone, sized for the domains that publish; and
 * each of them within the zone its "zone=" names.
 */

ngx_int_t
ngx_http_mtasts_publish_init(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf)
{
    size_t                           size, want, zlen;
    ngx_str_t                        name = ngx_string("mta_sts_publish");
    ngx_uint_t                       i, n;
    ngx_http_mtasts_entry_t         *e;
    ngx_http_mtasts_pub_zone_t      *pz;
    ngx_http_mtasts_publish_conf_t  *pcf;

    n = 0;

    for (i = 0; i < mmcf->ndomains; i++) {
        e = mmcf->list[i];
        pcf = e->conf->publish;

        if (pcf == NULL) {
            continue;
        }

        n++;

        if (pcf->zone.len == 0) {
            continue;
        }

        zlen = pcf->zone.len - 1;

        if (e->domain.len < zlen
            || ngx_strncasecmp(e->domain.data + e->domain.len - zlen,
                               pcf->zone.data, zlen) != 0
            || (e->domain.len > zlen
                && e->domain.data[e->domain.len - zlen - 1] != '.'))
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "the domain \"%V\" is not in the zone \"%*s\" of "
                          "\"mta_sts_publish\"", &e->domain, zlen,
                          pcf->zone.data);
            return NGX_ERROR;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    pz = ngx_pcalloc(cf->pool, sizeof(ngx_http_mtasts_pub_zone_t));
    if (pz == NULL) {
        return NGX_ERROR;
    }

    want = 128 * 1024 + n * 1024;

    for (size = 512 * 1024; size < want; size <<= 1) { /* void */ }

    pz->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                         &ngx_http_mtasts_module);
    if (pz->shm_zone == NULL) {
        return NGX_ERROR;
    }

    pz->shm_zone->init = ngx_http_mtasts_publish_init_zone;
    pz->shm_zone->data = mmcf;

    mmcf->publish = pz;

    for (i = 0; i < mmcf->ndomains; i++) {
        pcf = mmcf->list[i]->conf->publish;

        if (pcf && pcf->server == NULL) {
            return ngx_http_mtasts_publish_resolvers(cf, mmcf, pz);
        }
    }

    return NGX_OK;
}


/*
 * Without "server=", the zone's SOA and its primary's address are asked
 * of a recursive resolver: the addresses of "mta_sts_resolver", or the
 * nameservers of /etc/resolv.conf as ldns reads them.
 */

static ngx_int_t
ngx_http_mtasts_publish_resolvers(ngx_conf_t *cf,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_http_mtasts_pub_zone_t *pz)
{
    u_char                   *p, *last, *comma;
    size_t                    i, len;
    ngx_str_t                 s;
    ngx_addr_t               *addr;
    ldns_rdf                **ns;
    ldns_resolver            *res;
    struct sockaddr_storage  *ss;

    p = mmcf->resolver.data;
    last = p ? p + mmcf->resolver.len : NULL;

    while (p && p < last
           && pz->nresolvers < NGX_HTTP_MTASTS_PUB_RESOLVERS)
    {
        comma = ngx_strlchr(p, last, ',');
        if (comma == NULL) {
            comma = last;
        }

        addr = &pz->resolvers[pz->nresolvers];

        if (ngx_parse_addr_port(cf->pool, addr, p, comma - p) == NGX_OK) {
            if (ngx_inet_get_port(addr->sockaddr) == 0) {
                ngx_inet_set_port(addr->sockaddr, 53);
            }

            pz->nresolvers++;
        }

        p = comma + 1;
    }

    if (pz->nresolvers == 0) {
        if (ldns_resolver_new_frm_file(&res, NULL) != LDNS_STATUS_OK) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"mta_sts_publish\" without \"server=\" needs "
                          "a resolver to find the zone's primary: "
                          "/etc/resolv.conf cannot be read, set "
                          "\"mta_sts_resolver\" or \"server=\"");
            return NGX_ERROR;
        }

        ns = ldns_resolver_nameservers(res);

        for (i = 0; i < ldns_resolver_nameserver_count(res)
                    && pz->nresolvers < NGX_HTTP_MTASTS_PUB_RESOLVERS; i++)
        {
            ss = ldns_rdf2native_sockaddr_storage(ns[i], 53, &len);
            if (ss == NULL) {
                continue;
            }

            addr = &pz->resolvers[pz->nresolvers];

            addr->sockaddr = ngx_palloc(cf->pool, len);
            if (addr->sockaddr == NULL) {
                free(ss);
                ldns_resolver_deep_free(res);
                return NGX_ERROR;
            }

            ngx_memcpy(addr->sockaddr, ss, len);
            addr->socklen = len;
            free(ss);

            pz->nresolvers++;
        }

        ldns_resolver_deep_free(res);
    }

    if (pz->nresolvers == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"mta_sts_publish\" without \"server=\" needs a "
                      "resolver to find the zone's primary: "
                      "/etc/resolv.conf lists none, set "
                      "\"mta_sts_resolver\" or \"server=\"");
        return NGX_ERROR;
    }

    for (i = 0; i < pz->nresolvers; i++) {
        addr = &pz->resolvers[i];

        s.data = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN);
        if (s.data == NULL) {
            return NGX_ERROR;
        }

        s.len = ngx_sock_ntop(addr->sockaddr, addr->socklen, s.data,
                              NGX_SOCKADDR_STRLEN, 1);
        addr->name = s;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_mtasts_publish_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_mtasts_main_conf_t  *omcf = data;

    uint32_t                      hash;
    ngx_str_t                    *domain;
    ngx_uint_t                    i;
    ngx_http_mtasts_entry_t      *e;
    ngx_http_mtasts_pub_node_t   *node;
    ngx_http_mtasts_pub_zone_t   *pz;
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = shm_zone->data;
    pz = mmcf->publish;

    if (omcf && omcf->publish) {
        pz->shpool = omcf->publish->shpool;
        pz->sh = omcf->publish->sh;

    } else {
        pz->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        pz->sh = ngx_slab_calloc(pz->shpool,
                                 sizeof(ngx_http_mtasts_pub_sh_t));
        if (pz->sh == NULL) {
            return NGX_ERROR;
        }

        ngx_rbtree_init(&pz->sh->rbtree, &pz->sh->sentinel,
                        ngx_str_rbtree_insert_value);
    }

    ngx_shmtx_lock(&pz->shpool->mutex);

    pz->generation = ++pz->sh->generation;

    for (i = 0; i < mmcf->ndomains; i++) {
        e = mmcf->list[i];

        if (e->conf->publish == NULL) {
            continue;
        }

        domain = &e->domain;
        hash = ngx_crc32_short(domain->data, domain->len);

        node = (ngx_http_mtasts_pub_node_t *)
               ngx_str_rbtree_lookup(&pz->sh->rbtree, domain, hash);

        if (node == NULL) {
            node = ngx_slab_calloc_locked(pz->shpool,
                                          sizeof(ngx_http_mtasts_pub_node_t)
                                          + domain->len);
            if (node == NULL) {
                ngx_shmtx_unlock(&pz->shpool->mutex);
                return NGX_ERROR;
            }

            node->sn.node.key = hash;
            node->sn.str.len = domain->len;
            node->sn.str.data = node->data;
            ngx_memcpy(node->data, domain->data, domain->len);

            ngx_rbtree_insert(&pz->sh->rbtree, &node->sn.node);
        }

        e->pub = node;
    }

    ngx_shmtx_unlock(&pz->shpool->mutex);

    return NGX_OK;
}


ngx_int_t
ngx_http_mtasts_publish_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_http_mtasts_pub_zone_t    *pz;
    ngx_http_mtasts_pub_worker_t  *w;
    ngx_http_mtasts_main_conf_t   *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mtasts_module);

    if (mmcf == NULL || mmcf->publish == NULL) {
        return NGX_OK;
    }

    pz = mmcf->publish;

    ngx_queue_init(&ngx_http_mtasts_pub_tasks);
    ngx_queue_init(&ngx_http_mtasts_pub_ready);

    /* this worker serves this configuration */

    ngx_shmtx_lock(&pz->shpool->mutex);

    (void) ngx_http_mtasts_pub_old_workers(pz);

    for (i = 0; i < NGX_HTTP_MTASTS_PUB_WORKERS; i++) {
        w = &pz->sh->workers[i];

        if (w->pid == 0) {
            w->pid = ngx_pid;
            w->generation = pz->generation;
            ngx_http_mtasts_pub_slot = i;
            break;
        }
    }

    ngx_shmtx_unlock(&pz->shpool->mutex);

    if (i == NGX_HTTP_MTASTS_PUB_WORKERS) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "mta_sts_publish: more than %d workers, a new id may "
                      "be published before the old workers are gone",
                      NGX_HTTP_MTASTS_PUB_WORKERS);
    }

    ngx_http_mtasts_pub_event.handler = ngx_http_mtasts_pub_timer;
    ngx_http_mtasts_pub_event.data = mmcf;
    ngx_http_mtasts_pub_event.log = cycle->log;
    ngx_http_mtasts_pub_event.cancelable = 1;

    ngx_http_mtasts_pub_fill.handler = ngx_http_mtasts_pub_fill_handler;
    ngx_http_mtasts_pub_fill.data = mmcf;
    ngx_http_mtasts_pub_fill.log = cycle->log;

    ngx_http_mtasts_pub_turn.handler = ngx_http_mtasts_pub_pace;
    ngx_http_mtasts_pub_turn.data = mmcf;
    ngx_http_mtasts_pub_turn.log = cycle->log;

    ngx_add_timer(&ngx_http_mtasts_pub_event, 200 + ngx_worker * 50);

    return NGX_OK;
}


void
ngx_http_mtasts_publish_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                  *q;
    ngx_http_mtasts_pub_zone_t   *pz;
    ngx_http_mtasts_pub_task_t   *t;
    ngx_http_mtasts_main_conf_t  *mmcf;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_mtasts_module);

    if (mmcf == NULL || mmcf->publish == NULL) {
        return;
    }

    pz = mmcf->publish;

    if (ngx_http_mtasts_pub_event.timer_set) {
        ngx_del_timer(&ngx_http_mtasts_pub_event);
    }


    while (ngx_http_mtasts_pub_tasks.next
           && !ngx_queue_empty(&ngx_http_mtasts_pub_tasks))
    {
        q = ngx_queue_head(&ngx_http_mtasts_pub_tasks);
        t = ngx_queue_data(q, ngx_http_mtasts_pub_task_t, queue);

        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_PENDING, NULL,
                                 "the worker that published it exited");
    }

    if (ngx_http_mtasts_pub_fill.posted) {
        ngx_delete_posted_event(&ngx_http_mtasts_pub_fill);
    }

    if (ngx_http_mtasts_pub_turn.posted) {
        ngx_delete_posted_event(&ngx_http_mtasts_pub_turn);
    }

    if (ngx_http_mtasts_pub_slot < NGX_HTTP_MTASTS_PUB_WORKERS) {
        ngx_shmtx_lock(&pz->shpool->mutex);
        pz->sh->workers[ngx_http_mtasts_pub_slot].pid = 0;
        ngx_shmtx_unlock(&pz->shpool->mutex);
    }
}


/*
 * With the zone locked: 1 while a worker of an older configuration lives
 * (it may still serve the old policy), 2 when one of a newer lives (this
 * worker is old itself); the slots of dead workers are freed.
 */

static ngx_uint_t
ngx_http_mtasts_pub_old_workers(ngx_http_mtasts_pub_zone_t *pz)
{
    ngx_uint_t                     i, rc;
    ngx_http_mtasts_pub_worker_t  *w;

    rc = 0;

    for (i = 0; i < NGX_HTTP_MTASTS_PUB_WORKERS; i++) {
        w = &pz->sh->workers[i];

        if (w->pid == 0 || w->generation == pz->generation) {
            continue;
        }

        if (kill(w->pid, 0) == -1 && ngx_errno == NGX_ESRCH) {
            w->pid = 0;
            continue;
        }

        if (w->generation > pz->generation) {
            return 2;
        }

        rc = 1;
    }

    return rc;
}


static void
ngx_http_mtasts_pub_timer(ngx_event_t *ev)
{
    ngx_uint_t  more, started;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    more = ngx_http_mtasts_pub_scan(ev->data, NGX_HTTP_MTASTS_PUB_TASKS,
                                    &started);

    if (more == 2) {
        return;
    }

    /* pending ones are looked at every second; current ones hourly */

    ngx_add_timer(ev, more ? 1000 : 60000);
}


/*
 * A task ended: its slot goes to the next domain at once, a few domains
 * per turn of the event loop, so that requests do not wait behind a
 * burst of new messages
 */

static void
ngx_http_mtasts_pub_fill_handler(ngx_event_t *ev)
{
    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_uint_t  started;

    /* as many as allowed were started: there may be more for a slot */

    if (ngx_http_mtasts_pub_scan(ev->data, NGX_HTTP_MTASTS_PUB_STARTS,
                                 &started)
        == 1
        && started == NGX_HTTP_MTASTS_PUB_STARTS
        && ngx_http_mtasts_pub_running < NGX_HTTP_MTASTS_PUB_TASKS
        && !ev->posted)
    {
        ngx_post_event(ev, &ngx_posted_next_events);
    }
}


/*
 * Claims the domains to publish, from where the last scan stopped, while
 * this worker has free slots: 1 if some are left to do, 0 if none, 2 if
 * this worker is of an old configuration.  The cursor makes a scan start
 * where the last one stopped, so that 10,000 domains are not walked again
 * for each slot that frees.
 */

static ngx_uint_t
ngx_http_mtasts_pub_scan(ngx_http_mtasts_main_conf_t *mmcf, ngx_uint_t max,
    ngx_uint_t *started)
{
    time_t                        now;
    ngx_uint_t                    i, k, n, more, rc, free;
    ngx_http_mtasts_entry_t      *e, *start[NGX_HTTP_MTASTS_PUB_TASKS];
    ngx_http_mtasts_pub_node_t   *node;
    ngx_http_mtasts_pub_zone_t   *pz;

    pz = mmcf->publish;
    now = ngx_time();
    n = 0;
    more = 0;
    *started = 0;

    free = NGX_HTTP_MTASTS_PUB_TASKS - ngx_http_mtasts_pub_running;
    free = ngx_min(free, max);

    ngx_shmtx_lock(&pz->shpool->mutex);

    rc = ngx_http_mtasts_pub_old_workers(pz);

    if (rc == 2) {
        ngx_shmtx_unlock(&pz->shpool->mutex);
        return 2;
    }

    if (rc == 1) {
        ngx_shmtx_unlock(&pz->shpool->mutex);
        return 1;
    }

    if (ngx_http_mtasts_pub_cursor >= mmcf->ndomains) {
        ngx_http_mtasts_pub_cursor = 0;
    }

    i = ngx_http_mtasts_pub_cursor;

    for (k = 0; k < mmcf->ndomains; k++, i = (i + 1) % mmcf->ndomains) {
        e = mmcf->list[i];
        node = e->pub;

        if (node == NULL) {
            continue;
        }

        if (node->generation == pz->generation
            && ((node->state == NGX_HTTP_MTASTS_PUB_OK
                 && node->tried + NGX_HTTP_MTASTS_PUB_RECHECK > now)
                || (node->state == NGX_HTTP_MTASTS_PUB_ERROR
                    && node->next > now)))
        {
            continue;
        }

        more = 1;

        if (node->owner
            && node->started + NGX_HTTP_MTASTS_PUB_STALE > now)
        {
            continue;
        }

        if (n == free) {
            break;
        }

        node->owner = ngx_pid;
        node->started = now;
        start[n++] = e;
    }

    ngx_http_mtasts_pub_cursor = i;

    ngx_shmtx_unlock(&pz->shpool->mutex);

    for (i = 0; i < n; i++) {
        ngx_http_mtasts_pub_start(mmcf, start[i]);
    }

    *started = n;

    return more;
}


static void
ngx_http_mtasts_pub_start(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_entry_t *entry)
{
    size_t                           len;
    u_char                          *p;
    ngx_pool_t                      *pool;
    ngx_http_mtasts_pub_task_t      *t;
    ngx_http_mtasts_srv_conf_t      *conf;
    ngx_http_mtasts_publish_conf_t  *pcf;

    conf = entry->conf;
    pcf = conf->publish;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        goto failed;
    }

    t = ngx_pcalloc(pool, sizeof(ngx_http_mtasts_pub_task_t));
    if (t == NULL) {
        ngx_destroy_pool(pool);
        goto failed;
    }

    t->pool = pool;
    t->log = ngx_cycle->log;
    t->mmcf = mmcf;
    t->entry = entry;
    t->pcf = pcf;

    ngx_queue_insert_tail(&ngx_http_mtasts_pub_tasks, &t->queue);
    ngx_http_mtasts_pub_running++;

    ngx_memcpy(t->id, conf->policy_id.data, conf->policy_id.len);

    /* the names, and the records of ours to publish there */

    len = sizeof("_mta-sts..") + sizeof("_smtp._tls..")
          + 2 * entry->domain.len;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        goto nomem;
    }

    t->names[0].owner = (char *) p;
    p = ngx_sprintf(p, "_mta-sts.%V.%Z", &entry->domain);
    t->names[0].prefix = "v=STSv1";
    t->names[0].value = (char *) conf->sts_txt.data;
    t->nnames = 1;

    if (conf->tlsrpt_txt.len) {
        t->names[1].owner = (char *) p;
        ngx_sprintf(p, "_smtp._tls.%V.%Z", &entry->domain);
        t->names[1].prefix = "v=TLSRPTv1";
        t->names[1].value = (char *) conf->tlsrpt_txt.data;
        t->nnames = 2;
    }

    if (pcf->zone.len) {
        ngx_memcpy(t->zone, pcf->zone.data, pcf->zone.len);
    }

    t->server = pcf->server;

    if (pcf->server) {
        t->server_name = pcf->server->name;
    }

    /* the zone from its SOA; without "server=", also its primary */

    t->step = (pcf->zone.len && pcf->server) ? NGX_HTTP_MTASTS_PUB_TXT
                                             : NGX_HTTP_MTASTS_PUB_ZONE;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, t->log, 0,
                   "mta-sts publish \"%V\"", &entry->domain);

    ngx_http_mtasts_pub_next(t);

    return;

nomem:

    ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, NULL,
                             "out of memory");
    return;

failed:

    ngx_shmtx_lock(&mmcf->publish->shpool->mutex);
    entry->pub->owner = 0;
    ngx_shmtx_unlock(&mmcf->publish->shpool->mutex);
}


/* the message of the task's step, sent */

static void
ngx_http_mtasts_pub_next(ngx_http_mtasts_pub_task_t *t)
{
    int       rc;
    char     *name;

    if (t->msg) {
        free(t->msg);
        t->msg = NULL;
    }

    t->tries = 0;
    t->tcp = 0;

    switch (t->step) {

    case NGX_HTTP_MTASTS_PUB_ZONE:
        rc = mtasts_msg_query(t->names[0].owner, LDNS_RR_TYPE_SOA,
                              t->server == NULL, &t->msg, &t->len,
                              &t->msg_id);
        break;

    case NGX_HTTP_MTASTS_PUB_PRIMARY:
        rc = mtasts_msg_query(t->primary, LDNS_RR_TYPE_A, 1, &t->msg,
                              &t->len, &t->msg_id);
        break;

    case NGX_HTTP_MTASTS_PUB_TXT:
        name = t->names[t->name].owner;
        rc = mtasts_msg_query(name, LDNS_RR_TYPE_TXT, 0, &t->msg, &t->len,
                              &t->msg_id);
        break;

    default: /* NGX_HTTP_MTASTS_PUB_UPDATE */

        if (t->mac) {
            ldns_rdf_deep_free(t->mac);
            t->mac = NULL;
        }

        rc = mtasts_msg_update(t->zone, t->names, t->nnames, t->pcf->ttl,
                               t->pcf->key, &t->msg, &t->len, &t->msg_id,
                               &t->mac);

        if (rc == 0) {
            (void) ngx_atomic_fetch_add(&t->mmcf->publish->sh->sent, 1);
        }

        break;
    }

    if (rc != 0) {
        t->msg = NULL;
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, NULL,
                                 "the DNS message could not be built");
        return;
    }

    ngx_http_mtasts_pub_send(t);
}


static void
ngx_http_mtasts_pub_send(ngx_http_mtasts_pub_task_t *t)
{
    ngx_int_t                    rc;
    ngx_addr_t                  *to;
    ngx_connection_t            *c;
    ngx_peer_connection_t       *pc;
    ngx_http_mtasts_pub_zone_t  *pz;

    pz = t->mmcf->publish;
    pc = &t->peer;

    /* the primary server, or a resolver in turn while it is unknown */

    if (t->server && t->step != NGX_HTTP_MTASTS_PUB_PRIMARY) {
        to = t->server;

    } else {
        to = &pz->resolvers[t->tries % pz->nresolvers];
    }

    /* the next message to the same address goes by the same UDP socket */

    if (pc->connection) {
        if (!t->tcp && t->to == to && t->buf) {
            c = pc->connection;
            ngx_add_timer(c->write, t->mmcf->resolver_timeout);
            ngx_http_mtasts_pub_write(c->write);
            return;
        }

        ngx_http_mtasts_pub_close(t);
    }

    t->to = to;

    ngx_memzero(pc, sizeof(ngx_peer_connection_t));

    pc->sockaddr = to->sockaddr;
    pc->socklen = to->socklen;
    pc->name = &to->name;
    pc->get = ngx_event_get_peer;
    pc->log = t->log;
    pc->log_error = NGX_ERROR_ERR;
    pc->type = t->tcp ? SOCK_STREAM : SOCK_DGRAM;

    t->sent = 0;
    t->got = 0;
    t->want = 0;

    if (t->tcp) {
        t->buf = ngx_pnalloc(t->pool, t->len + 2);
        if (t->buf == NULL) {
            ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, NULL,
                                     "out of memory");
            return;
        }

        t->buf[0] = (u_char) (t->len >> 8);
        t->buf[1] = (u_char) t->len;
        ngx_memcpy(t->buf + 2, t->msg, t->len);

    } else if (t->buf == NULL) {
        t->buf = ngx_pnalloc(t->pool, NGX_HTTP_MTASTS_PUB_UDP_MAX);
        if (t->buf == NULL) {
            ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, NULL,
                                     "out of memory");
            return;
        }
    }

    rc = ngx_event_connect_peer(pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        pc->connection = NULL;
        ngx_http_mtasts_pub_timedout(t);
        return;
    }

    c = pc->connection;
    c->data = t;
    c->pool = t->pool;
    c->read->handler = ngx_http_mtasts_pub_read;
    c->write->handler = ngx_http_mtasts_pub_write;

    ngx_add_timer(c->write, t->mmcf->resolver_timeout);

    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_http_mtasts_pub_write(c->write);
}


static void
ngx_http_mtasts_pub_write(ngx_event_t *wev)
{
    ssize_t                      n;
    ngx_connection_t            *c;
    ngx_http_mtasts_pub_task_t  *t;

    c = wev->data;
    t = c->data;

    if (wev->timedout) {
        ngx_http_mtasts_pub_timedout(t);
        return;
    }

    if (t->tcp) {
        while (t->sent < t->len + 2) {
            n = c->send(c, t->buf + t->sent, t->len + 2 - t->sent);

            if (n == NGX_AGAIN) {
                if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                    ngx_http_mtasts_pub_timedout(t);
                }

                return;
            }

            if (n == NGX_ERROR) {
                ngx_http_mtasts_pub_timedout(t);
                return;
            }

            t->sent += n;
        }

    } else {
        n = c->send(c, t->msg, t->len);

        if (n != (ssize_t) t->len) {
            ngx_http_mtasts_pub_timedout(t);
            return;
        }
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    /*
     * sent once: the socket that becomes writable again (edge-triggered
     * events) must not send the message again
     */

    wev->handler = ngx_http_mtasts_pub_idle;
    c->read->handler = ngx_http_mtasts_pub_read;

    ngx_add_timer(c->read, t->mmcf->resolver_timeout);

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_mtasts_pub_timedout(t);
        return;
    }

    if (c->read->ready) {
        ngx_http_mtasts_pub_read(c->read);
    }
}


static void
ngx_http_mtasts_pub_idle(ngx_event_t *ev)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "mta-sts publish: %s event while idle",
                   ev->write ? "write" : "read");
}


static void
ngx_http_mtasts_pub_read(ngx_event_t *rev)
{
    u_char                      *wire;
    ssize_t                      n;
    uint16_t                     id;
    ngx_connection_t            *c;
    ngx_http_mtasts_pub_task_t  *t;

    c = rev->data;
    t = c->data;

    if (rev->timedout) {
        ngx_http_mtasts_pub_timedout(t);
        return;
    }

    if (!t->tcp) {
        for ( ;; ) {
            n = c->recv(c, t->buf, NGX_HTTP_MTASTS_PUB_UDP_MAX);

            if (n == NGX_AGAIN) {
                break;
            }

            if (n == NGX_ERROR || n < 12) {
                /* ICMP port unreachable, or not a DNS message */

                if (n == NGX_ERROR) {
                    ngx_http_mtasts_pub_timedout(t);
                    return;
                }

                continue;
            }

            /* another id: not the answer, maybe forged; keep waiting */

            id = (uint16_t) ((t->buf[0] << 8) | t->buf[1]);

            if (id != t->msg_id) {
                continue;
            }

            /* the socket stays, for the task's next message */

            if (rev->timer_set) {
                ngx_del_timer(rev);
            }

            ngx_http_mtasts_pub_queue(t, t->buf, n);
            return;
        }

        if (ngx_handle_read_event(rev, 0) != NGX_OK) {
            ngx_http_mtasts_pub_timedout(t);
        }

        return;
    }

    /* TCP: two bytes of length, then the message */

    for ( ;; ) {
        if (t->want == 0) {
            n = c->recv(c, t->length + t->got, 2 - t->got);

            if (n > 0) {
                t->got += n;

                if (t->got < 2) {
                    continue;
                }

                t->want = (t->length[0] << 8) | t->length[1];
                t->got = 0;

                if (t->want < 12) {
                    ngx_http_mtasts_pub_timedout(t);
                    return;
                }

                t->buf = ngx_pnalloc(t->pool, t->want);
                if (t->buf == NULL) {
                    ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR,
                                             NULL, "out of memory");
                    return;
                }

                continue;
            }

        } else {
            n = c->recv(c, t->buf + t->got, t->want - t->got);

            if (n > 0) {
                t->got += n;

                if (t->got < t->want) {
                    continue;
                }

                wire = t->buf;

                ngx_http_mtasts_pub_close(t);
                ngx_http_mtasts_pub_queue(t, wire, t->want);
                return;
            }
        }

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_mtasts_pub_timedout(t);
            }

            return;
        }

        /* closed or failed before the whole answer */

        ngx_http_mtasts_pub_timedout(t);
        return;
    }
}


/*
 * An answer is handled in a later turn of the event loop,
 * NGX_HTTP_MTASTS_PUB_STEPS answers a turn.  Handling one builds, signs
 * and sends the next message, about 100 us; the answers of all the tasks
 * often arrive together, and handled at once they would hold up the
 * requests that came with them.  Until then the socket's events are
 * ignored: the answer is in its buffer.
 */

static void
ngx_http_mtasts_pub_queue(ngx_http_mtasts_pub_task_t *t, u_char *wire,
    size_t len)
{
    if (t->peer.connection) {
        t->peer.connection->read->handler = ngx_http_mtasts_pub_idle;
    }

    t->answer = wire;
    t->answer_len = len;
    t->queued = 1;

    ngx_queue_insert_tail(&ngx_http_mtasts_pub_ready, &t->ready);

    if (!ngx_http_mtasts_pub_turn.posted) {
        ngx_post_event(&ngx_http_mtasts_pub_turn, &ngx_posted_next_events);
    }
}


static void
ngx_http_mtasts_pub_pace(ngx_event_t *ev)
{
    ngx_uint_t                   n;
    ngx_queue_t                 *q;
    ngx_http_mtasts_pub_task_t  *t;

    for (n = 0; n < NGX_HTTP_MTASTS_PUB_STEPS; n++) {

        if (ngx_queue_empty(&ngx_http_mtasts_pub_ready)) {
            return;
        }

        q = ngx_queue_head(&ngx_http_mtasts_pub_ready);
        ngx_queue_remove(q);

        t = ngx_queue_data(q, ngx_http_mtasts_pub_task_t, ready);
        t->queued = 0;

        ngx_http_mtasts_pub_answer(t, t->answer, t->answer_len);
    }

    if (!ngx_queue_empty(&ngx_http_mtasts_pub_ready) && !ev->posted) {
        ngx_post_event(ev, &ngx_posted_next_events);
    }
}


/* no answer from this try: the next one, the last by TCP */

static void
ngx_http_mtasts_pub_timedout(ngx_http_mtasts_pub_task_t *t)
{
    ngx_http_mtasts_pub_close(t);

    if (++t->tries < NGX_HTTP_MTASTS_PUB_TRIES) {
        t->tcp = (t->tries == NGX_HTTP_MTASTS_PUB_TRIES - 1);
        ngx_http_mtasts_pub_send(t);
        return;
    }

    if (t->server == NULL || t->step == NGX_HTTP_MTASTS_PUB_PRIMARY) {
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, "timeout",
                                 "the resolver did not answer (%ui tries, "
                                 "%M ms each): check \"mta_sts_resolver\", "
                                 "or set \"server=\"",
                                 (ngx_uint_t) NGX_HTTP_MTASTS_PUB_TRIES,
                                 t->mmcf->resolver_timeout);
        return;
    }

    ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, "timeout",
                             "%V did not answer (%ui tries, %M ms each, "
                             "by UDP and TCP): is the server running and "
                             "reachable on that port?",
                             &t->server_name,
                             (ngx_uint_t) NGX_HTTP_MTASTS_PUB_TRIES,
                             t->mmcf->resolver_timeout);
}


static void
ngx_http_mtasts_pub_close(ngx_http_mtasts_pub_task_t *t)
{
    if (t->peer.connection) {
        ngx_close_connection(t->peer.connection);
        t->peer.connection = NULL;
    }

    if (t->tcp) {
        t->buf = NULL;
    }
}


static void
ngx_http_mtasts_pub_answer(ngx_http_mtasts_pub_task_t *t, u_char *wire,
    size_t len)
{
    int               rc;
    char             *name;
    ldns_pkt         *pkt;
    const char       *err;
    mtasts_answer_t   a;

    err = mtasts_msg_read(wire, len, t->msg_id, &pkt, &a);

    if (err) {
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, "other",
                                 "%V: %s", &t->server_name, err);
        return;
    }

    if (a.truncated && !t->tcp) {
        ldns_pkt_free(pkt);
        t->tcp = 1;
        ngx_http_mtasts_pub_send(t);
        return;
    }

    switch (t->step) {

    case NGX_HTTP_MTASTS_PUB_ZONE:

        if (t->server == NULL) {
            ngx_http_mtasts_pub_primary(t, pkt, &a);
            ldns_pkt_free(pkt);
            return;
        }

        if ((a.rcode != LDNS_RCODE_NOERROR && a.rcode != LDNS_RCODE_NXDOMAIN)
            || mtasts_msg_zone(pkt, t->zone, sizeof(t->zone), NULL, 0) != 0)
        {
            ldns_pkt_free(pkt);

            if (a.rcode == LDNS_RCODE_NOERROR
                || a.rcode == LDNS_RCODE_NXDOMAIN)
            {
                ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR,
                                         "other",
                                         "%V gave no SOA record for %s: "
                                         "is it authoritative for the "
                                         "zone? Set \"zone=\" to name it",
                                         &t->server_name,
                                         t->names[0].owner);
                return;
            }

            ngx_http_mtasts_pub_refused(t, &a);
            return;
        }

        ldns_pkt_free(pkt);
        t->step = NGX_HTTP_MTASTS_PUB_TXT;
        ngx_http_mtasts_pub_next(t);
        return;

    case NGX_HTTP_MTASTS_PUB_PRIMARY:
        ngx_http_mtasts_pub_primary(t, pkt, &a);
        ldns_pkt_free(pkt);
        return;

    case NGX_HTTP_MTASTS_PUB_TXT:

        name = t->names[t->name].owner;

        if (a.rcode != LDNS_RCODE_NOERROR && a.rcode != LDNS_RCODE_NXDOMAIN) {
            ldns_pkt_free(pkt);
            ngx_http_mtasts_pub_refused(t, &a);
            return;
        }

        rc = mtasts_msg_txt(pkt, &t->names[t->name]);

        ldns_pkt_free(pkt);

        if (rc == -2) {
            ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, "other",
                                     "%s is a CNAME on %V: publish the "
                                     "record at its target, or remove the "
                                     "CNAME", name, &t->server_name);
            return;
        }

        if (rc != 0) {
            ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, NULL,
                                     "out of memory");
            return;
        }

        if (++t->name < t->nnames) {
            ngx_http_mtasts_pub_next(t);
            return;
        }

        if (t->names[0].current
            && (t->nnames == 1 || t->names[1].current))
        {
            ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_OK, "NOERROR",
                                     "%V holds the records of id %s",
                                     &t->server_name, t->id);
            return;
        }

        t->step = NGX_HTTP_MTASTS_PUB_UPDATE;
        ngx_http_mtasts_pub_next(t);
        return;

    default: /* NGX_HTTP_MTASTS_PUB_UPDATE */
        ngx_http_mtasts_pub_updated(t, pkt, &a, wire, len);
        ldns_pkt_free(pkt);
        return;
    }
}


static void
ngx_http_mtasts_pub_updated(ngx_http_mtasts_pub_task_t *t, ldns_pkt *pkt,
    mtasts_answer_t *a, u_char *wire, size_t len)
{
    const char                    *err;
    ngx_http_mtasts_pub_sh_t      *sh;

    sh = t->mmcf->publish->sh;
    t->updated = 1;

    if (a->rcode == LDNS_RCODE_NOERROR) {
        err = mtasts_msg_verify(pkt, wire, len, t->pcf->key, t->mac);

        if (err) {
            ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, "other",
                                     "%V answered NOERROR, but %s: the "
                                     "update may have been made by someone "
                                     "else's answer; it is checked again",
                                     &t->server_name, err);
            return;
        }

        (void) ngx_atomic_fetch_add(&sh->succeeded, 1);

        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_OK, "NOERROR",
                                 "%V accepted the update to id %s",
                                 &t->server_name, t->id);
        return;
    }

    /* the records changed since they were read: read them again */

    if ((a->rcode == LDNS_RCODE_YXRRSET || a->rcode == LDNS_RCODE_NXRRSET)
        && ++t->races < NGX_HTTP_MTASTS_PUB_RACES)
    {
        t->step = NGX_HTTP_MTASTS_PUB_TXT;
        t->name = 0;
        ngx_http_mtasts_pub_next(t);
        return;
    }

    ngx_http_mtasts_pub_refused(t, a);
}


/*
 * Without "server=": the resolver's answer for the SOA gives the zone and
 * its primary's name (MNAME), the next its address
 */

static void
ngx_http_mtasts_pub_primary(ngx_http_mtasts_pub_task_t *t, ldns_pkt *pkt,
    mtasts_answer_t *a)
{
    u_char      *p;
    char        *zone;
    size_t       len;
    const char  *what;

    what = (t->step == NGX_HTTP_MTASTS_PUB_ZONE) ? "SOA" : "address";

    if (a->rcode != LDNS_RCODE_NOERROR
        && (a->rcode != LDNS_RCODE_NXDOMAIN
            || t->step != NGX_HTTP_MTASTS_PUB_ZONE))
    {
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, "other",
                                 "the resolver answered %s to the query "
                                 "for the %s of %s: check "
                                 "\"mta_sts_resolver\", or set \"server=\"",
                                 a->name, what,
                                 t->step == NGX_HTTP_MTASTS_PUB_ZONE
                                 ? t->names[0].owner : t->primary);
        return;
    }

    if (t->step == NGX_HTTP_MTASTS_PUB_ZONE) {

        /* "zone=" is kept: only the SOA's MNAME is taken then */

        zone = t->zone[0] ? NULL : t->zone;

        if (mtasts_msg_zone(pkt, zone, sizeof(t->zone), t->primary,
                            sizeof(t->primary))
            != 0)
        {
            ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, "other",
                                     "the resolver gave no SOA record for "
                                     "%s: set \"server=\" to the zone's "
                                     "primary", t->names[0].owner);
            return;
        }

        t->step = NGX_HTTP_MTASTS_PUB_PRIMARY;
        ngx_http_mtasts_pub_next(t);
        return;
    }

    len = sizeof(t->primary_sa);

    if (mtasts_msg_address(pkt, &t->primary_sa, &len) != 0) {
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, "other",
                                 "the zone's primary %s (its SOA's MNAME) "
                                 "has no address: set \"server=\"",
                                 t->primary);
        return;
    }

    t->primary_addr.sockaddr = (struct sockaddr *) &t->primary_sa;
    t->primary_addr.socklen = len;
    t->server = &t->primary_addr;

    len = ngx_strlen(t->primary);

    p = ngx_pnalloc(t->pool, len + NGX_SOCKADDR_STRLEN + 3);
    if (p == NULL) {
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, NULL,
                                 "out of memory");
        return;
    }

    /* "ns1.example.com (192.0.2.53:53)", without the final dot */

    t->server_name.data = p;
    p = ngx_cpymem(p, t->primary, len - 1);
    *p++ = ' ';
    *p++ = '(';
    p += ngx_sock_ntop(t->primary_addr.sockaddr, t->primary_addr.socklen,
                       p, NGX_SOCKADDR_STRLEN, 1);
    *p++ = ')';
    t->server_name.len = p - t->server_name.data;

    t->primary_addr.name = t->server_name;

    t->step = NGX_HTTP_MTASTS_PUB_TXT;
    ngx_http_mtasts_pub_next(t);
}


/* what an answer other than NOERROR means, and what to do about it */

static void
ngx_http_mtasts_pub_refused(ngx_http_mtasts_pub_task_t *t,
    mtasts_answer_t *a)
{
    size_t      klen;
    ngx_str_t  *server;
    const char *key, *what;

    server = &t->server_name;
    key = t->pcf->key->name;
    klen = ngx_strlen(key) - 1;

    what = (t->step == NGX_HTTP_MTASTS_PUB_UPDATE) ? "the update"
                                                    : "the query";

    switch (a->rcode) {

    case LDNS_RCODE_REFUSED:
        if (t->step != NGX_HTTP_MTASTS_PUB_UPDATE) {
            ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR,
                                     a->name,
                                     "%V refused the query for %s: allow "
                                     "queries from this host",
                                     server, t->names[t->name].owner);
            return;
        }

        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, a->name,
                                 "%V refused the update: allow key "
                                 "\"%*s\" to update TXT at %s%s%s",
                                 server, klen, key, t->names[0].owner,
                                 t->nnames > 1 ? " and " : "",
                                 t->nnames > 1 ? t->names[1].owner : "");
        return;

    case LDNS_RCODE_NOTAUTH:
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, a->name,
                                 "%V is not authoritative for the zone "
                                 "\"%s\": point \"server=\" at the zone's "
                                 "primary, or set \"zone=\"",
                                 server, t->zone);
        return;

    case LDNS_RCODE_NOTZONE:
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, a->name,
                                 "%s is not in the zone \"%s\" on %V: set "
                                 "\"zone=\" to the zone that holds it",
                                 t->names[0].owner, t->zone, server);
        return;

    case 16: /* BADSIG */
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, a->name,
                                 "%V does not accept the signature of key "
                                 "\"%*s\": the secret in \"%V\" is not the "
                                 "server's", server, klen, key,
                                 &t->pcf->file);
        return;

    case 17: /* BADKEY */
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, a->name,
                                 "%V does not know the key \"%*s\" (or its "
                                 "algorithm), or does not let it update "
                                 "these names (Knot DNS answers so): add "
                                 "the key of \"%V\" to the server, and "
                                 "allow it to update TXT at %s%s%s", server,
                                 klen, key, &t->pcf->file, t->names[0].owner,
                                 t->nnames > 1 ? " and " : "",
                                 t->nnames > 1 ? t->names[1].owner : "");
        return;

    case 18: /* BADTIME */
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, a->name,
                                 "the clock of %V is %l seconds %s ours, "
                                 "more than the 300 allowed: set both "
                                 "clocks right (NTP)", server,
                                 a->skew < 0 ? -a->skew : a->skew,
                                 a->skew < 0 ? "behind" : "ahead of");
        return;

    case LDNS_RCODE_YXRRSET:
    case LDNS_RCODE_NXRRSET:
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, a->name,
                                 "the records at %s on %V changed while "
                                 "they were updated, %ui times: is another "
                                 "publisher writing them with another id?",
                                 t->names[0].owner, server, t->races);
        return;

    default:
        ngx_http_mtasts_pub_done(t, NGX_HTTP_MTASTS_PUB_ERROR, a->name,
                                 "%V answered %s to %s: see the server's "
                                 "log", server, a->name, what);
        return;
    }
}


/*
 * The task ends: its answer in the zone, a line in the log, the claim
 * released.  PENDING: it did not finish (the worker exits).
 */

static void
ngx_http_mtasts_pub_done(ngx_http_mtasts_pub_task_t *t, ngx_uint_t state,
    const char *answer, const char *fmt, ...)
{
    u_char                      *p, msg[NGX_HTTP_MTASTS_PUB_MESSAGE];
    size_t                       len;
    time_t                       now, backoff;
    va_list                      args;
    ngx_uint_t                   i, level;
    ngx_http_mtasts_pub_zone_t  *pz;
    ngx_http_mtasts_pub_node_t  *node;

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    len = p - msg;

    pz = t->mmcf->publish;
    node = t->entry->pub;
    now = ngx_time();

    ngx_http_mtasts_pub_close(t);

    /* a change is news, a record already there is not, a failure is */

    switch (state) {

    case NGX_HTTP_MTASTS_PUB_OK:
        level = t->updated ? NGX_LOG_NOTICE : NGX_LOG_INFO;
        break;

    case NGX_HTTP_MTASTS_PUB_ERROR:
        level = NGX_LOG_ERR;
        break;

    default:
        level = 0;
    }

    if (level) {
        ngx_log_error(level, t->log, 0, "mta_sts_publish: %V: %*s",
                      &t->entry->domain, len, msg);
    }

    ngx_shmtx_lock(&pz->shpool->mutex);

    node->owner = 0;
    node->started = 0;

    if (state != NGX_HTTP_MTASTS_PUB_PENDING) {
        node->state = state;
        node->generation = pz->generation;
        node->tried = now;

        if (answer) {
            node->answer_len = ngx_min(ngx_strlen(answer),
                                       NGX_HTTP_MTASTS_PUB_ANSWER);
            ngx_memcpy(node->answer, answer, node->answer_len);
        }

        node->server_len = ngx_min(t->server_name.len,
                                   NGX_HTTP_MTASTS_PUB_SERVER);
        ngx_memcpy(node->server, t->server_name.data, node->server_len);

        node->message_len = len;
        ngx_memcpy(node->message, msg, len);
    }

    if (state == NGX_HTTP_MTASTS_PUB_OK) {
        node->failures = 0;
        node->id_len = ngx_strlen(t->id);
        ngx_memcpy(node->id, t->id, node->id_len);

        if (t->updated || node->at == 0) {
            node->at = now;
        }

    } else if (state == NGX_HTTP_MTASTS_PUB_ERROR) {
        backoff = NGX_HTTP_MTASTS_PUB_BACKOFF
                  << ngx_min(node->failures, 8);
        node->failures++;
        node->next = now + ngx_min(backoff, 3600);

        for (i = 0; i < NGX_HTTP_MTASTS_PUB_NREASONS - 1; i++) {
            if (answer
                && ngx_strcmp(ngx_http_mtasts_pub_reasons[i].data, answer)
                   == 0)
            {
                break;
            }
        }

        /* only what a server answered to an update, or did not */

        if (t->updated || (answer && ngx_strcmp(answer, "timeout") == 0)) {
            (void) ngx_atomic_fetch_add(&pz->sh->failed[i], 1);
        }
    }

    ngx_shmtx_unlock(&pz->shpool->mutex);

    for (i = 0; i < t->nnames; i++) {
        mtasts_rrname_free(&t->names[i]);
    }

    if (t->msg) {
        free(t->msg);
    }

    if (t->mac) {
        ldns_rdf_deep_free(t->mac);
    }

    ngx_queue_remove(&t->queue);
    ngx_http_mtasts_pub_running--;

    if (t->queued) {
        ngx_queue_remove(&t->ready);
    }

    ngx_destroy_pool(t->pool);

    if (!ngx_exiting && !ngx_quit && !ngx_terminate
        && !ngx_http_mtasts_pub_fill.posted
        && ngx_http_mtasts_pub_fill.handler)
    {
        ngx_post_event(&ngx_http_mtasts_pub_fill, &ngx_posted_next_events);
    }
}


/* a domain's state, for the status page */

ngx_int_t
ngx_http_mtasts_publish_state(ngx_pool_t *pool,
    ngx_http_mtasts_main_conf_t *mmcf, ngx_http_mtasts_srv_conf_t *conf,
    ngx_str_t *domain, ngx_http_mtasts_pub_state_t *st)
{
    u_char                      *p;
    ngx_http_mtasts_pub_zone_t  *pz;
    ngx_http_mtasts_pub_node_t  *node;

    ngx_memzero(st, sizeof(ngx_http_mtasts_pub_state_t));

    pz = mmcf->publish;

    if (pz == NULL || conf->publish == NULL) {
        return NGX_OK;
    }

    node = (ngx_http_mtasts_pub_node_t *)
           ngx_str_rbtree_lookup(&pz->sh->rbtree, domain,
                                 ngx_crc32_short(domain->data, domain->len));
    if (node == NULL) {
        return NGX_OK;
    }

    p = ngx_pnalloc(pool, MTASTS_ID_MAX + NGX_HTTP_MTASTS_PUB_ANSWER
                          + NGX_HTTP_MTASTS_PUB_SERVER
                          + NGX_HTTP_MTASTS_PUB_MESSAGE);
    if (p == NULL) {
        return NGX_ERROR;
    }

    st->enabled = 1;

    ngx_shmtx_lock(&pz->shpool->mutex);

    /* an answer to an older configuration is pending for this one */

    st->state = (node->generation == pz->generation)
                ? node->state : NGX_HTTP_MTASTS_PUB_PENDING;
    st->at = node->at;
    st->tried = node->tried;

    st->id.data = p;
    st->id.len = node->id_len;
    p = ngx_cpymem(p, node->id, node->id_len);

    st->answer.data = p;
    st->answer.len = node->answer_len;
    p = ngx_cpymem(p, node->answer, node->answer_len);

    st->server.data = p;
    st->server.len = node->server_len;
    p = ngx_cpymem(p, node->server, node->server_len);

    st->message.data = p;
    st->message.len = node->message_len;
    ngx_memcpy(p, node->message, node->message_len);

    ngx_shmtx_unlock(&pz->shpool->mutex);

    return NGX_OK;
}


void
ngx_http_mtasts_publish_totals(ngx_http_mtasts_main_conf_t *mmcf,
    ngx_http_mtasts_pub_totals_t *totals)
{
    ngx_uint_t                  i;
    ngx_http_mtasts_pub_sh_t   *sh;

    ngx_memzero(totals, sizeof(ngx_http_mtasts_pub_totals_t));

    if (mmcf->publish == NULL) {
        return;
    }

    sh = mmcf->publish->sh;

    totals->enabled = 1;
    totals->sent = sh->sent;
    totals->succeeded = sh->succeeded;

    for (i = 0; i < NGX_HTTP_MTASTS_PUB_NREASONS; i++) {
        totals->failed[i] = sh->failed[i];
    }
}
