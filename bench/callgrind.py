"""Instructions per request, counted by valgrind's callgrind.

nginx runs in one process ("master_process off; daemon off;") under
callgrind with the HTTP servers of serve.py (module, return, static, one
port each).  A small client sends N requests to one variant, then nginx is
stopped with SIGQUIT and callgrind writes the instructions executed by the
whole process (start-up, the N requests, shutdown).

Start-up and shutdown cost the same whatever N, so two runs with N1 and N2
requests give the cost of one request as

    (I(N2) - I(N1)) / (N2 - N1)

which also cancels the readiness probe (one TCP connection) and, for
keep-alive, the one connection of the client.  Modes:

  keepalive  one connection, N requests one after the other
  close      N connections, one request each with "Connection: close"
             (the per-request figure then includes accept and close)

Each (variant, mode, N) is run BENCH_CG_REPEAT times; the median is used.
Instruction counts depend neither on CPU speed nor on other processes,
which makes them the stable comparison on a noisy machine.
Output: build/bench/callgrind.json, and callgrind_annotate listings of the
N2 keep-alive runs in build/bench/callgrind/.
"""

import glob
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402
import serve  # noqa: E402
import scale  # noqa: E402

REQ = ('GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n')


def client(port, n, close, domains=0):
    """n requests, each answered 200 with the policy body; with domains,
    each for a random one of mta-sts.d1.bench.test .. dN (fixed seed)"""
    req = (REQ % (B.PATH, serve.HOST,
                  'Connection: close\r\n' if close else '')).encode()
    rnd = random.Random(8461)

    def one(s, buf):
        if domains:
            s.sendall((REQ % (B.PATH, 'mta-sts.d%d.bench.test'
                              % rnd.randint(1, domains), '')).encode())
        else:
            s.sendall(req)
        while True:
            h = buf.find(b'\r\n\r\n')
            if h >= 0:
                head = buf[:h].decode()
                m = re.search(r'(?im)^content-length:\s*(\d+)', head)
                end = h + 4 + int(m.group(1))
                if len(buf) >= end:
                    if not head.startswith('HTTP/1.1 200 ') \
                       or buf[h + 4:end].decode() != B.BODY:
                        raise SystemExit('callgrind client: bad response')
                    return buf[end:]
            d = s.recv(65536)
            if not d:
                raise SystemExit('callgrind client: connection closed')
            buf += d

    if close:
        for _ in range(n):
            s = socket.create_connection(('127.0.0.1', port), 30)
            one(s, b'')
            s.close()
    else:
        s = socket.create_connection(('127.0.0.1', port), 30)
        buf = b''
        for _ in range(n):
            buf = one(s, buf)
        s.close()


def run(d, conf, port, n, close, tag, domains=0, cache=False):
    """nginx under callgrind, n requests: total instructions (Ir), or with
    cache, a dict of all the events of the cache simulation"""
    for f in glob.glob(os.path.join(d, 'callgrind.out.*')):
        os.unlink(f)
    out = os.path.join(d, 'callgrind.out.%s' % tag)
    cmd = ['taskset', '-c', B.SERVER_CPU, 'valgrind', '--tool=callgrind',
           '--callgrind-out-file=' + out, '--dump-instr=no'] \
        + (['--cache-sim=yes'] if cache else []) \
        + [B.NGINX, '-p', d + '/', '-c', conf]
    with open(os.path.join(d, 'valgrind.log'), 'w') as logf:
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not B.wait_port(port, 0.2):
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('nginx under valgrind does not listen, '
                                   'see %s/valgrind.log' % d)
        if n:
            client(port, n, close, domains)
        # a signal that lands just before epoll_wait() is only seen at the
        # next event: repeat it until nginx is gone
        for _ in range(60):
            p.send_signal(signal.SIGQUIT)
            try:
                p.wait(2)
                break
            except subprocess.TimeoutExpired:
                pass
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    events = None
    with open(out) as f:
        for line in f:
            if line.startswith('events:'):
                events = line.split()[1:]
            if line.startswith('summary:') or line.startswith('totals:'):
                values = [int(x) for x in line.split()[1:]]
                if cache:
                    return dict(zip(events, values)), out
                return values[0], out
    raise RuntimeError('no totals in ' + out)


def annotate(path, dest):
    r = subprocess.run(['callgrind_annotate', '--inclusive=yes',
                        '--threshold=100', path],
                       capture_output=True, text=True, timeout=120)
    B.write_file(dest, r.stdout)
    return r.stdout


def function_cost(listing, name):
    """inclusive Ir of a function in a callgrind_annotate listing"""
    for line in listing.splitlines():
        m = re.match(r'\s*([\d,]+)\s+\([^)]*\)\s+\S*:(\S+?)(?:\s|$)', line)
        if m and m.group(2) == name:
            return int(m.group(1).replace(',', ''))
    return 0


def main():
    n1 = B.env_int('BENCH_CG_N1', 1000)
    n2 = B.env_int('BENCH_CG_N2', 4000)
    repeat = B.env_int('BENCH_CG_REPEAT', 3)

    d = B.fresh_dir(os.path.join(B.OUT, 'callgrind'))
    serve.setup_html(d)
    os.makedirs(os.path.join(d, 'logs'))
    conf = serve.config(d, 'master_process off;\ndaemon off;',
                        protocols=('http',))
    conf_path = os.path.join(d, 'nginx.conf')
    B.write_file(conf_path, conf)
    B.check_ports([serve.PORTS[('http', v)] for v in serve.VARIANTS])

    # one function of the module, and what "return" and static run instead
    funcs = ('ngx_http_mtasts_handler', 'ngx_http_rewrite_handler',
             'ngx_http_static_handler', 'ngx_http_core_find_location',
             'ngx_http_process_request_headers', 'ngx_http_output_filter')

    results = []
    for mode in ('keepalive', 'close'):
        for v in serve.VARIANTS:
            port = serve.PORTS[('http', v)]
            totals = {n1: [], n2: []}
            for rep in range(repeat):
                for n in (n1, n2):
                    ir, path = run(d, conf_path, port, n, mode == 'close',
                                   '%s-%s-%d-%d' % (mode, v, n, rep))
                    totals[n].append(ir)
                    if n == n2 and rep == 0 and mode == 'keepalive':
                        listing = annotate(path, os.path.join(
                            d, 'annotate-%s.txt' % v))
                        fc = {f: function_cost(listing, f) / n2
                              for f in funcs}
                    os.unlink(path)
            per = [(b - a) / (n2 - n1) for a, b in zip(totals[n1],
                                                       totals[n2])]
            r = {'mode': mode, 'variant': v, 'n1': n1, 'n2': n2,
                 'totals_n1': totals[n1], 'totals_n2': totals[n2],
                 'per_request': per,
                 'per_request_median': B.median(per)}
            if mode == 'keepalive':
                r['functions_per_request'] = fc
            results.append(r)
            B.log('callgrind %-9s %-6s %8.0f instructions/request %s'
                  % (mode, v, r['per_request_median'],
                     ['%.0f' % x for x in per]))

    lookups = lookup_costs(n1, n2)

    B.write_json('callgrind.json', {
        'params': {'n1': n1, 'n2': n2, 'repeat': repeat},
        'results': results,
        'lookups': lookups,
    })


def lookup_costs(n1, n2):
    """the hosted configurations of scale.py with 1 and with many domains,
    each request for a random one: instructions, and the last-level cache
    misses of callgrind's simulated caches, per request"""
    counts = [int(x) for x in os.environ.get(
        'BENCH_CG_DOMAINS', '1,100000').split(',')]
    out = []
    for impl in scale.IMPLS:
        for n in counts:
            port = B.PORT + 90
            d = B.fresh_dir(os.path.join(B.OUT, 'callgrind',
                                         'hosted-%s-%d' % (impl, n)))
            os.makedirs(os.path.join(d, 'logs'))
            os.makedirs(os.path.join(d, 'tmp'))
            conf = scale.config(d, 'hosted', impl, n, port).replace(
                'worker_processes 1;', 'master_process off;\ndaemon off;')
            path = os.path.join(d, 'nginx.conf')
            B.write_file(path, conf)
            B.check_ports([port])
            ev = {}
            for k in (n1, n2):
                ev[k], f = run(d, path, port, k, False, '%s-%d-%d'
                               % (impl, n, k), domains=n, cache=True)
                os.unlink(f)
            per = {e: (ev[n2][e] - ev[n1][e]) / (n2 - n1) for e in ev[n2]}
            out.append({'impl': impl, 'domains': n, 'per_request': per})
            B.log('callgrind hosted %-6s %6d domains: %.0f instructions, '
                  '%.2f LL misses per request'
                  % (impl, n, per.get('Ir', 0),
                     per.get('DLmr', 0) + per.get('DLmw', 0)
                     + per.get('ILmr', 0)))
    return out


if __name__ == '__main__':
    main()
