#!/usr/bin/perl

# mta_sts_publish end to end, in a network namespace: BIND's named on
# 127.0.0.1:53 as the zone's primary and as the resolver of the
# namespace's resolv.conf; no "server=": the zone and its primary come
# from the SOA.  Two nginx instances publish the same domain: one record.
# A new id after a reload is published, and a real sender's client
# (mta-sts-query) that knew the old id fetches the new policy.

use warnings;
use strict;

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;
use Test::MtaSts::DNS;
use Test::MtaSts::Named;
use Test::MtaSts::Netns;

###############################################################################

# declared first so that it is cleaned up last
my $ns = Test::MtaSts::Netns->new('pub');

my $t = Test::Nginx->new(netns => $ns);
my $t2 = Test::Nginx->new(netns => $ns);
my $d = $t->testdir;

my $ca = Test::MtaSts::CA->new($d);
my ($crt, $key) = $ca->cert('mta-sts', dns => ['mta-sts.e2e.test']);

my $named = Test::MtaSts::Named->start(dir => "$d/named", port => 53,
	netns => $ns, keys => ['e2e-key'],
	zones => { 'e2e.test' => {
		text => Test::MtaSts::DNS->zone_text('e2e.test',
			'@ IN MX 10 mail.e2e.test.', 'mail IN A 127.0.0.1',
			'mta-sts IN A 127.0.0.1',
			'_mta-sts IN TXT "v=STSv1; id=old1"'),
		grant => ['e2e-key name _mta-sts.e2e.test. TXT'] } });
my $keyfile = $named->key_file('e2e-key');

sub conf {
	my ($mode, $id, $listen) = @_;
	return <<"EOF";
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_publish key=$keyfile;

    server {
        listen $listen ssl;
        server_name mta-sts.e2e.test;

        ssl_certificate $crt;
        ssl_certificate_key $key;

        mta_sts on;
        mta_sts_mode $mode;
        mta_sts_mx mail.e2e.test;
        mta_sts_id $id;

        location = /status {
            mta_sts_status;
        }
    }
}
EOF
}

$t->write_file_expand('nginx.conf', conf('testing', 'e2eA', '127.0.0.1:443'));
$t2->write_file_expand('nginx.conf',
	conf('testing', 'e2eA', '127.0.0.1:%%PORT_8443%%'));
$t->plan(12);
$t->run();
$t2->run();

###############################################################################

sub publish {
	my ($n, $url) = @_;
	my $r = $n->curl(resolve => "mta-sts.e2e.test:443:127.0.0.1",
		cacert => $ca->ca_file, $url);
	my $json = eval { decode_json($r->{body}) } or return {};
	return $json->{domains}{'e2e.test'}{publish} // {};
}

sub settled {
	my ($n, $url, $id) = @_;
	my $deadline = time + 20;
	my $p;
	while (time < $deadline) {
		$p = publish($n, $url);
		last if ($p->{status} // '') eq 'error'
			|| ($p->{published_id} // '') eq $id;
		sleep 0.2;
	}
	return $p;
}

my $url1 = 'https://mta-sts.e2e.test/status';
my $url2 = 'https://mta-sts.e2e.test:' . $t2->port(8443) . '/status';

my $p1 = settled($t, $url1, 'e2eA');
my $p2 = settled($t2, $url2, 'e2eA');

is($p1->{status}, 'ok', 'first instance: ok') or diag(explain($p1));
is($p2->{status}, 'ok', 'second instance: ok') or diag(explain($p2));
is($p1->{server}, 'ns.e2e.test (127.0.0.1:53)',
	"the zone's primary, from its SOA");
is($p2->{published_id}, 'e2eA', 'both publish the same id');
is_deeply([$named->txt('_mta-sts.e2e.test')], ['v=STSv1; id=e2eA'],
	'one record for the two instances');

sub query {
	my (@args) = @_;
	my ($rc, $out, $err) = $ns->exec({ timeout => 60 }, 'env', '-i',
		'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
		'SSL_CERT_FILE=' . $ca->ca_file, 'mta-sts-query', @args);
	diag("mta-sts-query @args: exit $rc\n$err") if $rc || $err;
	return $out;
}

is(query('e2e.test'), "(<STSFetchResult.VALID: 1>, ('e2eA', "
	. "{'mx': ['mail.e2e.test'], 'version': 'STSv1', "
	. "'mode': 'testing', 'max_age': 604800}))\n",
	'mta-sts-query: the published policy');
is(query('e2e.test', 'e2eA'), "(<STSFetchResult.NOT_CHANGED: 3>, None)\n",
	'mta-sts-query: the id it knows, nothing to fetch');

# the policy changes: enforce, a new id, on both instances

$t->write_file_expand('nginx.conf', conf('enforce', 'e2eB', '127.0.0.1:443'));
$t->reload;
$t2->write_file_expand('nginx.conf',
	conf('enforce', 'e2eB', '127.0.0.1:%%PORT_8443%%'));
$t2->reload;

$p1 = settled($t, $url1, 'e2eB');
$p2 = settled($t2, $url2, 'e2eB');

is($p1->{published_id}, 'e2eB', 'the new id published');
is($p2->{status}, 'ok', 'the second instance agrees');
is_deeply([$named->txt('_mta-sts.e2e.test')], ['v=STSv1; id=e2eB'],
	'one record, the new id');

is(query('e2e.test', 'e2eA'), "(<STSFetchResult.VALID: 1>, ('e2eB', "
	. "{'mx': ['mail.e2e.test'], 'version': 'STSv1', "
	. "'mode': 'enforce', 'max_age': 604800}))\n",
	'mta-sts-query that knew the old id fetches the new policy');

$t2->check_alerts;

###############################################################################
