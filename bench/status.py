"""Status round at scale: 10,000 domains against a local nsd.

nsd (one server process, response rate limiting off, pinned to CLIENT_CPU)
serves a zone with, for each of the N domains, the records a correct
deployment publishes: MX, mta-sts A, _mta-sts TXT, _smtp._tls TXT (no
AAAA: that query gets an empty answer).  nginx (one worker, pinned to
SERVER_CPU) serves the N domains in one hosted server with a status
location; "mta_sts_check_interval off", so rounds run only on request, and
no STARTTLS probes (off by default): a round is DNS only, 5 queries per
domain.

Measured, interleaved in every repetition:
  round     GET /status?refresh=1&format=json: the time until the answer
            (the refresh polls every 100 ms, so up to 0.1 s of it is
            waiting), and the queries per second that makes (5 N / time)
  render    GET /status?format=json without refresh: snapshot and
            rendering of the N results
  ceiling   dnsperf sending the same 5 N queries once to the same nsd,
            from SERVER_CPU as nginx would, with as many queries
            outstanding as the module has (32 domains x 5) and with more
  latency   the open-loop client (bench/latency.c) asking for one policy
            at a fixed rate; percentiles from the scheduled send time.
            The client shares SERVER_CPU with nginx: nsd, busy during a
            round, has the other core.  Two runs: "idle", no round; and
            one with refresh rounds, each followed by a gap of
            BENCH_ROUND_GAP seconds, whose samples are split by when they
            were due (split_samples): during the DNS part of a round,
            while the answer is rendered and sent, or in a gap (the idle
            baseline of the same run, which a noisy machine disturbs as
            much as the rounds)
nginx (its worker), nsd, dnsperf and the latency client run at the
real-time priority BENCH_RTPRIO (default 10; the client one above, so that
it gets the core whenever it has something to do, as on a core of its
own), so that other work on a shared machine does not preempt them: what
is measured is then how long the worker's own work holds requests up, and
nsd answers as steadily as on a core of its own.  BENCH_RTPRIO=0 runs them
as ordinary processes.
Output: build/bench/status.json.

BENCH_STATUS_DANE=1 measures the same with "mta_sts_check_dane on": nsd
also serves a root zone (so that the probe of the root's NS gets an
answer, without AD: nsd validates nothing) and a TLSA record for the MX
host that all the domains share.  A round then asks, for each domain, the
5 (the MX records with DO, once for the mx and the dane checks); and once
a round, since the module shares the answers of a round, ". NS",
"_25._tcp.mail.mx.<zone> TLSA" and "mail.mx.<zone>" A and AAAA with DO:
5 N + 4 queries.  The ceiling is dnsperf sending those with DO set
(dnsperf -D); "unshared" is dnsperf sending the 9 N queries a round would
make without sharing (the 4 for every domain), 160 outstanding.
Output: build/bench/status-dane.json.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

ZONE = 'bench.test'
NSD_PORT = B.PORT + 53
HTTP_PORT = B.PORT + 80
QTYPES = (('_mta-sts.', 'TXT'), ('_smtp._tls.', 'TXT'), ('', 'MX'),
          ('mta-sts.', 'A'), ('mta-sts.', 'AAAA'))
DANE = os.environ.get('BENCH_STATUS_DANE', '0') == '1'
TLSA = '3 1 1 ' + '8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1'


def queries(i, shared=True):
    """the queries of a round for domain i, as dnsperf lines; without
    "shared", also those a round asks once for all domains"""
    q = ['%s%s %s' % (pre, domain(i), t) for pre, t in QTYPES]
    if not shared:
        q += shared_queries()
    return q


def shared_queries():
    """the queries a DANE round asks once: the domains share an MX host"""
    return ['. NS', '_25._tcp.mail.mx.%s TLSA' % ZONE, 'mail.mx.%s A' % ZONE,
            'mail.mx.%s AAAA' % ZONE] if DANE else []


def domain(i):
    return 'd%d.%s' % (i, ZONE)


def txt_answers(name):
    """the number of answers nsd gives to a TXT query, 0 on no answer"""
    q = struct.pack('>HHHHHH', 0x4242, 0, 1, 0, 0, 0)
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\0' + struct.pack('>HH', 16, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        s.sendto(q, ('127.0.0.1', NSD_PORT))
        a = s.recv(4096)
    except OSError:
        return 0
    finally:
        s.close()
    return struct.unpack('>H', a[6:8])[0] if a[:2] == q[:2] else 0


class Nsd:
    def __init__(self, d, n):
        self.dir = d
        rr = ['$ORIGIN %s.' % ZONE, '$TTL 60',
              '@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 60'
              % (ZONE, ZONE),
              '@ IN NS ns.%s.' % ZONE, 'ns IN A 127.0.0.1',
              'mail.mx IN A 127.0.0.1'] + (
                  ['_25._tcp.mail.mx IN TLSA %s' % TLSA] if DANE else [])
        for i in range(1, n + 1):
            rr += ['d%d IN MX 10 mail.mx' % i,
                   'mta-sts.d%d IN A 127.0.0.1' % i,
                   '_mta-sts.d%d IN TXT "v=STSv1; id=bench1"' % i,
                   '_smtp._tls.d%d IN TXT "v=TLSRPTv1; rua=mailto:r@%s"'
                   % (i, ZONE)]
        B.write_file(os.path.join(d, ZONE + '.zone'), '\n'.join(rr) + '\n')
        B.write_file(os.path.join(d, 'nsd.conf'), """server:
	ip-address: 127.0.0.1@%d
	zonesdir: "%s"
	database: ""
	username: ""
	chroot: ""
	pidfile: "%s/nsd.pid"
	logfile: "%s/nsd.log"
	xfrdfile: "%s/xfrd.state"
	xfrdir: "%s"
	zonelistfile: "%s/zone.list"
	verbosity: 1
	server-count: 1
	hide-version: yes
	# response rate limiting would drop answers to our only client
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: no
zone:
	name: "%s"
	zonefile: "%s.zone"
""" % (NSD_PORT, d, d, d, d, d, d, ZONE, ZONE) + ("""zone:
	name: "."
	zonefile: "root.zone"
""" if DANE else ''))
        if DANE:
            B.write_file(os.path.join(d, 'root.zone'), '\n'.join([
                '$ORIGIN .', '$TTL 60',
                '. IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 60'
                % (ZONE, ZONE), '. IN NS ns.%s.' % ZONE]) + '\n')
        self.proc = None

    def start(self):
        with open(os.path.join(self.dir, 'nsd.stderr'), 'w') as err:
            self.proc = subprocess.Popen(
                B.pin(B.CLIENT_CPU, 1) + ['nsd', '-d', '-c',
                 os.path.join(self.dir, 'nsd.conf')],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('nsd exited, see %s' % self.dir)
            if txt_answers('_mta-sts.' + domain(1)):
                return
            time.sleep(0.2)
        raise RuntimeError('nsd does not answer')

    def pids(self):
        out, todo = [], [self.proc.pid]
        while todo and len(out) < 64:
            p = todo.pop()
            out.append(p)
            todo += B.children(p)
        return out

    def cpu(self):
        t = 0
        for p in self.pids():
            try:
                t += B.cpu_ticks(p)
            except OSError:
                pass
        return t

    def stop(self):
        if self.proc and self.proc.poll() is None:
            procs = self.pids()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
            for p in procs:
                if B.alive(p):
                    os.kill(p, signal.SIGKILL)
            if self.proc.poll() is None:
                self.proc.wait(10)


def nginx_config(d, n):
    B.write_file(os.path.join(d, 'domains.txt'),
                 ''.join('%s;\n' % domain(i) for i in range(1, n + 1)))
    return B.nginx_conf(d, """
    mta_sts_resolver 127.0.0.1:%d timeout=2s attempts=3;
    mta_sts_check_interval off;
    mta_sts_check_dane %s;

    server {
        listen 127.0.0.1:%d;
        server_name mta-sts.*;

        mta_sts on;
        mta_sts_mode enforce;
        mta_sts_mx *.mx.%s;
        mta_sts_id bench1;
        mta_sts_tlsrpt_rua mailto:r@%s;

        mta_sts_domains {
            include %s/domains.txt;
        }

        location = /status {
            mta_sts_status;
        }
    }
""" % (NSD_PORT, 'on' if DANE else 'off', HTTP_PORT, ZONE, ZONE, d))


def status(refresh, timeout=300, marks=None):
    """(seconds, body) of one status request; with marks (a list), also
    appends (sent, first byte, done) in wall-clock seconds"""
    path = '/status?format=json' + ('&refresh=1' if refresh else '')
    return B.status_page(HTTP_PORT, 'status.' + ZONE, path, timeout, marks)


def tally(body):
    """how many domains, by status"""
    data = json.loads(body)
    doms = data.get('domains', {})
    items = doms.values() if isinstance(doms, dict) else doms
    out = {}
    for v in items:
        s = v.get('status', '?') if isinstance(v, dict) else '?'
        out[s] = out.get(s, 0) + 1
    return out


def dnsperf(qfile, outstanding):
    r = subprocess.run(B.pin(B.SERVER_CPU, 1) + ['dnsperf', '-s',
                        '127.0.0.1', '-p', str(NSD_PORT), '-d', qfile,
                        '-n', '1', '-c', '1', '-q', str(outstanding),
                        '-t', '5'] + (['-D'] if DANE else []),
                       capture_output=True, text=True, timeout=300)
    out = r.stdout
    res = {'outstanding': outstanding}
    for key, label in (('sent', 'Queries sent:'),
                       ('completed', 'Queries completed:'),
                       ('lost', 'Queries lost:'),
                       ('run_s', 'Run time (s):'),
                       ('qps', 'Queries per second:')):
        for line in out.splitlines():
            line = line.strip()
            if line.startswith(label):
                res[key] = float(line[len(label):].split()[0])
    if 'qps' not in res:
        raise RuntimeError('dnsperf: %s\n%s' % (out, r.stderr))
    return res


def latency(rate, conns, duration, samples=None):
    """the open-loop client, on the core of nginx (the other one runs
    nsd); with samples (a path), every sample is written there"""
    return B.open_loop(HTTP_PORT, 'mta-sts.' + domain(1), rate, conns,
                       duration, B.SERVER_CPU, samples)


def rounds_during(duration, marks, gap):
    """refresh rounds for about duration seconds (at most 50), each
    followed by gap seconds of nothing"""
    deadline = time.monotonic() + duration
    for _ in range(50):
        if time.monotonic() >= deadline:
            break
        status(True, marks=marks)
        time.sleep(gap)


def percentile(xs, q):
    xs = sorted(xs)
    return xs[int(q * (len(xs) - 1))] if xs else None


def read_samples(path):
    with open(path) as f:
        start = float(f.readline().split(':')[1])
        return [(start + float(a), float(b))
                for a, b in (line.split() for line in f)]


def stats(xs):
    return {'n': len(xs), 'p50_us': percentile(xs, 0.5),
            'p99_us': percentile(xs, 0.99), 'max_us': max(xs) if xs else None}


def split_samples(path, marks, render_s):
    """the samples of a run with rounds, by when they were due:
         round   from the refresh request to its answer, less the time to
                 render it (render_s) and 0.1 s more (the refresh notices
                 the end of the round up to 100 ms late)
         render  from there to the end of the answer, and 0.1 s more
         gap     from there to the next refresh: no round, the idle
                 baseline of the same run"""
    cats = {'round': [], 'render': [], 'gap': []}
    marks = sorted(marks)
    for t, lat in read_samples(path):
        for i, (sent, first, done) in enumerate(marks):
            nxt = marks[i + 1][0] if i + 1 < len(marks) else float('inf')
            if t < sent:
                break
            if t < first - render_s - 0.1:
                cats['round'].append(lat)
                break
            if t < done + 0.1:
                cats['render'].append(lat)
                break
            if t < nxt:
                cats['gap'].append(lat)
                break
    return {k: stats(v) for k, v in cats.items()}


def main():
    n = B.env_int('BENCH_STATUS_DOMAINS', 10000)
    reps = B.env_int('BENCH_ROUNDS', 5)
    lat_rate = B.env_int('BENCH_LATENCY_RATE', 2000)
    lat_conns = B.env_int('BENCH_LATENCY_CONNECTIONS', 8)
    lat_dur = B.env_float('BENCH_LATENCY_DURATION', 6)
    gap = B.env_float('BENCH_ROUND_GAP', 0.5)
    outstanding = [int(x) for x in os.environ.get(
        'BENCH_DNSPERF_OUTSTANDING', '160,1000').split(',')]

    d = B.fresh_dir(os.path.join(B.OUT, 'status'))
    nd = os.path.join(d, 'nsd')
    os.makedirs(nd)
    os.makedirs(os.path.join(d, 'tmp'))
    qfile = os.path.join(d, 'queries.txt')
    lines = shared_queries() + [q for i in range(1, n + 1)
                                for q in queries(i)]
    total = len(lines)
    B.write_file(qfile, ''.join('%s\n' % q for q in lines))
    ufile = os.path.join(d, 'queries-unshared.txt')
    if DANE:
        B.write_file(ufile, ''.join('%s\n' % q for i in range(1, n + 1)
                                    for q in queries(i, False)))
    B.check_ports([NSD_PORT, HTTP_PORT])

    nsd = Nsd(nd, n)
    ngx = B.Nginx(d, nginx_config(d, n), rt=1)
    res = {'rounds': [], 'render_s': [], 'dnsperf': [], 'idle': [],
           'during': [], 'dnsperf_unshared': []}
    try:
        nsd.start()
        ngx.start(HTTP_PORT)
        worker = ngx.workers()[0]
        st, _, body = B.http_get(HTTP_PORT, 'mta-sts.' + domain(n))
        if st != 200:
            raise RuntimeError('policy answered %s' % st)

        # a first round fills the zone; then the measured repetitions
        t, body = status(True)
        res['first_round_s'] = t
        res['tally_first'] = tally(body)
        B.log('status first round %.2f s %s' % (t, res['tally_first']))
        for q in outstanding:
            dnsperf(qfile, q)

        for rep in range(reps):
            c0, n0 = B.cpu_ticks(worker), nsd.cpu()
            t, body = status(True)
            c1, n1 = B.cpu_ticks(worker), nsd.cpu()
            res['rounds'].append({
                'seconds': t, 'qps': total / t,
                'worker_cpu_s': (c1 - c0) / B.TICK,
                'nsd_cpu_s': (n1 - n0) / B.TICK})
            res['tally'] = tally(body)
            t, _ = status(False)
            res['render_s'].append(t)
            for q in outstanding:
                p = dnsperf(qfile, q)
                p['rep'] = rep
                res['dnsperf'].append(p)
            if DANE:
                p = dnsperf(ufile, outstanding[0])
                p['rep'] = rep
                res['dnsperf_unshared'].append(p)
            for what in (('idle', 'rounds') if rep % 2 == 0
                         else ('rounds', 'idle')):
                if what == 'idle':
                    res['idle'].append(latency(lat_rate, lat_conns,
                                               lat_dur))
                    continue
                marks = []
                th = threading.Thread(target=rounds_during,
                                      args=(lat_dur, marks, gap))
                th.start()
                samples = os.path.join(d, 'samples-%d.txt' % rep)
                lat = latency(lat_rate, lat_conns, lat_dur + 0.5, samples)
                th.join(600)
                lat['marks'] = marks
                lat['split'] = split_samples(samples, marks,
                                             B.median(res['render_s']))
                res['during'].append(lat)
            r = res['rounds'][-1]
            sp = res['during'][-1]['split']
            B.log('status %d: round %.2f s (%.0f q/s), render %.3f s, '
                  'dnsperf %s q/s%s; policy p99 idle %.0f us; in the run '
                  'with rounds: during rounds %s us, rendering %s us, '
                  'between rounds %s us'
                  % (rep, r['seconds'], r['qps'], res['render_s'][-1],
                     ' '.join('%.0f' % p['qps'] for p in res['dnsperf']
                              if p['rep'] == rep),
                     ' (%d queries in %.2f s; unshared %d in %.2f s)'
                     % (total, total / res['dnsperf'][-len(outstanding)]
                        ['qps'], 9 * n, 9 * n
                        / res['dnsperf_unshared'][-1]['qps'])
                     if DANE else '',
                     res['idle'][-1]['p99_us'], sp['round']['p99_us'],
                     sp['render']['p99_us'], sp['gap']['p99_us']))
    finally:
        ngx.stop()
        nsd.stop()

    log = ngx.error_log()
    res['error_log_crit'] = sum(1 for line in log.splitlines()
                                if '[crit]' in line or '[alert]' in line
                                or '[emerg]' in line)
    B.write_json('status-dane.json' if DANE else 'status.json', {
        'params': {'domains': n, 'queries_per_round': total,
                   'dane': DANE,
                   'rtprio': B.RTPRIO, 'nice': B.NICE,
                   'repeat': reps, 'latency_rate': lat_rate,
                   'latency_connections': lat_conns,
                   'latency_duration_s': lat_dur, 'round_gap_s': gap,
                   'dnsperf_outstanding': outstanding,
                   'module_inflight_domains': 32},
        'results': res,
    })


if __name__ == '__main__':
    main()
