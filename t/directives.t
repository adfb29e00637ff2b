#!/usr/bin/perl

# Directives: defaults, inheritance from http to server, time units, ids,
# normalization of patterns, and the warnings for doubtful values.

use warnings;
use strict;

use Test::More;
use Digest::SHA qw(sha256_hex);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;

###############################################################################

my $t = Test::Nginx->new();

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_mode enforce;
    mta_sts_mx mail.example.com *.mx.example.com;
    mta_sts_max_age 30d;

    # inherits everything
    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.inherit.test;
        mta_sts on;
    }

    # same content as the one above: same auto id
    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.same.test;
        mta_sts on;
    }

    # its own mx list replaces the inherited one, not added to it
    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.replace.test;
        mta_sts on;
        mta_sts_mx MX1.Replace.Test. mx2.replace.test;
        mta_sts_mx mx1.replace.test;
        mta_sts_mode Testing;
    }

    # defaults of the module: testing, one week
    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.units.test;
        mta_sts on;
        mta_sts_max_age 86400;
        mta_sts_id 20261128T120000;
    }

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.idn.test;
        mta_sts on;
        mta_sts_mx "mail.bücher.test" "*.MÜNCHEN.test";
        mta_sts_max_age 2w;
        mta_sts_id auto;
    }

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.none.test;
        mta_sts on;
        mta_sts_mode none;
        mta_sts_max_age 1d;
    }

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.vars.test;
        mta_sts on;

        location = /vars {
            return 200 "$mta_sts_domain $mta_sts_policy_id $mta_sts_mode";
        }
    }

    # "mta_sts" off (the default): the policy path is not answered
    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.off.test;

        location / {
            return 200 "not a policy";
        }
    }
}
EOF

my %want = (
	inherit => "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
		. "mx: *.mx.example.com\r\nmax_age: 2592000\r\n",
	replace => "version: STSv1\r\nmode: testing\r\nmx: mx1.replace.test\r\n"
		. "mx: mx2.replace.test\r\nmax_age: 2592000\r\n",
	units => "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
		. "mx: *.mx.example.com\r\nmax_age: 86400\r\n",
	idn => "version: STSv1\r\nmode: enforce\r\nmx: mail.xn--bcher-kva.test\r\n"
		. "mx: *.xn--mnchen-3ya.test\r\nmax_age: 1209600\r\n",
	none => "version: STSv1\r\nmode: none\r\nmx: mail.example.com\r\n"
		. "mx: *.mx.example.com\r\nmax_age: 86400\r\n",
);
$want{same} = $want{inherit};

$t->plan(46)->run();

###############################################################################

sub get {
	my ($host, $uri) = @_;
	my $raw = $t->http("GET " . ($uri // '/.well-known/mta-sts.txt')
		. " HTTP/1.0\r\nHost: $host\r\n\r\n");
	return (split /\r\n\r\n/, $raw // '', 2)[1] // '';
}

for my $d (sort keys %want) {
	is(get("mta-sts.$d.test"), $want{$d}, "policy of $d");
}

# auto id: the content's hash, so equal for equal content

is(get('mta-sts.vars.test', '/vars'),
	'vars.test ' . substr(sha256_hex($want{inherit}), 0, 20) . ' enforce',
	'auto id of inherited content');

like(get('mta-sts.off.test'), qr/^not a policy$/, 'mta_sts off by default');

###############################################################################

# the defaults of the module itself, with nothing at http level

my $conf = sub {
	my ($http, $server) = @_;
	return <<"EOF";
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%
    $http
    server {
        listen 127.0.0.1:%%PORT_8081%%;
        server_name mta-sts.defaults.test;
        mta_sts on;
        $server
    }
}
EOF
};

my $out = $t->nginx_t_ok($conf->('', 'mta_sts_mx mail.defaults.test;'),
	'defaults: config ok');
unlike($out, qr/\[warn\]/, 'defaults: no warnings');

# warnings for doubtful but legal values

my @warnings = (
	['', 'mta_sts_mx mail.a.test; mta_sts_max_age 1h;',
		qr/\[warn\] .*"mta_sts_max_age" of 3600 seconds is less than a day: senders refetch the policy that often, RFC 8461 expects weeks or more in \S+:\d+/,
		'max_age under a day'],
	['', 'mta_sts_mx mail.a.test; mta_sts_max_age 0;',
		qr/\[warn\] .*"mta_sts_max_age" of 0 seconds is less than a day/,
		'max_age 0'],
	['', 'mta_sts_mx mail.a.test; mta_sts_max_age 31557600;',
		qr/\[warn\] .*"mta_sts_max_age" of 31557600 seconds is taken as one day by some senders, use 31557599 or less in \S+:\d+/,
		'max_age 31557600'],
	['', 'mta_sts_mx *.com;',
		qr/\[warn\] .*"mta_sts_mx" pattern "\*.com" lets any host under a public suffix receive the mail, name the MX hosts in \S+:\d+/,
		'*.com'],
	['', 'mta_sts_mx *.co.uk;',
		qr/\[warn\] .*"mta_sts_mx" pattern "\*.co.uk" lets any host under a public suffix/,
		'*.co.uk'],
	['', 'mta_sts_mx localhost;',
		qr/\[warn\] .*"mta_sts_mx" pattern "localhost" is a single-label name in \S+:\d+/,
		'single label'],
	['', 'mta_sts_mx mail.a.test MAIL.A.TEST.;',
		qr/\[warn\] .*duplicate "mta_sts_mx" pattern "mail.a.test" in \S+:\d+/,
		'duplicate pattern'],
	['', 'mta_sts_mx *.a.test mail.a.test;',
		qr/\[warn\] .*"mta_sts_mx" pattern "mail.a.test" overlaps "\*.a.test" in \S+:\d+/,
		'overlapping patterns'],
	['', 'mta_sts_mode none;',
		qr/\[warn\] .*"mta_sts_mode none" without "mta_sts_mx" in \S+:\d+: some senders reject such a policy and keep using the one they cached, keep the mx patterns/,
		'none without mx'],
	['', 'mta_sts_mx mail.a.test; mta_sts_tlsrpt_rua mailto:r@a.test '
		. 'mailto:r@a.test;',
		qr/\[warn\] .*duplicate "mta_sts_tlsrpt_rua" URI "mailto:r\@a.test"/,
		'duplicate rua'],
	['', 'mta_sts_mx mail.a.test; mta_sts_domains { a.test; a.test; }',
		qr/\[warn\] .*domain "a.test" is listed twice for the same server in \S+:\d+/,
		'domain twice'],
	['', 'mta_sts_mx mail.a.test; server_name mta-sts.exa_mple.test;',
		qr/\[warn\] .*server name "mta-sts.exa_mple.test" in \S+:\d+ is no policy host: underscore is not allowed in host names/,
		'invalid policy host name'],
	['', 'mta_sts_mx mail.a.test; mta_sts_domains { defaults.test; }',
		qr/\[warn\] .*domain "defaults.test" is listed twice/,
		'domain of the server name listed again'],
	['', 'mta_sts_mx mail.a.test; mta_sts_domains { mta-sts.a.test; }',
		qr/\[warn\] .*"mta_sts_domains" lists policy domains: "mta-sts.a.test" is answered as "mta-sts.mta-sts.a.test"/,
		'policy host name listed as domain'],
	['', 'mta_sts_mx ' . join(' ', map { "mx$_.a-rather-long-name-for-a"
		. "-mail-exchanger.example.com" } 1 .. 80) . ';',
		qr/\[warn\] .*the policy of the server in \S+:\d+ is \d+ bytes, some checkers warn above 4096/,
		'policy over 4 KiB'],
);

for my $w (@warnings) {
	my ($http, $server, $re, $name) = @$w;
	$out = $t->nginx_t_ok($conf->($http, $server), "$name: accepted");
	like($out, $re, "$name: warning");
}

$out = $t->nginx_t_ok(<<'EOF', 'mta_sts_domains without mta_sts: accepted');
%%TEST_GLOBALS%%
events {
}
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT_8082%%;
        mta_sts_domains { a.test; }
    }
}
EOF
like($out, qr/\[warn\] .*"mta_sts_domains" is ignored without "mta_sts on" in \S+:\d+/,
	'mta_sts_domains without mta_sts: warning');

# an empty list answers nothing, which is worth a word when nothing else is

$out = $t->nginx_t_ok($conf->('', 'mta_sts_mx mail.a.test; '
	. 'mta_sts_domains { }'), 'empty list beside a name: accepted');
unlike($out, qr/empty "mta_sts_domains"/, 'empty list beside a name: quiet');

$out = $t->nginx_t_ok(<<'EOF', 'empty list alone: accepted');
%%TEST_GLOBALS%%
events {
}
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT_8083%%;
        server_name mta-sts.*;
        mta_sts on;
        mta_sts_mx mail.a.test;
        mta_sts_domains { }
    }
}
EOF
like($out, qr/\[warn\] .*empty "mta_sts_domains" in the server in \S+:\d+: it answers for no domain/,
	'empty list alone: warning');

###############################################################################
