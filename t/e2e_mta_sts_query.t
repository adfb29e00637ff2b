#!/usr/bin/perl

# End to end: a real MTA-STS client (mta-sts-query from
# postfix-mta-sts-resolver) inside a network namespace, resolving
# through a real nsd and fetching the policies over HTTPS from nginx
# with the module, verified against a test CA.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Test::Nginx;
use Test::MtaSts::CA;
use Test::MtaSts::DNS;
use Test::MtaSts::Netns;

# declared first so that it is cleaned up last
my $ns = Test::MtaSts::Netns->new('e2e');

my $t = Test::Nginx->new(netns => $ns);
my $d = $t->testdir;

my $ca = Test::MtaSts::CA->new($d);
my ($crt, $key) = $ca->cert('mta-sts',
	dns => ['mta-sts.enforce.test', 'mta-sts.none.test']);

my $ID = '20261128T120000';

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
events {}
http {
	%%TEST_GLOBALS_HTTP%%
	ssl_certificate $crt;
	ssl_certificate_key $key;

	server {
		listen 127.0.0.1:443 ssl;
		server_name mta-sts.enforce.test;
		mta_sts on;
		mta_sts_mode enforce;
		mta_sts_mx mail.enforce.test;
		mta_sts_id $ID;
		location = /id { return 200 \$mta_sts_policy_id; }
	}

	server {
		listen 127.0.0.1:443 ssl;
		server_name mta-sts.none.test;
		mta_sts on;
		mta_sts_mode none;
		mta_sts_max_age 86400;
		location = /id { return 200 \$mta_sts_policy_id; }
	}
}
EOF

$t->plan(10);
diag('module not built: ' . $t->module_path) unless $t->has_module;
$t->run();

###############################################################################

# before DNS exists: learn the automatic id of none.test over HTTPS

sub fetch {
	my ($host, $path) = @_;
	return $t->curl(resolve => "$host:443:127.0.0.1",
		cacert => $ca->ca_file, "https://$host$path");
}

my $r = fetch('mta-sts.none.test', '/id');
my $auto = $r->{body};
is($r->{status}, 200, 'none.test id fetched') or diag($r->{raw});
like($auto, qr/^[A-Za-z0-9]{1,32}\z/, 'automatic id is 1*32 alphanum');
is(fetch('mta-sts.enforce.test', '/id')->{body}, $ID, 'configured id');

$r = fetch('mta-sts.enforce.test', '/.well-known/mta-sts.txt');
is($r->{body}, "version: STSv1\r\nmode: enforce\r\n"
	. "mx: mail.enforce.test\r\nmax_age: 604800\r\n", 'enforce policy');
like($r->{headers}{'content-type'}, qr{^text/plain\b}, 'content type');

$r = fetch('mta-sts.none.test', '/.well-known/mta-sts.txt');
is($r->{body}, "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n",
	'none policy');

# now DNS, in the netns on 127.0.0.1:53 as its resolv.conf says

sub zone {
	my ($domain, @rr) = @_;
	return Test::MtaSts::DNS->zone_text($domain,
		"\@ IN MX 10 mail.$domain.", 'mail IN A 127.0.0.1',
		'mta-sts IN A 127.0.0.1', @rr);
}

mkdir "$d/nsd" or die "mkdir: $!\n";
my $dns = Test::MtaSts::DNS->start_nsd(dir => "$d/nsd", netns => $ns,
	port => 53, zones => {
		'enforce.test' => zone('enforce.test',
			qq{_mta-sts IN TXT "v=STSv1; id=$ID"}),
		'none.test' => zone('none.test',
			qq{_mta-sts IN TXT "v=STSv1; id=$auto"}),
		'plain.test' => zone('plain.test'),
	});

sub query {
	my (@args) = @_;
	my ($rc, $out, $err) = $ns->exec({ timeout => 60 }, 'env', '-i',
		'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
		'SSL_CERT_FILE=' . $ca->ca_file, 'mta-sts-query', @args);
	diag("mta-sts-query @args: exit $rc\n$err") if $rc || $err;
	return $out;
}

is(query('enforce.test'), "(<STSFetchResult.VALID: 1>, ('$ID', "
	. "{'mx': ['mail.enforce.test'], 'version': 'STSv1', "
	. "'mode': 'enforce', 'max_age': 604800}))\n",
	'mta-sts-query enforce.test');

is(query('none.test'), "(<STSFetchResult.VALID: 1>, ('$auto', "
	. "{'mx': [], 'version': 'STSv1', 'mode': 'none', "
	. "'max_age': 86400}))\n",
	'mta-sts-query none.test');

is(query('plain.test'), "(<STSFetchResult.NONE: 0>, None)\n",
	'no TXT record, no policy');

# the client already knows the id that DNS has: nothing to fetch
is(query('enforce.test', $ID), "(<STSFetchResult.NOT_CHANGED: 3>, None)\n",
	'known id not fetched again');

###############################################################################
