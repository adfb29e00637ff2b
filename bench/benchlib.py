"""Shared helpers of the benchmarks in bench/: nginx and nsd processes,
wrk runs, process memory, statistics and result files.

Everything here talks to 127.0.0.1 only.  Every loop is bounded by a count
and a deadline; every process started here is stopped by its own pid.
"""

import atexit
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, 'build', 'bench')
MODULE = os.path.join(OUT, 'ngx_http_mtasts_module.so')
LATENCY = os.path.join(OUT, 'latency')      # bench/latency.c, by bench/run
NGINX = '/usr/sbin/nginx'

# nginx and the load generators on separate cores (2-core machines: 0, 1)
SERVER_CPU = os.environ.get('BENCH_SERVER_CPU', '0')
CLIENT_CPU = os.environ.get('BENCH_CLIENT_CPU', '1')

# a nice value for the measured processes (nginx, the load generators,
# nsd): on a machine that other work shares, a negative one keeps that work
# from preempting them; 0 leaves the priorities alone
NICE = os.environ.get('BENCH_NICE', '0')


# real-time priority (SCHED_FIFO) for the processes whose latency part 3
# measures: on a shared machine, other processes then wait for them instead
# of the other way round; 0: off
RTPRIO = os.environ.get('BENCH_RTPRIO', '10')


# Linux lets real-time processes run at most sched_rt_runtime_us (0.95 s)
# of every sched_rt_period_us (1 s) and then stops them all for the rest:
# a status round or a publication that keeps the core busy for more than
# 0.95 s gets a 50 ms stall from the kernel, not from nginx (seen as a
# 30 to 50 ms policy p99).  While the measured processes run at a
# real-time priority, the limit is lifted, and put back at exit.
RT_RUNTIME = '/proc/sys/kernel/sched_rt_runtime_us'
_rt_runtime_saved = []


def _rt_unthrottle():
    if _rt_runtime_saved:
        return
    try:
        with open(RT_RUNTIME) as f:
            _rt_runtime_saved.append(f.read().strip())
        with open(RT_RUNTIME, 'w') as f:
            f.write('-1\n')
    except OSError as e:
        sys.stderr.write('[bench] real-time throttling stays on (%s): '
                         'runs busy for over 0.95 s stall 50 ms\n' % e)
        return
    atexit.register(_rt_restore)


def _rt_restore():
    try:
        with open(RT_RUNTIME, 'w') as f:
            f.write(_rt_runtime_saved[0] + '\n')
    except OSError:
        pass


def pin(cpu, rt=0):
    """the command prefix that runs a process on a core, at NICE (or with
    rt, at the real-time priority RTPRIO + rt - 1 when RTPRIO is set)"""
    out = ['taskset', '-c', cpu]
    if rt and RTPRIO != '0':
        _rt_unthrottle()
        out = ['chrt', '-f', str(int(RTPRIO) + rt - 1)] + out
    elif NICE != '0':
        out = ['nice', '-n', NICE] + out
    return out


# our ports on 127.0.0.1: PORT + 0..999, below the ephemeral range
PORT = int(os.environ.get('BENCH_PORT_BASE', 21000))

# the policy every variant serves, byte for byte what the module builds from
# the directives in POLICY_DIRECTIVES
POLICY_DIRECTIVES = ('mta_sts_mode enforce; '
                     'mta_sts_mx mail.example.com backup-mx.example.com; '
                     'mta_sts_max_age 1w;')
BODY = ('version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n'
        'mx: backup-mx.example.com\r\nmax_age: 604800\r\n')
PATH = '/.well-known/mta-sts.txt'


def nginx_string(s):
    """BODY as an nginx quoted string (escapes \\r \\n as nginx reads them)"""
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') \
        .replace('\r', '\\r').replace('\n', '\\n') + '"'


def log(*args):
    print('[bench]', *args, file=sys.stderr, flush=True)


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_float(name, default):
    return float(os.environ.get(name, default))


# --------------------------------------------------------------------------
# statistics

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summary(xs):
    """median, min, max and the spread (max-min)/median of a list"""
    xs = [x for x in xs if x is not None]
    if not xs:
        return {'n': 0, 'median': None, 'min': None, 'max': None,
                'spread': None}
    m = statistics.median(xs)
    return {'n': len(xs), 'median': m, 'min': min(xs), 'max': max(xs),
            'spread': (max(xs) - min(xs)) / m if m else None,
            'values': xs}


# --------------------------------------------------------------------------
# files

def write_json(name, data):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path + '.tmp', 'w') as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write('\n')
    os.replace(path + '.tmp', path)
    log('wrote', os.path.relpath(path, TOP))


def nginx_conf(d, http, head='worker_processes 1;'):
    """an nginx.conf of ours with prefix d: the module, the pid file and
    the error log in d, no access log, long keep-alive; http is the rest
    of the http block"""
    return """load_module %s;
%s
pid %s/nginx.pid;
error_log %s/logs/error.log notice;

events {
    worker_connections 4096;
}

http {
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    client_body_temp_path %s/tmp;
%s}
""" % (MODULE, head, d, d, d, http)


def write_file(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)


def fresh_dir(path):
    """an empty directory at path; what was there goes to OUT/trash, which
    bench/run deletes when it ends, not now: ext4 without a journal (this
    machine's) checks, for each file it makes, whether the free inodes it
    looks at were deleted in the last minutes (recently_deleted()), and the
    hundreds of thousands of files of an earlier run, deleted just before
    a part, made its file creations several times slower"""
    if os.path.isdir(path):
        trash = os.path.join(OUT, 'trash')
        os.makedirs(trash, exist_ok=True)
        os.rename(path, os.path.join(trash, '%s-%d-%d' % (
            os.path.basename(path), os.getpid(), time.monotonic_ns())))
    os.makedirs(path)
    return path


def machine():
    def first(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=10).stdout.strip().splitlines()[0]
        except Exception:
            return None

    def nginx_version():
        r = subprocess.run([NGINX, '-v'], capture_output=True, text=True)
        return r.stderr.strip().split('/')[-1]

    cpu = None
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    with open('/proc/meminfo') as f:
        mem = int(f.readline().split()[1]) // 1024
    try:
        with open('/etc/debian_version') as f:
            debian = f.read().strip()
    except OSError:
        debian = None

    def pkg(name):
        return first(['dpkg-query', '-W', '-f=${Version}', name])

    commit = first(['git', '-C', TOP, 'rev-parse', '--short', 'HEAD'])
    dirty = subprocess.run(['git', '-C', TOP, 'status', '--porcelain',
                            '--untracked-files=no'],
                           capture_output=True, text=True).stdout.strip()
    return {
        'date': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
        'cpu': cpu, 'cores': os.cpu_count(), 'memory_mb': mem,
        'kernel': platform.release(), 'debian': debian,
        'nginx': nginx_version(),
        'packages': {p: pkg(p) for p in ('nginx-core', 'wrk', 'valgrind',
                                         'nsd', 'dnsperf', 'libc-ares2',
                                         'openssl')},
        'commit': commit, 'tree_modified': bool(dirty),
        'loadavg': os.getloadavg(),
    }


# --------------------------------------------------------------------------
# processes

def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def check_ports(ports):
    busy = [p for p in ports if not port_free(p)]
    if busy:
        raise SystemExit('bench: ports in use on 127.0.0.1: %s '
                         '(another benchmark running?)' % busy)


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def children(pid):
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(')') + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return sorted(out)


def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            st = f.read()
        return st[st.rindex(')') + 2] != 'Z'
    except OSError:
        return False


def memory(pid):
    """VmRSS (and its anonymous and file parts) and Pss of a process, kB"""
    out = {}
    keys = {'VmRSS:': 'rss_kb', 'RssAnon:': 'anon_kb', 'RssFile:': 'file_kb',
            'Pss:': 'pss_kb'}
    for name in ('status', 'smaps_rollup'):
        try:
            with open('/proc/%d/%s' % (pid, name)) as f:
                for line in f:
                    k = line.split(None, 1)[0]
                    if k in keys:
                        out[keys[k]] = int(line.split()[1])
        except OSError:
            pass
    return out


def cpu_busy(seconds=1.0):
    """the share of each core busy (all processes) over a short while:
    taken while the benchmarks are idle, it is the machine's other load"""
    def sample():
        out = {}
        with open('/proc/stat') as f:
            for line in f:
                if line.startswith('cpu') and line[3].isdigit():
                    v = [int(x) for x in line.split()[1:]]
                    idle = v[3] + v[4]
                    out[line.split()[0]] = (sum(v[:8]), idle)
        return out
    a = sample()
    time.sleep(seconds)
    b = sample()
    return {c: round(1 - (b[c][1] - a[c][1]) / max(1, b[c][0] - a[c][0]), 3)
            for c in a}


def cpu_ticks(pid):
    """user + system time of a process, in clock ticks"""
    with open('/proc/%d/stat' % pid) as f:
        st = f.read()
    fields = st[st.rindex(')') + 2:].split()
    return int(fields[11]) + int(fields[12])


def cpu_ns(pid):
    """time a process has run on a CPU, in nanoseconds (schedstat)"""
    with open('/proc/%d/schedstat' % pid) as f:
        return int(f.read().split()[0])


TICK = os.sysconf('SC_CLK_TCK')


def _terminated(signum, frame):
    # "timeout" stops a part with SIGTERM: unwind, so that the finally
    # blocks stop the nginx and nsd processes of the part
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _terminated)


class Nginx:
    """An nginx of ours: prefix DIR, configuration DIR/nginx.conf"""

    def __init__(self, d, conf, rt=0):
        self.rt = rt
        self.dir = d
        self.conf = os.path.join(d, 'nginx.conf')
        self.pidfile = os.path.join(d, 'nginx.pid')
        os.makedirs(os.path.join(d, 'logs'), exist_ok=True)
        write_file(self.conf, conf)
        self.pid = None

    def cmd(self, *args):
        return pin(SERVER_CPU, self.rt) + [NGINX, '-p', self.dir + '/',
                '-c', self.conf] + list(args)

    def test(self):
        """nginx -t: (wall seconds, CPU seconds, peak RSS kB), or raises"""
        t0 = time.monotonic()
        p = subprocess.Popen(self.cmd('-t', '-q'), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        t = time.monotonic() - t0
        if p.returncode != 0:
            raise RuntimeError('nginx -t failed for %s:\n%s'
                               % (self.conf, out[-2000:].decode()))
        return t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss

    def start(self, port, timeout=120):
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        t0 = time.monotonic()
        r = subprocess.run(self.cmd(), capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError('nginx failed to start (%s):\n%s'
                               % (self.conf, r.stderr[-2000:]))
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.pidfile):
            if time.monotonic() > deadline:
                raise RuntimeError('no pid file ' + self.pidfile)
            time.sleep(0.01)
        with open(self.pidfile) as f:
            self.pid = int(f.read().strip())
        if not wait_port(port, timeout):
            raise RuntimeError('nginx does not listen on %d' % port)
        # one worker up
        while not self.workers():
            if time.monotonic() > deadline:
                raise RuntimeError('no nginx worker')
            time.sleep(0.01)
        return time.monotonic() - t0

    def workers(self):
        return children(self.pid) if self.pid else []

    def reload(self, port, timeout=120):
        """SIGHUP; seconds until a new worker runs and the old ones are
        gone, and the master's CPU time until the new worker runs:
        (to new worker, to old workers gone, master CPU seconds)"""
        old = set(self.workers())
        c0 = cpu_ns(self.pid)
        t0 = time.monotonic()
        os.kill(self.pid, signal.SIGHUP)
        deadline = t0 + timeout
        t_new = None
        while time.monotonic() < deadline:
            now = set(self.workers())
            if t_new is None and now - old:
                t_new = time.monotonic() - t0
                cpu = (cpu_ns(self.pid) - c0) / 1e9
            if t_new is not None and not (now & old):
                return t_new, time.monotonic() - t0, cpu
            time.sleep(0.002)
        raise RuntimeError('reload did not finish in %ds' % timeout)

    def stop(self, timeout=30):
        if not self.pid:
            return
        pid, self.pid = self.pid, None
        procs = [pid] + children(pid)
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(alive(p) for p in procs):
            time.sleep(0.02)
        for p in procs:
            if alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def error_log(self):
        try:
            with open(os.path.join(self.dir, 'logs', 'error.log')) as f:
                return f.read()
        except OSError:
            return ''


def http_get(port, host, path=PATH, timeout=60, close=True):
    """one request; (status, headers, body) as bytes"""
    s = socket.create_connection(('127.0.0.1', port), timeout)
    s.settimeout(timeout)
    s.sendall(('GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n'
               % (path, host)).encode())
    data = b''
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        data += d
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    status = int(head.split(b' ', 2)[1]) if head else 0
    return status, head, body


# --------------------------------------------------------------------------
# wrk

_UNIT = {'us': 1e-6, 'ms': 1e-3, 's': 1.0, 'm': 60.0}


def _seconds(text):
    m = re.match(r'([\d.]+)(us|ms|s|m)$', text)
    return float(m.group(1)) * _UNIT[m.group(2)] if m else None


def wrk(url, host, duration, connections, close=False, script=None,
        script_args=(), worker=None, timeout='5s'):
    """one wrk run, one thread pinned to CLIENT_CPU; with worker (a pid),
    also the worker's CPU time per request"""
    cmd = pin(CLIENT_CPU) + ['wrk', '-t1',
           '-c%d' % connections, '-d%gs' % duration, '--latency',
           '--timeout', timeout, '-H', 'Host: ' + host]
    if close:
        cmd += ['-H', 'Connection: close']
    if script:
        cmd += ['-s', script]
    cmd.append(url)
    if script_args:
        cmd += ['--'] + [str(a) for a in script_args]
    t0 = cpu_ns(worker) if worker else None
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=duration + 60)
    t1 = cpu_ns(worker) if worker else None
    out = r.stdout
    if r.returncode != 0:
        raise RuntimeError('wrk failed: %s\n%s' % (cmd, r.stderr))
    res = {'rps': None, 'p50': None, 'p99': None, 'requests': None,
           'non2xx': 0, 'socket_errors': 0}
    m = re.search(r'Requests/sec:\s+([\d.]+)', out)
    res['rps'] = float(m.group(1)) if m else None
    m = re.search(r'(\d+) requests in', out)
    res['requests'] = int(m.group(1)) if m else None
    for q, key in (('50', 'p50'), ('99', 'p99')):
        m = re.search(r'^\s+%s%%\s+(\S+)' % q, out, re.M)
        res[key] = _seconds(m.group(1)) if m else None
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    if m:
        res['non2xx'] = int(m.group(1))
    m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), '
                  r'timeout (\d+)', out)
    if m:
        res['socket_errors'] = sum(int(x) for x in m.groups())
    if worker and res['requests']:
        res['cpu_us_per_request'] = (t1 - t0) / 1e3 / res['requests']
    return res


def status_page(port, host, path, timeout=300, marks=None):
    """(seconds, body) of one GET of a status page on 127.0.0.1, which
    must answer 200; with marks (a list), also appends (sent, first byte,
    done) in wall-clock seconds"""
    s = socket.create_connection(('127.0.0.1', port), timeout)
    s.settimeout(timeout)
    w0, t0 = time.time(), time.monotonic()
    s.sendall(('GET %s HTTP/1.1\r\nHost: %s\r\n'
               'Connection: close\r\n\r\n' % (path, host)).encode())
    chunks, first = [], None
    while True:
        d = s.recv(1 << 20)
        if not d:
            break
        if first is None:
            first = time.time()
        chunks.append(d)
    s.close()
    t = time.monotonic() - t0
    head, _, body = b''.join(chunks).partition(b'\r\n\r\n')
    if not head.startswith(b'HTTP/1.1 200 '):
        raise RuntimeError('status answered %r' % head[:40])
    if marks is not None:
        marks.append((w0, first, w0 + t))
    return t, body


def open_loop(port, host, rate, conns, duration, cpu, samples=None):
    """bench/latency.c's open-loop client against the policy, pinned to
    cpu: its JSON summary; with samples (a path), every sample there"""
    cmd = pin(cpu, 2) + [LATENCY, '-p', str(port), '-H', host, '-u', PATH,
                         '-r', str(rate), '-c', str(conns),
                         '-d', str(duration)]
    if samples:
        cmd += ['-o', samples]
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=duration + 60)
    if r.returncode != 0:
        raise RuntimeError('latency: %s %s' % (r.stdout, r.stderr))
    return json.loads(r.stdout)
