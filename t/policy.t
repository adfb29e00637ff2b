#!/usr/bin/perl

# The policy response: body, headers, methods, hosts, paths, conditional
# and range headers, HTTP/1.0, HTTP/1.1, HTTP/2 over TLS.

use warnings;
use strict;

use Test::More;
use Digest::SHA qw(sha256_hex);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;

###############################################################################

my $t = Test::Nginx->new();
my $ca = Test::MtaSts::CA->new($t->testdir);
my ($crt, $key) = $ca->cert('policy',
	dns => ['mta-sts.example.com', 'mta-sts.example.org']);

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_8443%% ssl http2;
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.example.com mta-sts.example.org;

        ssl_certificate $crt;
        ssl_certificate_key $key;

        mta_sts on;
        mta_sts_mode enforce;
        mta_sts_mx mail.example.com *.mx.example.net;
        mta_sts_max_age 1w;

        location / {
            return 200 "app\\n";
        }

        location /.well-known/ {
            return 301 https://www.example.com/;
        }

        location = /vars {
            return 200 "\$mta_sts_domain \$mta_sts_policy_id \$mta_sts_mode";
        }
    }

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name www.example.com;

        location / {
            return 200 "www\\n";
        }
    }
}
EOF

my $body = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	. "mx: *.mx.example.net\r\nmax_age: 604800\r\n";
my $id = substr(sha256_hex($body), 0, 20);
my $path = '/.well-known/mta-sts.txt';

$t->plan(51)->run();

###############################################################################

my $https = 'https://mta-sts.example.com:' . $t->port(8443);
my @tls = (cacert => $ca->ca_file,
	resolve => 'mta-sts.example.com:' . $t->port(8443) . ':127.0.0.1');

# GET over HTTPS, HTTP/1.1

my $r = $t->curl(@tls, '--http1.1', "$https$path");
is($r->{status}, 200, 'https get status');
is($r->{body}, $body, 'https get body, CRLF, field order');
is($r->{headers}{'content-type'}, 'text/plain', 'content type');
is($r->{headers}{'content-length'}, length $body, 'content length');
is(join(',', sort keys %{$r->{headers}}),
	'connection,content-length,content-type,date,server',
	'no etag, last-modified, accept-ranges or other headers');

# HTTP/2

$r = $t->curl(@tls, '--http2', "$https$path");
like($r->{raw}, qr/\AHTTP\/2 200/, 'http2 status');
is($r->{body}, $body, 'http2 body');
is($r->{headers}{'content-type'}, 'text/plain', 'http2 content type');

$r = $t->curl(@tls, '--http2', '-I', "$https$path");
like($r->{raw}, qr/\AHTTP\/2 200/, 'http2 head status');
is($r->{headers}{'content-length'}, length $body, 'http2 head length');

# HEAD

$r = $t->curl(@tls, '-I', "$https$path");
is($r->{status}, 200, 'head status');
is($r->{headers}{'content-length'}, length $body, 'head content length');
is($r->{body}, '', 'head has no body');

# HTTP/1.0 and HTTP/1.1 on plain HTTP, raw

my $raw = $t->http("GET $path HTTP/1.0\r\nHost: mta-sts.example.com\r\n\r\n");
like($raw, qr/\AHTTP\/1.1 200 OK\r\n/, 'http/1.0 status');
is((split /\r\n\r\n/, $raw, 2)[1], $body, 'http/1.0 body');

$raw = $t->http("GET $path HTTP/1.1\r\nHost: mta-sts.example.org\r\n"
	. "Connection: close\r\n\r\n");
is((split /\r\n\r\n/, $raw, 2)[1], $body, 'http/1.1 body, second name');

# pipelined, with a request body on the first request

$raw = $t->http("GET $path HTTP/1.1\r\nHost: mta-sts.example.com\r\n"
	. "Content-Length: 5\r\n\r\nhello"
	. "HEAD $path HTTP/1.1\r\nHost: mta-sts.example.com\r\n\r\n"
	. "GET $path HTTP/1.1\r\nHost: mta-sts.example.com\r\n"
	. "Connection: close\r\n\r\n");
my @replies = $raw =~ /(HTTP\/1.1 200 OK\r\n)/g;
is(scalar @replies, 3, 'pipelined: three answers');
is(($raw =~ s/\Q$body\E//g), 2, 'pipelined: two bodies, head has none');

# conditional and range headers never change the answer

for my $h ('If-None-Match: *', "If-None-Match: \"$id\"",
	'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT',
	'If-Match: "nope"', 'If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT',
	'Range: bytes=0-3', 'Range: bytes=5-', "If-Range: \"$id\"")
{
	$r = $t->curl(@tls, '-H', $h, "$https$path");
	ok($r->{status} == 200 && $r->{body} eq $body, "200 and body with $h");
}

# query string ignored; normalized paths as "location =" sees them

$r = $t->curl(@tls, "$https$path?v=2");
is($r->{body}, $body, 'query string ignored');

$raw = $t->http("GET /.well-known/./mta-sts.txt HTTP/1.0\r\n"
	. "Host: mta-sts.example.com\r\n\r\n");
is((split /\r\n\r\n/, $raw, 2)[1], $body, 'dot segment normalized');

$raw = $t->http("GET /.well-known/mta%2Dsts.txt HTTP/1.0\r\n"
	. "Host: mta-sts.example.com\r\n\r\n");
is((split /\r\n\r\n/, $raw, 2)[1], $body, 'percent-encoding decoded');

# methods

for my $m (qw(POST PUT DELETE PATCH OPTIONS)) {
	$r = $t->curl(@tls, '-X', $m, '-d', 'x=1', "$https$path");
	ok($r->{status} == 405 && $r->{headers}{allow} eq 'GET, HEAD',
		"$m: 405 with Allow");
}

# hosts: case, port, one trailing dot; unknown hosts get 404

for my $host ('MTA-STS.Example.COM', 'mta-sts.example.com:443',
	'mta-sts.example.com.')
{
	$raw = $t->http("GET $path HTTP/1.0\r\nHost: $host\r\n\r\n");
	is((split /\r\n\r\n/, $raw, 2)[1], $body, "host $host");
}

$raw = $t->http("GET $path HTTP/1.0\r\nHost: mta-sts.other.test\r\n\r\n");
like($raw, qr/\AHTTP\/1.1 404 /, 'unknown policy host: 404');
unlike($raw, qr/version: STSv1/, 'unknown policy host: no policy');

$raw = $t->http("GET $path HTTP/1.0\r\nHost: example.com\r\n\r\n");
like($raw, qr/\AHTTP\/1.1 404 /, 'host without mta-sts. prefix: 404');

$raw = $t->http("GET $path HTTP/1.0\r\n\r\n");
like($raw, qr/\AHTTP\/1.1 404 /, 'no host: 404');

$raw = $t->http("GET $path HTTP/1.0\r\nHost: www.example.com\r\n\r\n");
like($raw, qr/\AHTTP\/1.1 200 .*\r\n\r\nwww\n\z/s,
	'server without mta_sts: its own answer');

# other paths of the policy host are the server's own business

$raw = $t->http("GET /index.html HTTP/1.0\r\nHost: mta-sts.example.com\r\n"
	. "\r\n");
like($raw, qr/\r\n\r\napp\n\z/, 'other path: location /');

for my $p ('/.well-known/MTA-STS.txt', '/.well-known/mta-sts.txt/',
	'/.well-known/mta-sts.txt.bak', '//.well-known/mta-sts.txtx')
{
	$raw = $t->http("GET $p HTTP/1.0\r\nHost: mta-sts.example.com\r\n\r\n");
	unlike($raw, qr/version: STSv1/, "no policy at $p");
}

$raw = $t->http("GET /.well-known/acme-challenge/x HTTP/1.0\r\n"
	. "Host: mta-sts.example.com\r\n\r\n");
like($raw, qr/\AHTTP\/1.1 301 /, 'other well-known path: location');

# the policy is answered before any location: "location /.well-known/"
# redirects everything else there

$raw = $t->http("GET $path HTTP/1.0\r\nHost: mta-sts.example.com\r\n\r\n");
like($raw, qr/\AHTTP\/1.1 200 /, 'no redirect for the policy');

# variables and the auto id

$raw = $t->http("GET /vars HTTP/1.0\r\nHost: mta-sts.example.org\r\n\r\n");
is((split /\r\n\r\n/, $raw, 2)[1], "example.org $id enforce",
	'variables; auto id is the sha-256 of the body');

$raw = $t->http("GET /vars HTTP/1.0\r\nHost: mta-sts.other.test\r\n\r\n");
is((split /\r\n\r\n/, $raw, 2)[1], '  ', 'variables empty on other hosts');

###############################################################################
