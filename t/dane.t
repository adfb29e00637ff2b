#!/usr/bin/perl

# DANE beside MTA-STS (mta_sts_check_dane): a DNSSEC tree signed at test
# time (ldns-signzone), served by nsd, resolved by a validating unbound;
# the dane check, the DNSSEC state of each domain's MX records and the
# TLSA records of each MX host, in the status JSON and text.  Then the
# same through a resolver that does not validate, and with the check off.

use warnings;
use strict;

use Test::More;
use JSON::PP;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::DNSSEC;

my $t = Test::Nginx->new();
my $d = $t->testdir;

my $H1 = '8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1';
my $H2 = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

sub tlsa { "_25._tcp.$_[0]. IN TLSA $_[1]" }

my $tree = Test::MtaSts::DNSSEC->new(dir => "$d/dns",
	nsd_port => $t->port(5300), port => $t->port(5301));

$tree->root(
	'secure.test. IN MX 10 mail.secure.test.',
	tlsa('mail.secure.test', "3 1 1 $H1"),
	tlsa('mail.secure.test', "2 1 1 $H2"),
	'single.test. IN MX 10 mail.single.test.',
	tlsa('mail.single.test', "3 1 1 $H1"),
	'notlsa.test. IN MX 10 mail.notlsa.test.',
	'mail.notlsa.test. IN A 127.0.0.1',
	'unusable.test. IN MX 10 mail.unusable.test.',
	tlsa('mail.unusable.test', "0 0 1 $H1"),
	tlsa('mail.unusable.test', "1 1 1 $H2"),
	'two.test. IN MX 10 mx1.two.test.',
	'two.test. IN MX 20 mx2.two.test.',
	tlsa('mx1.two.test', "3 1 1 $H1"),
	tlsa('mx1.two.test', "3 1 1 $H2"),
	'mx2.two.test. IN A 127.0.0.1',
	'itlsa.test. IN MX 10 mail.insecure.test.',
	'btlsa.test. IN MX 10 mail.bogus.test.',
);

$tree->child('insecure.test', signed => 0, records => [
	'insecure.test. IN MX 10 mail.insecure.test.',
	tlsa('mail.insecure.test', "3 1 1 $H1"),
]);

$tree->child('bogus.test', expired => 1, records => [
	'bogus.test. IN MX 10 mail.bogus.test.',
	tlsa('mail.bogus.test', "3 1 1 $H1"),
]);

$tree->start;

my @DOMAINS = qw(secure.test single.test notlsa.test unusable.test
	two.test itlsa.test btlsa.test insecure.test bogus.test);

sub nginx_conf {
	my ($resolver, $dane) = @_;
	my $servers = join '', map { <<"EOF" } @DOMAINS;
    server {
        listen 127.0.0.1:%%PORT_8081%%;
        server_name mta-sts.$_;
        mta_sts on;
        mta_sts_mode testing;
        mta_sts_mx *.$_ mail.insecure.test mail.bogus.test;
    }

EOF

	$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_resolver $resolver timeout=2s attempts=2;
    mta_sts_check_interval off;
    mta_sts_check_dane $dane;

$servers
    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name status;

        location = /status {
            mta_sts_status;
        }
    }
}
EOF
}

nginx_conf($tree->resolver, 'on');

$t->plan(41)->run();

###############################################################################

# the tree itself, through unbound: what a DANE sender's resolver says

my $r = $tree->query('secure.test', 'MX');
is(($r && $r->header->rcode) . ' ' . ($r && $r->header->ad),
	'NOERROR 1', 'unbound: secure.test MX is secure');
$r = $tree->query('insecure.test', 'MX');
is(($r && $r->header->rcode) . ' ' . ($r && $r->header->ad),
	'NOERROR 0', 'unbound: insecure.test MX is insecure');
$r = $tree->query('bogus.test', 'MX');
is($r && $r->header->rcode, 'SERVFAIL', 'unbound: bogus.test MX is bogus');

sub status {
	my ($format) = @_;
	my $raw = $t->http("GET /status?refresh=1&format=$format HTTP/1.0\r\n"
		. "Host: status\r\n\r\n", timeout => 30);
	my (undef, $body) = split /\r\n\r\n/, $raw // '', 2;
	return $body // '';
}

my $j = eval { decode_json(status('json')) } // {};

sub dom { $j->{domains}{$_[0]} // {} }

sub dane {
	my ($domain) = @_;
	my $c = dom($domain)->{checks}{dane} // {};
	return ($c->{status} // 'none') . ': ' . ($c->{message} // '');
}

sub tlsa_of {
	my ($domain, $host) = @_;
	my ($mx) = grep { $_->{name} eq $host } @{dom($domain)->{mx_hosts}};
	return $mx ? $mx->{tlsa} : 'no such MX host';
}

is(dane('secure.test'), 'ok: the MX records of secure.test are '
	. 'DNSSEC-signed; TLSA records: mail.secure.test 2 usable of 2',
	'secure.test: dane ok');
is(dom('secure.test')->{dnssec}, 'secure', 'secure.test: dnssec secure');
is(dom('secure.test')->{resolver_validates}, JSON::PP::true,
	'secure.test: the resolver validates');
is_deeply(tlsa_of('secure.test', 'mail.secure.test'), { dnssec => 'secure',
	records => ["2 1 1 $H2", "3 1 1 $H1"], usable => 2 },
	'secure.test: the TLSA records of its MX host');

is(dane('single.test'), 'warning: mail.single.test has a single TLSA '
	. 'record, of usage 3 (DANE-EE): publish the record of the next key '
	. 'before the certificate is renewed, or add a 2 x x record of its '
	. 'issuer, or mail to mail.single.test fails for every DANE sender '
	. 'between the renewal and the new record',
	'single.test: one 3 1 1 record is a warning');
is_deeply(tlsa_of('single.test', 'mail.single.test'), { dnssec => 'secure',
	records => ["3 1 1 $H1"], usable => 1 }, 'single.test: its record');

is(dane('notlsa.test'), 'ok: the MX records of notlsa.test are '
	. 'DNSSEC-signed; TLSA records: mail.notlsa.test none',
	'notlsa.test: no TLSA record is no problem');
is_deeply(tlsa_of('notlsa.test', 'mail.notlsa.test'), { dnssec => 'secure',
	records => [], usable => 0 }, 'notlsa.test: proven absent');

is(dane('unusable.test'), 'warning: none of the TLSA records of '
	. 'mail.unusable.test is usable (usage 0 (PKIX-TA) is not for SMTP: '
	. 'DANE senders ignore it (RFC 7672 3.1.3)): DANE senders still '
	. 'require TLS of it, but check no certificate',
	'unusable.test: usages 0 and 1');
is_deeply(tlsa_of('unusable.test', 'mail.unusable.test'),
	{ dnssec => 'secure', records => ["0 0 1 $H1", "1 1 1 $H2"],
	usable => 0 }, 'unusable.test: its records');

# the hosts and records sorted: unbound shuffles the records of an RRset

is(dane('two.test'), 'ok: the MX records of two.test are DNSSEC-signed; '
	. 'TLSA records: mx1.two.test 2 usable of 2, mx2.two.test none',
	'two.test: each MX host');
is_deeply([map { tlsa_of('two.test', $_) } 'mx1.two.test', 'mx2.two.test'],
	[{ dnssec => 'secure', records => ["3 1 1 $H2", "3 1 1 $H1"],
	usable => 2 }, { dnssec => 'secure', records => [], usable => 0 }],
	'two.test: the TLSA records of both hosts');

is(dane('itlsa.test'), 'warning: mail.insecure.test has TLSA records, but '
	. 'they are not signed with DNSSEC: senders ignore them; sign the zone '
	. 'of _25._tcp.mail.insecure.test', 'itlsa.test: unsigned TLSA');
is_deeply(tlsa_of('itlsa.test', 'mail.insecure.test'),
	{ dnssec => 'insecure', records => ["3 1 1 $H1"], usable => 1 },
	'itlsa.test: its record, insecure');

is(dane('btlsa.test'), 'error: the TLSA records of mail.bogus.test fail '
	. 'DNSSEC validation (bogus): every DANE sender defers all mail to '
	. 'mail.bogus.test; fix the signatures of _25._tcp.mail.bogus.test',
	'btlsa.test: bogus TLSA');
is_deeply(tlsa_of('btlsa.test', 'mail.bogus.test'),
	{ dnssec => 'bogus', records => ["3 1 1 $H1"], usable => 1 },
	'btlsa.test: the records that failed validation');
is(dom('btlsa.test')->{status}, 'error', 'btlsa.test: the domain in error');

is(dane('insecure.test'), 'ok: the MX records of insecure.test are not '
	. 'signed with DNSSEC: senders apply no DANE to it, only MTA-STS',
	'insecure.test: unsigned');
is(dom('insecure.test')->{dnssec}, 'insecure', 'insecure.test: insecure');
is(tlsa_of('insecure.test', 'mail.insecure.test'), undef,
	'insecure.test: no TLSA shown where senders look for none');

is(dane('bogus.test'), 'error: the MX records of bogus.test fail DNSSEC '
	. 'validation (bogus): every sender that validates DNSSEC defers all '
	. "mail to bogus.test; fix the zone's signatures or its DS record",
	'bogus.test: bogus MX records');
is(dom('bogus.test')->{dnssec}, 'bogus', 'bogus.test: bogus');

# the text format: a column, and the lines of what is wrong

my $text = status('text');
like($text, qr/^DOMAIN +STATUS +MODE +STS_RECORD +TLSRPT_RECORD +MX +POLICY_HOST +CERTIFICATE +STARTTLS +DANE *$/m,
	'text: the column');
like($text, qr/^bogus\.test +error +testing( +\S+){6} +error *$/m,
	'text: bogus.test row');
like($text, qr/^secure\.test( +\S+){8} +ok *$/m, 'text: secure.test row');
like($text, qr/^single\.test dane: warning: mail\.single\.test has a single TLSA record/m,
	'text: the warning line');

###############################################################################

# a resolver that does not validate: nsd itself, which sets no AD bit

nginx_conf($tree->authoritative, 'on');
$t->reload();

$j = eval { decode_json(status('json')) } // {};

for my $domain ('secure.test', 'bogus.test') {
	is(dane($domain), 'warning: DANE is not checked: the resolver of '
		. '"mta_sts_resolver" does not validate DNSSEC (no AD bit on the '
		. "root zone's NS records); use a validating resolver, such as "
		. 'unbound on this host', "$domain: resolver does not validate");
	is(dom($domain)->{resolver_validates}, JSON::PP::false,
		"$domain: resolver_validates false");
	is(dom($domain)->{dnssec}, undef, "$domain: dnssec not known");
}

is(tlsa_of('secure.test', 'mail.secure.test'), undef,
	'no TLSA records shown from a resolver that does not validate');

###############################################################################

# the check off: skipped, and the domain not made worse by it

nginx_conf($tree->resolver, 'off');
$t->reload();

$j = eval { decode_json(status('json')) } // {};

is(dane('bogus.test'), 'skipped: DANE is not checked: "mta_sts_check_dane '
	. 'on" looks up the TLSA records of each MX host as DANE senders do.',
	'off: skipped');
is(dom('bogus.test')->{resolver_validates}, undef,
	'off: the resolver not asked');
is(dom('bogus.test')->{dnssec}, undef, 'off: dnssec not known');
is_deeply([map { $_->{tlsa} } @{dom('two.test')->{mx_hosts}}],
	[undef, undef], 'off: no TLSA records looked up');
my %rank = (ok => 0, pending => 2, warning => 3, error => 4);
my $c = dom('itlsa.test')->{checks} // {};
is(dom('itlsa.test')->{status}, (sort { $rank{$b} <=> $rank{$a} }
	map { $c->{$_}{status} }
	grep { $_ ne 'dane' && $c->{$_}{status} ne 'skipped' } keys %$c)[0],
	'off: the status is the worst of the other checks');

###############################################################################
