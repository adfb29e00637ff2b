#!/usr/bin/perl

# Many virtual hosts: 1,000 servers from an include directory, each with its
# own policy; a hosted-mode server with a 1,000-domain list; a domain served
# by two servers on different ports; hosted mode for any domain.

use warnings;
use strict;

use Test::More;
use IO::Socket::INET;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;

###############################################################################

my $N = 1000;

my $t = Test::Nginx->new();
my $d = $t->testdir;

mkdir "$d/mta-sts.d" or die "mkdir: $!";

for my $i (1 .. $N) {
	$t->write_file_expand("mta-sts.d/d$i.conf", <<"EOF");
server {
    listen 127.0.0.1:%%PORT_8080%%;
    server_name mta-sts.d$i.test;
    mta_sts on;
    mta_sts_mx mx$i.d$i.test;
}
EOF
}

$t->write_file('hosted-domains.txt',
	join('', map { "customer$_.test;\n" } 1 .. $N));

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_mode enforce;

    include mta-sts.d/*.conf;

    # hosted mode with a list: only the listed domains
    server {
        listen 127.0.0.1:%%PORT_8081%%;
        server_name mta-sts.*;
        mta_sts on;
        mta_sts_mx *.mx.provider.test;
        mta_sts_domains {
            include hosted-domains.txt;
            extra1.test extra2.test;
        }
    }

    # d1.test again, on another port, with another policy
    server {
        listen 127.0.0.1:%%PORT_8082%%;
        server_name mta-sts.d1.test;
        mta_sts on;
        mta_sts_mx other.d1.test;
        mta_sts_mode testing;
    }

    # hosted mode for any domain
    server {
        listen 127.0.0.1:%%PORT_8083%%;
        server_name ~^mta-sts\.;
        mta_sts on;
        mta_sts_mx mx.any.test;
    }
}
EOF

$t->plan(15)->run();

###############################################################################

sub policy {
	my ($mode, $mx) = @_;
	return "version: STSv1\r\nmode: $mode\r\nmx: $mx\r\nmax_age: 604800\r\n";
}

# many requests over one keep-alive connection; returns "status body" each

sub fetch_all {
	my ($port, @hosts) = @_;
	my $s = IO::Socket::INET->new("127.0.0.1:$port") or die "connect: $!";
	my @r;

	for my $host (@hosts) {
		print $s "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
			. "Host: $host\r\n\r\n";

		my ($head, $line) = ('', '');
		while (defined($line = <$s>)) {
			last if $line eq "\r\n";
			$head .= $line;
		}

		my ($status) = $head =~ /^HTTP\/1.1 (\d+)/;
		my ($len) = $head =~ /^Content-Length: (\d+)/mi;
		my $body = '';
		read($s, $body, $len) if $len;
		push @r, ($status // 'none') . " $body";
	}

	return @r;
}

# 1,000 servers, each its own policy

my @r = fetch_all($t->port(8080), map { "mta-sts.d$_.test" } 1 .. $N);
my @bad = grep { $r[$_ - 1] ne '200 ' . policy('enforce', "mx$_.d$_.test") }
	1 .. $N;
is("@bad", '', "$N servers: each answers its own policy");

@r = fetch_all($t->port(8080), 'mta-sts.d1001.test', 'mta-sts.customer1.test');
like($r[0], qr/^404 /, 'a domain of no server: 404');
like($r[1], qr/^404 /, 'a hosted domain on the wrong port: 404');

# hosted mode with a list

@r = fetch_all($t->port(8081), map { "mta-sts.customer$_.test" } 1 .. $N);
@bad = grep { $r[$_ - 1] ne '200 ' . policy('enforce', '*.mx.provider.test') }
	1 .. $N;
is("@bad", '', "hosted: $N listed domains answered");

@r = fetch_all($t->port(8081), 'mta-sts.extra1.test', 'mta-sts.extra2.test',
	'MTA-STS.CUSTOMER7.TEST', 'mta-sts.customer1001.test',
	'mta-sts.d1.test', 'customer1.test', 'mta-sts.sub.customer1.test');
is($r[0], '200 ' . policy('enforce', '*.mx.provider.test'),
	'hosted: several names on one line');
is($r[1], $r[0], 'hosted: second name on the line');
is($r[2], $r[0], 'hosted: host case ignored');
like($r[3], qr/^404 /, 'hosted: unlisted domain 404');
like($r[4], qr/^404 /, 'hosted: domain of another server 404');
like($r[5], qr/^404 /, 'hosted: host without mta-sts. 404');
like($r[6], qr/^404 /, 'hosted: subdomain of a listed domain 404');

# the same domain in two servers

@r = fetch_all($t->port(8082), 'mta-sts.d1.test', 'mta-sts.d2.test');
is($r[0], '200 ' . policy('testing', 'other.d1.test'),
	'same domain, other server: its own policy');
like($r[1], qr/^404 /, 'other server: not its domain');

# any domain

@r = fetch_all($t->port(8083), 'mta-sts.whatever.example',
	'mta-sts.xn--bcher-kva.example');
is("@r", join(' ', ('200 ' . policy('enforce', 'mx.any.test')) x 2),
	'hosted for any domain');

like($t->read_file('error.log'), qr/start worker process/, 'started');

###############################################################################
