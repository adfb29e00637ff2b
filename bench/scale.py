"""Scale of configuration: 1,000 to 100,000 domains.

Two shapes, each written twice, with the module and with "return 200":

  servers  one server per domain, all on one address:
             module: server { server_name mta-sts.dN.bench.test; mta_sts on; }
             return: server { server_name mta-sts.dN.bench.test;
                         location = /.well-known/mta-sts.txt {
                             return 200 "<body>"; } }
  hosted   one server for all domains:
             module: server_name mta-sts.*; mta_sts on;
                     mta_sts_domains { include domains.txt; }
             return: map $host $mta_sts_ok { default 0; include map.txt; }
                     server_name mta-sts.*;
                     location = /.well-known/mta-sts.txt {
                         if ($mta_sts_ok = 0) { return 404; }
                         return 200 "<body>"; }

The policy directives sit at the http level of the module configurations
(the module configurations carry them; the return ones the same body as a
string).  Both shapes raise server_names_hash_max_size and map_hash_max_size
and use 128-byte buckets, which nginx needs to build a hash of 100,000 names.

Measured, module and return alternating within every repetition:
  test      wall time of "nginx -t -q", and its CPU time
  memory    VmRSS and Pss of the master and of the (one) worker, after a
            few requests
  reload    SIGHUP to the master until a new worker runs (and until the
            old one is gone), and the master's CPU time meanwhile
  rps       throughput with wrk asking for random domains among the N
            (bench/rotate.lua), for N = 1 and larger N, all instances
            running at once and measured in rotation
Output: build/bench/scale.json.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

SHAPES = ('servers', 'hosted')
IMPLS = ('module', 'return')
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'rotate.lua')


def domain(i):
    return 'd%d.bench.test' % i


def config(d, shape, impl, n, port):
    body = B.nginx_string(B.BODY)
    loc = ('        location = %s {\n%s            return 200 %s;\n'
           '        }\n')
    out = ["""    server_names_hash_max_size 262144;
    server_names_hash_bucket_size 128;
    map_hash_max_size 262144;
    map_hash_bucket_size 128;
"""]
    if impl == 'module':
        out.append('    %s\n' % B.POLICY_DIRECTIVES)

    if shape == 'servers':
        for i in range(1, n + 1):
            if impl == 'module':
                out.append('    server { listen 127.0.0.1:%d; '
                           'server_name mta-sts.%s; mta_sts on; }\n'
                           % (port, domain(i)))
            else:
                out.append('    server { listen 127.0.0.1:%d; '
                           'server_name mta-sts.%s; location = %s '
                           '{ return 200 %s; } }\n'
                           % (port, domain(i), B.PATH, body))
    elif impl == 'module':
        B.write_file(os.path.join(d, 'domains.txt'),
                     ''.join('%s;\n' % domain(i) for i in range(1, n + 1)))
        out.append('    server {\n        listen 127.0.0.1:%d;\n'
                   '        server_name mta-sts.*;\n'
                   '        mta_sts on;\n'
                   '        mta_sts_domains {\n'
                   '            include %s/domains.txt;\n'
                   '        }\n    }\n' % (port, d))
    else:
        B.write_file(os.path.join(d, 'map.txt'),
                     ''.join('mta-sts.%s 1;\n' % domain(i)
                             for i in range(1, n + 1)))
        out.append('    map $host $mta_sts_ok {\n        default 0;\n'
                   '        include %s/map.txt;\n    }\n\n' % d)
        out.append('    server {\n        listen 127.0.0.1:%d;\n'
                   '        server_name mta-sts.*;\n' % port)
        out.append(loc % (B.PATH, '            if ($mta_sts_ok = 0) {\n'
                          '                return 404;\n'
                          '            }\n', body))
        out.append('    }\n')
    return B.nginx_conf(d, ''.join(out))


class Instance:
    def __init__(self, shape, impl, n, port):
        self.shape, self.impl, self.n, self.port = shape, impl, n, port
        self.name = '%s-%s-%d' % (shape, impl, n)
        d = B.fresh_dir(os.path.join(B.OUT, 'scale', self.name))
        os.makedirs(os.path.join(d, 'tmp'))
        self.ngx = B.Nginx(d, config(d, shape, impl, n, port))

    def check(self):
        """the first and last domains get the body; an unknown one 404 in
        the hosted shape"""
        for i in sorted({1, self.n}):
            st, _, body = B.http_get(self.port, 'mta-sts.' + domain(i))
            if st != 200 or body.decode() != B.BODY:
                raise SystemExit('%s: %s got %s %r'
                                 % (self.name, domain(i), st, body[:80]))
        if self.shape == 'hosted':
            st, _, _ = B.http_get(self.port, 'mta-sts.unknown.bench.test')
            if st != 404:
                raise SystemExit('%s: unknown domain got %s'
                                 % (self.name, st))


def main():
    reps = B.env_int('BENCH_SCALE_REPEAT', 5)
    counts = [int(x) for x in os.environ.get(
        'BENCH_SCALE_COUNTS', '1000,10000,100000').split(',')]
    rps_counts = [int(x) for x in os.environ.get(
        'BENCH_SCALE_RPS_COUNTS', '1,100000').split(',')]
    rounds = B.env_int('BENCH_ROUNDS', 7)
    duration = B.env_float('BENCH_DURATION', 2)
    conns = B.env_int('BENCH_CONNECTIONS', 32)
    global SHAPES
    SHAPES = tuple(os.environ.get('BENCH_SCALE_SHAPES',
                                  ','.join(SHAPES)).split(','))

    port = [B.PORT + 100]

    def next_port():
        port[0] += 1
        return port[0]

    results = []
    keep = {}       # instances kept running for the throughput part
    everything = []
    try:
        rps = measure(reps, counts, rps_counts, rounds, duration, conns,
                      next_port, results, keep, everything)
    finally:
        for i in everything:
            i.ngx.stop()

    B.write_json('scale.json', {
        'params': {'repeat': reps, 'counts': counts, 'shapes': SHAPES,
                   'rps_counts': rps_counts, 'rounds': rounds,
                   'duration_s': duration, 'connections': conns},
        'results': results,
        'rps': rps,
    })


def measure(reps, counts, rps_counts, rounds, duration, conns, next_port,
            results, keep, everything):

    # time and memory, one (shape, count) at a time

    for n in counts:
        for shape in SHAPES:
            insts = [Instance(shape, impl, n, next_port()) for impl in IMPLS]
            everything.extend(insts)
            B.check_ports([i.port for i in insts])
            rec = {i.impl: {'shape': shape, 'impl': i.impl, 'domains': n,
                            'test_s': [], 'test_cpu_s': [],
                            'reload_s': [], 'reload_done_s': [],
                            'reload_cpu_s': []} for i in insts}
            for _ in range(reps):
                for i in insts:
                    wall, cpu, _ = i.ngx.test()
                    rec[i.impl]['test_s'].append(wall)
                    rec[i.impl]['test_cpu_s'].append(cpu)
            try:
                for i in insts:
                    rec[i.impl]['start_s'] = i.ngx.start(i.port, 600)
                    i.check()
                    for _ in range(20):
                        B.http_get(i.port, 'mta-sts.' + domain(1))
                    rec[i.impl]['master'] = B.memory(i.ngx.pid)
                    rec[i.impl]['worker'] = B.memory(i.ngx.workers()[0])
                for _ in range(reps):
                    for i in insts:
                        t_new, t_done, cpu = i.ngx.reload(i.port, 600)
                        rec[i.impl]['reload_s'].append(t_new)
                        rec[i.impl]['reload_done_s'].append(t_done)
                        rec[i.impl]['reload_cpu_s'].append(cpu)
                for i in insts:
                    i.check()
                    rec[i.impl]['master_after_reloads'] = \
                        B.memory(i.ngx.pid)
                    r = rec[i.impl]
                    B.log('scale %-7s %-6s %6d: -t %.3f s (CPU %.3f s), '
                          'reload %.3f s, master %d kB (anon %d), '
                          'worker %d kB (anon %d)'
                          % (shape, i.impl, n, B.median(r['test_s']),
                             B.median(r['test_cpu_s']),
                             B.median(r['reload_s']),
                             r['master']['rss_kb'], r['master']['anon_kb'],
                             r['worker']['rss_kb'], r['worker']['anon_kb']))
            finally:
                for i in insts:
                    if n in rps_counts:
                        keep[i.name] = i
                    else:
                        i.ngx.stop()
            results.extend(rec.values())

    # throughput against the number of domains: all instances at once,
    # measured in rotation

    rps = []
    tp = []
    for n in rps_counts:
        for shape in SHAPES:
            for impl in IMPLS:
                name = '%s-%s-%d' % (shape, impl, n)
                if name in keep:
                    tp.append(keep.pop(name))
                    continue
                i = Instance(shape, impl, n, next_port())
                everything.append(i)
                B.check_ports([i.port])
                i.ngx.start(i.port, 600)
                tp.append(i)
    for i in keep.values():
        i.ngx.stop()
    for i in tp:
        i.check()
    for i in tp:
        B.wrk('http://127.0.0.1:%d%s' % (i.port, B.PATH), 'x', 1, conns,
              script=SCRIPT, script_args=[i.n])
    for rnd in range(rounds):
        k = rnd % len(tp)
        for i in tp[k:] + tp[:k]:
            res = B.wrk('http://127.0.0.1:%d%s' % (i.port, B.PATH), 'x',
                        duration, conns, script=SCRIPT, script_args=[i.n],
                        worker=i.ngx.workers()[0])
            res.update(round=rnd, shape=i.shape, impl=i.impl, domains=i.n)
            rps.append(res)
            B.log('scale rps %d %-7s %-6s %6d %8.0f req/s'
                  % (rnd, i.shape, i.impl, i.n, res['rps'] or 0))
    return rps


if __name__ == '__main__':
    main()
