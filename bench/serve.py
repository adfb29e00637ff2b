"""Policy serving: the module against "return 200" and a static file.

One nginx (one worker, pinned to SERVER_CPU) serves the same policy body
from three servers, each alone on its own port so that nginx picks the
server without a name lookup in every variant:

  module   mta_sts on
  return   location = /.well-known/mta-sts.txt { return 200 "<body>"; }
  static   root with .well-known/mta-sts.txt, open_file_cache

and the same three again with TLS.  wrk (one thread, pinned to CLIENT_CPU)
loads one variant at a time; the variants of a group (protocol, connection
mode) run one after the other in an order rotated every round, and the
rounds repeat, so that a change of the machine's load hits all variants
alike.  Output: build/bench/serve.json.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

HOST = 'mta-sts.example.com'
VARIANTS = ('module', 'return', 'static')
PORTS = {('http', 'module'): B.PORT + 1, ('http', 'return'): B.PORT + 2,
         ('http', 'static'): B.PORT + 3, ('https', 'module'): B.PORT + 11,
         ('https', 'return'): B.PORT + 12, ('https', 'static'): B.PORT + 13}


def make_cert(d):
    """a throwaway CA and a P-256 certificate for HOST, as tools/demo"""
    ssl = os.path.join(d, 'ssl')
    os.makedirs(ssl, exist_ok=True)

    def run(*args):
        subprocess.run(['openssl'] + list(args), check=True,
                       capture_output=True, cwd=ssl)

    run('req', '-x509', '-newkey', 'ec', '-pkeyopt',
        'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out',
        'ca.crt', '-days', '30', '-subj', '/CN=mta-sts bench CA')
    run('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-nodes', '-keyout', 'host.key', '-out', 'host.csr', '-subj',
        '/CN=' + HOST)
    B.write_file(os.path.join(ssl, 'host.ext'),
                 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' % HOST)
    run('x509', '-req', '-in', 'host.csr', '-CA', 'ca.crt', '-CAkey',
        'ca.key', '-CAcreateserial', '-days', '30', '-extfile', 'host.ext',
        '-out', 'host.crt')
    return os.path.join(ssl, 'host.crt'), os.path.join(ssl, 'host.key')


def servers(d, protocols=('http', 'https'), crt=None, key=None):
    """the server blocks of the variants"""
    out = []
    for proto in protocols:
        tls = ''
        if proto == 'https':
            tls = ('        ssl_certificate %s;\n'
                   '        ssl_certificate_key %s;\n' % (crt, key))
        for v in VARIANTS:
            port = PORTS[(proto, v)]
            body = {
                'module': '        mta_sts on;\n        %s\n'
                          % B.POLICY_DIRECTIVES,
                'return': '        location = %s {\n'
                          '            return 200 %s;\n'
                          '        }\n' % (B.PATH, B.nginx_string(B.BODY)),
                'static': '        root %s/html;\n'
                          '        open_file_cache max=16 inactive=1h;\n'
                          '        open_file_cache_valid 1h;\n' % d,
            }[v]
            out.append('    server {\n'
                       '        listen 127.0.0.1:%d%s;\n'
                       '        server_name %s;\n%s%s    }\n'
                       % (port, ' ssl' if proto == 'https' else '', HOST,
                          tls, body))
    return ''.join(out)


def config(d, head, protocols=('http', 'https'), crt=None, key=None):
    return B.nginx_conf(d, '    sendfile on;\n\n'
                        + servers(d, protocols, crt, key), head)


def setup_html(d):
    B.write_file(os.path.join(d, 'html', '.well-known', 'mta-sts.txt'),
                 B.BODY)
    os.makedirs(os.path.join(d, 'tmp'), exist_ok=True)


def check_bodies(protocols=('http',)):
    """every variant answers the same body"""
    for proto in protocols:
        for v in VARIANTS:
            port = PORTS[(proto, v)]
            if proto == 'https':
                r = subprocess.run(
                    ['curl', '-sk', '--resolve', '%s:%d:127.0.0.1'
                     % (HOST, port), 'https://%s:%d%s' % (HOST, port, B.PATH)],
                    capture_output=True, timeout=30)
                body = r.stdout
            else:
                status, head, body = B.http_get(port, HOST)
                if status != 200:
                    raise SystemExit('%s/%s: status %s' % (proto, v, status))
            if body.decode() != B.BODY:
                raise SystemExit('%s/%s serves another body: %r'
                                 % (proto, v, body))


def main():
    rounds = B.env_int('BENCH_ROUNDS', 7)
    duration = B.env_float('BENCH_DURATION', 2)
    conns = B.env_int('BENCH_CONNECTIONS', 32)

    d = B.fresh_dir(os.path.join(B.OUT, 'serve'))
    setup_html(d)
    crt, key = make_cert(d)
    B.check_ports(PORTS.values())

    conf = config(d, 'worker_processes 1;', crt=crt, key=key)
    ngx = B.Nginx(d, conf)
    ngx.start(PORTS[('http', 'module')])
    runs = []
    try:
        check_bodies(('http', 'https'))
        worker = ngx.workers()[0]
        groups = [(p, c) for p in ('http', 'https')
                  for c in ('keepalive', 'close')]

        # warm up every variant once (TLS, open_file_cache, page cache)
        for proto, mode in groups:
            for v in VARIANTS:
                B.wrk('%s://127.0.0.1:%d%s' % (proto, PORTS[(proto, v)],
                                               B.PATH),
                      HOST, 1, conns, close=(mode == 'close'))

        for rnd in range(rounds):
            for gi, (proto, mode) in enumerate(groups):
                k = (rnd + gi) % len(VARIANTS)
                order = VARIANTS[k:] + VARIANTS[:k]
                for v in order:
                    url = '%s://127.0.0.1:%d%s' % (proto, PORTS[(proto, v)],
                                                   B.PATH)
                    res = B.wrk(url, HOST, duration, conns,
                                close=(mode == 'close'), worker=worker)
                    res.update(round=rnd, protocol=proto, mode=mode,
                               variant=v)
                    runs.append(res)
                    B.log('serve %d %-5s %-9s %-6s %8.0f req/s  p99 %.2f ms'
                          % (rnd, proto, mode, v, res['rps'] or 0,
                             (res['p99'] or 0) * 1e3))
    finally:
        ngx.stop()

    B.write_json('serve.json', {
        'params': {'rounds': rounds, 'duration_s': duration,
                   'connections': conns, 'wrk_threads': 1,
                   'server_cpu': B.SERVER_CPU, 'client_cpu': B.CLIENT_CPU,
                   'worker_processes': 1},
        'machine': B.machine(),
        'runs': runs,
    })


if __name__ == '__main__':
    main()
