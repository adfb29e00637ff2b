/*
 * latency: an open-loop HTTP/1.1 load generator for 127.0.0.1.
 *
 *   latency -p PORT [-H host] [-u path] [-r rate] [-c conns] [-d seconds]
 *           [-o samples]
 *
 * Requests are scheduled at a fixed rate (rate per second, over all
 * connections) and each latency is measured from the time the request was
 * scheduled, not from when it could be sent: a stall of the server shows
 * up in every request that was due during it (no coordinated omission).
 * A due request goes out on an idle keep-alive connection, or waits for
 * one.  Responses must carry Content-Length.
 *
 * Prints one JSON object: counts and latency percentiles in microseconds.
 * With -o, also writes every sample to a file: the time it was scheduled
 * (seconds after the start) and its latency (microseconds).
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN  256
#define BUFSZ    16384

typedef struct {
    int      fd;
    int      busy;
    double   due;          /* when its request was scheduled */
    size_t   have;
    char     buf[BUFSZ];
} conn_t;

static conn_t   conns[MAXCONN];
static double  *lat, *at;
static size_t   nlat, maxlat;

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

static int
open_conn(int port, int ep, int i)
{
    int                 fd, one = 1;
    struct sockaddr_in  sin;
    struct epoll_event  ev;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
        close(fd);
        return -1;
    }

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, O_NONBLOCK);

    ev.events = EPOLLIN;
    ev.data.u32 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);

    conns[i].fd = fd;
    conns[i].busy = 0;
    conns[i].have = 0;

    return 0;
}

/* a whole response in the buffer: its length, else 0 */

static size_t
complete(conn_t *c, int *ok)
{
    char    *end, *cl;
    size_t   hlen;

    c->buf[c->have] = '\0';

    end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL) {
        return 0;
    }

    hlen = end + 4 - c->buf;

    cl = strcasestr(c->buf, "\r\ncontent-length:");
    if (cl == NULL || cl > end) {
        return (size_t) -1;
    }

    *ok = (strncmp(c->buf, "HTTP/1.1 200 ", 13) == 0);

    hlen += strtoul(cl + 17, NULL, 10);

    return (c->have >= hlen) ? hlen : 0;
}

int
main(int argc, char **argv)
{
    int                 opt, port = 0, nconn = 8, ep, tfd, i, n, ok;
    char                req[1024];
    const char         *host = "localhost", *path = "/", *dump = NULL;
    FILE               *f;
    double              rate = 1000, dur = 5, t0, t, next, end, wait, due;
    size_t              reqlen, len, sent = 0, errors = 0, queued = 0,
                        non200 = 0, maxq = 0;
    ssize_t             r;
    struct itimerspec   its;
    struct epoll_event  evs[MAXCONN + 1];

    while ((opt = getopt(argc, argv, "p:H:u:r:c:d:o:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'H': host = optarg; break;
        case 'u': path = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'c': nconn = atoi(optarg); break;
        case 'd': dur = atof(optarg); break;
        case 'o': dump = optarg; break;
        default:
            fprintf(stderr, "usage: latency -p port [-H host] [-u path] "
                    "[-r rate] [-c conns] [-d seconds] [-o samples]\n");
            return 2;
        }
    }

    if (port <= 0 || nconn < 1 || nconn > MAXCONN || rate <= 0 || dur <= 0
        || dur > 600 || rate * dur > 5e7)
    {
        fprintf(stderr, "latency: bad arguments\n");
        return 2;
    }

    reqlen = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n",
                      path, host);

    maxlat = (size_t) (rate * dur) + 16;
    lat = malloc(maxlat * sizeof(double));
    at = malloc(maxlat * sizeof(double));
    ep = epoll_create1(0);

    if (lat == NULL || at == NULL || ep < 0) {
        perror("latency");
        return 1;
    }

    /* a timer for the next due request: no busy waiting between two */

    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    if (tfd < 0) {
        perror("latency: timerfd");
        return 1;
    }

    evs[0].events = EPOLLIN;
    evs[0].data.u32 = MAXCONN;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &evs[0]);

    for (i = 0; i < nconn; i++) {
        if (open_conn(port, ep, i) != 0) {
            perror("latency: connect");
            return 1;
        }
    }

    t0 = now();
    end = t0 + dur;
    next = t0;

    for ( ;; ) {
        t = now();

        /* the requests that are due go out on idle connections */

        while (next <= t && next < end) {
            queued++;
            next += 1.0 / rate;
        }

        if (queued > maxq) {
            maxq = queued;
        }

        for (i = 0; i < nconn && queued; i++) {
            if (conns[i].busy) {
                continue;
            }

            /* the oldest due request: scheduled queued-1 periods ago */

            conns[i].due = next - queued / rate;
            conns[i].busy = 1;
            conns[i].have = 0;
            queued--;

            if (write(conns[i].fd, req, reqlen) != (ssize_t) reqlen) {
                errors++;
                fprintf(stderr, "latency: write: %s\n", strerror(errno));
                return 1;
            }

            sent++;
        }

        if (t >= end && queued == 0) {
            for (i = 0; i < nconn && !conns[i].busy; i++) { /* void */ }

            if (i == nconn || t > end + 5) {
                break;
            }
        }

        due = (next < end) ? next : end + 0.01;
        wait = due - now();

        if (wait > 0) {
            its.it_interval.tv_sec = 0;
            its.it_interval.tv_nsec = 0;
            its.it_value.tv_sec = (time_t) due;
            its.it_value.tv_nsec = (long) ((due - (time_t) due) * 1e9);
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        }

        n = epoll_wait(ep, evs, MAXCONN + 1, wait > 0 ? 1000 : 0);

        for (i = 0; i < n; i++) {
            conn_t *c;

            if (evs[i].data.u32 == MAXCONN) {
                uint64_t  expirations;

                (void) read(tfd, &expirations, sizeof(expirations));
                continue;
            }

            c = &conns[evs[i].data.u32];

            r = read(c->fd, c->buf + c->have, BUFSZ - 1 - c->have);

            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) {
                    continue;
                }

                if (c->busy) {
                    fprintf(stderr, "latency: connection closed\n");
                    return 1;
                }

                /* closed after a response ("Connection: close"): reopen */

                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);

                if (open_conn(port, ep, evs[i].data.u32) != 0) {
                    perror("latency: connect");
                    return 1;
                }

                continue;
            }

            c->have += r;
            ok = 0;
            len = complete(c, &ok);

            if (len == (size_t) -1) {
                fprintf(stderr, "latency: no Content-Length\n");
                return 1;
            }

            if (len == 0) {
                continue;
            }

            if (!ok) {
                non200++;
            }

            if (nlat < maxlat) {
                at[nlat] = c->due - t0;
                lat[nlat++] = (now() - c->due) * 1e6;
            }

            c->busy = 0;
            c->have = 0;
        }
    }

    if (dump) {
        f = fopen(dump, "w");
        if (f == NULL) {
            perror(dump);
            return 1;
        }

        fprintf(f, "# wall clock at start: %.6f\n", t0 + (wall() - now()));

        for (len = 0; len < nlat; len++) {
            fprintf(f, "%.6f %.1f\n", at[len], lat[len]);
        }

        fclose(f);
    }

    qsort(lat, nlat, sizeof(double), cmp);

#define P(q)  (nlat ? lat[(size_t) ((q) * (nlat - 1))] : 0)

    printf("{\"rate\": %.0f, \"connections\": %d, \"duration\": %.1f, "
           "\"sent\": %zu, \"received\": %zu, \"non200\": %zu, "
           "\"errors\": %zu, \"max_queued\": %zu, "
           "\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, "
           "\"p999_us\": %.1f, \"max_us\": %.1f}\n",
           rate, nconn, dur, sent, nlat, non200, errors, maxq,
           P(0.5), P(0.9), P(0.99), P(0.999), nlat ? lat[nlat - 1] : 0);

    return (non200 || errors || nlat != sent) ? 1 : 0;
}
