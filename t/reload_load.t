#!/usr/bin/perl

# Reload under load: while clients fetch the policy at full speed, nginx is
# reloaded 50 times, alternating two configurations with different policies.
# Every response must be one of the two policies, whole: never a mix, never
# a failed request.  Two clients run at once:
#
# - wrk with a Lua script that compares each body with the two policies,
#   one connection per request ("Connection: close"): with keep-alive, wrk
#   counts as a read error every idle connection that an old worker closes
#   when it leaves (8 connections, 50 reloads: 400 "read errors"), although
#   nothing is lost, so wrk cannot tell those from real failures;
# - a keep-alive client of this file, which does what real clients do (RFC
#   9112 section 9.3.1): it sends a request again only when the connection
#   closes before the first byte of the response, and counts anything else
#   that is not a whole policy as a failure.
#
# Then 500 quick reloads: the RSS of the master, and of the workers, must
# stay flat (within 10% between reload 50 and reload 500).
#
# Under ASan or valgrind ("make test SANITIZE=1", "VALGRIND=1") nginx is
# slower and its RSS is mostly the tool's: fewer reloads, and the tools'
# own checks instead of the RSS comparison.

use warnings;
use strict;

use Test::More;

use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use IO::Select;
use IO::Socket::IP;
use Time::HiRes qw(sleep time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;

###############################################################################

my $HOST = 'mta-sts.load.test';
my $PATH = '/.well-known/mta-sts.txt';

my %POLICY = (
	A => "version: STSv1\r\nmode: enforce\r\nmx: a.example\r\n"
		. "max_age: 604800\r\n",
	B => "version: STSv1\r\nmode: testing\r\nmx: b1.example\r\n"
		. "mx: b2.example\r\nmax_age: 604800\r\n",
);

my %SET = (
	A => { mode => 'enforce', mx => 'a.example', id => 'idA' },
	B => { mode => 'testing', mx => 'b1.example b2.example', id => 'idB' },
);

my $TOOL = $ENV{TEST_NGINX_SANITIZE} ? 'ASan'
	: $ENV{TEST_NGINX_VALGRIND} ? 'valgrind' : undef;
my $SLOW = Test::Nginx->can('slow') ? Test::Nginx::slow() : 1;

my $LOADED = $ENV{TEST_NGINX_VALGRIND} ? 10 : 50;	# reloads under load
my @MARK = $TOOL ? (10, 50) : (50, 500);		# RSS after these reloads

my $t = Test::Nginx->new();
my $d = $t->testdir;

my $ca = Test::MtaSts::CA->new($d);
my ($crt, $key) = $ca->cert('load', dns => [$HOST]);

# The status location, a shared zone and a TLS server too, so that the
# reloads of the memory test rebuild all that the module builds.  Debug
# logging of every request would slow nginx down: requests log at "notice".
# The trust store of the checks is the system's (a CA bundle that OpenSSL
# reads at each reload, some 90 ms here), or for the 500 quick reloads the
# test CA alone.

sub write_conf {
	my ($set, $quick) = @_;
	my $s = $SET{$set};
	my $trust = $quick
		? 'mta_sts_trusted_certificate ' . $ca->ca_file . ';' : '';
	$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    error_log $d/error.log notice;
    access_log off;

    mta_sts_resolver 127.0.0.1:%%PORT_5353%% timeout=300ms attempts=1;
    mta_sts_check_interval off;
    $trust

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        listen 127.0.0.1:%%PORT_8443%% ssl;
        server_name $HOST;

        ssl_certificate $crt;
        ssl_certificate_key $key;

        mta_sts on;
        mta_sts_mode $s->{mode};
        mta_sts_mx $s->{mx};
        mta_sts_id $s->{id};
        mta_sts_tlsrpt_rua mailto:tlsrpt\@load.test;
    }

    server {
        listen 127.0.0.1:%%PORT_8081%%;

        location = /status {
            mta_sts_status;
        }

        location = /set {
            return 200 "$set";
        }
    }
}
EOF
}

write_conf('A');

die "wrk is not installed (Debian package wrk)\n"
	unless grep { -x "$_/wrk" } split /:/, $ENV{PATH};

$t->plan(14)->run();

###############################################################################

my $port = $t->port(8080);
my $url = "http://127.0.0.1:$port$PATH";

sub lua_string {
	my ($s) = @_;
	$s =~ s/([\\"])/\\$1/g;
	$s =~ s/\r/\\r/g;
	$s =~ s/\n/\\n/g;
	return qq{"$s"};
}

# wrk: each thread counts bodies equal to A, to B, others and statuses
# other than 200; done() adds up the threads and prints one line.

$t->write_file('count.lua', <<"EOF");
wrk.headers["Host"] = "$HOST"
wrk.headers["Connection"] = "close"

local A = @{[ lua_string($POLICY{A}) ]}
local B = @{[ lua_string($POLICY{B}) ]}

na, nb, nother, nstatus = 0, 0, 0, 0

function response(status, headers, body)
    if status ~= 200 then nstatus = nstatus + 1 end
    if body == A then na = na + 1
    elseif body == B then nb = nb + 1
    else nother = nother + 1 end
end

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function done(summary, latency, requests)
    local a, b, o, s = 0, 0, 0, 0
    for _, th in ipairs(threads) do
        a = a + th:get("na")
        b = b + th:get("nb")
        o = o + th:get("nother")
        s = s + th:get("nstatus")
    end
    local e = summary.errors
    io.write(string.format("RESULT requests=%d a=%d b=%d other=%d "
        .. "non200=%d connect=%d read=%d write=%d timeout=%d status=%d\\n",
        summary.requests, a, b, o, s, e.connect, e.read, e.write,
        e.timeout, e.status))
end
EOF

# The keep-alive client: $n connections, one request in flight on each, until
# SIGUSR1 or $limit seconds; writes its counts to $out.  A connection that
# closes (or is reset) before any byte of the response is opened again and
# the request sent again ("retries"); one that closes inside a response, a
# response that is not 200 with A or B, or no progress for 5 s, is a
# failure.  (Each reload closes every idle keep-alive connection of the
# old workers: about 4 retries per reload.)

sub keepalive_client {
	my ($n, $out, $limit) = @_;

	my $stop = 0;
	local $SIG{USR1} = sub { $stop = 1 };
	local $SIG{PIPE} = 'IGNORE';

	my %c = map { $_ => 0 } qw(A B other status broken retries connect
		timeout);
	my $req = "GET $PATH HTTP/1.1\r\nHost: $HOST\r\n\r\n";
	my $sel = IO::Select->new();
	my %conn;
	my $end = time + $limit;

	my $close = sub {
		my ($st) = @_;
		$sel->remove($st->{s});
		delete $conn{$st->{s}};
		close $st->{s};
	};

	# a request on a connection; a failed write is a close before any
	# byte of the response
	my $send = sub {
		my ($st) = @_;
		my $w = syswrite($st->{s}, $req);
		$st->{at} = time;
		return 1 if defined $w && $w == length $req;
		$close->($st);
		return 0;
	};

	# a new connection and a request on it; $retry: the request of a
	# connection that closed before answering
	my $start = sub {
		my ($retry) = @_;
		for (1 .. 3) {
			$c{retries}++ if $retry;
			my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1',
				PeerPort => $port, Proto => 'tcp', Timeout => 5);
			unless ($s) {
				$c{connect}++;
				next;
			}
			$s->blocking(0);
			my $st = $conn{$s} = { s => $s, buf => '' };
			$sel->add($s);
			return 1 if $send->($st);
			$retry = 1;
		}
		return 0;
	};

	$start->(0) for 1 .. $n;

	while (!$stop && time < $end) {
		for my $s ($sel->can_read(0.2)) {
			my $st = $conn{$s} or next;
			my $r = sysread($s, my $data, 65536);
			next if !defined $r
				&& ($! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR);

			if (!$r) {
				# EOF or reset: before any byte of the response the
				# request is sent again, inside one it is a failure
				$c{broken}++ if $st->{buf} ne '';
				$close->($st);
				$start->($st->{buf} eq '') unless $stop;
				next;
			}

			$st->{buf} .= $data;
			$st->{at} = time;

			my $i = index($st->{buf}, "\r\n\r\n");
			next if $i < 0;
			my $head = substr($st->{buf}, 0, $i);
			my ($len) = $head =~ /\r\ncontent-length: *(\d+)/i;
			if (!defined $len) {
				$c{broken}++;
				$close->($st);
				$start->(0) unless $stop;
				next;
			}
			next if length($st->{buf}) < $i + 4 + $len;

			my $body = substr($st->{buf}, $i + 4, $len);
			$c{status}++ unless $head =~ m{\AHTTP/1\.1 200 };
			$c{$body eq $POLICY{A} ? 'A' : $body eq $POLICY{B} ? 'B'
				: 'other'}++;
			# nothing was pipelined: no byte may follow
			$c{other}++ if length($st->{buf}) > $i + 4 + $len;
			$st->{buf} = '';

			if ($head =~ /\r\nconnection: *close/i) {
				$close->($st);
				$start->(0) unless $stop;
				next;
			}
			$send->($st) or $start->(1) unless $stop;
		}

		for my $st (values %conn) {
			next if time - $st->{at} < 5 * $SLOW;
			$c{timeout}++;
			$close->($st);
			$start->(0) unless $stop;
		}

		# connections lost to failed connects are replaced
		for (scalar(keys %conn) + 1 .. $n) {
			last if $stop || $c{connect} > 100;
			$start->(0);
		}
	}

	open my $fh, '>', "$out.tmp" or die "$out.tmp: $!\n";
	print $fh join(' ', map { "$_=$c{$_}" } sort keys %c), "\n";
	close $fh;
	rename "$out.tmp", $out;
}

# a daemon of the harness (killed at the end whatever happens), whose
# output file appears when it is done
sub start_client {
	my ($code) = @_;
	return $t->run_daemon($code);
}

sub wait_file {
	my ($name, $re, $timeout) = @_;
	my $deadline = time + $timeout;
	while (time < $deadline) {
		my $text = -e "$d/$name" ? $t->read_file($name) : '';
		return $text if $text =~ $re;
		sleep 0.1;
	}
	return $t->read_file($name) if -e "$d/$name";
	return '';
}

sub counts {
	my ($text) = @_;
	return { $text =~ /(\w+)=(\d+)/g };
}

sub get {
	my ($uri, $port_n) = @_;
	my $raw = $t->http("GET $uri HTTP/1.0\r\nHost: $HOST\r\n\r\n",
		port => $t->port($port_n // 8080)) // '';
	return (split /\r\n\r\n/, $raw, 2)[1] // '';
}

###############################################################################

# the two configurations, as served

is(get($PATH), $POLICY{A}, 'set A served');
write_conf('B');
$t->reload();
is(get($PATH), $POLICY{B}, 'set B served');

# $LOADED reloads under load: both clients start on set B and are stopped
# after the last reload

my $wrk = start_client(sub {
	open STDOUT, '>', "$d/wrk.out" or die "wrk.out: $!\n";
	open STDERR, '>&', \*STDOUT;
	exec 'wrk', '-t1', '-c4', '-d' . 90 * $SLOW . 's',
		'--timeout', 5 * $SLOW . 's', '-s', "$d/count.lua", $url;
});
my $ka = start_client(sub {
	keepalive_client(4, "$d/keepalive.out", 90 * $SLOW);
});

# both are under way before the first reload
sleep 0.5;

my $t0 = time;
for my $i (1 .. $LOADED) {
	write_conf($i % 2 ? 'A' : 'B');
	$t->reload();
}
my $took = time - $t0;
is(get('/set', 8081), 'B',
	"$LOADED reloads: the last configuration is loaded");

kill 'INT', $wrk;
kill 'USR1', $ka;

my $wout = wait_file('wrk.out', qr/^RESULT /m, 15 * $SLOW);
my $kout = wait_file('keepalive.out', qr/\n\z/, 15 * $SLOW);
my $w = counts(($wout =~ /^RESULT (.*)$/m)[0] // '');
my $k = counts($kout);

note(sprintf "%d reloads in %.1f s; wrk: %s; keep-alive client: %s",
	$LOADED, $took, ($wout =~ /^RESULT (.*)$/m)[0] // 'no result', $kout);

ok(($w->{requests} // 0) > 0 && $w->{a} > 0 && $w->{b} > 0,
	'wrk: both policies seen') or diag($wout);
is($w->{other}, 0, 'wrk: every body is policy A or policy B');
is(($w->{non200} // -1) + ($w->{status} // -1), 0, 'wrk: every status 200');
is(join(' ', map { "$_=" . ($w->{$_} // '?') }
	qw(connect read write timeout)),
	'connect=0 read=0 write=0 timeout=0', 'wrk: no socket errors');
is(($w->{a} // 0) + ($w->{b} // 0), $w->{requests},
	'wrk: all requests counted');

ok(($k->{A} // 0) > 0 && ($k->{B} // 0) > 0,
	'keep-alive client: both policies seen') or diag($kout);
is(join(' ', map { "$_=" . ($k->{$_} // '?') }
	qw(other status broken timeout connect)),
	'other=0 status=0 broken=0 timeout=0 connect=0',
	'keep-alive client: every response whole, 200, policy A or B');

###############################################################################

# memory: 500 reloads, each waiting for the new workers; the RSS of the
# master and of the workers (after a few requests) at reload 50 and 500

# (master, the largest worker)
sub sample {
	get($PATH) for 1 .. 20;
	get('/status', 8081);
	my @w = map { Test::Nginx::vmrss($_) // 0 } $t->workers;
	return (Test::Nginx::vmrss($t->master_pid) // 0,
		(sort { $b <=> $a } @w)[0] // 0);
}

my ($m1, $m2) = @MARK;
my %rss;
$t0 = time;

for my $i (1 .. $m2) {
	write_conf($i % 2 ? 'A' : 'B', 1);
	$t->reload();
	$rss{$i} = [sample()] if $i == $m1 || $i == $m2;
}
$took = time - $t0;

note(sprintf "%d reloads in %.1f s; master RSS %d kB at %d, %d kB at %d; "
	. "worker RSS %d kB at %d, %d kB at %d", $m2, $took,
	$rss{$m1}[0], $m1, $rss{$m2}[0], $m2, $rss{$m1}[1], $m1,
	$rss{$m2}[1], $m2);

is(get('/set', 8081), 'B', "$m2 reloads: the last configuration is loaded");
is(get($PATH), $POLICY{B}, "$m2 reloads: its policy served");

SKIP: {
	skip "under ${TOOL}, the RSS is mostly the tool's own", 2 if $TOOL;

	ok($rss{$m2}[0] <= $rss{$m1}[0] * 1.1,
		"master RSS flat from reload $m1 to reload $m2")
		or diag("master RSS: $rss{$m1}[0] kB at $m1, "
			. "$rss{$m2}[0] kB at $m2");
	ok($rss{$m2}[1] <= $rss{$m1}[1] * 1.1,
		"worker RSS flat from reload $m1 to reload $m2")
		or diag("worker RSS: $rss{$m1}[1] kB at $m1, "
			. "$rss{$m2}[1] kB at $m2");
}

###############################################################################
