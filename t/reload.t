#!/usr/bin/perl

# Reload: a changed policy is served with its new auto id and the old one is
# gone; an unchanged explicit id over changed content is warned about; a
# configuration that is refused changes nothing that is being served.

use warnings;
use strict;

use Test::More;
use Digest::SHA qw(sha256_hex);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;

###############################################################################

my $t = Test::Nginx->new();

my $conf = sub {
	my ($mx, $explicit_mx) = @_;
	return <<"EOF";
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.auto.test;
        mta_sts on;
        mta_sts_mode enforce;
        mta_sts_mx $mx;

        location = /id {
            return 200 \$mta_sts_policy_id;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.explicit.test;
        mta_sts on;
        mta_sts_mx $explicit_mx;
        mta_sts_id 20261128T120000;
        mta_sts_domains { other.test; }
    }
}
EOF
};

$t->write_file_expand('nginx.conf', $conf->('mx1.auto.test', 'mx.e.test'));
$t->plan(13)->run();

###############################################################################

sub get {
	my ($host, $uri) = @_;
	my $raw = $t->http('GET ' . ($uri // '/.well-known/mta-sts.txt')
		. " HTTP/1.0\r\nHost: $host\r\n\r\n");
	return (split /\r\n\r\n/, $raw // '', 2)[1] // '';
}

my $old = "version: STSv1\r\nmode: enforce\r\nmx: mx1.auto.test\r\n"
	. "max_age: 604800\r\n";
my $new = "version: STSv1\r\nmode: enforce\r\nmx: mx1.auto.test\r\n"
	. "mx: mx2.auto.test\r\nmax_age: 604800\r\n";

is(get('mta-sts.auto.test'), $old, 'old policy');
is(get('mta-sts.auto.test', '/id'), substr(sha256_hex($old), 0, 20),
	'old id');

# a new MX added to the policy

$t->write_file_expand('nginx.conf',
	$conf->('mx1.auto.test mx2.auto.test', 'mx.e.test'));
$t->reload();

is(get('mta-sts.auto.test'), $new, 'new policy served');
is(get('mta-sts.auto.test', '/id'), substr(sha256_hex($new), 0, 20),
	'new auto id');
unlike($t->read_file('error.log'), qr/\[warn\].*changed but/,
	'auto id: no warning');

# content changed under an unchanged explicit id

$t->write_file_expand('nginx.conf',
	$conf->('mx1.auto.test mx2.auto.test', 'mx2.e.test'));
$t->reload();

is(get('mta-sts.explicit.test'), "version: STSv1\r\nmode: testing\r\n"
	. "mx: mx2.e.test\r\nmax_age: 604800\r\n", 'explicit: new content');

my $log = $t->read_file('error.log');
like($log, qr/\[warn\] .*the policy of "explicit.test" changed but its "mta_sts_id 20261128T120000" did not: senders keep the old policy for up to 604800 seconds, change the id and publish it in "_mta-sts.explicit.test"/,
	'explicit id unchanged: warning names the domain');
like($log, qr/\[warn\] .*the policy of "other.test" changed/,
	'explicit id unchanged: warning for each domain of the server');
unlike($log, qr/\[warn\] .*the policy of "auto.test" changed/,
	'no warning for unchanged policies');

# a refused configuration changes nothing

$t->write_file_expand('nginx.conf',
	$conf->('mx_3.auto.test', 'mx2.e.test'));
$t->reload(expect_failure => 1);

is(get('mta-sts.auto.test'), $new, 'refused reload: policy still served');
is(get('mta-sts.auto.test', '/id'), substr(sha256_hex($new), 0, 20),
	'refused reload: id unchanged');

$log = $t->read_file('error.log');
like($log, qr/\[emerg\] .*invalid value "mx_3.auto.test" in "mta_sts_mx" directive, underscore is not allowed in host names/,
	'refused reload: the reason is logged');

# the expected [emerg] is checked; start a fresh log for the alerts check

$t->rotate_log();

$t->write_file_expand('nginx.conf',
	$conf->('mx1.auto.test', 'mx2.e.test'));
$t->reload();

is(get('mta-sts.auto.test'), $old, 'reload after the refused one');

###############################################################################
