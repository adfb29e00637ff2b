#!/usr/bin/perl

# STARTTLS probes against fake SMTP servers (Test::MtaSts::SMTP): each MX
# host has an address of its own on loopback (127.0.0.11, .12, ..., and
# ::1) and all listen on one port, the port of "mta_sts_check_starttls on
# port=N".  One domain per way an MX host fails a sender (untrusted, wrong
# name, expired or not yet valid certificate, no STARTTLS, EHLO or
# STARTTLS refused, a broken handshake, silence at each step, a closed
# port, a bad or hostile banner, an oversized reply), a domain in enforce
# mode whose second MX host would bounce mail, a testing domain ready for
# enforce, MX hosts with several addresses, the implicit MX, a null MX,
# an MX host without address, a CNAME, a wildcard certificate; what the
# servers saw (EHLO name, SNI, QUIT); the other formats; a reload and a
# fast stop while a probe runs; then the probes off.

use warnings;
use strict;

use Test::More;
use JSON::PP;
use IO::Socket::IP;
use Sys::Hostname qw(hostname);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;
use Test::MtaSts::DNS;
use Test::MtaSts::SMTP;

###############################################################################

my $t = Test::Nginx->new();
my $d = $t->testdir;
my $ca = Test::MtaSts::CA->new($d);
my $port = $t->port(2525);

# IPv6 loopback, for an MX host with an AAAA record

my $ipv6 = IO::Socket::IP->new(Listen => 1, LocalHost => '::1',
	LocalPort => $port, ReuseAddr => 1);
close $ipv6 if $ipv6;

# a banner with markup, quotes, a backslash, a terminal escape, a byte
# that is not UTF-8, and longer than the 120 bytes a reason quotes

my $HOSTILE = qq{554 <b onclick="x()">no</b> \\ \x1b[31m \xff } . ('y' x 200);
(my $quoted = substr($HOSTILE, 0, 120)) =~ s/\xff/\x{fffd}/;

# MX hosts: name => [address, fake server mode, certificate, options];
# a server with no mode is not started (nothing listens there)

my %mx = (
	'mx.valid.test' => ['127.0.0.11', 'ok', 'good'],
	'mx.selfsigned.test' => ['127.0.0.12', 'ok', 'selfsigned'],
	'mx.wrongname.test' => ['127.0.0.13', 'ok', 'other'],
	'mx.expired.test' => ['127.0.0.14', 'ok', 'expired'],
	'mx.nostarttls.test' => ['127.0.0.15', 'no_starttls'],
	'mx.garbage.test' => ['127.0.0.16', 'garbage', 'good'],
	'mx.hangup.test' => ['127.0.0.17', 'close', 'good'],
	'mx.silent.test' => ['127.0.0.18', 'silent'],
	'mx.portclosed.test' => ['127.0.0.19'],
	'mx.refuse.test' => ['127.0.0.20', 'refuse'],
	'mx.greet.test' => ['127.0.0.21', 'greet_554'],
	'mx.tlstimeout.test' => ['127.0.0.22', 'silent_tls', 'good'],
	'mx1.bounce.test' => ['127.0.0.23', 'ok', 'good'],
	'mx2.bounce.test' => ['127.0.0.24', 'ok', 'expired'],
	'mx.ready.test' => ['127.0.0.25', 'ok', 'good'],
	'mx.dual.test' => ['127.0.0.26', 'ok', 'good'],
	'mx.dual.test/2' => ['127.0.0.27', 'no_starttls'],
	$ipv6 ? ('mx.dual.test/6' => ['::1', 'ok', 'good']) : (),
	'mx.ehlotimeout.test' => ['127.0.0.28', 'silent_ehlo'],
	'mx.sttimeout.test' => ['127.0.0.29', 'silent_starttls'],
	'mx.helo.test' => ['127.0.0.30', 'ehlo_502'],
	'mx.http.test' => ['127.0.0.31', 'http'],
	'mx.nobanner.test' => ['127.0.0.32', 'hangup'],
	'mx.future.test' => ['127.0.0.33', 'ok', 'future'],
	'mx.slow.test' => ['127.0.0.34', 'ok', 'good', dribble => 1,
		starttls_last => 1],
	'implicit.test' => ['127.0.0.35', 'ok', 'good'],
	'mx1.noaddr.test' => ['127.0.0.36', 'ok', 'good'],
	'mx.longehlo.test' => ['127.0.0.37', 'long_ehlo'],
	'mx.hostile.test' => ['127.0.0.38', 'greet_554', undef,
		banner => $HOSTILE],
	'mx.wild.test' => ['127.0.0.39', 'ok', 'wildcard'],
	'mx.tri.test' => ['127.0.0.40', 'no_starttls'],
	'mx.tri.test/2' => ['127.0.0.41', 'ok', 'good'],
	'mx.tri.test/3' => ['127.0.0.42', 'refuse'],
	'real.cname.test' => ['127.0.0.43', 'ok', 'cname'],

	# more probes than the first allocation of the results: each keeps
	# its own result while the list grows
	(map { ("mx$_.six.test" => ['127.0.0.' . (42 + 2 * $_), 'ok', 'good'],
		"mx$_.six.test/2" => ['127.0.0.' . (43 + 2 * $_), 'ok', 'good'])
	} 1 .. 3),
);

# domain => mode, MX records, expected state and message of the starttls
# check (text, or a regex: msg), enforce_ready, and the probes as
# "host address result"

my $ENF = 'Senders that enforce MTA-STS refuse to deliver to these hosts.';
my $TST = 'In enforce mode senders would refuse to deliver to these hosts.';

sub failed {
	my ($host, $addr, $reason, $mode) = @_;
	return { text => "$host [$addr]: $reason. " . ($mode ? $TST : $ENF),
		probes => ["$host $addr $reason"],
		state => $mode ? 'warning' : 'error', ready => 0,
		$mode ? (mode => $mode) : () };
}

my %domains = (
	'valid.test' => { state => 'ok', ready => 1,
		msg => qr/^The MX address accepts STARTTLS with a trusted certificate valid for the MX host \(TLSv1\.[23]\)\.$/,
		probes => ['mx.valid.test 127.0.0.11 ok'] },
	'selfsigned.test' => failed('mx.selfsigned.test', '127.0.0.12',
		'the certificate is not trusted: %SELFSIGNED%'),
	'wrongname.test' => failed('mx.wrongname.test', '127.0.0.13',
		'the certificate (/CN=mx.other.test) is not valid for '
		. 'mx.wrongname.test'),
	'expired.test' => failed('mx.expired.test', '127.0.0.14',
		'the certificate expired on %EXPIRED%'),
	'nostarttls.test' => failed('mx.nostarttls.test', '127.0.0.15',
		'STARTTLS is not offered in the EHLO reply', 'testing'),
	'garbage.test' => failed('mx.garbage.test', '127.0.0.16',
		'the TLS handshake failed: the server sent plain text after '
		. 'its STARTTLS reply'),
	'hangup.test' => failed('mx.hangup.test', '127.0.0.17',
		'the TLS handshake failed'),
	'silent.test' => failed('mx.silent.test', '127.0.0.18',
		'timeout while waiting for the banner'),
	'portclosed.test' => failed('mx.portclosed.test', '127.0.0.19',
		"connection refused on port $port"),
	'refuse.test' => failed('mx.refuse.test', '127.0.0.20',
		'STARTTLS is refused: "454 4.7.0 TLS not available"'),
	'greet.test' => failed('mx.greet.test', '127.0.0.21',
		'the server greets with "554 mx.greet.test no service here", '
		. 'not 220'),
	'tlstimeout.test' => failed('mx.tlstimeout.test', '127.0.0.22',
		'timeout in the TLS handshake'),
	'ehlotimeout.test' => failed('mx.ehlotimeout.test', '127.0.0.28',
		'timeout while waiting for the EHLO reply'),
	'sttimeout.test' => failed('mx.sttimeout.test', '127.0.0.29',
		'timeout while waiting for the STARTTLS reply', 'testing'),
	'helo.test' => failed('mx.helo.test', '127.0.0.30',
		'EHLO is refused: "502 5.5.2 EHLO not implemented, say HELO"'),
	'http.test' => failed('mx.http.test', '127.0.0.31',
		'the server does not speak SMTP while waiting for the banner'),
	'nobanner.test' => failed('mx.nobanner.test', '127.0.0.32',
		'the server closed the connection while waiting for the banner'),
	'future.test' => failed('mx.future.test', '127.0.0.33',
		'the certificate is not trusted: certificate is not yet valid'),
	'longehlo.test' => failed('mx.longehlo.test', '127.0.0.37',
		'the reply is longer than 4096 bytes'),
	'hostile.test' => failed('mx.hostile.test', '127.0.0.38',
		qq{the server greets with "$quoted", not 220}),
	'tri.test' => { state => 'error', ready => 0,
		text => 'mx.tri.test [127.0.0.40]: STARTTLS is not offered in '
			. 'the EHLO reply; mx.tri.test [127.0.0.42]: STARTTLS is '
			. qq{refused: "454 4.7.0 TLS not available". $ENF},
		probes => ['mx.tri.test 127.0.0.40 STARTTLS is not offered in '
			. 'the EHLO reply', 'mx.tri.test 127.0.0.41 ok',
			'mx.tri.test 127.0.0.42 STARTTLS is refused: '
			. '"454 4.7.0 TLS not available"'] },
	'cname.test' => { mx_rr => ['@ IN MX 10 mx', 'mx IN CNAME real'],
		mx => ['mx.cname.test'], state => 'ok', ready => 1,
		msg => qr/^The MX address accepts STARTTLS/,
		probes => ['mx.cname.test 127.0.0.43 ok'] },
	'nullmx.test' => { mx_rr => ['@ IN MX 0 .'], mx => ['mx.nullmx.test'],
		state => 'skipped', status => 'error', others => 'ok ok error ok ok',
		ready => 0, text => 'No MX host to probe: the domain accepts no '
			. 'mail (null MX), or its MX names are not host names.',
		probes => [] },
	'wild.test' => { state => 'ok', ready => 1,
		msg => qr/^The MX address accepts STARTTLS/,
		probes => ['mx.wild.test 127.0.0.39 ok'] },
	'slow.test' => { mx_rr => ['@ IN MX 10 MX.Slow.Test.'],
		state => 'ok', ready => 1,
		msg => qr/^The MX address accepts STARTTLS/,
		probes => ['mx.slow.test 127.0.0.34 ok'] },
	'bounce.test' => { mx_rr => ['@ IN MX 10 mx1', '@ IN MX 20 mx2'],
		state => 'error', ready => 0,
		text => 'mx2.bounce.test [127.0.0.24]: the certificate expired '
			. "on %EXPIRED%. $ENF",
		probes => ['mx1.bounce.test 127.0.0.23 ok',
			'mx2.bounce.test 127.0.0.24 the certificate expired on '
			. '%EXPIRED%'] },
	'ready.test' => { mode => 'testing', state => 'ok', ready => 1,
		msg => qr/^The MX address accepts STARTTLS/,
		probes => ['mx.ready.test 127.0.0.25 ok'] },
	'dual.test' => { mode => 'testing', state => 'warning', ready => 0,
		text => 'mx.dual.test [127.0.0.27]: STARTTLS is not offered in '
			. "the EHLO reply. $TST",
		probes => ['mx.dual.test 127.0.0.26 ok',
			'mx.dual.test 127.0.0.27 STARTTLS is not offered in the '
			. 'EHLO reply', $ipv6 ? ('mx.dual.test ::1 ok') : ()] },
	'six.test' => { mx_rr => ['@ IN MX 10 mx1', '@ IN MX 20 mx2',
		'@ IN MX 30 mx3'], state => 'ok', ready => 1,
		text => 'All 6 MX addresses accept STARTTLS with a trusted '
			. 'certificate valid for the MX host (TLSv1.3).',
		probes => [map { ("mx$_.six.test 127.0.0." . (42 + 2 * $_) . ' ok',
			"mx$_.six.test 127.0.0." . (43 + 2 * $_) . ' ok') } 1 .. 3] },
	'implicit.test' => { mx_rr => [], mx => ['implicit.test'],
		state => 'ok', ready => 1,
		msg => qr/^The MX address accepts STARTTLS/,
		probes => ['implicit.test 127.0.0.35 ok'] },
	'noaddr.test' => { mode => 'testing',
		mx_rr => ['@ IN MX 10 mx1', '@ IN MX 20 mx2'],
		mx => ['mx1.noaddr.test', 'mx2.noaddr.test'],
		state => 'warning', ready => 0,
		text => 'mx2.noaddr.test: the MX host has no A or AAAA record. '
			. $TST,
		probes => ['mx1.noaddr.test 127.0.0.36 ok',
			'mx2.noaddr.test - the MX host has no A or AAAA record'] },

	# three domains whose mail goes to valid.test's MX host, as a hosting
	# provider's do: each has the probe's result, and the probe is made
	# once a round (see "one connection per MX address")
	(map { ("shared$_.test" => { mx_rr => ['@ IN MX 10 mx.valid.test.'],
		mx => ['mx.valid.test'], state => 'ok', ready => 1,
		msg => qr/^The MX address accepts STARTTLS/,
		probes => ['mx.valid.test 127.0.0.11 ok'] }) } 1 .. 3),
);

# certificates of the MX hosts

my %cert;

for my $name (sort keys %mx) {
	my ($addr, $mode, $kind) = @{$mx{$name}};
	(my $host = $name) =~ s/\/.*//;
	next unless $kind;
	(my $file = $name) =~ s/\//-/g;

	$cert{$name} =
		$kind eq 'good' ? [$ca->cert($file, dns => [$host], days => 30)]
		: $kind eq 'cname' ? [$ca->cert($file, dns => ['mx.cname.test'])]
		: $kind eq 'wildcard' ? [$ca->cert($file, dns => ['*.wild.test'])]
		: $kind eq 'other' ? [$ca->cert($file, dns => ['mx.other.test'])]
		: $kind eq 'expired' ? [$ca->cert($file, dns => [$host],
			expired => 1)]
		: $kind eq 'future' ? [$ca->cert($file, dns => [$host],
			not_before => '+1d', not_after => '+30d')]
		: $kind eq 'selfsigned' ? [selfsigned($host)]
		: die "kind $kind\n";
}

# what openssl says of the expired and the self-signed certificates:
# the date the expired ones show, the reason a self-signed one fails

my ($rc, $out, $err) = Test::Nginx::capture(['openssl', 'x509', '-noout',
	'-enddate', '-dateopt', 'iso_8601', '-in',
	$cert{'mx.expired.test'}[0]]);
my ($expired) = $out =~ /notAfter=(\d{4}-\d\d-\d\d)/
	or die "openssl x509: $out$err\n";

($rc, $out, $err) = Test::Nginx::capture(['openssl', 'verify', '-CAfile',
	$ca->ca_file, $cert{'mx.selfsigned.test'}[0]]);
my ($selfsigned) = "$out$err" =~ /error 18 at 0 depth lookup: (.+)/
	or die "openssl verify: $out$err\n";

for my $c (values %domains) {
	s/%EXPIRED%/$expired/g, s/%SELFSIGNED%/$selfsigned/g
		for grep { defined } $c->{text}, @{$c->{probes}};
}

# the fake SMTP servers

for my $name (sort keys %mx) {
	my ($addr, $mode, $kind, %opt) = @{$mx{$name}};
	next unless $mode;
	(my $host = $name) =~ s/\/.*//;
	Test::MtaSts::SMTP->start($t, address => $addr, port => $port,
		mode => $mode, name => $host, log => smtp_log($name),
		$kind ? (cert => $cert{$name}[0], key => $cert{$name}[1]) : (),
		%opt);
}

# DNS: a zone per domain; the MX hosts' addresses from %mx

my %zones;

for my $dom (sort keys %domains) {
	my $c = $domains{$dom};
	my @rr = (@{$c->{mx_rr} // ['@ IN MX 10 mx']},
		'mta-sts IN A 127.0.0.1',
		qq{_mta-sts IN TXT "v=STSv1; id=id1"},
		qq{_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt\@$dom"});

	my $auto = !$c->{mx};

	for my $name (sort keys %mx) {
		(my $host = $name) =~ s/\/.*//;
		my $rel = $host eq $dom ? '@'
			: $host =~ /^(.*)\.\Q$dom\E$/ ? $1 : next;
		my $addr = $mx{$name}[0];
		push @rr, $addr =~ /:/ ? "$rel IN AAAA $addr" : "$rel IN A $addr";
		push @{$c->{mx}}, $host
			if $auto && !grep { $_ eq $host } @{$c->{mx}};
	}

	$zones{$dom} = Test::MtaSts::DNS->zone_text($dom, @rr);
}

mkdir "$d/nsd" or die "mkdir: $!\n";
my $dns = Test::MtaSts::DNS->start_nsd(dir => "$d/nsd",
	port => $t->port(5353), zones => \%zones);

# nginx: a policy host per domain, one certificate for all of them

my ($crt, $key) = $ca->cert('mta-sts', days => 90,
	dns => [map { "mta-sts.$_" } sort keys %domains]);

my $servers = '';

for my $dom (sort keys %domains) {
	my $c = $domains{$dom};
	my $mode = $c->{mode} // 'enforce';

	$servers .= <<"EOF";
    server {
        listen 127.0.0.1:%%PORT_8443%% ssl;
        server_name mta-sts.$dom;
        mta_sts on;
        mta_sts_mode $mode;
        mta_sts_mx @{$c->{mx}};
        mta_sts_id id1;
        mta_sts_tlsrpt_rua mailto:tlsrpt\@$dom;
    }

EOF
}

sub write_conf {
	my ($starttls) = @_;

	$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_resolver 127.0.0.1:%%PORT_5353%% timeout=1s attempts=2;
    mta_sts_check_interval off;
    $starttls
    mta_sts_trusted_certificate ${\ $ca->ca_file};

    ssl_certificate $crt;
    ssl_certificate_key $key;

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

write_conf("mta_sts_check_starttls on port=$port timeout=2s;");

my $ndomains = keys %domains;
$t->plan(6 * $ndomains + 71 + ($ipv6 ? 3 : 0))->run();

###############################################################################

sub smtp_log {
	my ($name) = @_;
	(my $f = $name) =~ s/\//-/g;
	return "$d/smtp-$f.log";
}

sub events { Test::MtaSts::SMTP->events(smtp_log($_[0])) }
sub nevents { my @e = events($_[0]); scalar @e }

sub selfsigned {
	my ($name) = @_;
	my @files = ("$d/$name-self.crt", "$d/$name-self.key");
	my ($rc, $out, $err) = Test::Nginx::capture(['openssl', 'req',
		'-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
		'-nodes', '-keyout', $files[1], '-out', $files[0],
		'-subj', "/CN=$name", '-days', 30,
		'-addext', "subjectAltName=DNS:$name"]);
	die "openssl req: $err$out" if $rc;
	return @files;
}

sub get {
	my ($uri) = @_;
	my $raw = $t->http("GET $uri HTTP/1.0\r\nHost: status\r\n\r\n",
		timeout => 30);
	my ($head, $body) = split /\r\n\r\n/, $raw // '', 2;
	return $body // '';
}

sub json {
	my $body = get(@_);
	return eval { decode_json($body) } // do { diag($body); {} };
}

sub probes {
	my ($r, $host) = @_;
	return grep { ($_->{host} // '') eq $host } @{$r->{starttls} // []};
}

sub probe {
	my ($r, $host, $addr) = @_;
	my ($p) = grep { ($_->{address} // '') eq $addr } probes($r, $host);
	return $p // {};
}

# before any check: no probe has run

is(join(',', grep { nevents($_) } sort keys %mx), '',
	'no connection before a check');

# one refresh checks every domain, the probes in parallel

my $start = time;
my $j = json('/status?refresh=1');
my $took = time - $start;

ok($took < 15, "all probes in one refresh, in parallel (${took}s)");

for my $dom (sort keys %domains) {
	my $c = $domains{$dom};
	my $r = $j->{domains}{$dom} // {};
	my $st = $r->{checks}{starttls} // {};

	is($st->{status}, $c->{state}, "$dom: starttls state");
	if (defined $c->{text}) {
		is($st->{message}, $c->{text}, "$dom: starttls message");
	} else {
		like($st->{message} // '', $c->{msg}, "$dom: starttls message");
	}
	is($r->{enforce_ready} ? 1 : 0, $c->{ready}, "$dom: enforce_ready");

	# the other checks pass: the domain's status is the starttls state

	is(join(' ', map { $r->{checks}{$_}{status} // 'none' }
		qw(sts_record tlsrpt_record mx policy_host certificate)),
		$c->{others} // 'ok ok ok ok ok', "$dom: the other checks");
	is($r->{status}, $c->{status} // $c->{state}, "$dom: status");

	# each address of each MX host, and what became of it

	is(join("\n", sort map { join ' ', $_->{host} // 'undef',
		$_->{address} // '-', $_->{ok} ? 'ok' : $_->{reason} // 'undef' }
		@{$r->{starttls} // []}), join("\n", sort @{$c->{probes}}),
		"$dom: probes");
}

# the probes' details

my $r = $j->{domains}{'valid.test'};
my $p = probe($r, 'mx.valid.test', '127.0.0.11');

ok($p->{ok} && ref $p->{ok}, 'valid: ok is a JSON boolean');
ok(!defined $p->{reason} || $p->{reason} eq '', 'valid: no reason');
like($p->{tls_version} // '', qr/^TLSv1\.[23]$/, 'valid: TLS version');
like($p->{cipher} // '', qr/^[A-Z0-9_-]+$/, 'valid: cipher');
is($p->{subject}, '/CN=mx.valid.test', 'valid: subject');
is($p->{issuer}, '/CN=MTA-STS Test CA', 'valid: issuer');
like($p->{expires} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
	'valid: expires');
ok(($p->{days_left} // -1) >= 29 && $p->{days_left} <= 30,
	'valid: days left');

my @ev = events('mx.valid.test');
is(join(',', grep { /^(connect|starttls|quit)$/ } @ev),
	'connect,starttls,quit', 'valid: connect, STARTTLS, QUIT over TLS');
is((grep { /^ehlo / } @ev)[0], 'ehlo ' . lc hostname(),
	'valid: EHLO with the host name');
is((grep { /^sni / } @ev)[0], 'sni mx.valid.test', 'valid: SNI is the MX');
like((grep { /^tls / } @ev)[0] // '', qr/^tls TLSv1_?[23]$/,
	'valid: TLS version as the server saw it');

$r = $j->{domains}{'expired.test'};
$p = probe($r, 'mx.expired.test', '127.0.0.14');
like($p->{tls_version} // '', qr/^TLSv1\.[23]$/,
	'expired: TLS version of the handshake');
like($p->{expires} // '', qr/^\Q$expired\ET/, 'expired: expires');
ok(defined $p->{days_left} && $p->{days_left} < 0,
	'expired: days left negative');
is($r->{summary}, 'All mail to expired.test would bounce: senders that '
	. 'enforce MTA-STS refuse mx.expired.test, see starttls.',
	'expired: summary');

$p = probe($j->{domains}{'selfsigned.test'}, 'mx.selfsigned.test',
	'127.0.0.12');
is($p->{issuer}, '/CN=mx.selfsigned.test', 'self-signed: issuer is itself');

$p = probe($j->{domains}{'wrongname.test'}, 'mx.wrongname.test',
	'127.0.0.13');
is($p->{subject}, '/CN=mx.other.test', 'wrong name: subject');
is(join(',', grep { /^sni / } events('mx.wrongname.test')),
	'sni mx.wrongname.test', 'wrong name: SNI is the MX host');

$p = probe($j->{domains}{'nostarttls.test'}, 'mx.nostarttls.test',
	'127.0.0.15');
ok(!$p->{tls_version} && !$p->{subject} && !$p->{expires},
	'no STARTTLS: no TLS details');
is(join(',', grep { /^(starttls|sni)/ } events('mx.nostarttls.test')), '',
	'no STARTTLS: the probe does not try it');
is($j->{domains}{'nostarttls.test'}{summary}, 'Not ready for '
	. '"mta_sts_mode enforce": senders would refuse some MX hosts, see '
	. 'starttls.', 'no STARTTLS: summary in testing mode');

is(join(',', grep { /^(connect|ehlo|starttls|sni|quit)/ }
	events('mx.slow.test')),
	'connect,ehlo ' . lc(hostname()) . ',starttls,sni mx.slow.test,quit',
	'replies in pieces, STARTTLS last, MX in capitals: the conversation');
is(probe($j->{domains}{'wild.test'}, 'mx.wild.test', '127.0.0.39')->{subject},
	'/CN=*.wild.test', 'wildcard: subject');
is(join(',', grep { /^sni / } events('real.cname.test')),
	'sni mx.cname.test', 'MX host a CNAME: SNI is the MX host name');

# the headline: mail bounces whenever it goes to the second MX host

$r = $j->{domains}{'bounce.test'};
is($r->{status}, 'error', 'bounce: status error');
like($r->{checks}{starttls}{message} // '',
	qr/mx2\.bounce\.test .*expired/, 'bounce: message names mx2, expired');
is($r->{enforce_ready} ? 1 : 0, 0, 'bounce: not enforce ready');
is($r->{summary}, 'Mail to bounce.test would bounce whenever it goes to '
	. 'mx2.bounce.test: senders that enforce MTA-STS refuse those hosts, '
	. 'see starttls.', 'bounce: summary names the second MX');
unlike($r->{checks}{starttls}{message} // '', qr/mx1\.bounce\.test/,
	'bounce: the first MX is not blamed');

# the testing domain that passes every check

$r = $j->{domains}{'ready.test'};
is($r->{status}, 'ok', 'ready: status ok');
is($r->{enforce_ready} ? 1 : 0, 1, 'ready: enforce ready');
is($r->{summary}, 'Nothing would bounce: ready.test is ready for '
	. '"mta_sts_mode enforce".', 'ready: summary');

is($j->{domains}{'valid.test'}{summary},
	'The policy is enforced and nothing would bounce.', 'valid: summary');
is($j->{domains}{'tri.test'}{summary}, 'Mail to tri.test would bounce '
	. 'whenever it goes to mx.tri.test: senders that enforce MTA-STS '
	. 'refuse those hosts, see starttls.',
	'an MX host with two failing addresses: named once in the summary');
is($j->{domains}{'noaddr.test'}{summary}, 'Not ready for '
	. '"mta_sts_mode enforce": senders would refuse some MX hosts, see '
	. 'starttls.', 'no address: summary');

# every address of an MX host is probed (the list is checked above)

if ($ipv6) {
	$p = probe($j->{domains}{'dual.test'}, 'mx.dual.test', '::1');
	like($p->{tls_version} // '', qr/^TLSv1\.[23]$/, 'dual: IPv6 probe');
	is($p->{subject}, '/CN=mx.dual.test', 'dual: IPv6 subject');
	is(join(',', grep { /^sni / } events('mx.dual.test/6')),
		'sni mx.dual.test', 'dual: IPv6 server saw SNI');
}

# each MX address was connected to once in the refresh, mx.valid.test's
# too, the MX host of four domains

is(join(',', map { $_ . '=' . grep { $_ eq 'connect' } events($_) }
	grep { $mx{$_}[1] } sort keys %mx),
	join(',', map { "$_=1" } grep { $mx{$_}[1] } sort keys %mx),
	'one connection per MX address');

# other formats carry the probes' verdict

my $body = get('/status?format=text');
like($body, qr/^bounce\.test +error +enforce +ok +ok +ok +ok +ok +error +skipped *$/m,
	'text: row with starttls error');
like($body, qr/^bounce\.test starttls: error: mx2\.bounce\.test \[127\.0\.0\.24\]: the certificate expired/m,
	'text: problem line names the MX host');
like($body, qr/^ready\.test +ok +testing +ok +ok +ok +ok +ok +ok +skipped *$/m,
	'text: row with starttls ok');
like($body, qr/^bounce\.test: Mail to bounce\.test would bounce whenever it goes to mx2\.bounce\.test: /m,
	'text: summary line');
like($body, qr/^bounce\.test starttls mx2\.bounce\.test \[127\.0\.0\.24\]: failed: the certificate expired on \Q$expired\E$/m,
	'text: a line for the failed probe');
unlike($body, qr/^bounce\.test starttls mx1\./m,
	'text: no line for the probe that passed');
unlike($body, qr/[^\n\x20-\x7e]/, 'text: printable ASCII only');
like($body, qr/<b onclick="x\(\)">no<\/b> \\ \?\[31m \? y/,
	'text: what the MX host said, control bytes as "?"');

$body = $t->http("GET /status HTTP/1.0\r\nHost: status\r\n"
	. "Accept: text/html\r\n\r\n") // '';
like($body, qr/&lt;b onclick=&quot;x\(\)&quot;&gt;no&lt;\/b&gt;/,
	'html: what the MX host said, escaped');
unlike($body, qr/<b onclick|\x1b|\xff/, 'html: no markup, no raw bytes');

$body = get('/status?format=prometheus');
like($body, qr/^mta_sts_check_state\{domain="bounce\.test",check="starttls",state="error"\} 1$/m,
	'prometheus: starttls error');
like($body, qr/^mta_sts_enforce_ready\{domain="bounce\.test"\} 0$/m,
	'prometheus: not enforce ready');
is(join("\n", sort $body =~ /^(mta_sts_mx_tls_ok\{domain="(?:bounce|dual)\.test".*)$/mg),
	join("\n", sort
	'mta_sts_mx_tls_ok{domain="bounce.test",mx="mx1.bounce.test",address="127.0.0.23"} 1',
	'mta_sts_mx_tls_ok{domain="bounce.test",mx="mx2.bounce.test",address="127.0.0.24"} 0',
	'mta_sts_mx_tls_ok{domain="dual.test",mx="mx.dual.test",address="127.0.0.26"} 1',
	'mta_sts_mx_tls_ok{domain="dual.test",mx="mx.dual.test",address="127.0.0.27"} 0',
	$ipv6 ? 'mta_sts_mx_tls_ok{domain="dual.test",mx="mx.dual.test",address="::1"} 1' : ()),
	'prometheus: mx_tls_ok per address');
like($body, qr/^mta_sts_mx_tls_ok\{domain="noaddr\.test",mx="mx2\.noaddr\.test",address=""\} 0$/m,
	'prometheus: mx_tls_ok of an MX host without address');
my ($exp) = $body =~ /^mta_sts_mx_certificate_expiry_timestamp_seconds\{domain="bounce\.test",mx="mx2\.bounce\.test",address="127\.0\.0\.24"\} (\d+)$/m;
ok($exp && $exp < time, 'prometheus: mx certificate expiry in the past');
unlike($body, qr/^mta_sts_mx_certificate_expiry_timestamp_seconds\{domain="dual\.test",mx="mx\.dual\.test",address="127\.0\.0\.27"\}/m,
	'prometheus: no expiry without a certificate');

# a refresh of one domain probes its MX hosts again, and only them

my %before = map { $_ => nevents($_) } keys %mx;
$j = json('/status?refresh=1&domain=bounce.test');
is(join(',', grep { nevents($_) != $before{$_} } sort keys %mx),
	'mx1.bounce.test,mx2.bounce.test', 'a refresh probes again');
is($j->{domains}{'bounce.test'}{checks}{starttls}{status}, 'error',
	'a refresh: the same verdict');

# a reload while a probe waits for a banner: the old worker finishes the
# probe, answers the refresh and exits without leaving the socket open

%before = map { $_ => nevents($_) } keys %mx;
$start = time;
my $s = $t->http("GET /status?refresh=1&domain=silent.test HTTP/1.0\r\n"
	. "Host: status\r\n\r\n", start => 1);
select undef, undef, undef, 0.5;
$t->reload();
my ($head, $reply) = split /\r\n\r\n/, $t->http_end($s, timeout => 30) // '',
	2;
$took = time - $start;
$j = eval { decode_json($reply // '') } // {};
is(join(' ', map { $_->{reason} // 'undef' }
	@{$j->{domains}{'silent.test'}{starttls} // []}),
	'timeout while waiting for the banner', 'reload: the probe finished');
ok($took < 10, "reload: the refresh answered in time (${took}s)");
is(join(',', grep { nevents($_) != $before{$_} } sort keys %mx),
	'mx.silent.test', 'reload: one probe');

# a fast stop (TERM) while a probe waits for a banner: the worker ends
# the probe and closes its socket (the alerts check below would see
# "open socket left")

$s = $t->http("GET /status?refresh=1&domain=silent.test HTTP/1.0\r\n"
	. "Host: status\r\n\r\n", start => 1);
select undef, undef, undef, 0.5;
my $master = $t->master_pid;
my @workers = $t->workers;
kill 'TERM', $master;
$start = time;
sleep 0.05 while grep { kill 0, $_ } $master, @workers and time - $start < 10;
ok(!grep({ kill 0, $_ } $master, @workers), 'TERM: nginx stopped at once');
close $s;
$t->stop();

# the probes off: explicitly (nginx started anew), then by default
# (a reload)

for my $off ('mta_sts_check_starttls off;', '') {
	my $what = $off ? 'off' : 'default';
	write_conf($off);
	$off ? $t->run() : $t->reload();

	%before = map { $_ => nevents($_) } keys %mx;
	$j = json('/status?refresh=1');
	$r = $j->{domains}{'bounce.test'};

	is($r->{checks}{starttls}{status}, 'skipped', "$what: skipped");
	like($r->{checks}{starttls}{message} // '', qr/^STARTTLS probes are off/,
		"$what: message");
	is(scalar @{$r->{starttls} // []}, 0, "$what: no probes listed");
	is($j->{domains}{'valid.test'}{status}, 'ok',
		"$what: skipped does not count");
	is(join(',', grep { nevents($_) != $before{$_} } sort keys %mx),
		'', "$what: no MX host contacted");
}

###############################################################################
