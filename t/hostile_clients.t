#!/usr/bin/perl

# Hostile clients: enormous and malformed hosts, absolute request targets,
# HTTP/2 requests for several hosts on one connection, pipelined requests
# for several hosts on one keep-alive connection, encoded and dot-segment
# paths, request bodies with GET (with a request hidden in them), methods;
# and several servers with different policies on one listen socket, whose
# hosts must never get another server's policy.  Also what applies to the
# policy path and to the status location: server-level allow/deny and
# auth_basic do not protect the (public) policy, and do protect the status.
# Every behaviour asserted here is described in docs/security.md.

use warnings;
use strict;

use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;

###############################################################################

my $t = Test::Nginx->new();
my $d = $t->testdir;

my $ca = Test::MtaSts::CA->new($d);
my ($crt, $key) = $ca->cert('hostile', dns => [map { "mta-sts.$_.test" }
	qw(a b c d s x)]);

$t->write_file('htpasswd', "admin:{PLAIN}secret\n");
mkdir "$d/www" or die "mkdir: $!\n";
$t->write_file('www/index.html', "S index\n");

# P (default server of its sockets): a.test and b.test, enforce
# Q: c.test, and d.test by its list, but d.test has no server name: nginx
#    sends mta-sts.d.test to P, which does not serve it
# W: a web site without mta_sts
# S: a policy host whose server denies everything and wants a password
# H: hosted mode on a port of its own, answers any mta-sts.<anything>

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_resolver 127.0.0.1:%%PORT_5353%% timeout=300ms attempts=1;
    mta_sts_check_interval off;

    ssl_certificate $crt;
    ssl_certificate_key $key;

    server {
        listen 127.0.0.1:%%PORT_8080%% default_server;
        listen 127.0.0.1:%%PORT_8443%% ssl http2 default_server;
        server_name mta-sts.a.test mta-sts.b.test;

        mta_sts on;
        mta_sts_mode enforce;
        mta_sts_mx mx.a.test;

        location / {
            return 200 "P \$uri\\n";
        }
    }

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        listen 127.0.0.1:%%PORT_8443%% ssl http2;
        server_name mta-sts.c.test;

        mta_sts on;
        mta_sts_mode testing;
        mta_sts_mx mx1.c.test mx2.c.test;
        mta_sts_max_age 86400;
        mta_sts_domains {
            d.test;
        }

        location / {
            return 200 "Q \$uri\\n";
        }
    }

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name www.a.test;

        location / {
            return 200 "W \$uri\\n";
        }
    }

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.s.test;

        mta_sts on;
        mta_sts_mode enforce;
        mta_sts_mx mx.s.test;

        deny all;
        auth_basic "policy host";
        auth_basic_user_file $d/htpasswd;

        root $d/www;
    }

    server {
        listen 127.0.0.1:%%PORT_8082%%;
        server_name mta-sts.*;

        mta_sts on;
        mta_sts_mode none;
        mta_sts_mx mx.hosted.test;
    }

    server {
        listen 127.0.0.1:%%PORT_8081%%;
        server_name status;

        location = /status {
            mta_sts_status;
            allow 127.0.0.1;
            deny all;
        }

        location = /status-denied {
            mta_sts_status;
            deny 127.0.0.1;
        }

        location = /status-auth {
            mta_sts_status;
            auth_basic "status";
            auth_basic_user_file $d/htpasswd;
        }
    }
}
EOF

my $path = '/.well-known/mta-sts.txt';

sub policy {
	my ($mode, $max_age, @mx) = @_;
	return join '', "version: STSv1\r\n", "mode: $mode\r\n",
		(map { "mx: $_\r\n" } @mx), "max_age: $max_age\r\n";
}

my $P = policy('enforce', 604800, 'mx.a.test');
my $Q = policy('testing', 86400, 'mx1.c.test', 'mx2.c.test');
my $S = policy('enforce', 604800, 'mx.s.test');
my $H = policy('none', 604800, 'mx.hosted.test');

$t->plan(95)->run();

###############################################################################

# raw HTTP on a plain port; the responses of a connection, in order

sub raw {
	my ($req, %opt) = @_;
	return $t->http($req, port => $t->port($opt{port} // 8080),
		timeout => 10) // '';
}

sub responses {
	my ($raw) = @_;
	my @r;
	while ($raw =~ m{\AHTTP/1\.1 (\d{3}) }) {
		my $status = $1;
		my $i = index($raw, "\r\n\r\n");
		last if $i < 0;
		my $head = substr($raw, 0, $i);
		my ($len) = $head =~ /\r\ncontent-length: *(\d+)/i;
		last unless defined $len;
		# a HEAD response has none of the body of its length
		push @r, { status => $status, head => $head,
			body => substr($raw, $i + 4, $len) };
		$raw = length($raw) > $i + 4 + $len
			? substr($raw, $i + 4 + $len) : '';
	}
	push @r, { status => 'junk', head => '', body => $raw } if length $raw;
	return @r;
}

sub get {
	my ($host, $uri, %opt) = @_;
	my $raw = raw(($opt{method} // 'GET') . ' ' . ($uri // $path)
		. " HTTP/1.1\r\n" . (defined $host ? "Host: $host\r\n" : '')
		. ($opt{headers} // '') . "Connection: close\r\n\r\n"
		. ($opt{body} // ''), %opt);
	my ($r) = responses($raw);
	return $r // { status => 'none', head => '', body => $raw };
}

# a response: status and body, and never a policy unless one is expected
sub answer {
	my ($r) = @_;
	return "$r->{status} "
		. ($r->{body} eq $P ? 'P' : $r->{body} eq $Q ? 'Q'
		: $r->{body} eq $S ? 'S' : $r->{body} eq $H ? 'H'
		: $r->{body} =~ /version: STSv1/ ? 'MIXED'
		: $r->{body} =~ /^([PQWS]) / ? "$1-app" : 'other');
}

###############################################################################

# the servers, each host with its own policy

is(answer(get('mta-sts.a.test')), '200 P', 'a.test: policy of P');
is(answer(get('mta-sts.b.test')), '200 P', 'b.test: policy of P');
is(answer(get('mta-sts.c.test')), '200 Q', 'c.test: policy of Q');
is(answer(get('mta-sts.s.test')), '200 S', 's.test: policy of S');
is(answer(get('mta-sts.anything.test', undef, port => 8082)), '200 H',
	'hosted mode: any mta-sts. host');

# hosts that no server's set has, or that nginx gives another server

is(answer(get('mta-sts.d.test')), '404 other',
	'd.test, listed by Q but routed to P: 404, neither policy');
is(answer(get('mta-sts.x.test')), '404 other', 'unknown policy host: 404');
is(answer(get('a.test')), '404 other', 'host without mta-sts.: 404');
is(answer(get('mta-sts.a.test.evil.test')), '404 other',
	'served domain as a prefix: 404');
is(answer(get('evil.mta-sts.a.test')), '404 other',
	'served host as a suffix: 404');
is(answer(get('www.a.test')), '200 W-app',
	'server without mta_sts: its own location');
is(answer(get('mta-sts.', undef, port => 8082)), '404 other',
	'hosted mode: "mta-sts." alone is no domain: 404');

###############################################################################

# enormous hosts

my $big = 'mta-sts.' . ('a' x 10240) . '.test';
my $r = get($big);
is($r->{status}, 400, 'host of 10 KB: 400 from nginx');
like($r->{body}, qr/Request Header Or Cookie Too Large/,
	'host of 10 KB: nginx\'s header limit');

my $long = 'mta-sts.' . join('.', ('a' x 63) x 100) . '.test';
is(answer(get($long)), '404 other', 'host of 6.4 KB within the limit: 404');
is(answer(get($long, undef, port => 8082)), '200 H',
	'host of 6.4 KB, hosted mode: its policy, as any mta-sts. host');

$r = get('mta-sts.a.test', "$path?" . ('q' x 10240));
is($r->{status}, 414, 'request line of 10 KB: 414 from nginx');
unlike($r->{body}, qr/STSv1/, 'request line of 10 KB: no policy');

# malformed hosts: what nginx refuses is refused before the module

for my $case (
	['mta-sts..a.test', '400 other', 'empty label'],
	['mta-sts.a.test..', '400 other', 'two trailing dots'],
	['mta-sts.a.test/x', '400 other', 'a slash'],
	["mta-sts.a.test\x01", '400 other', 'a control character'],
	['', '400 other', 'empty Host, HTTP/1.1'],
	['mta-sts.a.test:abc', '200 P', 'a port that is no number'],
	['mta-sts.a.test:', '200 P', 'an empty port'],
	['MTA-STS.A.TEST.:443', '200 P', 'upper case, dot and port'],
	['[::1]', '404 other', 'an IPv6 literal'],
	['127.0.0.1', '404 other', 'an IPv4 literal'],
	['mta-sts.a.test\\x', '404 other', 'a backslash'],
	['mta-sts.a.test@mta-sts.c.test', '404 other', 'user info'],
	["mta-sts.a.test\xc3\xa9", '404 other', 'a UTF-8 byte'],
)
{
	my ($host, $want, $name) = @$case;
	is(answer(get($host)), $want, "host with $name");
}

is(answer(get(undef)), '400 other', 'no Host, HTTP/1.1: 400');
is(answer(responses(raw("GET $path HTTP/1.1\r\nHost: mta-sts.a.test\r\n"
	. "Host: mta-sts.c.test\r\nConnection: close\r\n\r\n"))),
	'400 other', 'two Host headers: 400');

# absolute request targets: nginx takes the host of the request line

is(answer(get('mta-sts.a.test', "http://mta-sts.c.test$path")), '200 Q',
	'absolute target of c.test, Host a.test: policy of c.test');
is(answer(get('mta-sts.c.test', "http://mta-sts.a.test$path")), '200 P',
	'absolute target of a.test, Host c.test: policy of a.test');
is(answer(get('mta-sts.a.test', "http://evil.test$path")), '404 other',
	'absolute target of another host, Host a.test: 404');
is(answer(get('mta-sts.a.test', "https://mta-sts.c.test:443$path")),
	'200 Q', 'absolute https target with a port');
is(answer(get('mta-sts.a.test', "http://mta-sts..c.test$path")),
	'400 other', 'absolute target with a malformed host: 400');

###############################################################################

# paths: normalized as for "location =", case-sensitive

for my $case (
	['/.well-known/%6Dta-sts.txt', '200 P'],
	['/.well-known/mta%2Dsts%2Etxt', '200 P'],
	['/.well-known%2Fmta-sts.txt', '200 P'],
	['/.well-known/./mta-sts.txt', '200 P'],
	['/.well-known/%2e/mta-sts.txt', '200 P'],
	['/x/../.well-known/mta-sts.txt', '200 P'],
	['/.well-known/x/y/../../mta-sts.txt', '200 P'],
	['//.well-known//mta-sts.txt', '200 P'],
	["$path?x=1&host=mta-sts.c.test", '200 P'],
	["$path#fragment", '200 P'],
	['/.WELL-KNOWN/mta-sts.txt', '200 P-app'],
	['/.well-known/MTA-STS.TXT', '200 P-app'],
	['/.well-known/mta-sts.txt/', '200 P-app'],
	['/.well-known/mta-sts.txt/.', '200 P-app'],
	['/.well-known/mta-sts.txt;x', '200 P-app'],
	['/.well-known/mta-sts.txt%3F', '200 P-app'],
	['/.well-known/mta-sts.txt%20', '200 P-app'],
	['/.well-known\\mta-sts.txt', '200 P-app'],
	['/.well-known/mta-sts.txt%00', '400 other'],
	['/../.well-known/mta-sts.txt', '400 other'],
	['/%2e%2e/.well-known/mta-sts.txt', '400 other'],
	['.well-known/mta-sts.txt', '400 other'],
)
{
	my ($uri, $want) = @$case;
	is(answer(get('mta-sts.a.test', $uri)), $want, "path $uri");
}

# other paths of a policy host are the server's own

is(answer(get('mta-sts.c.test', '/index.html')), '200 Q-app',
	'other path on c.test: location of Q');
is(answer(get('mta-sts.a.test', '/.well-known/security.txt')), '200 P-app',
	'other well-known path: location of P');

###############################################################################

# methods: 405 with Allow from the module, before the host is looked up;
# TRACE and CONNECT are refused by nginx itself

for my $m (qw(POST PUT DELETE PATCH OPTIONS PROPFIND FOO)) {
	$r = get('mta-sts.a.test', undef, method => $m,
		headers => "Content-Length: 3\r\n", body => 'x=1');
	ok($r->{status} == 405 && $r->{head} =~ /\r\nAllow: GET, HEAD(\r|$)/
		&& $r->{body} !~ /STSv1/, "$m: 405 with Allow, no policy");
}

$r = get('mta-sts.x.test', undef, method => 'POST');
ok($r->{status} == 405 && $r->{head} =~ /\r\nAllow: GET, HEAD/,
	'POST for an unknown host: 405 too');

for my $m (qw(TRACE CONNECT)) {
	$r = get('mta-sts.a.test', undef, method => $m);
	ok($r->{status} == 405 && $r->{body} !~ /STSv1/,
		"$m: 405 from nginx, no policy");
}

is(answer(get('mta-sts.a.test', undef, method => 'get')), '400 other',
	'lower-case method: 400 from nginx');

$r = get('mta-sts.a.test', undef, method => 'HEAD');
is("$r->{status} " . length($r->{body}), '200 0', 'HEAD: 200 without body');

###############################################################################

# request bodies with GET are read and thrown away: a request hidden in
# a body is never answered, the next request of the connection is

my $hidden = "GET $path HTTP/1.1\r\nHost: mta-sts.c.test\r\n\r\n";

my @r = responses(raw("GET $path HTTP/1.1\r\nHost: mta-sts.a.test\r\n"
	. 'Content-Length: ' . length($hidden) . "\r\n\r\n$hidden"
	. "GET $path HTTP/1.1\r\nHost: mta-sts.b.test\r\n"
	. "Connection: close\r\n\r\n"));
is(join(', ', map { answer($_) } @r), '200 P, 200 P',
	'GET with a body holding a request: two answers, of a.test and b.test');

my $chunked = sprintf "%x\r\n%s\r\n0\r\n\r\n", length $hidden, $hidden;
@r = responses(raw("GET $path HTTP/1.1\r\nHost: mta-sts.a.test\r\n"
	. "Transfer-Encoding: chunked\r\n\r\n$chunked"
	. "GET $path HTTP/1.1\r\nHost: mta-sts.b.test\r\n"
	. "Connection: close\r\n\r\n"));
is(join(', ', map { answer($_) } @r), '200 P, 200 P',
	'GET with a chunked body holding a request: the same');

@r = responses(raw("GET $path HTTP/1.1\r\nHost: mta-sts.a.test\r\n"
	. "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n$chunked"
	. "GET $path HTTP/1.1\r\nHost: mta-sts.b.test\r\n"
	. "Connection: close\r\n\r\n"));
is(join(', ', map { answer($_) } @r), '400 other',
	'Content-Length and Transfer-Encoding: 400 from nginx, connection closed');

my $big_body = 'x' x 2_000_000;
@r = responses(raw("GET $path HTTP/1.1\r\nHost: mta-sts.a.test\r\n"
	. 'Content-Length: ' . length($big_body) . "\r\n\r\n$big_body"
	. "GET $path HTTP/1.1\r\nHost: mta-sts.c.test\r\n"
	. "Connection: close\r\n\r\n"));
is(join(', ', map { answer($_) } @r), '200 P, 200 Q',
	'GET with a body of 2 MB: thrown away, then the next request');

###############################################################################

# pipelined requests for several hosts on one keep-alive connection: each
# gets its own domain's answer, in order

my @hosts = qw(mta-sts.a.test mta-sts.c.test mta-sts.x.test mta-sts.d.test
	mta-sts.b.test mta-sts.s.test mta-sts.c.test mta-sts.a.test);
my $pipeline = join '', map { "GET $path HTTP/1.1\r\nHost: $_\r\n\r\n" }
	@hosts;
@r = responses(raw($pipeline . "GET /other HTTP/1.1\r\n"
	. "Host: www.a.test\r\nConnection: close\r\n\r\n"));
is(join(', ', map { answer($_) } @r),
	'200 P, 200 Q, 404 other, 404 other, 200 P, 200 S, 200 Q, 200 P, '
	. '200 W-app', 'pipelined: each host its own answer, in order');

# the same, the requests sent one by one on the connection

my $s = $t->http('', port => $t->port(8080), start => 1);
my @seq;
for my $h (@hosts) {
	$s->syswrite("GET $path HTTP/1.1\r\nHost: $h\r\n\r\n");
	my $buf = '';
	while (1) {
		my @one = responses($buf);
		last if @one && $one[0]{status} ne 'junk';
		last unless $s->sysread($buf, 65536, length $buf);
	}
	push @seq, answer((responses($buf))[0]);
}
close $s;
is(join(', ', @seq), '200 P, 200 Q, 404 other, 404 other, 200 P, 200 S, '
	. '200 Q, 200 P', 'keep-alive, one by one: each host its own answer');

###############################################################################

# HTTP/2 over TLS: several :authority values on one connection (curl
# reuses it for each --next with the same URL, and sends its Host header
# as :authority)

my $port = $t->port(8443);
my $url = "https://mta-sts.a.test:$port$path";
my @h2 = ('mta-sts.a.test', 'mta-sts.c.test', 'mta-sts.x.test',
	'mta-sts.d.test', 'mta-sts.b.test', 'mta-sts.c.test', 'a.test',
	'mta-sts.a.test');
my $slow = Test::Nginx->can('slow') ? Test::Nginx::slow() : 1;
my @cmd = ('curl', '-sS', '--max-time', 10 * $slow);
for my $i (0 .. $#h2) {
	push @cmd, '--next' if $i;
	push @cmd, '--http2', '--cacert', $ca->ca_file,
		'--resolve', "mta-sts.a.test:$port:127.0.0.1",
		'-H', "Host: $h2[$i]",
		'-w', '\n<<%{http_code} %{http_version} %{num_connects}>>\n', $url;
}
my ($rc, $out, $err) = Test::Nginx::capture(\@cmd, timeout => 30 * $slow);
my @h2r;
while ($out =~ /\G(.*?)\n<<(\d+) (\S+) (\d+)>>\n/gs) {
	push @h2r, { body => $1, status => $2, version => $3, connects => $4 };
}
is(scalar(@h2r), scalar(@h2), 'HTTP/2: all answered') or diag("$err$out");
is(join(' ', map { $_->{version} } @h2r), join(' ', ('2') x @h2),
	'HTTP/2: all over HTTP/2');
is(join(' ', map { $_->{connects} } @h2r), join(' ', 1, ('0') x $#h2),
	'HTTP/2: all on one connection');
is(join(', ', map { answer($_) } @h2r), '200 P, 200 Q, 404 other, '
	. '404 other, 200 P, 200 Q, 404 other, 200 P',
	'HTTP/2: each :authority its own answer');

# an enormous :authority

$r = $t->curl('--http2', cacert => $ca->ca_file,
	resolve => "mta-sts.a.test:$port:127.0.0.1", '-H', "Host: $big", $url);
ok($r->{status} =~ /^(?:400|404|414|431|494)$/ && $r->{body} !~ /STSv1/,
	'HTTP/2, :authority of 10 KB: refused, no policy')
	or diag("$r->{status} $r->{stderr}");

# a request body with GET over HTTP/2

$r = $t->curl('--http2', cacert => $ca->ca_file,
	resolve => "mta-sts.a.test:$port:127.0.0.1", '-X', 'GET',
	'--data-binary', $hidden, $url);
is(answer($r), '200 P', 'HTTP/2, GET with a body: the policy');

###############################################################################

# access: server-level allow/deny and auth_basic do not apply to the
# policy path, answered before the access phase; they apply elsewhere

is(answer(get('mta-sts.s.test')), '200 S', 'deny all: policy still served');
is(get('mta-sts.s.test', '/index.html')->{status}, 403,
	'deny all: other paths 403');

# ...and do apply to the status location, a normal location

sub status {
	my ($uri, @h) = @_;
	return get('status', $uri, port => 8081,
		headers => join('', map { "$_\r\n" } @h));
}

$r = status('/status');
ok($r->{status} == 200 && $r->{body} =~ /"domains"/,
	'status: allowed address gets the page');
$r = status('/status-denied');
ok($r->{status} == 403 && $r->{body} !~ /"domains"|a\.test/,
	'status: denied address gets 403');
$r = status('/status-auth');
ok($r->{status} == 401 && $r->{body} !~ /"domains"|a\.test/,
	'status: no password, 401');
$r = status('/status-auth', 'Authorization: Basic YWRtaW46d3Jvbmc=');
is($r->{status}, 401, 'status: wrong password, 401');
$r = status('/status-auth', 'Authorization: Basic YWRtaW46c2VjcmV0');
ok($r->{status} == 200 && $r->{body} =~ /"domains"/,
	'status: right password, the page');

###############################################################################

# after all this, the workers still serve

is(answer(get('mta-sts.a.test')), '200 P', 'a.test still served');
is(answer(get('mta-sts.c.test')), '200 Q', 'c.test still served');

###############################################################################
