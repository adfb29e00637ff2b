#!/usr/bin/perl

# Tests of the test harness itself, with stock nginx: start, raw HTTP,
# curl over HTTPS with the test CA, reload (also a refused one), log
# rotation, "nginx -t", helper daemons, and nsd inside a network
# namespace.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::IP;
use Test::More;
use Test::Nginx;
use Test::MtaSts::CA;
use Test::MtaSts::DNS;
use Test::MtaSts::Netns;

my $t = Test::Nginx->new();
my $d = $t->testdir;

my $ca = Test::MtaSts::CA->new($d);
my ($crt, $key) = $ca->cert('www', dns => ['www.a.test', '*.b.test']);
my ($ocrt, $okey) = $ca->cert('old', dns => ['old.a.test'],
	expired => 1, key => 'rsa');

my $conf = <<"EOF";
%%TEST_GLOBALS%%
events {}
http {
	%%TEST_GLOBALS_HTTP%%
	server {
		listen 127.0.0.1:%%PORT_8080%%;
		server_name localhost;
		location / { return 200 "ok"; }
	}
	server {
		listen 127.0.0.1:%%PORT_8443%% ssl http2;
		server_name www.a.test;
		ssl_certificate $crt;
		ssl_certificate_key $key;
		location / { return 200 "tls ok"; }
	}
	server {
		listen 127.0.0.1:%%PORT_8443%% ssl http2;
		server_name old.a.test;
		ssl_certificate $ocrt;
		ssl_certificate_key $okey;
		location / { return 200 "old"; }
	}
}
EOF
$t->write_file_expand('nginx.conf', $conf);
$t->plan(22)->run();

###############################################################################

my $port = $t->port(8080);
isnt($port, $t->port(8443), 'distinct ports');
like($t->read_file('nginx.conf'), qr/listen 127\.0\.0\.1:$port;/,
	'port placeholder expanded');

like($t->http_get('/'), qr/^HTTP\/1\.1 200 .*\r\n\r\nok\z/s, 'http_get');

my $s = $t->http("GET / HTTP/1.0\r\n", start => 1);
my $r = $t->http("Host: localhost\r\n\r\n", socket => $s);
like($r, qr/\r\n\r\nok\z/, 'http start and socket');

my $tls = 'https://www.a.test:' . $t->port(8443) . '/';
my @tls = (resolve => ['www.a.test:' . $t->port(8443) . ':127.0.0.1'],
	cacert => $ca->ca_file);

$r = $t->curl(@tls, $tls);
is($r->{status}, 200, 'curl https status');
is($r->{body}, 'tls ok', 'curl https body');
is($r->{headers}{'content-type'}, 'text/plain', 'curl header');

$r = $t->curl(@tls, '-I', '--http1.1', $tls);
ok($r->{status} == 200 && $r->{body} eq '', 'curl HEAD')
	or diag($r->{raw});

$r = $t->curl(@tls, '--http2', $tls);
ok($r->{header_text} =~ /^HTTP\/2 200/ && $r->{status} == 200,
	'curl http2 status line') or diag($r->{raw});

(my $old = $tls) =~ s/www/old/;
$r = $t->curl(resolve => 'old.a.test:' . $t->port(8443) . ':127.0.0.1',
	cacert => $ca->ca_file, $old);
like($r->{stderr}, qr/expired/, 'expired certificate refused');

like($t->http("GET / HTTP/1.0\r\n\r\n", port => $t->port(8443), ssl => 1,
	sni => 'www.a.test', cacert => $ca->ca_file), qr/tls ok\z/,
	'http over tls');

# reload: a new generation of workers serves the new config

(my $conf2 = $conf) =~ s/return 200 "ok"/return 200 "reloaded"/;
$t->write_file_expand('nginx.conf', $conf2);
$t->reload();
like($t->http_get('/'), qr/\r\n\r\nreloaded\z/, 'reload');

(my $bad = $conf2) =~ s/return 200 "reloaded"/bogus_directive/;
$t->write_file_expand('nginx.conf', $bad);
$t->reload(expect_failure => 1);
like($t->http_get('/'), qr/reloaded\z/, 'refused reload: old config serves');
like($t->read_file('error.log'), qr/\[emerg\].*bogus_directive/,
	'refused reload logged');

# the expected [emerg] is checked: the alerts check reads a fresh log
$t->rotate_log();
$t->write_file_expand('nginx.conf', $conf2);

# nginx -t

$t->nginx_t_fails("%%TEST_GLOBALS%%\nevents {}\nhttp { bogus_directive; }\n",
	qr/unknown directive "bogus_directive"/, 'nginx -t fails');
my $out = $t->nginx_t_ok("%%TEST_GLOBALS%%\nevents {}\nhttp {\n"
	. "%%TEST_GLOBALS_HTTP%%\nserver { listen 127.0.0.1:%%PORT_9000%%; "
	. "server_name x; }\nserver { listen 127.0.0.1:%%PORT_9000%%; "
	. "server_name x; } }\n", 'nginx -t ok');
like($out, qr/\[warn\].*conflicting server name "x"/, 'nginx -t warning');

# a helper daemon

my $fake = $t->port(9001);
$t->run_daemon(sub {
	my $l = IO::Socket::IP->new(LocalHost => '127.0.0.1',
		LocalPort => $fake, Listen => 5, ReuseAddr => 1) or die $@;
	while (my $c = $l->accept) {
		while (<$c>) { last if /^\r?\n$/ }
		print $c "HTTP/1.0 204 No Content\r\n\r\n";
		close $c;
	}
});
ok($t->waitforsocket("127.0.0.1:$fake"), 'waitforsocket');
like($t->http("GET / HTTP/1.0\r\n\r\n", port => $fake), qr/^HTTP\/1.0 204/,
	'run_daemon');

# nsd in a network namespace, resolving through /etc/netns

ok(Test::MtaSts::Netns->available, 'netns available');
{
	my $ns = Test::MtaSts::Netns->new('self');
	my $zone = Test::MtaSts::DNS->zone_text('a.test',
		'mta-sts IN A 127.0.0.1', '_mta-sts IN TXT "v=STSv1; id=42"');
	mkdir "$d/nsd";
	my $dns = Test::MtaSts::DNS->start_nsd(dir => "$d/nsd", netns => $ns,
		zones => { 'a.test' => $zone });
	my ($rc, $hosts) = $ns->exec('getent', 'hosts', 'mta-sts.a.test');
	like($hosts, qr/^127\.0\.0\.1\s+mta-sts\.a\.test$/m,
		'nsd in netns via resolv.conf');
	my ($txt) = $dns->query('_mta-sts.a.test', 'TXT')->answer;
	is($txt && $txt->txtdata, 'v=STSv1; id=42', 'nsd query');
}

###############################################################################
