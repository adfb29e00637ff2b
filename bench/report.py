"""docs/performance.md from the results in build/bench/*.json."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

DOC = os.path.join(B.TOP, 'docs', 'performance.md')


def load(name):
    try:
        with open(os.path.join(B.OUT, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def med(xs):
    return B.median(xs)


def ratio(a, b):
    return a / b if a is not None and b else None


def fnum(x, digits=0):
    if x is None:
        return '–'
    return '{:,.{}f}'.format(x, digits)


def fr(x):
    return '–' if x is None else '%.3f' % x


def fms(seconds, digits=2):
    return '–' if seconds is None else '%.*f' % (digits, seconds * 1e3)


def fmb(kb):
    return '–' if kb is None else '%.1f' % (kb / 1024)


def rng(xs, f):
    xs = [x for x in xs if x is not None]
    if not xs:
        return '–'
    return '%s–%s' % (f(min(xs)), f(max(xs)))


def verdict(ok):
    return {True: '**met**', False: '**missed**', None: ''}[ok]


class Doc:
    def __init__(self):
        self.lines = []
        self.goals = []

    def p(self, *lines):
        self.lines.extend(lines)

    def table(self, head, rows):
        self.p('| ' + ' | '.join(head) + ' |',
               '|' + '|'.join('---' for _ in head) + '|')
        for r in rows:
            self.p('| ' + ' | '.join(str(c) for c in r) + ' |')
        self.p('')

    def goal(self, what, target, measured, ok):
        self.goals.append((what, target, measured, verdict(ok)))


# --------------------------------------------------------------------------

def machine_section(doc, m):
    parts = (m or {}).get('parts', {})
    first = None
    for name in ('serve', 'callgrind', 'scale', 'status'):
        if name in parts:
            first = parts[name]['before']
            break
    doc.p('## Machine', '')
    if not first:
        doc.p('No results yet: run `make bench`.', '')
        return
    pk = first.get('packages', {})
    doc.table(['', ''], [
        ['CPU', '%s, %s cores' % (first['cpu'], first['cores'])],
        ['memory', '%s MB' % fnum(first['memory_mb'])],
        ['system', 'Debian %s, Linux %s' % (first['debian'],
                                            first['kernel'])],
        ['nginx', 'nginx %s (Debian nginx-core %s)'
         % (first['nginx'], pk.get('nginx-core'))],
        ['tools', 'wrk %s, valgrind %s, nsd %s, dnsperf %s, c-ares %s, '
         'OpenSSL %s' % tuple(pk.get(p) for p in (
             'wrk', 'valgrind', 'nsd', 'dnsperf', 'libc-ares2', 'openssl'))],
        ['module', 'commit %s%s' % (first['commit'],
                                    ' with uncommitted changes'
                                    if first['tree_modified'] else '')],
    ])
    rows = []
    for name in ('serve', 'callgrind', 'scale', 'status', 'tlsrpt',
                 'publish', 'dane'):
        if name not in parts:
            continue
        pt = parts[name]
        busy = pt.get('cpu_busy_before', {})
        after = pt.get('cpu_busy_after', {})
        b = pt['before']
        rows.append([name, b['date'],
                     '%s%s' % (b.get('commit'),
                               ' (modified)' if b.get('tree_modified')
                               else ''),
                     fnum(pt.get('seconds')),
                     ' / '.join('%.2f' % x for x in pt['before']['loadavg']),
                     ', '.join('%s %d%%' % (c, 100 * v)
                               for c, v in sorted(busy.items())),
                     ', '.join('%s %d%%' % (c, 100 * v)
                               for c, v in sorted(after.items()))])
    doc.p('When each part ran, the commit it measured (`bench/run` with '
          'some parts runs them again), and the load of the machine from '
          'other processes just before and after it (cores busy over 2 s '
          'while the benchmark was idle; the load average includes it):',
          '')
    doc.table(['part', 'started', 'commit', 'seconds', 'load average',
               'other load before', 'after'], rows)


# --------------------------------------------------------------------------

def serve_section(doc, s, cg):
    doc.p('## 1. Policy serving', '')
    if not s:
        doc.p('Not run.', '')
        return
    pr = s['params']
    doc.p('One nginx, `worker_processes 1`, pinned to core %s, serves the '
          'same 97-byte policy from three servers, each alone on its '
          'own port (so nginx picks the server without a name lookup in '
          'each variant), plain and TLS (P-256 certificate):'
          % pr['server_cpu'], '',
          '- **module**: `mta_sts on;` with the policy directives;',
          '- **return**: `location = /.well-known/mta-sts.txt { return 200 '
          '"<body>"; }` with `default_type text/plain`;',
          '- **static**: `root` holding `.well-known/mta-sts.txt`, '
          '`open_file_cache max=16 inactive=1h; open_file_cache_valid 1h;`'
          ' and `sendfile on`.', '',
          'All three send the same body with the same `Content-Type`; '
          'the static file adds `Last-Modified`, `ETag` and '
          '`Accept-Ranges`. `access_log off` and `keepalive_requests '
          '1000000` everywhere. wrk runs on core %s:' % pr['client_cpu'], '',
          '```',
          'taskset -c %s wrk -t1 -c%d -d%gs --latency -H "Host: '
          'mta-sts.example.com" [-H "Connection: close"] '
          'http[s]://127.0.0.1:PORT/.well-known/mta-sts.txt'
          % (pr['client_cpu'], pr['connections'], pr['duration_s']),
          '```', '',
          '%d rounds; in each round, each group (protocol, connection mode) '
          'runs its three variants back to back in an order rotated every '
          'round. Figures are medians over the rounds with the range '
          '(min–max); the ratio to `return` is the median of the ratios of '
          'the same round, which cancels slow drifts of the machine\'s '
          'load. "CPU/req" is the time the worker ran (schedstat) over the '
          'run divided by the requests; "capacity ÷ return" is return\'s '
          'CPU/req divided by the variant\'s in the same round: the '
          'throughput ratio the worker would show on a core of its own, '
          'which time taken by other processes does not move.'
          % pr['rounds'], '')

    groups = [('http', 'keepalive'), ('http', 'close'),
              ('https', 'keepalive'), ('https', 'close')]
    rows = []
    runs = s['runs']
    for proto, mode in groups:
        g = [r for r in runs if r['protocol'] == proto and r['mode'] == mode]
        if not g:
            continue
        by = {}
        for r in g:
            by.setdefault(r['variant'], {})[r['round']] = r
        for v in ('module', 'return', 'static'):
            rs = list(by.get(v, {}).values())
            rps = [r['rps'] for r in rs]
            p99 = [r['p99'] for r in rs]
            cpu = [r.get('cpu_us_per_request') for r in rs]
            ratios = [ratio(by[v][k]['rps'], by['return'][k]['rps'])
                      for k in by.get(v, {}) if k in by.get('return', {})]
            p99r = [ratio(by[v][k]['p99'], by['return'][k]['p99'])
                    for k in by.get(v, {}) if k in by.get('return', {})]
            caps = [ratio(by['return'][k].get('cpu_us_per_request'),
                          by[v][k].get('cpu_us_per_request'))
                    for k in by.get(v, {}) if k in by.get('return', {})]
            bad = sum(r['non2xx'] + r['socket_errors'] for r in rs)
            rows.append(['%s %s' % (proto.upper() if proto == 'http'
                                    else 'HTTPS',
                                    'keep-alive' if mode == 'keepalive'
                                    else 'close'),
                         v, fnum(med(rps)), rng(rps, fnum),
                         fr(med(ratios)) if v != 'return' else '1',
                         rng(ratios, fr) if v != 'return' else '',
                         fms(med(p99)), rng(p99, fms),
                         fr(med(p99r)) if v != 'return' else '1',
                         '%.2f' % med(cpu) if med(cpu) else '–',
                         fr(med(caps)) if v != 'return' else '1',
                         rng(caps, fr) if v != 'return' else '',
                         bad])
            if v == 'module':
                m = med(ratios)
                doc.goal('throughput, %s %s: wrk req/s'
                         % (proto.upper(), mode),
                         '≥ 0.97 × return',
                         '%s (range %s)' % (fr(m), rng(ratios, fr)),
                         None if m is None else m >= 0.97)
                c = med(caps)
                doc.goal('throughput, %s %s: capacity (return\'s CPU/req '
                         '÷ module\'s)' % (proto.upper(), mode),
                         '≥ 0.97',
                         '%s (range %s)' % (fr(c), rng(caps, fr)),
                         None if c is None else c >= 0.97)
    doc.table(['load', 'variant', 'req/s', 'range', '÷ return', 'range',
               'p99 ms', 'range', 'p99 ÷ return', 'CPU/req µs',
               'capacity ÷ return', 'range', 'errors'], rows)

    doc.p('### Instructions per request (callgrind)', '')
    if not cg:
        doc.p('Not run.', '')
        return
    cp = cg['params']
    doc.p('nginx runs as one process (`master_process off; daemon off;`) '
          'under `valgrind --tool=callgrind` with the plain-HTTP servers '
          'above. A client sends N requests to one variant, then nginx '
          'gets SIGQUIT and callgrind counts every instruction the process '
          'executed. Start-up, shutdown and the readiness probe cost the '
          'same whatever N, so two runs give the cost of one request:', '',
          '```',
          'per request = (I(N2) − I(N1)) / (N2 − N1),   N1 = %d, N2 = %d'
          % (cp['n1'], cp['n2']),
          'taskset -c 0 valgrind --tool=callgrind --dump-instr=no '
          'nginx -p DIR/ -c DIR/nginx.conf',
          '```', '',
          'keep-alive: one connection, the N requests one after the other; '
          'close: N connections of one request each (accept and close '
          'included). Each figure is the median of %d pairs of runs '
          '(instruction counts barely move between runs: the range is '
          'shown).' % cp['repeat'], '')
    res = cg['results']
    rows = []
    for mode in ('keepalive', 'close'):
        by = {r['variant']: r for r in res if r['mode'] == mode}
        if not by:
            continue
        ret = by.get('return', {}).get('per_request_median')
        row = ['keep-alive' if mode == 'keepalive' else 'close']
        for v in ('module', 'return', 'static'):
            r = by.get(v)
            row.append('%s (%s)' % (fnum(r['per_request_median']),
                                    rng(r['per_request'], fnum))
                       if r else '–')
        mod = by.get('module', {}).get('per_request_median')
        row.append(fr(ratio(mod, ret)))
        rows.append(row)
        doc.goal('instructions per request, %s' % row[0], '≤ return',
                 '%s vs %s (%s)' % (fnum(mod), fnum(ret),
                                    fr(ratio(mod, ret))),
                 None if mod is None or ret is None else mod <= ret)
    doc.table(['connections', 'module', 'return', 'static',
               'module ÷ return'], rows)
    ka = {r['variant']: r.get('functions_per_request', {})
          for r in res if r['mode'] == 'keepalive'}
    if ka.get('module'):
        doc.p('Where the instructions go (keep-alive, inclusive cost per '
              'request from `callgrind_annotate --inclusive=yes`, listings '
              'in `build/bench/callgrind/`):', '')
        funcs = sorted({f for v in ka.values() for f in v})
        doc.table(['function'] + [v for v in ('module', 'return', 'static')
                                  if v in ka],
                  [['`%s`' % f] + [fnum(ka[v].get(f))
                                   for v in ('module', 'return', 'static')
                                   if v in ka] for f in funcs])


# --------------------------------------------------------------------------

def lookup_table(doc, cg):
    lk = (cg or {}).get('lookups')
    if not lk:
        return
    cp = cg['params']
    doc.p('The same hosted configurations under callgrind (as in part 1, '
          'with `--cache-sim=yes`; N1 = %d, N2 = %d requests, each for a '
          'random domain among the N): instructions and simulated L1 data '
          'cache misses per request. The last-level cache callgrind '
          'simulates is this machine\'s L3 (260 MB), so it misses nothing: '
          'its L2 is 2 MB per core.' % (cp['n1'], cp['n2']), '')
    rows = []
    base = {}
    for r in lk:
        pr = r['per_request']
        if r['domains'] == 1:
            base[r['impl']] = pr['Ir']
    for r in lk:
        pr = r['per_request']
        rows.append([r['impl'], fnum(r['domains']), fnum(pr['Ir']),
                     fr(ratio(pr['Ir'], base.get(r['impl']))),
                     '%.2f' % max(0, pr.get('D1mr', 0) + pr.get('D1mw', 0)),
                     '%.2f' % max(0, pr.get('DLmr', 0) + pr.get('DLmw', 0))])
        if r['impl'] == 'module' and r['domains'] > 1:
            x = ratio(pr['Ir'], base.get('module'))
            doc.goal('instructions per request at %s hosted domains'
                     % fnum(r['domains']), '≤ 1.05 × 1 domain', fr(x),
                     None if x is None else x <= 1.05)
    doc.table(['variant', 'domains', 'instructions/req', '÷ 1 domain',
               'L1d misses/req', 'LL misses/req'], rows)


def by_round(rps, shape, impl):
    """req/s and CPU time per request of one shape and variant, by domain
    count, then by round"""
    by, cpu = {}, {}
    for r in rps:
        if r['shape'] == shape and r['impl'] == impl:
            by.setdefault(r['domains'], {})[r['round']] = r['rps']
            cpu.setdefault(r['domains'], {})[r['round']] = \
                r.get('cpu_us_per_request')
    return by, cpu


def to_one_domain(by, cpu, n):
    """round by round, req/s at n domains ÷ req/s at 1, and the capacity
    ratio (CPU per request at 1 ÷ at n)"""
    base, cbase = by.get(1, {}), cpu.get(1, {})
    rs = [ratio(v, base[k]) for k, v in by.get(n, {}).items() if k in base]
    cs = [ratio(cbase[k], v) for k, v in cpu.get(n, {}).items()
          if k in cbase]
    return rs, cs


def scale_section(doc, sc, cg=None):
    doc.p('## 2. Scale of configuration', '')
    if not sc:
        doc.p('Not run.', '')
        return
    pr = sc['params']
    doc.p('Domains `d1.bench.test` … `dN.bench.test`, two shapes, each '
          'written with the module and with `return`:', '',
          '- **servers**: one server per domain on one address; module: '
          '`server { server_name mta-sts.dN.bench.test; mta_sts on; }` '
          'with the policy directives at the `http` level; return: the '
          'same servers with `location = /.well-known/mta-sts.txt { return '
          '200 "<body>"; }`;',
          '- **hosted**: one server `server_name mta-sts.*;`; module: '
          '`mta_sts on; mta_sts_domains { include domains.txt; }`; return: '
          '`map $host $mta_sts_ok { default 0; include map.txt; }` (one '
          '`mta-sts.dN.bench.test 1;` line per domain) and in the location '
          '`if ($mta_sts_ok = 0) { return 404; } return 200 "<body>";`.', '',
          'Both set `server_names_hash_max_size 262144; '
          'server_names_hash_bucket_size 128; map_hash_max_size 262144; '
          'map_hash_bucket_size 128;` (nginx needs larger hashes for '
          '100,000 names). The module with `mta_sts_id auto` (the default) '
          'computes one SHA-256 per server.', '',
          'Per configuration, module and return alternating, %d times '
          'each: `nginx -t -q` (wall time, and its CPU time), and on a '
          'running nginx (one worker) a reload: SIGHUP to the master until '
          'the new worker runs ("reload"; "master CPU": the CPU time the '
          'master used meanwhile). The CPU times are what other work on '
          'the machine does not lengthen; at a few milliseconds, the wall '
          'times are mostly waiting for a core. Memory: the master and '
          'the worker after start and 20 requests, VmRSS and in brackets '
          'its anonymous part (RssAnon: the configuration itself; the '
          'rest is shared library '
          'text, which the kernel may drop from an idle process). Medians; '
          'ratio = module ÷ return.' % pr['repeat'], '')
    rows = []
    worst = {}
    res = sc['results']
    for n in pr['counts']:
        for shape in ('servers', 'hosted'):
            by = {r['impl']: r for r in res
                  if r['domains'] == n and r['shape'] == shape}
            if len(by) < 2:
                continue
            m, r = by['module'], by['return']
            vals = {
                'nginx -t': (med(m['test_s']), med(r['test_s'])),
                'nginx -t CPU': (med(m.get('test_cpu_s', [])),
                                 med(r.get('test_cpu_s', []))),
                'reload': (med(m['reload_s']), med(r['reload_s'])),
                'reload CPU': (med(m.get('reload_cpu_s', [])),
                               med(r.get('reload_cpu_s', []))),
                'master RSS': (m['master'].get('rss_kb'),
                               r['master'].get('rss_kb')),
                'worker RSS': (m['worker'].get('rss_kb'),
                               r['worker'].get('rss_kb')),
            }
            for k, (a, b) in vals.items():
                x = ratio(a, b)
                if x is not None and (worst.get(k) is None
                                      or x > worst[k][0]):
                    worst[k] = (x, shape, n)
            rows.append([shape, fnum(n),
                         '%s / %s' % (fms(vals['nginx -t'][0], 0),
                                      fms(vals['nginx -t'][1], 0)),
                         fr(ratio(*vals['nginx -t'])),
                         '%s / %s' % (fms(vals['nginx -t CPU'][0], 0),
                                      fms(vals['nginx -t CPU'][1], 0)),
                         fr(ratio(*vals['nginx -t CPU'])),
                         '%s / %s' % (fms(vals['reload'][0], 0),
                                      fms(vals['reload'][1], 0)),
                         fr(ratio(*vals['reload'])),
                         '%s / %s' % (fms(vals['reload CPU'][0], 0),
                                      fms(vals['reload CPU'][1], 0)),
                         fr(ratio(*vals['reload CPU'])),
                         '%s (%s) / %s (%s)'
                         % (fmb(m['master'].get('rss_kb')),
                            fmb(m['master'].get('anon_kb')),
                            fmb(r['master'].get('rss_kb')),
                            fmb(r['master'].get('anon_kb'))),
                         fr(ratio(*vals['master RSS'])),
                         '%s (%s) / %s (%s)'
                         % (fmb(m['worker'].get('rss_kb')),
                            fmb(m['worker'].get('anon_kb')),
                            fmb(r['worker'].get('rss_kb')),
                            fmb(r['worker'].get('anon_kb'))),
                         fr(ratio(*vals['worker RSS']))])
    doc.table(['shape', 'domains', 'nginx -t ms module / return', 'ratio',
               'its CPU ms', 'ratio', 'reload ms', 'ratio',
               'master CPU ms', 'ratio', 'master MB (anon)', 'ratio',
               'worker MB (anon)', 'ratio'], rows)
    for k in ('nginx -t', 'nginx -t CPU', 'reload', 'reload CPU',
              'master RSS', 'worker RSS'):
        if k in worst:
            x, shape, n = worst[k]
            doc.goal('%s, worst configuration' % k, '≤ 1.2 × return',
                     '%s (%s, %s domains)' % (fr(x), shape, fnum(n)),
                     x <= 1.2)

    rps = sc.get('rps') or []
    if not rps:
        return
    doc.p('### Throughput against the number of domains', '',
          'All these configurations run at once (each one worker on core '
          '0, idle while another is measured) and are measured in '
          'rotation, %d rounds of %g s, wrk as above with '
          '`bench/rotate.lua`: every request asks for a random domain among '
          'the N, so that lookups touch the whole hash. Ratio: req/s at N '
          'domains ÷ req/s at 1 domain in the same round, median over the '
          'rounds.' % (pr['rounds'], pr['duration_s']), '')
    rows = []
    counts = sorted({r['domains'] for r in rps})
    for shape in ('servers', 'hosted'):
        for impl in ('module', 'return'):
            by, cpu = by_round(rps, shape, impl)
            for n in counts:
                if n not in by:
                    continue
                xs = list(by[n].values())
                rs, cs = to_one_domain(by, cpu, n)
                rows.append([shape, impl, fnum(n), fnum(med(xs)),
                             rng(xs, fnum), fr(med(rs)), rng(rs, fr),
                             '%.2f' % med(list(cpu[n].values()))
                             if med(list(cpu[n].values())) else '–',
                             fr(med(cs)), rng(cs, fr)])
                if impl == 'module' and n == max(counts) and n > 1:
                    rr, rc = map(med, to_one_domain(
                        *by_round(rps, shape, 'return'), n))
                    doc.goal('throughput at %s domains, %s: wrk req/s'
                             % (fnum(n), shape),
                             '≥ 0.95 × 1 domain',
                             '%s (range %s); return in the same rounds: %s'
                             % (fr(med(rs)), rng(rs, fr), fr(rr)),
                             None if med(rs) is None else med(rs) >= 0.95)
                    doc.goal('throughput at %s domains, %s: capacity'
                             % (fnum(n), shape),
                             '≥ 0.95 × 1 domain',
                             '%s (range %s); return in the same rounds: %s'
                             % (fr(med(cs)), rng(cs, fr), fr(rc)),
                             None if med(cs) is None else med(cs) >= 0.95)
    doc.table(['shape', 'variant', 'domains', 'req/s', 'range',
               '÷ 1 domain', 'range', 'CPU/req µs', 'capacity ÷ 1 domain',
               'range'], rows)
    lookup_table(doc, cg)


# --------------------------------------------------------------------------

def status_setup(doc, pr):
    n = pr['domains']
    doc.p('nsd 4 (`server-count: 1`, `rrl-ratelimit: 0`) on core 1 serves '
          'a zone with, for each of %s domains, the records of a correct '
          'deployment (MX, `mta-sts` A, `_mta-sts` and `_smtp._tls` TXT; '
          'no AAAA). nginx, one worker on core 0, serves the domains in one '
          'hosted server with `mta_sts_status`, `mta_sts_resolver '
          '127.0.0.1:PORT timeout=2s attempts=3`, `mta_sts_check_interval '
          'off` and no STARTTLS probes (the default): a round is %s DNS '
          'queries, 5 per domain, with at most %d domains in flight.'
          % (fnum(n), fnum(pr['queries_per_round']),
             pr['module_inflight_domains']), '',
          '- round: `GET /status?refresh=1&format=json` until the answer '
          '(the request polls every 100 ms, and is told at once when the '
          'worker has no check left; the answer also renders all '
          'results). Queries per second = %s / round time. The goal is '
          'judged on the round less the render of its answer (the render '
          'row, measured in the same repetition): the checks alone.'
          % fnum(pr['queries_per_round']),
          '- ceiling: the same %s queries (same names and types, same '
          'order) sent once by dnsperf from core 0, where nginx runs: '
          '`dnsperf -s 127.0.0.1 -p PORT -d queries.txt -n 1 -c 1 -q Q '
          '-t 5` with Q = %s outstanding queries (%d is what the module '
          'keeps: %d domains × 5).'
          % (fnum(pr['queries_per_round']),
             ', '.join(str(q) for q in pr['dnsperf_outstanding']),
             5 * pr['module_inflight_domains'],
             pr['module_inflight_domains']),
          '- render: `GET /status?format=json` without refresh: the '
          'snapshot and rendering of all results.',
          '- policy latency: `build/bench/latency` (bench/latency.c), an '
          'open-loop client: %d requests/s for one policy over %d '
          'keep-alive connections, each latency measured from the time the '
          'request was due (a stall delays every request due during it), '
          'on core 0 with nginx (nsd keeps core 1 busy during a round). '
          '"idle": %g s without rounds. "with rounds": %g s during which '
          'refresh rounds run, each followed by %g s without; its samples '
          'are split by when they were due: in a round (from the refresh '
          'request to its answer, less the render time above and 0.1 s: '
          'the refresh notices the end of the round up to 100 ms late), '
          'while the answer is rendered and sent, or between rounds.'
          % (pr['latency_rate'], pr['latency_connections'],
             pr['latency_duration_s'], pr['latency_duration_s'],
             pr.get('round_gap_s', 0)), '')


def status_section(doc, st, dane=False):
    doc.p('## 6. Status round with DANE' if dane
          else '## 3. Status round at scale', '')
    if not st:
        doc.p('Not run.', '')
        return
    pr, res = st['params'], st['results']
    n = pr['domains']
    what = 'DANE round: ' if dane else ''
    if dane:
        doc.p('As section 3, with `mta_sts_check_dane on` '
              '(`BENCH_STATUS_DANE=1 python3 bench/status.py`): nsd also '
              'serves a root zone and a TLSA record for the MX host that all '
              '%s domains share. A round asks, for each domain, the 5 '
              'queries of section 3 (the MX records with the DNSSEC bits, '
              'once for the `mx` and the `dane` checks); and once, since a '
              'round shares its answers among the domains, the root\'s NS '
              'and the MX host\'s TLSA, A and AAAA records: %s queries. The '
              'ceiling is dnsperf sending those %s queries with DO set '
              '(`-D`); "unshared" is dnsperf sending the %s a round would '
              'ask if each domain asked all 9 itself (%d outstanding). nsd '
              'sets no AD bit, so the `dane` check says that the resolver '
              'does not validate: '
'every query is still made.'
              % (fnum(n), fnum(pr['queries_per_round']),
                 fnum(pr['queries_per_round']), fnum(9 * n),
                 pr['dnsperf_outstanding'][0]), '')
    else:
        status_setup(doc, pr)
    if pr.get('rtprio', '0') != '0':
        doc.p('nginx, nsd, dnsperf and the latency client run with '
              'real-time priority (`chrt -f %s`, the client one above) so '
              'that the other processes of this shared machine do not '
              'preempt them: the latency then shows how long the worker\'s '
              'own work holds requests up, and nsd answers as steadily as '
              'on a core of its own. `BENCH_RTPRIO=0` measures them as '
              'ordinary processes.' % pr['rtprio'], '')

    rounds = [r['seconds'] for r in res['rounds']]
    qps = [r['qps'] for r in res['rounds']]
    wcpu = [r['worker_cpu_s'] for r in res['rounds']]
    ncpu = [r['nsd_cpu_s'] for r in res['rounds']]
    # the checks alone: the round less the render of its answer, which
    # the request without refresh of the same repetition measures
    checks = [r['seconds'] - t for r, t in zip(res['rounds'],
                                                res['render_s'])]
    rows = [['round (refresh=1)', '%.3f' % med(rounds),
             rng(rounds, lambda x: '%.3f' % x), fnum(med(qps)),
             'worker %.2f s, nsd %.2f s' % (med(wcpu), med(ncpu))],
            ['round less the render of its answer', '%.3f' % med(checks),
             rng(checks, lambda x: '%.3f' % x),
             fnum(pr['queries_per_round'] / med(checks)), '']]
    best = None
    for q in pr['dnsperf_outstanding']:
        g = [p for p in res['dnsperf'] if p['outstanding'] == q]
        t = [p['run_s'] for p in g]
        lost = sum(p.get('lost', 0) for p in g)
        rows.append(['dnsperf, %d outstanding' % q, '%.3f' % med(t),
                     rng(t, lambda x: '%.3f' % x),
                     fnum(med([p['qps'] for p in g])),
                     '%d queries lost in all runs' % lost])
        if best is None or med(t) < best[0]:
            best = (med(t), q)
    g = res.get('dnsperf_unshared', [])
    if g:
        t = [p['run_s'] for p in g]
        rows.append(['dnsperf, unshared (%s queries)' % fnum(9 * n),
                     '%.3f' % med(t), rng(t, lambda x: '%.3f' % x),
                     fnum(med([p['qps'] for p in g])),
                     '%d queries lost in all runs'
                     % sum(p.get('lost', 0) for p in g)])
    render = res['render_s']
    rows.append(['render (no refresh)', '%.3f' % med(render),
                 rng(render, lambda x: '%.3f' % x), '', ''])
    doc.table(['', 'seconds', 'range', 'queries/s', 'CPU time'], rows)
    tally = res.get('tally', {})
    doc.p('Results of the last round: %s (a warning is expected: the '
          'policy host has no certificate in this setup).'
          % ', '.join('%s %s' % (fnum(v), k) for k, v in sorted(
              tally.items())), '')
    if best:
        x = ratio(med(checks), best[0])
        doc.goal(what + 'round time, less the render of its answer',
                 '≤ 2 × the DNS ceiling',
                 '%.3f s vs %.3f s (dnsperf -q %d): %s; with the render: '
                 '%.3f s, %s' % (med(checks), best[0], best[1], fr(x),
                                 med(rounds),
                                 fr(ratio(med(rounds), best[0]))),
                 x is not None and x <= 2)

    idle = [x['p99_us'] for x in res['idle']]
    sp = [x['split'] for x in res['during']]
    rows = [['idle (no round)', fnum(med([x['p50_us'] for x in res['idle']])),
             fnum(med(idle)), rng(idle, fnum), fnum(med(
                 [x['max_us'] for x in res['idle']])), '1']]
    for key, label in (('round', 'with rounds: in a round'),
                       ('render', 'with rounds: answer rendered and sent'),
                       ('gap', 'with rounds: between rounds')):
        p99 = [x[key]['p99_us'] for x in sp]
        rows.append([label, fnum(med([x[key]['p50_us'] for x in sp])),
                     fnum(med(p99)), rng(p99, fnum),
                     fnum(med([x[key]['max_us'] for x in sp])),
                     fr(ratio(med(p99), med(idle)))])
    doc.table(['policy latency', 'p50 µs', 'p99 µs', 'p99 range',
               'max µs', 'p99 ÷ idle'], rows)
    x = ratio(med([s_['round']['p99_us'] for s_ in sp]), med(idle))
    doc.goal(what + 'policy p99 during the round', '≤ 1.5 × idle',
             '%s µs vs %s µs: %s'
             % (fnum(med([s_['round']['p99_us'] for s_ in sp])),
                fnum(med(idle)), fr(x)),
             None if x is None else x <= 1.5)
    x = ratio(med([s_['render']['p99_us'] for s_ in sp]), med(idle))
    doc.goal(what + 'policy p99 while a refresh renders its answer '
             '(%s domains)' % fnum(n), '(no goal)',
             '%s µs: %s × idle' % (fnum(med([s_['render']['p99_us']
                                              for s_ in sp])), fr(x)),
             None)


def tlsrpt_section(doc, tr):
    doc.p('## 4. TLS-RPT reports', '')
    if not tr:
        doc.p('Not run.', '')
        return
    pr, res = tr['params'], tr['results']
    doc.p('One nginx, one worker on core 0, serves %d domains in one hosted '
          'server; the reports are distinct gzip\'d JSON reports (%d '
          'sending organizations, about %d bytes each), stored in the '
          'build directory (file system: `%s` by `stat -f`). wrk, one '
          'thread and %d connections on core 1, sends them for %g s a '
          'run, in %d rounds with the variants in turn:'
          % (pr['domains'], pr['organizations'], pr['body_bytes'],
             pr['filesystem'], pr['connections'], pr['duration_s'],
             pr['repeat']), '',
          '- **module**: `POST /tlsrpt` to `mta_sts_tlsrpt_receive`: each '
          'report inflated, parsed and written to a temporary file by the '
          'worker, then fsync\'d, linked into place and the directory '
          'fsync\'d by nginx\'s `default` thread pool before the 201;',
          '- **store**: nginx\'s own way of storing a body: `PUT '
          '/tlsrpt/r/K.json` to `dav_methods PUT` (the body read into a '
          'temporary file, renamed into place, no fsync). '
          '(`client_body_in_file_only on; return 201;` stores nothing: '
          '`return` answers before the body is read.)', '',
          'Both directories are emptied before each run, so every report '
          'is new.', '')
    acc = res['accept']
    rows = []
    for v in ('module', 'store'):
        rps = [a['rps'] for a in acc[v]]
        cpu = [a.get('cpu_us_per_request') for a in acc[v]]
        rows.append([v, fnum(med(rps)), rng(rps, fnum), fnum(med(cpu))])
    doc.table(['', 'reports/s', 'range', 'worker CPU µs/report'], rows)
    x = ratio(med([a['rps'] for a in acc['module']]),
              med([a['rps'] for a in acc['store']]))
    doc.goal('reports accepted per second', '≥ 0.5 × nginx storing them',
             '%s vs %s: %s' % (fnum(med([a['rps'] for a in acc['module']])),
                              fnum(med([a['rps'] for a in acc['store']])),
                              fr(x)),
             None if x is None else x >= 0.5)

    doc.p('Policy latency: `build/bench/latency`, %d requests/s for one '
          'policy over %d keep-alive connections for %g s, on core 1 at '
          'real-time priority (above wrk), each latency from the time the '
          'request was due; idle, while wrk posts %d reports/s to the '
          'module (4 connections, each pausing before a request), and '
          'while wrk floods an intake as fast '
          'as it can: the module\'s, the module\'s behind the rate limit '
          'of docs/directives.md (`limit_req zone=tlsrpt burst=20 '
          'nodelay`, `rate=10r/m` per address: nearly every report of the '
          'flood is refused with 503), or the store variant.'
          % (pr['latency_rate'], pr['latency_connections'],
             pr['latency_duration_s'], pr.get('steady_rate', 0)), '')
    idle = [x['p99_us'] for x in res['idle']]
    rows = [['idle', fnum(med([x['p50_us'] for x in res['idle']])),
             fnum(med(idle)), rng(idle, fnum), '', '1']]
    for v, label in (('steady', '%d reports/s to the module\'s intake'
                      % pr.get('steady_rate', 0)),
                     ('module', 'flood of the module\'s intake'),
                     ('limited', 'flood, behind limit_req'),
                     ('store', 'flood of the store variant')):
        g = res['flood'].get(v)
        if not g:
            continue
        p99 = [x['p99_us'] for x in g]
        rows.append([label, fnum(med([x['p50_us'] for x in g])),
                     fnum(med(p99)), rng(p99, fnum),
                     fnum(med([x.get('flood_rps') for x in g])),
                     fr(ratio(med(p99), med(idle)))])
    doc.table(['policy latency', 'p50 µs', 'p99 µs', 'p99 range',
               'flood requests/s', 'p99 ÷ idle'], rows)
    for v, what, goal in (
            ('steady', 'policy p99 while %d reports/s pour in'
             % pr.get('steady_rate', 0), True),
            ('module', 'policy p99 under a flood of reports (the worker '
             'saturated)', False),
            ('limited', 'policy p99 under a flood of reports, behind '
             'limit_req', False)):
        if not res['flood'].get(v):
            continue
        p99 = med([x['p99_us'] for x in res['flood'][v]])
        x = ratio(p99, med(idle))
        if goal:
            doc.goal(what, '≤ 1.5 × idle', '%s µs vs %s µs: %s'
                     % (fnum(p99), fnum(med(idle)), fr(x)),
                     None if x is None else x <= 1.5)
            continue
        also = ''
        if v == 'module':
            also = '; nginx\'s PUT flooded: %s µs' % fnum(med(
                [y['p99_us'] for y in res['flood']['store']]))
        doc.goal(what, '(no goal)', '%s µs: %s × idle%s'
                 % (fnum(p99), fr(x), also), None)

    doc.p('The summary of %s kept reports: written into the directory as '
          'the intake names them with nginx stopped; nginx then starts and '
          'one worker reads them, 16 a turn of the event loop, in %.2f s '
          '(until no domain\'s `tlsrpt` says `loading`; the summary then '
          'counted %s reports); worker RSS afterwards %s MB. The status '
          'page of the %d domains, no refresh, %d times each:'
          % (fnum(pr['kept']), res['load_s'], fnum(res['kept_counted']),
             fmb(res.get('worker_rss_kb')), pr['domains'], pr['repeat']),
          '')
    rows = []
    for fmt in ('json', 'text', 'prometheus', 'html'):
        e = res['render_empty'][fmt]
        k = res['render_kept'][fmt]
        rows.append([fmt, fms(med(e['seconds'])), fms(med(k['seconds'])),
                     rng(k['seconds'], fms), fnum(k['bytes'])])
    doc.table(['format', 'ms, no report', 'ms, %s reports'
               % fnum(pr['kept']), 'range', 'bytes'], rows)
    doc.goal('status render, %s kept reports (JSON)' % fnum(pr['kept']),
             '(no goal)', '%s ms' % fms(med(
                 res['render_kept']['json']['seconds'])), None)


def publish_section(doc, pb):
    doc.p('## 5. Publishing the records', '')
    if not pb:
        doc.p('Not run.', '')
        return
    pr = pb['params']
    doc.p('BIND 9\'s `named` (one worker thread, core 1) is the primary of '
          'a zone with %s domains, each with its `_mta-sts` TXT record. '
          'nginx, one worker on core 0, serves the %s domains in one hosted '
          'server with `mta_sts_publish server=... key=... zone=...`. In '
          'each of %d rounds, with the variants in turn:'
          % (fnum(pr['domains']), fnum(pr['domains']), pr['repeat']), '',
          '- **module**: a reload with a new `mta_sts_id`, timed from the '
          'signal until the error log says that the server accepted every '
          'domain\'s update (for each domain a TXT query to the server, '
          'then one signed UPDATE whose prerequisite is the record seen; '
          'publishing starts when the old worker has exited);',
          '- **nsupdate**: BIND\'s `nsupdate -k` from a file with the same '
          'update for each domain (prerequisite, delete, add, `send`), on '
          'core 0.', '',
          'The policy latency is that of one policy request at %s a second '
          '(bench/latency.c, open loop, core 0), without publishing and '
          'while the module publishes.' % fnum(pr['rate']), '')
    mod = [r['seconds'] for r in pb['module']]
    nsu = [r['seconds'] for r in pb['nsupdate']]
    doc.table(['', 'seconds', 'range', 'named CPU s'],
              [['module', '%.2f' % med(mod), rng(mod, lambda x: '%.2f' % x),
                '%.2f' % med([r['named_cpu_s'] for r in pb['module']])],
               ['nsupdate', '%.2f' % med(nsu), rng(nsu, lambda x: '%.2f' % x),
                '%.2f' % med([r['named_cpu_s'] for r in pb['nsupdate']])]])
    x = ratio(med(mod), med(nsu))
    doc.goal('%s domains published after a reload' % fnum(pr['domains']),
             '≤ 2 × nsupdate', '%.2f s vs %.2f s: %s'
             % (med(mod), med(nsu), fr(x)), None if x is None else x <= 2)
    idle = [r['p99_us'] for r in pb['idle']]
    dur = [r['p99_us'] for r in pb['during']]
    doc.table(['policy latency', 'p50 µs', 'p99 µs', 'p99 range', 'max µs'],
              [['idle', fnum(med([r['p50_us'] for r in pb['idle']])),
                fnum(med(idle)), rng(idle, fnum),
                fnum(med([r['max_us'] for r in pb['idle']]))],
               ['while publishing',
                fnum(med([r['p50_us'] for r in pb['during']])),
                fnum(med(dur)), rng(dur, fnum),
                fnum(med([r['max_us'] for r in pb['during']]))]])
    x = ratio(med(dur), med(idle))
    doc.goal('policy p99 while publishing', '≤ 1.5 × idle',
             '%s µs vs %s µs: %s' % (fnum(med(dur)), fnum(med(idle)), fr(x)),
             None if x is None else x <= 1.5)
    doc.p('Errors in nginx\'s log: %d.' % pb.get('errors', 0), '')


# --------------------------------------------------------------------------

def main():
    doc = Doc()
    body = Doc()
    m = load('machine.json')
    machine_section(body, m)
    serve_section(body, load('serve.json'), load('callgrind.json'))
    scale_section(body, load('scale.json'), load('callgrind.json'))
    status_section(body, load('status.json'))
    tlsrpt_section(body, load('tlsrpt.json'))
    publish_section(body, load('publish.json'))
    status_section(body, load('status-dane.json'), dane=True)

    doc.p('# Performance', '',
          'Generated by `make bench` (`bench/run`, then '
          '`bench/report.py`) from the results in `build/bench/*.json`; '
          'do not edit by hand. Everything runs on 127.0.0.1 of one '
          'machine with two cores: nginx on one, the load generator on '
          'the other. Each comparison is made within the same run, with '
          'the variants interleaved.', '',
          '## Goals', '')
    doc.table(['goal', 'target', 'measured', ''], body.goals)
    extra = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         'notes.md')
    doc.lines += body.lines
    if os.path.exists(extra):
        with open(extra) as f:
            doc.p(f.read().rstrip(), '')
    text = '\n'.join(doc.lines).rstrip() + '\n'
    with open(DOC + '.tmp', 'w') as f:
        f.write(text)
    os.replace(DOC + '.tmp', DOC)
    B.log('wrote', os.path.relpath(DOC, B.TOP))


if __name__ == '__main__':
    main()
