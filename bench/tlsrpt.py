"""TLS-RPT intake and summary.

One nginx (one worker, pinned to SERVER_CPU) serves 100 domains in one
hosted server, and on two ports:

  module   location = /tlsrpt { mta_sts_tlsrpt_receive DIR; }
  store    location /tlsrpt/ { dav_methods PUT; root DIR2; }: nginx's own
           way of storing a request body in a file (read into a temporary
           file, renamed into place; no fsync), each report PUT to a path
           of its own.  ("client_body_in_file_only on; return 201;" would
           not do: return answers before the body is read, and nothing is
           stored.)

Measured, interleaved in every round:
  accept   wrk (one thread, CLIENT_CPU) POSTs distinct gzip'd reports
           (application/tlsrpt+gzip, about 600 bytes each) to one variant:
           requests per second, and the worker's CPU time per report.
           Both directories are emptied before each run, so every report
           is new (the module answers 201 and stores it).
  latency  the open-loop client (bench/latency.c) asking for one policy
           at a fixed rate on CLIENT_CPU, at real-time priority: idle,
           while wrk posts reports to the module at a steady rate
           (BENCH_TLSRPT_RATE, 200 a second: over 150 times what 10,000
           domains with ten senders each get in a day, spread over it),
           and while wrk floods, as fast as it can, the module's intake, the
           same behind the rate limit docs/directives.md shows (limit_req
           10r/m burst=20 per address: wrk is one address, so nearly all
           its reports are refused with 503), or the store variant
Then, with nginx stopped, 100,000 reports are written into the module's
directory as the intake names them; nginx starts and reads them: the time
until the summary is loaded, and the time of a status page of the 100
domains in every format, against the same page with no report kept.
Output: build/bench/tlsrpt.json.
"""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

ZONE = 'bench.test'
DOMAINS = 100
ORGS = 50
MODULE_PORT = B.PORT + 81
STORE_PORT = B.PORT + 82
LIMITED_PORT = B.PORT + 83
POST_LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'post.lua')
FORMATS = ('json', 'text', 'prometheus', 'html')
TYPES = ('certificate-expired', 'starttls-not-supported',
         'certificate-host-mismatch', 'validation-failure')


def domain(i):
    return 'd%d.%s' % (i, ZONE)


def iso(t):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))


def report(k, today):
    """the k-th report: its end day within the last 28 days"""
    end = (today - k % 28) * 86400 - 1
    dom = domain(k % DOMAINS + 1)
    failed = k % 7
    pol = {
        'policy': {'policy-type': 'sts',
                   'policy-string': ['version: STSv1', 'mode: testing',
                                     'mx: *.mx.' + ZONE, 'max_age: 604800'],
                   'policy-domain': dom},
        'summary': {'total-successful-session-count': 100 + k % 50,
                    'total-failure-session-count': failed},
    }
    if failed:
        pol['failure-details'] = [{
            'result-type': TYPES[k % len(TYPES)],
            'sending-mta-ip': '192.0.2.%d' % (k % 250 + 1),
            'receiving-mx-hostname': 'mx%d.mx.%s' % (k % 3, ZONE),
            'failed-session-count': failed}]
    return {
        'organization-name': 'Sender %d' % (k % ORGS),
        'date-range': {'start-datetime': iso(end - 86399),
                       'end-datetime': iso(end)},
        'contact-info': 'tlsrpt@sender%d.example' % (k % ORGS),
        'report-id': 'bench-%d@sender%d.example' % (k, k % ORGS),
        'policies': [pol],
    }


def write_bodies(d, n, today):
    """n distinct gzip'd reports in one file, their lengths in another"""
    bodies = os.path.join(d, 'bodies.bin')
    lengths = os.path.join(d, 'lengths.txt')
    with open(bodies, 'wb') as b, open(lengths, 'w') as ln:
        for k in range(n):
            z = gzip.compress(json.dumps(report(k, today)).encode(), 6)
            b.write(z)
            ln.write('%d\n' % len(z))
    return bodies, lengths, os.path.getsize(bodies) / n


def keep_reports(store, n, today):
    """n reports written as the intake names them: DAY-KEY.json"""
    for k in range(n):
        r = report(k, today)
        key = hashlib.sha256(r['report-id'].encode()).hexdigest()[:32]
        name = '%s-%s.json' % (r['date-range']['end-datetime'][:10], key)
        with open(os.path.join(store, name), 'w') as f:
            json.dump(r, f)


def files_in(path):
    """the files of a directory (the intake's .tmp directory aside)"""
    return [n for n in os.listdir(path)
            if os.path.isfile(os.path.join(path, n))]


def empty(path):
    """a new, empty directory in its place; the old one is set aside and
    deleted at the end (aside()), not now: ext4 without a journal (as on
    the machine these numbers were first taken on) skips every inode
    deleted in the last few minutes when it makes a file, which would
    charge tens of thousands of deletions made just before the run to it,
    and a receiver does not delete that many reports at once"""
    global ASIDE
    if files_in(path):
        ASIDE += 1
        os.rename(path, '%s.old-%d' % (path, ASIDE))
        os.mkdir(path)
        os.chmod(path, 0o777)               # the worker's user


ASIDE = 0


def aside(path):
    for n in range(1, ASIDE + 1):
        shutil.rmtree('%s.old-%d' % (path, n), ignore_errors=True)


def nginx_config(d):
    B.write_file(os.path.join(d, 'domains.txt'),
                 ''.join('%s;\n' % domain(i) for i in range(1, DOMAINS + 1)))
    return B.nginx_conf(d, """
    mta_sts_resolver 127.0.0.1:%d timeout=1s attempts=1;
    mta_sts_check_interval off;

    server {
        listen 127.0.0.1:%d;
        server_name mta-sts.*;

        mta_sts on;
        mta_sts_mode testing;
        mta_sts_mx *.mx.%s;
        mta_sts_id bench1;

        mta_sts_domains {
            include %s/domains.txt;
        }

        location = /tlsrpt {
            mta_sts_tlsrpt_receive %s/reports;
        }

        location = /status {
            mta_sts_status;
        }
    }

    limit_req_zone $binary_remote_addr zone=tlsrpt:1m rate=10r/m;

    server {
        listen 127.0.0.1:%d;

        location = /tlsrpt {
            limit_req zone=tlsrpt burst=20 nodelay;
            mta_sts_tlsrpt_receive %s/limited;
        }
    }

    server {
        listen 127.0.0.1:%d;

        location /tlsrpt/ {
            root %s/stored;
            dav_methods PUT;
            client_body_temp_path %s/stored/tmp;
        }
    }
""" % (B.PORT + 53, MODULE_PORT, ZONE, d, d, LIMITED_PORT, d, STORE_PORT,
       d, d))


def flood(port, duration, bodies, lengths, worker=None, rate=None):
    """as fast as nginx answers, or about rate reports/s (4 connections,
    each pausing 4/rate s before a request)"""
    put = port == STORE_PORT
    conns = 4 if rate else B.env_int('BENCH_CONNECTIONS', 32)
    return B.wrk('http://127.0.0.1:%d/tlsrpt' % port, 'mta-sts.' + domain(1),
                 duration, conns, script=POST_LUA,
                 script_args=(bodies, lengths,
                              '/tlsrpt/r' if put else '/tlsrpt',
                              'application/tlsrpt+gzip',
                              'PUT' if put else 'POST',
                              int(4000 / rate) if rate else 0),
                 worker=worker)


def latency(rate, conns, duration):
    return B.open_loop(MODULE_PORT, 'mta-sts.' + domain(1), rate, conns,
                       duration, B.CLIENT_CPU)


def status(fmt, timeout=300):
    """(seconds, body) of one status page"""
    return B.status_page(MODULE_PORT, 'status.' + ZONE,
                         '/status?format=' + fmt, timeout)


def loaded():
    """the summary has read the kept reports"""
    _, body = status('json')
    doms = json.loads(body)['domains']
    return not any(v.get('tlsrpt', {}).get('loading')
                   for v in doms.values())


def reports_counted():
    _, body = status('json')
    doms = json.loads(body)['domains']
    return sum(v['tlsrpt'].get('reports', 0) for v in doms.values()
               if isinstance(v.get('tlsrpt'), dict))


def renders(reps):
    out = {}
    for fmt in FORMATS:
        ts = []
        for _ in range(reps):
            t, body = status(fmt)
            ts.append(t)
        out[fmt] = {'seconds': ts, 'bytes': len(body)}
    return out


def main():
    reps = B.env_int('BENCH_ROUNDS', 5)
    dur = B.env_float('BENCH_DURATION', 2)
    nbodies = B.env_int('BENCH_TLSRPT_BODIES', 60000)
    kept = B.env_int('BENCH_TLSRPT_KEPT', 100000)
    lat_rate = B.env_int('BENCH_LATENCY_RATE', 2000)
    lat_conns = B.env_int('BENCH_LATENCY_CONNECTIONS', 8)
    lat_dur = B.env_float('BENCH_LATENCY_DURATION', 4)
    steady = B.env_int('BENCH_TLSRPT_RATE', 200)
    today = int(time.time() // 86400)

    d = B.fresh_dir(os.path.join(B.OUT, 'tlsrpt'))
    for sub in ('tmp', 'reports', 'limited', 'stored/tmp',
                'stored/tlsrpt/r'):
        os.makedirs(os.path.join(d, sub))
        os.chmod(os.path.join(d, sub), 0o777)     # the worker's user
    bodies, lengths, size = write_bodies(d, nbodies, today)
    B.check_ports([MODULE_PORT, STORE_PORT, LIMITED_PORT])

    ngx = B.Nginx(d, nginx_config(d), rt=1)
    res = {'accept': {'module': [], 'store': []}, 'idle': [],
           'flood': {'module': [], 'limited': [], 'store': [],
                     'steady': []},
           'stored_short': 0}
    store = {'module': os.path.join(d, 'reports'),
             'store': os.path.join(d, 'stored', 'tlsrpt', 'r'),
             'limited': os.path.join(d, 'limited')}
    port = {'module': MODULE_PORT, 'store': STORE_PORT,
            'limited': LIMITED_PORT}
    try:
        ngx.start(MODULE_PORT)
        worker = ngx.workers()[0]
        res['render_empty'] = renders(reps)

        for rnd in range(reps):
            order = ('module', 'store') if rnd % 2 == 0 \
                else ('store', 'module')
            for v in order:
                empty(store[v])
                r = flood(port[v], dur, bodies, lengths, worker)
                files = len(files_in(store[v]))
                r['files'] = files
                if r['non2xx'] or r['socket_errors']:
                    raise RuntimeError('%s: %s' % (v, r))
                if files < r['requests']:
                    res['stored_short'] += 1
                res['accept'][v].append(r)
            for what in (('idle', 'steady', 'limited') + order
                         if rnd % 2 == 0
                         else order + ('limited', 'steady', 'idle')):
                if what == 'idle':
                    res['idle'].append(latency(lat_rate, lat_conns,
                                               lat_dur))
                    continue
                empty(store.get(what, store['module']))
                out = {}
                th = threading.Thread(target=lambda: out.update(
                    flood(port.get(what, MODULE_PORT), lat_dur + 1, bodies,
                          lengths, rate=steady if what == 'steady'
                          else None)))
                th.start()
                time.sleep(0.5)
                lat = latency(lat_rate, lat_conns, lat_dur)
                th.join(120)
                lat['flood_rps'] = out.get('rps')
                lat['flood_non2xx'] = out.get('non2xx')
                res['flood'][what].append(lat)
            a = res['accept']
            B.log('tlsrpt %d: accept module %.0f/s store %.0f/s; policy '
                  'p99 idle %s us, %d reports/s %s us, module flood %s us, '
                  'limited flood %s us, store flood %s us'
                  % (rnd, a['module'][-1]['rps'], a['store'][-1]['rps'],
                     res['idle'][-1]['p99_us'], steady,
                     res['flood']['steady'][-1]['p99_us'],
                     res['flood']['module'][-1]['p99_us'],
                     res['flood']['limited'][-1]['p99_us'],
                     res['flood']['store'][-1]['p99_us']))
        ngx.stop()
        for v in store:
            aside(store[v])

        # the summary of many kept reports
        for v in store:
            empty(store[v])
        t0 = time.monotonic()
        keep_reports(store['module'], kept, today)
        res['kept_write_s'] = time.monotonic() - t0
        t0 = time.monotonic()
        ngx.start(MODULE_PORT)
        deadline = time.monotonic() + 600
        while not loaded():
            if time.monotonic() > deadline:
                raise RuntimeError('the kept reports are not read')
            time.sleep(0.05)
        res['load_s'] = time.monotonic() - t0
        res['kept_counted'] = reports_counted()
        if res['kept_counted'] != kept:
            raise RuntimeError('the summary counts %d reports, not %d'
                               % (res['kept_counted'], kept))
        worker = ngx.workers()[0]
        res['worker_rss_kb'] = B.memory(worker).get('rss_kb')
        res['render_kept'] = renders(reps)
        B.log('tlsrpt: %d kept reports read in %.2f s; json status %.3f s '
              '(%.3f s with none)'
              % (kept, res['load_s'],
                 B.median(res['render_kept']['json']['seconds']),
                 B.median(res['render_empty']['json']['seconds'])))
    finally:
        ngx.stop()

    log = ngx.error_log()
    res['error_log_crit'] = sum(1 for line in log.splitlines()
                                if '[crit]' in line or '[alert]' in line
                                or '[emerg]' in line)
    shutil.rmtree(store['module'], ignore_errors=True)
    for v in store:
        aside(store[v])
    B.write_json('tlsrpt.json', {
        'params': {'domains': DOMAINS, 'organizations': ORGS,
                   'bodies': nbodies, 'body_bytes': size, 'kept': kept,
                   'repeat': reps, 'duration_s': dur,
                   'connections': B.env_int('BENCH_CONNECTIONS', 32),
                   'rtprio': B.RTPRIO, 'latency_rate': lat_rate,
                   'steady_rate': steady,
                   'latency_connections': lat_conns,
                   'latency_duration_s': lat_dur,
                   'filesystem': subprocess.run(
                       ['stat', '-f', '-c', '%T', d], capture_output=True,
                       text=True).stdout.strip()},
        'results': res,
    })


if __name__ == '__main__':
    main()
