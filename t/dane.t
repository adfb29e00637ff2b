#!/usr/bin/perl

# DANE beside MTA-STS (mta_sts_check_dane): a DNSSEC tree signed at test
# time (ldns-signzone), served by nsd, resolved by a validating unbound;
# the dane check, the DNSSEC state of each domain's MX records and the
# TLSA records of each MX host, in the status JSON and text; the STARTTLS
# probes matching the records against the certificates that fake SMTP
# servers present, cross-checked with ldns-dane.  Then the same through a
# resolver that does not validate, and with the check off.

use warnings;
use strict;

use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256_hex);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;
use Test::MtaSts::DNSSEC;
use Test::MtaSts::SMTP;

my $t = Test::Nginx->new();
my $d = $t->testdir;
my $ca = Test::MtaSts::CA->new($d);
my $port = $t->port(8025);

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
	'v6.test. IN MX 10 mail.v6.test.',
	'mail.v6.test. IN A 127.0.0.1',
	'mail.v6.test. IN AAAA ::1',
	'nomx.test. IN A 127.0.0.1',
	tlsa('mail.v6.test', "3 1 1 $H1"),
	tlsa('mail.v6.test', "2 1 1 $H2"),
);

# its A records secure, its AAAA records bogus

$tree->spoil('mail.v6.test', 'AAAA');

# MX hosts that the probes match: a certificate of the test CA for the
# name, matched by its key (3 1 1) or by the CA's key (2 1 1); one that
# matches nothing; a self-signed one matched by its key

sub run {
	my ($rc, $out, $err) = Test::Nginx::capture([@_]);
	die "@_: $err$out\n" if $rc;
	return $out;
}

sub spki {
	my ($crt) = @_;
	my $pem = run('openssl', 'x509', '-in', $crt, '-noout', '-pubkey');
	$t->write_file('spki.pem', $pem);
	run('openssl', 'pkey', '-pubin', '-in', "$d/spki.pem", '-outform', 'DER',
		'-out', "$d/spki.der");
	return sha256_hex($t->read_file('spki.der'));
}

sub chain {
	my ($name, @crt) = @_;
	$t->write_file("$name.chain", join '', map { $t->read_file($_) } @crt);
	return "$d/$name.chain";
}

my %PROBED = (
	'ee.test' => '127.0.0.61', 'ta.test' => '127.0.0.62',
	'miss.test' => '127.0.0.63', 'selfee.test' => '127.0.0.64',
);
my (%chain, %key, %match, %served);

for my $domain (sort keys %PROBED) {
	my $host = "mail.$domain";
	my $crt;
	if ($domain eq 'selfee.test') {
		($crt, $key{$domain}) = ("$d/$host-self.crt", "$d/$host-self.key");
		run('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
			'ec_paramgen_curve:P-256', '-nodes', '-keyout', $key{$domain},
			'-out', $crt, '-subj', "/CN=$host", '-days', 30,
			'-addext', "subjectAltName=DNS:$host");
	} else {
		($crt, $key{$domain}) = $ca->cert($host, dns => [$host]);
	}
	$chain{$domain} = chain($host, $crt, $domain eq 'selfee.test' ? ()
		: $ca->ca_file);

	my @rr = $domain eq 'ee.test' ? ("3 1 1 " . spki($crt), "3 1 1 $H2")
		: $domain eq 'ta.test' ? ("2 1 1 " . spki($ca->ca_file))
		: $domain eq 'miss.test' ? ("3 1 1 $H1", "2 1 1 $H2")
		: ("3 1 1 " . spki($crt), "3 1 1 $H1");
	$match{$domain} = $domain eq 'miss.test' ? undef : $rr[0];
	$served{$domain} = spki($crt);

	$tree->root("$domain. IN MX 10 $host.", "$host. IN A $PROBED{$domain}",
		map { tlsa($host, $_) } @rr);
	$t->write_file("$domain.tlsa", join '', map { tlsa($host, $_) . "\n" }
		@rr);

	Test::MtaSts::SMTP->start($t, address => $PROBED{$domain},
		port => $port, name => $host, mode => 'ok',
		cert => $chain{$domain}, key => $key{$domain},
		log => "$d/smtp-$domain.log");
}

$tree->child('insecure.test', signed => 0, records => [
	'insecure.test. IN MX 10 mail.insecure.test.',
	tlsa('mail.insecure.test', "3 1 1 $H1"),
]);

# signed addresses, the TLSA records in an unsigned zone below them

$tree->root('split.test. IN MX 10 mail.split.test.',
	'mail.split.test. IN A 127.0.0.1');
$tree->child('_tcp.mail.split.test', signed => 0, records => [
	tlsa('mail.split.test', "3 1 1 $H1"),
]);

$tree->child('bogus.test', expired => 1, records => [
	'bogus.test. IN MX 10 mail.bogus.test.',
	tlsa('mail.bogus.test', "3 1 1 $H1"),
]);

$tree->start;

my @DOMAINS = (qw(secure.test single.test notlsa.test unusable.test
	two.test itlsa.test split.test btlsa.test v6.test insecure.test
	bogus.test nomx.test gone.test),
	sort keys %PROBED);

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
    mta_sts_check_starttls on port=$port timeout=5s;
    mta_sts_trusted_certificate ${\ $ca->ca_file};

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

$t->plan(76)->run();

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

# the MX records are asked once, with DNSSEC, for the mx check too: what
# it says is compared with the check off below

sub mx_checks {
	return { map { $_ => dom($_)->{checks}{mx} } @DOMAINS };
}

my $mx_on = mx_checks();

is(join("\n", map { "$_: $mx_on->{$_}{status}: " . ($mx_on->{$_}{message}
	=~ s/ The policy patterns.*//r) } qw(bogus.test gone.test nomx.test
	secure.test)),
	"bogus.test: error: Could not look up bogus.test: SERVFAIL from the "
	. "resolver. Senders asking the same resolvers get no answer either.\n"
	. "gone.test: error: The domain gone.test does not exist in DNS "
	. "(NXDOMAIN): no mail can be delivered to it.\n"
	. "nomx.test: warning: No MX record: mail goes to nomx.test itself "
	. "(implicit MX). nomx.test does not match the policy: senders deliver "
	. "anyway in testing mode but report a failure; add mx: nomx.test (or a "
	. "wildcard) to the policy before switching to enforce.\n"
	. "secure.test: warning: The only MX host, mail.secure.test, matches "
	. "the policy.", 'the mx check from the MX records asked with DNSSEC: '
	. 'bogus (SERVFAIL), NXDOMAIN, none, secure');

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
	. 'DNSSEC-signed; TLSA records: mail.secure.test 2 usable of 2 '
	. '(enough for a key rollover)',
	'secure.test: dane ok');
is(dom('secure.test')->{dnssec}, 'secure', 'secure.test: dnssec secure');
is(dom('secure.test')->{resolver_validates}, JSON::PP::true,
	'secure.test: the resolver validates');
is_deeply(tlsa_of('secure.test', 'mail.secure.test'), { dnssec => 'secure', address_dnssec => 'secure',
	records => ["2 1 1 $H2", "3 1 1 $H1"], usable => 2, match => undef },
	'secure.test: the TLSA records of its MX host');

is(dane('single.test'), 'warning: mail.single.test has a single TLSA '
	. 'record, of usage 3 (DANE-EE): publish the record of the next key '
	. 'before the certificate is renewed, or add a 2 x x record of its '
	. 'issuer, or mail to mail.single.test fails for every DANE sender '
	. 'between the renewal and the new record',
	'single.test: one 3 1 1 record is a warning');
is_deeply(tlsa_of('single.test', 'mail.single.test'), { dnssec => 'secure', address_dnssec => 'secure',
	records => ["3 1 1 $H1"], usable => 1, match => undef }, 'single.test: its record');

is(dane('notlsa.test'), 'ok: the MX records of notlsa.test are '
	. 'DNSSEC-signed; TLSA records: mail.notlsa.test none',
	'notlsa.test: no TLSA record is no problem');
is_deeply(tlsa_of('notlsa.test', 'mail.notlsa.test'), { dnssec => 'secure', address_dnssec => 'secure',
	records => [], usable => 0, match => undef },
	'notlsa.test: proven absent');

is(dane('unusable.test'), 'warning: none of the TLSA records of '
	. 'mail.unusable.test is usable (usage 0 (PKIX-TA) is not for SMTP: '
	. 'DANE senders ignore it (RFC 7672 3.1.3)): DANE senders still '
	. 'require TLS of it, but check no certificate',
	'unusable.test: usages 0 and 1');
is_deeply(tlsa_of('unusable.test', 'mail.unusable.test'),
	{ dnssec => 'secure', address_dnssec => 'secure', records => ["0 0 1 $H1", "1 1 1 $H2"],
	usable => 0, match => undef }, 'unusable.test: its records');

# the hosts and records sorted: unbound shuffles the records of an RRset

is(dane('two.test'), 'ok: the MX records of two.test are DNSSEC-signed; '
	. 'TLSA records: mx1.two.test 2 usable of 2 (enough for a key rollover), mx2.two.test none',
	'two.test: each MX host');
is_deeply([map { tlsa_of('two.test', $_) } 'mx1.two.test', 'mx2.two.test'],
	[{ dnssec => 'secure', address_dnssec => 'secure', records => ["3 1 1 $H2", "3 1 1 $H1"],
	usable => 2, match => undef }, { dnssec => 'secure', address_dnssec => 'secure', records => [], usable => 0, match => undef }],
	'two.test: the TLSA records of both hosts');

is(dane('itlsa.test'), 'warning: mail.insecure.test has TLSA records, but '
	. 'its address records are not signed with DNSSEC: senders do not look '
	. 'its TLSA records up (RFC 7672 2.2.2); sign the zone of '
	. 'mail.insecure.test', 'itlsa.test: unsigned TLSA and addresses');
is_deeply(tlsa_of('itlsa.test', 'mail.insecure.test'),
	{ dnssec => 'insecure', address_dnssec => 'insecure', records => ["3 1 1 $H1"], usable => 1, match => undef },
	'itlsa.test: its record, insecure');

is(dane('split.test'), 'warning: mail.split.test has TLSA records, but they '
	. 'are not signed with DNSSEC: senders ignore them; sign the zone of '
	. '_25._tcp.mail.split.test', 'split.test: unsigned TLSA only');
is_deeply(tlsa_of('split.test', 'mail.split.test'), { dnssec => 'insecure',
	address_dnssec => 'secure', records => ["3 1 1 $H1"], usable => 1,
	match => undef }, 'split.test: its record, insecure');

is(dane('btlsa.test'), 'error: the TLSA records of mail.bogus.test fail '
	. 'DNSSEC validation (bogus): every DANE sender defers all mail to '
	. 'mail.bogus.test; fix the signatures of _25._tcp.mail.bogus.test',
	'btlsa.test: bogus TLSA');
is_deeply(tlsa_of('btlsa.test', 'mail.bogus.test'),
	{ dnssec => 'bogus', address_dnssec => 'bogus', records => ["3 1 1 $H1"], usable => 1, match => undef },
	'btlsa.test: the records that failed validation');
is(dom('btlsa.test')->{status}, 'error', 'btlsa.test: the domain in error');

$r = $tree->query('mail.v6.test', 'AAAA');
is($r && $r->header->rcode, 'SERVFAIL', 'unbound: mail.v6.test AAAA bogus');
$r = $tree->query('mail.v6.test', 'A');
is(($r && $r->header->rcode) . ' ' . ($r && $r->header->ad),
	'NOERROR 1', 'unbound: mail.v6.test A secure');

is(dane('v6.test'), 'error: the address records of mail.v6.test fail '
	. 'DNSSEC validation (bogus): every DANE sender defers all mail to '
	. 'mail.v6.test; fix the signatures of mail.v6.test',
	'v6.test: bogus AAAA records');
is_deeply(tlsa_of('v6.test', 'mail.v6.test'), { dnssec => 'secure',
	address_dnssec => 'bogus', records => ["2 1 1 $H2", "3 1 1 $H1"],
	usable => 2, match => undef }, 'v6.test: secure TLSA, bogus addresses');

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

# the probes match the records against what each MX host presents

sub probe {
	my ($domain) = @_;
	my ($p) = grep { ($_->{address} // '') eq $PROBED{$domain} }
		@{dom($domain)->{starttls}};
	return $p // {};
}

# what ldns-dane (ldnsutils) says of the same chain and records: 0 when
# they match.  -n: no name check, which ldns-dane would make against the
# TLSA record's owner (_25._tcp.<host>) when given records from a file

sub ldns_dane {
	my ($domain) = @_;
	my ($rc, $out, $err) = Test::Nginx::capture(['ldns-dane', '-d', '-n',
		'-c', $chain{$domain}, '-t', "$d/$domain.tlsa", 'verify']);
	return $rc;
}

is(dane('ee.test'), 'ok: the MX records of ee.test are DNSSEC-signed; '
	. 'TLSA records: mail.ee.test 2 usable of 2 (enough for a key rollover), its certificate matches '
	. $match{'ee.test'}, 'ee.test: matched by its key (3 1 1)');
is(tlsa_of('ee.test', 'mail.ee.test')->{match}, $match{'ee.test'},
	'ee.test: the match in the JSON');
is(join(' ', map { probe('ee.test')->{$_} ? 'yes' : 'no' } qw(ok
	dane_checked)) . ' ' . (probe('ee.test')->{dane_match} // 'none'),
	"yes yes $match{'ee.test'}", 'ee.test: the probe');
is(ldns_dane('ee.test'), 0, 'ee.test: ldns-dane agrees');

is(dane('ta.test'), 'ok: the MX records of ta.test are DNSSEC-signed; '
	. 'TLSA records: mail.ta.test 1 usable of 1, its certificate matches '
	. $match{'ta.test'}, "ta.test: matched by its issuer's key (2 1 1)");
is(probe('ta.test')->{dane_match}, $match{'ta.test'},
	'ta.test: the probe matched the CA');
# ldns-dane checks the name of a DANE-TA chain against the owner of records
# read from a file (_25._tcp.<host>): openssl s_client instead, to the MX

my ($rc, $out, $err) = Test::Nginx::capture(['openssl', 's_client',
	'-connect', "$PROBED{'ta.test'}:$port", '-starttls', 'smtp',
	'-dane_tlsa_domain', 'mail.ta.test', '-dane_tlsa_rrdata',
	$match{'ta.test'}, '-verify_return_error', '-brief'], timeout => 20);
like($err . $out, qr/^DANE TLSA 2 1 1 \S+ matched TA certificate at depth 1$/m,
	'ta.test: openssl s_client agrees');

is(dane('miss.test'), 'error: mail to mail.miss.test fails for every DANE '
	. 'sender: no TLSA record matches its certificate (/CN=mail.miss.test '
	. 'at 127.0.0.63); publish the record of the certificate it serves, or '
	. 'serve the certificate of the records', 'miss.test: no match');
is_deeply(tlsa_of('miss.test', 'mail.miss.test'), { dnssec => 'secure', address_dnssec => 'secure',
	records => ["2 1 1 $H2", "3 1 1 $H1"], usable => 2, match => undef },
	'miss.test: no match in the JSON');
is(join(' ', map { probe('miss.test')->{$_} ? 'yes' : 'no' } qw(ok
	dane_checked dane_match)), 'yes yes no',
	'miss.test: the certificate is fine for MTA-STS, not for DANE');
isnt(ldns_dane('miss.test'), 0, 'miss.test: ldns-dane agrees');

is(dane('selfee.test'), 'ok: the MX records of selfee.test are '
	. 'DNSSEC-signed; TLSA records: mail.selfee.test 2 usable of 2 (enough for a key rollover), its '
	. "certificate matches $match{'selfee.test'}",
	'selfee.test: a self-signed certificate matched by its key');
like(probe('selfee.test')->{reason} // '',
	qr/^the certificate is not trusted: /,
	'selfee.test: not trusted by MTA-STS senders');
is(probe('selfee.test')->{dane_match}, $match{'selfee.test'},
	'selfee.test: but matched for DANE senders');
is(ldns_dane('selfee.test'), 0, 'selfee.test: ldns-dane agrees');

# ready: DANE authenticates every MX host and fails for none

is(join(' ', map { dom($_)->{dane_ready} ? 1 : 0 } qw(ee.test ta.test
	selfee.test miss.test secure.test notlsa.test bogus.test)),
	'1 1 1 0 0 0 0', 'dane_ready: matched hosts only');
is(dom('miss.test')->{summary}, 'Not ready for "mta_sts_mode enforce": '
	. 'fix the errors first. Senders that validate DNSSEC and use DANE '
	. 'defer mail to miss.test whatever the policy says, see dane.',
	'miss.test: the summary says DANE senders defer');

# the metrics

my $prom = status('prometheus');
is(join("\n", grep { /^mta_sts_dane_\w+\{domain="(ee|miss)\.test"/ }
	split /\n/, $prom), join("\n",
	'mta_sts_dane_ready{domain="ee.test"} 1',
	'mta_sts_dane_ready{domain="miss.test"} 0',
	'mta_sts_dane_dnssec_state{domain="ee.test",state="unknown"} 0',
	'mta_sts_dane_dnssec_state{domain="ee.test",state="secure"} 1',
	'mta_sts_dane_dnssec_state{domain="ee.test",state="insecure"} 0',
	'mta_sts_dane_dnssec_state{domain="ee.test",state="bogus"} 0',
	'mta_sts_dane_dnssec_state{domain="miss.test",state="unknown"} 0',
	'mta_sts_dane_dnssec_state{domain="miss.test",state="secure"} 1',
	'mta_sts_dane_dnssec_state{domain="miss.test",state="insecure"} 0',
	'mta_sts_dane_dnssec_state{domain="miss.test",state="bogus"} 0',
	'mta_sts_dane_tlsa_usable{domain="ee.test",mx="mail.ee.test"} 2',
	'mta_sts_dane_tlsa_usable{domain="miss.test",mx="mail.miss.test"} 2',
	'mta_sts_dane_tlsa_match{domain="ee.test",mx="mail.ee.test"} 1',
	'mta_sts_dane_tlsa_match{domain="miss.test",mx="mail.miss.test"} 0'),
	'prometheus: the DANE samples of ee.test and miss.test');
like($prom, qr/^mta_sts_dane_dnssec_state\{domain="bogus\.test",
	state="bogus"\}\ 1$/mx, 'prometheus: bogus.test');

# the zone format: the TLSA record of the key each MX serves now

my $zone = status('zone');
is(join("\n", grep { /^_25\._tcp\.mail\.(ee|miss|ta)\.test\. / }
	split /\n/, $zone), join("\n",
	"_25._tcp.mail.ee.test. IN TLSA 3 1 1 $served{'ee.test'}",
	"_25._tcp.mail.miss.test. IN TLSA 3 1 1 $served{'miss.test'}",
	"_25._tcp.mail.ta.test. IN TLSA 3 1 1 $served{'ta.test'}"),
	'zone: the TLSA records of the keys served');
is("3 1 1 $served{'ee.test'}", $match{'ee.test'},
	'zone: the same as the record that matched');

# the HTML page: a table per domain

my $html = status('html');
my @ee = sort "3 1 1 $served{'ee.test'}", "3 1 1 $H2";
like($html, qr{<tr><td>mail\.ee\.test</td><td>secure</td><td>secure</td>
	<td><code>\Q$ee[0]\E</code><br><code>\Q$ee[1]\E</code></td>
	<td>2</td><td><code>\Q$match{'ee.test'}\E</code></td></tr>}x,
	'html: the DANE row of ee.test');
like($html, qr{<tr><td>mail\.miss\.test</td>.*?<td><span\ class="s\ error">
	no\ record</span></td></tr>}x, 'html: miss.test matches no record');

# the text format: a column, and the lines of what is wrong

my $text = status('text');
like($text, qr/^DOMAIN +STATUS +MODE +STS_RECORD +TLSRPT_RECORD +MX +POLICY_HOST +CERTIFICATE +STARTTLS +DANE *$/m,
	'text: the column');
like($text, qr/^bogus\.test +error +testing( +\S+){6} +error *$/m,
	'text: bogus.test row');
like($text, qr/^secure\.test( +\S+){8} +ok *$/m, 'text: secure.test row');
like($text, qr/^single\.test dane: warning: mail\.single\.test has a single TLSA record/m,
	'text: the warning line');

# lookups shared within a round: itlsa.test and insecure.test have one MX
# host, whose TLSA records a round asks the resolver for once, and the
# root's NS is asked once a round, not once for each domain; the next
# round asks again.  unbound logs every query it gets (log-queries).

sub asked {
	my ($name, $type) = @_;
	open my $fh, '<', "$d/dns/unbound.log" or return -1;
	my $log = do { local $/; <$fh> };
	return scalar(() = $log =~ /info: 127\.0\.0\.1 \Q$name\E $type IN$/mg);
}

my @ASKED = (['_25._tcp.mail.insecure.test.', 'TLSA'], ['.', 'NS'],
	['secure.test.', 'MX']);
my @before = map { asked(@$_) } @ASKED;
status('json');
is(join(' ', map { asked(@{$ASKED[$_]}) - $before[$_] } 0 .. $#ASKED),
	'1 1 1', 'one round: the shared TLSA records, the root and each '
	. "domain's MX records asked once");
status('json');
is(join(' ', map { asked(@{$ASKED[$_]}) - $before[$_] } 0 .. $#ASKED),
	'2 2 2', 'the next round asks again');

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
is_deeply(mx_checks(), $mx_on, 'off: the mx check of every domain as with '
	. 'the MX records asked with DNSSEC');
is_deeply([map { $_->{tlsa} } @{dom('two.test')->{mx_hosts}}],
	[undef, undef], 'off: no TLSA records looked up');
is(scalar(grep { /^(?:# \w+ )?mta_sts_dane_/ } split /\n/,
	status('prometheus')), 0, 'off: no DANE metrics');
unlike(status('html'), qr{<h3>DANE</h3>}, 'off: no DANE table');
my %rank = (ok => 0, pending => 2, warning => 3, error => 4);
my $c = dom('itlsa.test')->{checks} // {};
is(dom('itlsa.test')->{status}, (sort { $rank{$b} <=> $rank{$a} }
	map { $c->{$_}{status} }
	grep { $_ ne 'dane' && $c->{$_}{status} ne 'skipped' } keys %$c)[0],
	'off: the status is the worst of the other checks');

###############################################################################
