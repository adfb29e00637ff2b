#!/usr/bin/perl

# The status location against a scripted DNS server: each domain meets
# one fault (SERVFAIL, REFUSED, NXDOMAIN, no data, no answer, truncated
# UDP answers, CNAME chains, split TXT strings, hundreds of records, stray
# and duplicate records, bad syntax), which must become the right check
# state and message.  Then clients that leave while a refresh waits, a
# reload while a check is in flight, a flood of refreshes that must cost
# one set of queries, and refreshes in a new configuration while a worker
# of the old one still checks the domain.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP;
use Test::More;
use Test::Nginx;
use Test::MtaSts::CA;
use Test::MtaSts::FakeDNS qw(dns_rr txt soa kind);
use Test::MtaSts::Pattern qw(msg begins);
use POSIX qw(strftime);
use Time::HiRes qw(sleep time);

###############################################################################

my $ID = 'abc123';

# one server serves these (enforce, mx.test); nodata.test and
# reload.test have their own
my @MAIN = map { "$_.test" } qw(servfail refused nxdomain timeout split
	truncated cname many spf twosts badsyntax emptyid);
my @DOMAINS = sort(@MAIN, 'nodata.test', 'reload.test');

my $t = Test::Nginx->new();
my $d = $t->testdir;

my $ca = Test::MtaSts::CA->new($d);
my ($crt, $key) = $ca->cert('mta-sts', days => 90,
	dns => [map { "mta-sts.$_" } @DOMAINS]);

# The resolver timeout is well longer than the delay of split.test's
# answer (0.3 s), so that the delayed answer counts even on a slow machine
# or under the sanitizers; timeout.test costs one timeout.
# reload.test has a server of its own, whose id a reload changes.

sub write_conf {
	my ($gen, $reload_id) = @_;
	$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes 2;

events {
}

http {
	%%TEST_GLOBALS_HTTP%%

	mta_sts_resolver 127.0.0.1:%%PORT_5353%% timeout=2s attempts=1;
	mta_sts_check_interval off;

	ssl_certificate $crt;
	ssl_certificate_key $key;
	mta_sts_trusted_certificate @{[ $ca->ca_file ]};

	server {
		listen 127.0.0.1:%%PORT_8443%% ssl;
		server_name @{[ join ' ', map { "mta-sts.$_" } @MAIN ]};

		mta_sts on;
		mta_sts_mode enforce;
		mta_sts_mx mx.test;
		mta_sts_id $ID;
	}

	server {
		listen 127.0.0.1:%%PORT_8443%% ssl;
		server_name mta-sts.nodata.test;

		mta_sts on;
		mta_sts_mode enforce;
		mta_sts_mx nodata.test;
		mta_sts_id $ID;
	}

	server {
		listen 127.0.0.1:%%PORT_8443%% ssl;
		server_name mta-sts.reload.test;

		mta_sts on;
		mta_sts_mode enforce;
		mta_sts_mx mx.test;
		mta_sts_id $reload_id;
	}

	server {
		listen 127.0.0.1:%%PORT_8080%%;
		server_name localhost;

		location = /status {
			mta_sts_status;
		}

		location = /gen {
			return 200 "$gen";
		}
	}
}
EOF
}

write_conf('gen1', $ID);

###############################################################################

# The DNS script.  The five queries of a check are "kinds": sts (TXT
# _mta-sts.<d>), tlsrpt (TXT _smtp._tls.<d>), mx (MX <d>), a and aaaa
# (mta-sts.<d>), as kind() of Test::MtaSts::ScriptedDNS tells them.  A
# domain answers well except for its fault.

sub good {
	my ($kind, $dom) = @_;
	return { answer => [txt("_mta-sts.$dom", "v=STSv1; id=$ID")] }
		if $kind eq 'sts';
	return { answer => [txt("_smtp._tls.$dom",
		"v=TLSRPTv1; rua=mailto:tlsrpt\@$dom")] } if $kind eq 'tlsrpt';
	return { answer => [dns_rr("$dom 0 IN MX 10 mx.test")] }
		if $kind eq 'mx';
	return { answer => [dns_rr("mta-sts.$dom 0 IN A 127.0.0.1")] }
		if $kind eq 'a';
	return { authority => [soa()] };
}

# per domain: kind => answer, 'drop' for no answer, or undef for good()
my %SCRIPT = (
	'servfail.test' => sub { +{ rcode => 'SERVFAIL' } },
	'refused.test' => sub { +{ rcode => 'REFUSED' } },
	'nxdomain.test' => sub { +{ rcode => 'NXDOMAIN',
		authority => [soa()] } },
	'nodata.test' => sub { +{ authority => [soa()] } },
	'timeout.test' => sub { 'drop' },

	# a check that lasts the resolver timeout, but with a result
	'reload.test' => sub { $_[0] eq 'aaaa' ? 'drop' : undef },

	'split.test' => sub {
		my ($kind, $q) = @_;
		return undef unless $kind eq 'sts';
		# answered late, so that concurrent refreshes overlap
		return { answer => [txt('_mta-sts.split.test', 'v=STSv1; ',
			"id=$ID")], delay => 0.3 };
	},

	'truncated.test' => sub {
		my ($kind, $q) = @_;
		return undef unless $kind eq 'sts';
		return { header => { tc => 1 } } if $q->{proto} eq 'udp';
		return good('sts', 'truncated.test');
	},

	'cname.test' => sub {
		my ($kind) = @_;
		return undef unless $kind eq 'sts';
		return { answer => [
			dns_rr('_mta-sts.cname.test 0 IN CNAME a.policy.test'),
			dns_rr('a.policy.test 0 IN CNAME b.policy.test'),
			txt('b.policy.test', "v=STSv1; id=$ID")] };
	},

	'many.test' => sub {
		my ($kind) = @_;
		return { answer => [map { txt('_smtp._tls.many.test',
			"v=TLSRPTv1; rua=mailto:r$_\@many.test") } 1 .. 200] }
			if $kind eq 'tlsrpt';
		return { answer => [dns_rr('many.test 0 IN MX 1 mx.test'),
			map { dns_rr("many.test 0 IN MX $_ mx$_.many.test") }
				2 .. 100] }
			if $kind eq 'mx';
		return { answer => [map { dns_rr("mta-sts.many.test 0 IN A "
			. "127.0.1.$_") } 1 .. 40] } if $kind eq 'a';
		return undef;
	},

	'spf.test' => sub {
		return undef unless $_[0] eq 'sts';
		return { answer => [txt('_mta-sts.spf.test', 'v=spf1 -all'),
			txt('_mta-sts.spf.test', "v=STSv1; id=$ID")] };
	},

	'twosts.test' => sub {
		return undef unless $_[0] eq 'sts';
		return { answer => [
			txt('_mta-sts.twosts.test', "v=STSv1; id=$ID"),
			txt('_mta-sts.twosts.test', 'v=STSv1; id=other1')] };
	},

	'badsyntax.test' => sub {
		return undef unless $_[0] eq 'sts';
		return { answer => [txt('_mta-sts.badsyntax.test',
			"v=STSv1 ; id=$ID")] };
	},

	'emptyid.test' => sub {
		return undef unless $_[0] eq 'sts';
		return { answer => [
			txt('_mta-sts.emptyid.test', 'v=STSv1; id=')] };
	},
);

my $dns = Test::MtaSts::FakeDNS->new(port => $t->port(5353),
	log => "$d/dns.log", handler => sub {
		my ($q) = @_;
		my ($kind, $dom) = kind($q);
		my $script = $SCRIPT{$dom}
			or return { rcode => 'NXDOMAIN', authority => [soa()] };
		my $ans = $script->($kind, $q) // good($kind, $dom);
		return ref $ans ? $ans : undef;
	});

###############################################################################

# Expected checks: [state, message pattern], from the C sources:
# src/check/, src/dns/ngx_http_mtasts_dns.c, src/parse/ngx_mtasts_record.c.
# The patterns are made with msg() and begins() of Test::MtaSts::Pattern.

sub failed {
	my ($what, $err) = @_;
	return ['error', msg("Could not look up $what: $err. Senders asking "
		. 'the same resolvers get no answer either.')];
}

sub lookups_failed {
	my ($dom, $err) = @_;
	return (sts_record => failed("_mta-sts.$dom", $err),
		tlsrpt_record => failed("_smtp._tls.$dom", $err),
		mx => failed($dom, $err),
		policy_host => failed("the address of mta-sts.$dom", $err));
}

sub ok_checks {
	my ($dom) = @_;
	return (
		sts_record => ['ok', msg('The published id matches the served '
			. "policy (id=$ID).")],
		tlsrpt_record => ['ok',
			msg('The TLS-RPT record is valid (1 report URI).')],
		mx => ['ok',
			msg('The only MX host, mx.test, matches the policy.')],
		policy_host => ['ok', msg("The policy host mta-sts.$dom has 1 "
			. 'address: 127.0.0.1.')],
		# the exact wording is tested once, below
		certificate => ['ok',
			begins("The certificate for mta-sts.$dom ")],
	);
}

sub no_sts_record {
	my ($dom) = @_;
	return ['error', msg("No _mta-sts TXT record: publish _mta-sts.$dom. "
		. qq{IN TXT "v=STSv1; id=$ID".})];
}

sub no_tlsrpt_record {
	my ($dom) = @_;
	return ['warning', msg("No TLS-RPT record: publish _smtp._tls.$dom. "
		. qq{IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt\@$dom".})];
}

sub no_address {
	my ($dom) = @_;
	return ['error', begins("The policy host mta-sts.$dom has no A or AAAA "
		. 'record: senders cannot fetch the policy.')];
}

my %EXPECT = (
	'servfail.test' => { status => 'error', checks => {
		ok_checks('servfail.test'),
		lookups_failed('servfail.test',
			'SERVFAIL from the resolver') } },

	'refused.test' => { status => 'error', checks => {
		ok_checks('refused.test'),
		lookups_failed('refused.test', 'REFUSED by the resolver') } },

	'timeout.test' => { status => 'error', checks => {
		ok_checks('timeout.test'),
		lookups_failed('timeout.test',
			'timeout, no answer from the resolver') } },

	'nxdomain.test' => { status => 'error', checks => {
		ok_checks('nxdomain.test'),
		sts_record => no_sts_record('nxdomain.test'),
		tlsrpt_record => no_tlsrpt_record('nxdomain.test'),
		mx => ['error', msg('The domain nxdomain.test does not exist '
			. 'in DNS (NXDOMAIN): no mail can be delivered to it.')],
		policy_host => no_address('nxdomain.test') },
		sts_id => undef },

	'nodata.test' => { status => 'error', checks => {
		ok_checks('nodata.test'),
		sts_record => no_sts_record('nodata.test'),
		tlsrpt_record => no_tlsrpt_record('nodata.test'),
		mx => ['ok', msg('No MX record: mail goes to nodata.test '
			. 'itself (implicit MX), which matches the policy.')],
		policy_host => no_address('nodata.test') },
		sts_id => undef },

	'split.test' => { status => 'ok', checks => { ok_checks('split.test') },
		sts_id => $ID },

	'reload.test' => { status => 'ok',
		checks => { ok_checks('reload.test') }, sts_id => $ID },

	'truncated.test' => { status => 'ok',
		checks => { ok_checks('truncated.test') }, sts_id => $ID },

	'cname.test' => { status => 'ok', checks => { ok_checks('cname.test') },
		sts_id => $ID },

	'many.test' => { status => 'error', checks => {
		ok_checks('many.test'),
		tlsrpt_record => ['error', begins('200 TXT records at '
			. '_smtp._tls.many.test begin with "v=TLSRPTv1;": senders '
			. 'then assume the domain has no TLS-RPT, merge them into '
			. 'one')],
		mx => ['error', begins('Mail to mx2.many.test would bounce: '
			. 'add mx: mx2.many.test (or a wildcard) to the policy. '
			. 'Mail to mx3.many.test would bounce')],
		policy_host => ['ok', msg('The policy host mta-sts.many.test has ',
			qr/\d+/, ' addresses: 127.0.1.1, 127.0.1.2, 127.0.1.3, '
			. '127.0.1.4, ....')] },
		sts_id => $ID },

	'spf.test' => { status => 'error', checks => {
		ok_checks('spf.test'),
		sts_record => ['error', msg('Remove the 1 other TXT record at '
			. '_mta-sts.spf.test, such as "v=spf1 -all" (does a wildcard '
			. 'TXT record answer for that name?): ', qr/.*/,
			" The published id matches the served policy (id=$ID).")] },
		sts_id => $ID },

	'twosts.test' => { status => 'error', checks => {
		ok_checks('twosts.test'),
		sts_record => ['error', msg('2 TXT records at _mta-sts.twosts.test '
			. 'begin with "v=STSv1;": senders ignore MTA-STS unless there '
			. 'is exactly one, keep only _mta-sts.twosts.test. IN TXT '
			. qq{"v=STSv1; id=$ID".})] },
		sts_id => undef },

	'badsyntax.test' => { status => 'warning', checks => {
		ok_checks('badsyntax.test'),
		sts_record => ['warning', msg('The _mta-sts record has whitespace '
			. 'before the first ";" ("v=STSv1 ;"): ', qr/.*/,
			'; remove the space. The published id matches the served '
			. "policy (id=$ID).")] },
		sts_id => $ID },

	'emptyid.test' => { status => 'error', checks => {
		ok_checks('emptyid.test'),
		sts_record => ['error', msg('The _mta-sts.emptyid.test TXT record '
			. '"v=STSv1; id=" is invalid (empty id: "id="), senders ignore '
			. 'it: publish _mta-sts.emptyid.test. IN TXT '
			. qq{"v=STSv1; id=$ID".})] },
		sts_id => undef },
);

my @CHECKS = qw(sts_record tlsrpt_record mx policy_host certificate);

###############################################################################

$dns->start($t);

# per domain: the JSON, the status, each check's state and message, the
# published id when expected; then more for some domains
my $n = 0;
$n += 3 + 2 * @CHECKS + (exists $EXPECT{$_}{sts_id} ? 1 : 0) for @DOMAINS;
$t->plan($n + 5 + 2 + 3 + 5 + 3 + 8 + 4 + 2)->run();

###############################################################################

sub get {
	my ($uri, %opt) = @_;
	return $t->http_get($uri, timeout => 10, %opt);
}

# the JSON of a 200 response, or undef
sub json {
	my ($raw) = @_;
	my ($head, $body) = split /\r\n\r\n/, $raw // '', 2;
	return undef unless defined $body && $head =~ m{^HTTP/1\.1 200 };
	return eval { decode_json($body) };
}

sub domain_json {
	my ($raw, $dom) = @_;
	my $j = json($raw) or return undef;
	return $j->{domains}{$dom};
}

# every domain refreshed at once, each in its own request
my %sock = map { $_ => get("/status?refresh=1&domain=$_", start => 1) }
	@DOMAINS;
my %raw = map { $_ => $t->http_end($sock{$_}, timeout => 10) } @DOMAINS;
my %res;

for my $dom (@DOMAINS) {
	my $e = $EXPECT{$dom};
	my $j = json($raw{$dom});
	my $r = $res{$dom} = $j && $j->{domains}{$dom};

	ok($r && keys %{$j->{domains}} == 1, "$dom: JSON of one domain")
		or diag($raw{$dom});
	is($r->{checking}, JSON::PP::false, "$dom: check done");
	is($r->{status}, $e->{status}, "$dom: status");

	for my $c (@CHECKS) {
		my ($state, $re) = @{$e->{checks}{$c}};
		my $got = $r->{checks}{$c} // {};
		is($got->{status}, $state, "$dom: $c state")
			or diag($got->{message});
		like($got->{message} // '', $re, "$dom: $c message");
	}

	is($r->{published}{sts_id}, $e->{sts_id}, "$dom: published id")
		if exists $e->{sts_id};
}

# what the lists of records and hosts hold

is(scalar @{$res{'many.test'}{mx_hosts} // []}, 100, 'many: 100 MX hosts');
is(join(',', map { $_->{name} } grep { $_->{matched} }
	@{$res{'many.test'}{mx_hosts} // []}), 'mx.test', 'many: one matched');

my $addrs = $res{'many.test'}{policy_host_addresses} // [];
my ($said) = ($res{'many.test'}{checks}{policy_host}{message} // '')
	=~ /has (\d+) addresses/;
ok(@$addrs >= 4 && @$addrs <= 40 && @$addrs == ($said // -1),
	'many: the addresses listed are those counted') or diag(scalar @$addrs);

is_deeply([map { @{$res{$_}{mx_hosts} // [1]} } qw(servfail.test
	refused.test timeout.test nxdomain.test nodata.test)], [],
	'no MX hosts listed when MX failed or has no data');

ok($dns->count(proto => 'tcp', name => '_mta-sts.truncated.test',
	type => 'TXT') == 1 && $dns->count(proto => 'udp',
	name => '_mta-sts.truncated.test', type => 'TXT') == 1,
	'truncated: asked over UDP, then over TCP');

# the certificate: the message says the date and days of "certificate"

my $cert = $res{'split.test'}{certificate} // {};
my $cmsg = $res{'split.test'}{checks}{certificate}{message} // '';
like($cmsg, msg('The certificate for mta-sts.split.test is valid until ',
	qr/\d{4}-\d\d-\d\d/, ', in ', qr/\d+/, ' days.'),
	'certificate message wording');
my ($date, $days) = $cmsg =~ /(\d{4}-\d\d-\d\d), in (\d+) days/;
ok(defined $date && $cert->{expires} && $date eq substr($cert->{expires}, 0, 10)
	&& $days == $cert->{days_left} && $days >= 88 && $days <= 90,
	'certificate message and fields agree') or diag(explain $cert);

# the whole list, without refresh: the same results

my $all = json(get('/status'));
is(join(' ', sort keys %{$all->{domains} // {}}), "@DOMAINS",
	'all domains listed');
is_deeply({ map { $_ => $all->{domains}{$_}{status} } @DOMAINS },
	{ map { $_ => $EXPECT{$_}{status} } @DOMAINS }, 'all statuses');
is_deeply($all->{domains}{'many.test'}, $res{'many.test'},
	'many.test the same in the list');

###############################################################################

# (a) clients that leave while a refresh waits for timeout.test

my $s = get('/status?refresh=1&domain=timeout.test', start => 1);
close $s;
$s = get('/status?refresh=1&domain=timeout.test', start => 1);
sleep 0.3;
close $s;

my $t0 = time;
my $r = domain_json(get('/status?domain=split.test'), 'split.test');
is($r->{status}, 'ok', 'after a client left: a request is answered');
ok(time - $t0 < 0.9, 'without waiting for the check in flight');

$r = domain_json(get('/status?refresh=1&domain=timeout.test'),
	'timeout.test');
is($r->{checks}{mx}{status}, 'error', 'then a refresh is answered');
like($r->{checks}{mx}{message} // '', qr/timeout, no answer/,
	'with the timeout');

$r = domain_json(get('/status?refresh=1&domain=split.test'), 'split.test');
is($r->{status}, 'ok', 'and another domain is refreshed');

###############################################################################

# (b) a reload while a refresh of timeout.test is in flight

$s = get('/status?refresh=1&domain=timeout.test', start => 1);
sleep 0.2;
$t->reload();
my $raw = $t->http_end($s, timeout => 10);

my $j = json($raw);
ok($j && $j->{domains}{'timeout.test'}
	|| $raw =~ m{^HTTP/1\.1 5\d\d .*\r\n\r\n}s,
	'reload in flight: a complete JSON or a clean error') or diag($raw);

$r = domain_json(get('/status?refresh=1&domain=split.test'), 'split.test');
is($r->{status}, 'ok', 'after reload: a domain is refreshed');

$r = domain_json(get('/status?refresh=1&domain=timeout.test'),
	'timeout.test');
like($r->{checks}{sts_record}{message} // '', qr/timeout, no answer/,
	'after reload: timeout.test refreshed');

###############################################################################

# (c) a flood: 20 concurrent refreshes of split.test make one check, the
# answer of _mta-sts.split.test comes 300 ms late so that they overlap

for my $round (1, 2) {
	my @names = (['_mta-sts.split.test', 'TXT'],
		['_smtp._tls.split.test', 'TXT'], ['split.test', 'MX'],
		['mta-sts.split.test', 'A'], ['mta-sts.split.test', 'AAAA']);
	my @count0 = map { $dns->count(name => $_->[0], type => $_->[1]) }
		@names;

	$t0 = time;
	my @s = map { get('/status?refresh=1&domain=split.test', start => 1) }
		1 .. 20;
	my $sent = time - $t0;
	my @r = map { domain_json($t->http_end($_, timeout => 10), 'split.test') }
		@s;

	my @count = map { $dns->count(name => $names[$_][0],
		type => $names[$_][1]) - $count0[$_] } 0 .. $#names;

	ok($sent < 0.25, "flood $round: 20 requests sent in time")
		or diag("sent in $sent s");
	is($count[0], 1, "flood $round: one query for _mta-sts.split.test");
	is("@count", '1 1 1 1 1', "flood $round: one set of five queries")
		if $round == 1;
	is(scalar(grep { $_ && $_->{status} eq 'ok'
		&& $_->{checks}{sts_record}{status} eq 'ok' } @r), 20,
		"flood $round: 20 answers with the result");
	my %checked = map { ($_ && $_->{checked} // 'none') => 1 } @r;
	is(scalar keys %checked, 1, "flood $round: all of the same check")
		if $round == 1;
}

###############################################################################

# A reload that does not wait for the old workers to leave (they stay
# while a request of theirs waits): until new connections reach the new
# workers, which the master starts 100 ms before it stops the old ones.

sub hup {
	my ($gen, $reload_id) = @_;
	write_conf($gen, $reload_id);
	my ($pid) = $t->read_file('nginx.pid') =~ /(\d+)/;
	kill 'HUP', $pid;
	my ($seen, $deadline) = (0, time + 5);
	while ($seen < 3 && time < $deadline) {
		$seen = (get('/gen') // '') =~ /\r\n\r\n\Q$gen\E\z/ ? $seen + 1 : 0;
		sleep 0.02;
	}
	sleep 0.2;
}

sub gmt { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# (d) a refresh in the new configuration while a check of the old one is
# in flight (reload.test's lasts 1 s): its answer must be of a check made
# for the new configuration, where the id changed from abc123 to def456

$s = get('/status?refresh=1&domain=reload.test', start => 1);
sleep 0.1;
hup('gen2', 'def456');
my $s2 = get('/status?refresh=1&domain=reload.test', start => 1);

$r = domain_json($t->http_end($s2, timeout => 10), 'reload.test');
is($r->{policy}{id}, 'def456', 'refresh after reload: the new id served');
is($r->{checks}{sts_record}{status}, 'error',
	'refresh after reload: checked against the new id');
like($r->{checks}{sts_record}{message} // '', msg('The TXT id is abc123, '
	. q{the served policy's id is def456: publish _mta-sts.reload.test. }
	. 'IN TXT "v=STSv1; id=def456" (senders do not fetch the policy again '
	. 'until the TXT id changes).'), 'refresh after reload: message');

$j = json($t->http_end($s, timeout => 10));
ok($j && $j->{domains}{'reload.test'}, 'refresh before reload: answered');

# (e) a check abandoned by an old worker that exits: a refresh that waits
# for it in a new worker must get a new check, not wait ~30 s for its
# deadline; the old worker leaves as soon as its client does

$s = get('/status?refresh=1&domain=timeout.test', start => 1);
sleep 0.1;
hup('gen3', 'def456');
$t0 = time;
$s2 = get('/status?refresh=1&domain=timeout.test', start => 1);
sleep 0.1;
close $s;

$raw = $t->http_end($s2, timeout => 4);
$r = domain_json($raw, 'timeout.test');
ok($r, 'abandoned check: the refresh waiting for it is answered')
	or diag(sprintf "after %.1f s: %s", time - $t0, $raw // '');
ok(($r->{checked} // '') ge gmt(int $t0),
	'abandoned check: by a check made after the refresh')
	or diag(($r->{checked} // 'none') . ' < ' . gmt(int $t0));

###############################################################################
