"""Publishing at scale: a reload that changes the policy of 10,000 domains,
and the time until BIND's named holds every new id, against nsupdate
sending the same updates from a file to the same named.

named (BIND 9, one worker thread, pinned to CLIENT_CPU) is the primary of
bench.test, whose N domains dI.bench.test each have a _mta-sts TXT record;
its update-policy lets the key change TXT records below the zone.  nginx
(one worker, pinned to SERVER_CPU) serves the N domains in one hosted
server with "mta_sts_publish server=... key=... zone=bench.test": a new
"mta_sts_id" changes the id of all of them.

Measured, interleaved in every repetition (the ids go on changing, each
run starting from what the previous one left in the zone):
  module    SIGHUP with a new id; the time from the signal until the error
            log has N "accepted the update to id ..." lines (each domain:
            a TXT query, then the UPDATE with its prerequisite, signed)
  nsupdate  nsupdate -k key FILE, the FILE holding for each domain the
            same update: prerequisite (the old record), delete it, add
            the new one, send: N messages, one after the other as nsupdate
            sends them
  latency   the open-loop client (bench/latency.c) asking for one policy
            at a fixed rate on SERVER_CPU, idle and during the module's
            publication (from the old worker's exit, when publishing
            starts, for BENCH_PUBLISH_WINDOW s, by default as long as the
            first publication took)
Output: build/bench/publish.json.
"""

import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

ZONE = 'bench.test'
DNS_PORT = B.PORT + 54
HTTP_PORT = B.PORT + 81
N = B.env_int('BENCH_PUBLISH_DOMAINS', 10000)
REPEAT = B.env_int('BENCH_REPEAT', 3)
RATE = B.env_int('BENCH_PUBLISH_RATE', 1000)
WINDOW = B.env_int('BENCH_PUBLISH_WINDOW', 0)
HOST = 'mta-sts.d1.' + ZONE


def domain(i):
    return 'd%d.%s' % (i, ZONE)


class Named:
    def __init__(self, d):
        self.dir = d
        r = subprocess.run(['tsig-keygen', '-a', 'hmac-sha256', 'bench-key'],
                           capture_output=True, text=True, check=True)
        self.key = os.path.join(d, 'bench.key')
        B.write_file(self.key, r.stdout, 0o600)
        rr = ['$ORIGIN %s.' % ZONE, '$TTL 300',
              '@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 60'
              % (ZONE, ZONE), '@ IN NS ns.%s.' % ZONE, 'ns IN A 127.0.0.1']
        rr += ['_mta-sts.d%d IN TXT "v=STSv1; id=pub0"' % i
               for i in range(1, N + 1)]
        B.write_file(os.path.join(d, ZONE + '.zone'), '\n'.join(rr) + '\n')
        B.write_file(os.path.join(d, 'named.conf'), """
include "%s";
options {
    directory "%s";
    pid-file "%s/named.pid";
    listen-on port %d { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion no;
    dnssec-validation no;
    notify no;
    max-journal-size 64m;
};
controls { };
logging {
    channel all { file "%s/named.log"; severity notice; };
    category default { all; };
};
zone "%s" {
    type primary;
    file "%s/%s.zone";
    update-policy { grant bench-key zonesub TXT; };
};
""" % (self.key, d, d, DNS_PORT, d, ZONE, d, ZONE))
        self.proc = None

    def start(self):
        with open(os.path.join(self.dir, 'named.stderr'), 'w') as err:
            self.proc = subprocess.Popen(
                B.pin(B.CLIENT_CPU, 1) + ['named', '-f', '-u', 'root',
                 '-n', '1', '-c', os.path.join(self.dir, 'named.conf')],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('named exited, see %s' % self.dir)
            if self.txt(domain(N)):
                return
            time.sleep(0.2)
        raise RuntimeError('named does not answer')

    def txt(self, name):
        r = subprocess.run(['dig', '+short', '+time=1', '+tries=1',
                            '-p', str(DNS_PORT), '@127.0.0.1',
                            '_mta-sts.' + name, 'TXT'],
                           capture_output=True, text=True)
        return r.stdout.strip()

    def cpu(self):
        return B.cpu_ticks(self.proc.pid) / B.TICK

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def nginx_config(d, key, pid):
    B.write_file(os.path.join(d, 'domains.txt'),
                 ''.join('%s;\n' % domain(i) for i in range(1, N + 1)))
    return B.nginx_conf(d, """
    server {
        listen 127.0.0.1:%d;
        server_name mta-sts.*;

        mta_sts on;
        mta_sts_mode enforce;
        mta_sts_mx *.mx.%s;
        mta_sts_id %s;
        mta_sts_publish server=127.0.0.1:%d key=%s zone=%s;

        mta_sts_domains {
            include %s/domains.txt;
        }
    }
""" % (HTTP_PORT, ZONE, pid, DNS_PORT, key, ZONE, d))


def published(ngx, pid, since):
    """lines of the error log after offset since that say pid went in"""
    path = os.path.join(ngx.dir, 'logs', 'error.log')
    with open(path, 'rb') as f:
        f.seek(since)
        return f.read().count(b'accepted the update to id ' + pid.encode())


def log_size(ngx):
    return os.path.getsize(os.path.join(ngx.dir, 'logs', 'error.log'))


def wait_published(ngx, pid, since, t0, timeout=900):
    while time.monotonic() - t0 < timeout:
        if published(ngx, pid, since) >= N:
            return time.monotonic() - t0
        time.sleep(0.02)
    raise RuntimeError('%d of %d domains published in %d s' % (
        published(ngx, pid, since), N, timeout))


def nsupdate(d, key, old, new):
    path = os.path.join(d, 'nsupdate.txt')
    with open(path, 'w') as f:
        f.write('server 127.0.0.1 %d\nzone %s.\n' % (DNS_PORT, ZONE))
        for i in range(1, N + 1):
            name = '_mta-sts.%s.' % domain(i)
            f.write('prereq yxrrset %s TXT "v=STSv1; id=%s"\n'
                    'update delete %s TXT "v=STSv1; id=%s"\n'
                    'update add %s 300 TXT "v=STSv1; id=%s"\nsend\n'
                    % (name, old, name, old, name, new))
    t0 = time.monotonic()
    r = subprocess.run(B.pin(B.SERVER_CPU) + ['nsupdate', '-k', key, path],
                       capture_output=True, text=True, timeout=900)
    t = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError('nsupdate: %s' % r.stderr[-2000:])
    return t


def main():
    d = B.fresh_dir(os.path.join(B.OUT, 'publish'))
    B.check_ports([DNS_PORT, HTTP_PORT])
    named = Named(os.path.join(d, 'named'))
    ngx = None
    res = {'params': {'domains': N, 'repeat': REPEAT, 'rate': RATE},
           'module': [], 'nsupdate': [], 'idle': [], 'during': []}
    try:
        named.start()
        seq = 0
        cur = 'pub0'
        ngx = B.Nginx(os.path.join(d, 'nginx'),
                      nginx_config(os.path.join(d, 'nginx'), named.key, cur),
                      rt=1)
        since = log_size(ngx) if os.path.exists(
            os.path.join(ngx.dir, 'logs', 'error.log')) else 0
        ngx.start(HTTP_PORT)
        # the first look finds every record current: no update
        time.sleep(1)

        # the latency window: as long as a publication takes (measured
        # once), at least 2 s
        window = WINDOW or 5
        adapt = not WINDOW

        for rep in range(REPEAT):
            res['idle'].append(B.open_loop(HTTP_PORT, HOST, RATE, 8,
                                           window, B.SERVER_CPU))

            seq += 1
            new = 'pub%d' % seq
            B.write_file(ngx.conf, nginx_config(ngx.dir, named.key, new))
            since = log_size(ngx)
            c0 = named.cpu()
            t0 = time.monotonic()
            lat = {}
            th = threading.Thread(target=lambda: lat.update(B.open_loop(
                HTTP_PORT, HOST, RATE, 8, window, B.SERVER_CPU)))
            # publishing starts once the old worker is gone: the latency
            # client too (the old worker closes its connections)
            ngx.reload(HTTP_PORT)
            th.start()
            t = wait_published(ngx, new, since, t0)
            th.join()
            res['module'].append({'seconds': t,
                                  'named_cpu_s': named.cpu() - c0})
            res['during'].append(lat)
            if adapt:
                window, adapt = max(2, int(t + 0.5)), False
            cur = new
            check = named.txt(domain(N))
            if ('id=%s' % cur) not in check:
                raise RuntimeError('named holds %r' % check)
            B.log('publish: module %.2f s (named CPU %.2f s), p99 %s us'
                  % (t, res['module'][-1]['named_cpu_s'], lat['p99_us']))

            seq += 1
            new = 'pub%d' % seq
            c0 = named.cpu()
            t = nsupdate(d, named.key, cur, new)
            res['nsupdate'].append({'seconds': t,
                                    'named_cpu_s': named.cpu() - c0})
            cur = new
            B.log('publish: nsupdate %.2f s' % t)

        res['errors'] = len(re.findall(r'\[(?:error|alert|crit|emerg)\]',
                                       ngx.error_log()))
    finally:
        if ngx:
            ngx.stop()
        named.stop()
    B.write_json('publish.json', res)


if __name__ == '__main__':
    main()
