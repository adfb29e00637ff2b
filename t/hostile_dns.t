#!/usr/bin/perl

# Hostile DNS: the status checks against a resolver that answers with
# hundreds of TXT and MX records, TXT records of 64 KB (over TCP after a
# truncated UDP answer), CNAME loops, answers with a wrong query id,
# random bytes, answers whose header counts more records than there are,
# answers cut short, a compression pointer that points at itself, control
# characters and markup in records, answers that come too late or never,
# and a TCP connection closed without an answer.  For each: no crash,
# policies still served, a sensible message for that domain, and the
# worker's memory flat over 20 rounds.  A TCP answer followed by a close,
# as DNS servers may do, must not fail the lookups of other domains.
# Then 50 concurrent refreshes of one domain, spread over two workers,
# must cost one set of queries.  Described in docs/security.md.

use warnings;
use strict;

use Test::More;

use JSON::PP;
use Time::HiRes qw(sleep time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::HostileDNS qw(dns_rr txt soa kind);
use Test::MtaSts::Pattern qw(msg begins);

###############################################################################

my $ID = 'abc123';
my $RUA = 'mailto:tlsrpt@report.test';

# checked together in one round; then tcpclose.test alone; then the three
# of the TCP close test together; flood.test in the second configuration
my @MAIN = map { "$_.test" } qw(manytxt manymx bigtxt loop wrongid garbage
	garbageid counts cut ptrloop tcpgarbage slow silent notimp emptytxt
	evil ok);
my @CLOSE = ('tcpanswer.test', 'latency.test', 'quiet.test');
my @DOMAINS = sort(@MAIN, @CLOSE, 'tcpclose.test', 'flood.test');

# Under ASan or valgrind ("make test SANITIZE=1", "VALGRIND=1") the RSS is
# mostly the tool's own; under valgrind nginx is slower: longer times, and
# fewer rounds.
my $TOOL = $ENV{TEST_NGINX_SANITIZE} ? 'ASan'
	: $ENV{TEST_NGINX_VALGRIND} ? 'valgrind' : undef;
my $SLOW = Test::Nginx->can('slow') ? Test::Nginx::slow() : 1;
my $ROUNDS = $ENV{TEST_NGINX_VALGRIND} ? 5 : 20;

my $t = Test::Nginx->new();
my $d = $t->testdir;

# 1: one worker, lookups give up after 300 ms
# 2: two workers, status requests spread over both (reuseport), 2 s

sub write_conf {
	my ($phase) = @_;
	my $workers = $phase == 1 ? 1 : 2;
	my $timeout = ($phase == 1 ? 300 : 2000) * $SLOW . 'ms';
	$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
worker_processes $workers;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    log_format pid '\$pid \$request_uri';

    mta_sts_resolver 127.0.0.1:%%PORT_5353%% timeout=$timeout attempts=1;
    mta_sts_check_interval off;

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name @{[ join ' ', map { "mta-sts.$_" } @DOMAINS ]};

        mta_sts on;
        mta_sts_mode enforce;
        mta_sts_mx mx.test;
        mta_sts_id $ID;
        mta_sts_tlsrpt_rua $RUA;
    }

    server {
        listen 127.0.0.1:%%PORT_8081%%;

        location = /status {
            mta_sts_status;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_8083%% reuseport;

        access_log $d/flood.log pid;

        location = /status {
            mta_sts_status;
        }
    }
}
EOF
}

write_conf(1);

###############################################################################

# The DNS script.  The five queries of a check are "kinds": sts (TXT
# _mta-sts.<d>), tlsrpt (TXT _smtp._tls.<d>), mx (MX <d>), a and aaaa
# (mta-sts.<d>), as kind() of Test::MtaSts::ScriptedDNS tells them.  A
# domain answers well except for its fault.

sub good {
	my ($kind, $dom) = @_;
	return { answer => [txt("_mta-sts.$dom", "v=STSv1; id=$ID")] }
		if $kind eq 'sts';
	return { answer => [txt("_smtp._tls.$dom", "v=TLSRPTv1; rua=$RUA")] }
		if $kind eq 'tlsrpt';
	return { answer => [dns_rr("$dom 0 IN MX 10 mx.test")] }
		if $kind eq 'mx';
	return { answer => [dns_rr("mta-sts.$dom 0 IN A 127.0.0.1")] }
		if $kind eq 'a';
	return { answer => [dns_rr("mta-sts.$dom 0 IN AAAA ::1")] }
		if $kind eq 'aaaa';
	return { authority => [soa()] };
}

# bytes of no meaning (the server is a child: its own sequence)
sub noise { join '', map { chr int rand 256 } 1 .. $_[0] }

# add to the 16-bit count at an offset of the header (6: answers)
sub add_count {
	my ($bytes, $off, $n) = @_;
	substr($bytes, $off, 2) = pack 'n', unpack('n', substr($bytes, $off, 2))
		+ $n;
	return $bytes;
}

# the largest TXT records that fit in a DNS message: 255 strings of 255
# bytes, the first beginning like a valid record with an extension field
sub big {
	my ($head) = @_;
	return ($head . ('x' x (255 - length $head)), ('y' x 255) x 254);
}

my @BIG_STS = big("v=STSv1; id=$ID; ext=");
my @BIG_RPT = big("v=TLSRPTv1; rua=$RUA; ext=");

my %SCRIPT = (
	'manytxt.test' => sub {
		my ($kind, $q, $dom) = @_;
		return undef unless $kind eq 'sts';
		return { answer => [txt("_mta-sts.$dom", "v=STSv1; id=$ID"),
			map { txt("_mta-sts.$dom", "other record $_") } 1 .. 400] };
	},

	'manymx.test' => sub {
		my ($kind, $q, $dom) = @_;
		return undef unless $kind eq 'mx';
		return { answer => [dns_rr("$dom 0 IN MX 1 mx.test"),
			map { dns_rr("$dom 0 IN MX $_ mx$_.$dom") } 2 .. 500] };
	},

	'bigtxt.test' => sub {
		my ($kind, $q, $dom) = @_;
		return { answer => [txt("_mta-sts.$dom", @BIG_STS)] }
			if $kind eq 'sts';
		return { answer => [txt("_smtp._tls.$dom", @BIG_RPT)] }
			if $kind eq 'tlsrpt';
		return undef;
	},

	# every name a CNAME to a name that is a CNAME back to it
	'loop.test' => sub {
		my ($kind, $q, $dom) = @_;
		my $n = $q->{name};
		return { answer => [dns_rr("$n 0 IN CNAME $kind.$dom"),
			dns_rr("$kind.$dom 0 IN CNAME $n")] };
	},

	'wrongid.test' => sub {
		my ($kind, $q, $dom) = @_;
		my $a = good($kind, $dom);
		$a->{edit} = sub {
			my ($b) = @_;
			substr($b, 0, 2) = pack 'n', $q->{id} ^ 0x5a5a;
			return $b;
		};
		return $a;
	},

	# random bytes, with another id than the query's
	'garbage.test' => sub {
		my ($kind, $q) = @_;
		return { data => pack('n', $q->{id} ^ 0xffff)
			. noise(10 + int rand 500) };
	},

	# the query's id, then random bytes without a question
	'garbageid.test' => sub {
		my ($kind, $q) = @_;
		return { data => pack('n', $q->{id}) . noise(2) . pack('n', 0)
			. noise(10 + int rand 500) };
	},

	# the header counts five answers more than there are
	'counts.test' => sub {
		my ($kind, $q, $dom) = @_;
		my $a = good($kind, $dom);
		$a->{edit} = sub { add_count($_[0], 6, 5) };
		return $a;
	},

	# the last five bytes of the answer missing
	'cut.test' => sub {
		my ($kind, $q, $dom) = @_;
		my $a = good($kind, $dom);
		$a->{edit} = sub { substr($_[0], 0, -5) };
		return $a;
	},

	# one answer whose owner name is a pointer to itself
	'ptrloop.test' => sub {
		return { edit => sub {
			my ($b) = @_;
			$b .= pack('n', 0xc000 | length $b) . pack('nnNn', 16, 1, 0, 0);
			return add_count($b, 6, 1);
		} };
	},

	# truncated over UDP, random bytes with another id over TCP
	'tcpgarbage.test' => sub {
		my ($kind, $q) = @_;
		return { header => { tc => 1 } } if $q->{proto} eq 'udp';
		return { data => pack('n', $q->{id} ^ 0xffff) . noise(300) };
	},

	'slow.test' => sub {
		my ($kind, $q, $dom) = @_;
		return { %{good($kind, $dom)}, delay => 2 * $SLOW };
	},

	'silent.test' => sub { 'drop' },

	'notimp.test' => sub { +{ rcode => 'NOTIMP' } },

	# an empty string, and a record with no string at all
	'emptytxt.test' => sub {
		my ($kind, $q, $dom) = @_;
		return undef unless $kind eq 'sts' || $kind eq 'tlsrpt';
		return { answer => [txt($q->{name}, '')], edit => sub {
			my ($b) = @_;
			$b .= pack('n', 0xc00c) . pack('nnNn', 16, 1, 0, 0);
			return add_count($b, 6, 1);
		} };
	},

	# NUL, escape sequences, markup, quotes, backslashes, non-UTF-8
	'evil.test' => sub {
		my ($kind, $q, $dom) = @_;
		return { answer => [txt("_mta-sts.$dom", "v=STSv1; id=$ID\x00"
			. "<script>alert(1)</script>\"\\\\\x1b[31m\n")] }
			if $kind eq 'sts';
		return { answer => [txt("_smtp._tls.$dom", "v=TLSRPTv1; "
			. "rua=mailto:a\@b.test\"<b>&amp;\x00\xff\x01")] }
			if $kind eq 'tlsrpt';
		return { answer => [dns_rr("$dom 0 IN MX 10 mx.test"),
			dns_rr(qq{$dom 0 IN MX 20 a\\"<b>\\000\\010x\\.y.$dom})] }
			if $kind eq 'mx';
		return undef;
	},

	'ok.test' => sub { undef },

	# closes the TCP connection without answering
	'tcpclose.test' => sub {
		my ($kind, $q) = @_;
		return { header => { tc => 1 } } if $q->{proto} eq 'udp';
		return { close => 1 };
	},

	# _mta-sts too big for UDP: answered over TCP, which the server then
	# closes, as DNS servers may (RFC 7766 section 6.2.3)
	'tcpanswer.test' => sub {
		my ($kind, $q, $dom) = @_;
		return undef unless $kind eq 'sts';
		return { header => { tc => 1 } } if $q->{proto} eq 'udp';
		return { %{good('sts', $dom)}, close_after => 1 };
	},

	# a resolver with some latency
	'latency.test' => sub {
		my ($kind, $q, $dom) = @_;
		return { %{good($kind, $dom)}, delay => 0.15 * $SLOW };
	},

	'quiet.test' => sub { 'drop' },

	# late enough for the 50 refreshes to meet
	'flood.test' => sub {
		my ($kind, $q, $dom) = @_;
		return undef unless $kind eq 'sts';
		return { %{good($kind, $dom)}, delay => 0.5 * $SLOW };
	},
);

my $dns = Test::MtaSts::HostileDNS->new(port => $t->port(5353),
	log => "$d/dns.log", handler => sub {
		my ($q) = @_;
		my ($kind, $dom) = kind($q);
		# the CNAME targets of loop.test
		$dom = $1 if !$SCRIPT{$dom} && $dom =~ /^[a-z]+\.(loop\.test)$/;
		my $script = $SCRIPT{$dom}
			or return { rcode => 'NXDOMAIN', authority => [soa()] };
		my $ans = $script->($kind, $q, $dom) // good($kind, $dom);
		return ref $ans ? $ans : undef;
	});

$dns->start($t);

###############################################################################

# Expected checks: [state, message pattern], the patterns made with msg()
# and begins() of Test::MtaSts::Pattern.

sub failed {
	my ($dom, $err) = @_;
	my $tail = ": $err. Senders asking the same resolvers get no answer "
		. 'either.';
	return (
		sts_record => ['error', msg("Could not look up _mta-sts.$dom$tail")],
		tlsrpt_record => ['error',
			msg("Could not look up _smtp._tls.$dom$tail")],
		mx => ['error', msg("Could not look up $dom$tail")],
		policy_host => ['error',
			msg("Could not look up the address of mta-sts.$dom$tail")],
	);
}

sub fine {
	my ($dom) = @_;
	return (
		sts_record => ['ok', msg('The published id matches the served '
			. "policy (id=$ID).")],
		tlsrpt_record => ['ok',
			msg('The TLS-RPT record is valid (1 report URI).')],
		mx => ['ok',
			msg('The only MX host, mx.test, matches the policy.')],
		policy_host => ['ok', msg("The policy host mta-sts.$dom has 2 "
			. 'addresses: 127.0.0.1, ::1.')],
	);
}

my $TIMEOUT = 'timeout, no answer from the resolver';
my $MALFORMED = 'a malformed answer';

my %EXPECT = (
	'manytxt.test' => { fine('manytxt.test'),
		sts_record => ['error', msg('Remove the 400 other TXT records at '
			. '_mta-sts.manytxt.test, such as "other record 1": some senders '
			. '(go-mtasts) count every TXT record at that name and then '
			. 'ignore the policy, and checkers (checkdmarc) report them. '
			. "The published id matches the served policy (id=$ID).")] },

	'manymx.test' => { fine('manymx.test'),
		mx => ['error', begins('Mail to mx2.manymx.test would bounce: add '
			. 'mx: mx2.manymx.test (or a wildcard) to the policy. Mail to '
			. 'mx3.manymx.test would bounce')] },

	'bigtxt.test' => { fine('bigtxt.test'),
		sts_record => ['ok', msg('The published id matches the served '
			. "policy (id=$ID). Senders ignore the extension field \"ext=",
			qr/x+/, '...".')],
		tlsrpt_record => ['ok', msg('The TLS-RPT record is valid (1 report '
			. 'URI). Senders ignore the extension field "ext=', qr/x+/,
			'..." (checkdmarc reports unknown fields).')] },

	'loop.test' => {
		sts_record => ['error', msg('No _mta-sts TXT record: publish '
			. qq{_mta-sts.loop.test. IN TXT "v=STSv1; id=$ID".})],
		tlsrpt_record => ['warning', msg('No TLS-RPT record: publish '
			. qq{_smtp._tls.loop.test. IN TXT "v=TLSRPTv1; rua=$RUA".})],
		mx => ['error', begins('No MX record: mail goes to loop.test '
			. 'itself (implicit MX). No MX host matches the policy')],
		policy_host => ['error', begins('The policy host mta-sts.loop.test '
			. 'has no A or AAAA record')] },

	'wrongid.test' => { failed('wrongid.test', $TIMEOUT) },
	'garbage.test' => { failed('garbage.test', $TIMEOUT) },
	'garbageid.test' => { failed('garbageid.test', $TIMEOUT) },
	'tcpgarbage.test' => { failed('tcpgarbage.test', $TIMEOUT) },
	'slow.test' => { failed('slow.test', $TIMEOUT) },
	'silent.test' => { failed('silent.test', $TIMEOUT) },

	'counts.test' => { failed('counts.test', $MALFORMED) },
	'cut.test' => { failed('cut.test', $MALFORMED) },
	'ptrloop.test' => { failed('ptrloop.test', $MALFORMED) },

	'notimp.test' => { failed('notimp.test',
		'DNS server does not implement requested operation') },

	'emptytxt.test' => { fine('emptytxt.test'),
		sts_record => ['error', begins('No TXT record at '
			. '_mta-sts.emptytxt.test begins with "v=STSv1;", there is only '
			. '""')],
		tlsrpt_record => ['warning', msg('No TLS-RPT record: publish '
			. '_smtp._tls.emptytxt.test. IN TXT '
			. qq{"v=TLSRPTv1; rua=$RUA".})] },

	'evil.test' => { fine('evil.test'),
		sts_record => ['error', msg('The _mta-sts.evil.test TXT record '
			. qq{"v=STSv1; id=$ID\\000<script>alert(1)</script>\\"\\\\}
			. qq{\\027[31m\\010" is invalid (a control character at }
			. 'position 19), senders ignore it: publish _mta-sts.evil.test. '
			. qq{IN TXT "v=STSv1; id=$ID".})],
		tlsrpt_record => ['error', begins('The _smtp._tls.evil.test TXT '
			. qq{record "v=TLSRPTv1; rua=mailto:a\@b.test\\"<b>&amp;\\000}
			. qq{\\195\\191\\001" is invalid (a control character at position }
			. '41)')],
		mx => ['error', begins('No policy pattern can match the MX host '
			. '"a')] },

	'ok.test' => { fine('ok.test') },

	'tcpclose.test' => { failed('tcpclose.test',
		'the resolver refused the connection') },

	'tcpanswer.test' => { fine('tcpanswer.test') },
	'latency.test' => { fine('latency.test') },
	'quiet.test' => { failed('quiet.test', $TIMEOUT) },
);

my @CHECKS = qw(sts_record tlsrpt_record mx policy_host);

###############################################################################

# each domain, but those of the TCP close test that are its victims
my @EACH = (@MAIN, 'tcpclose.test', 'tcpanswer.test');
$t->plan(@EACH * (3 + 2 * @CHECKS) + 32)->run();

###############################################################################

sub status_get {
	my ($uri, %opt) = @_;
	my $port = $t->port(delete $opt{port} // 8081);
	return $t->http("GET $uri HTTP/1.0\r\nHost: status\r\n\r\n",
		port => $port, timeout => 20, %opt);
}

sub body {
	my ($raw) = @_;
	my ($head, $body) = split /\r\n\r\n/, $raw // '', 2;
	return undef unless defined $body && $head =~ m{^HTTP/1\.1 200 };
	return $body;
}

sub json {
	my $body = body(@_) // return undef;
	return eval { decode_json($body) };
}

# every domain of the list refreshed at once, one request each, in the
# worker(s) listening on the port
sub round {
	my ($port, @doms) = @_;
	my %s = map { $_ => status_get("/status?refresh=1&domain=$_",
		port => $port, start => 1) } @doms;
	my %r;
	for my $dom (@doms) {
		my $j = json($t->http_end($s{$dom}, timeout => 10));
		$r{$dom} = $j && $j->{domains}{$dom};
	}
	return \%r;
}

sub policy_ok {
	my ($dom) = @_;
	my $raw = $t->http("GET /.well-known/mta-sts.txt HTTP/1.0\r\n"
		. "Host: mta-sts.$dom\r\n\r\n", timeout => 5) // '';
	return $raw =~ m{\AHTTP/1\.1 200 .*\r\n\r\nversion: STSv1\r\n}s;
}

# one round of everything: the main domains together, a policy request
# while they are checked, tcpclose.test alone, the TCP close test
sub all_rounds {
	my %s = map { $_ => status_get("/status?refresh=1&domain=$_",
		start => 1) } @MAIN;
	my $served = policy_ok('silent.test');
	my %r;
	for my $dom (@MAIN) {
		my $j = json($t->http_end($s{$dom}, timeout => 10));
		$r{$dom} = $j && $j->{domains}{$dom};
	}
	%r = (%r, %{round(8081, 'tcpclose.test')});
	%r = (%r, %{round(8081, @CLOSE)});
	return (\%r, $served);
}

###############################################################################

my @pids = $t->workers;
my ($first, $served) = all_rounds();
my $rss1 = Test::Nginx::vmrss($pids[0]) // 0;

for my $dom (@EACH) {
	my $r = $first->{$dom};
	ok($r, "$dom: refreshed");
	is($r->{checking}, JSON::PP::false, "$dom: check done");
	for my $c (@CHECKS) {
		my ($state, $re) = @{$EXPECT{$dom}{$c}};
		my $got = $r->{checks}{$c} // {};
		is($got->{status}, $state, "$dom: $c state")
			or diag($got->{message});
		like($got->{message} // '', $re, "$dom: $c message");
	}
	ok(!grep({ length($_->{message} // '') > 2048 }
		values %{$r->{checks} // {}}), "$dom: messages of bounded length");
}

ok($served, 'a policy served while the checks wait');

# what the lists hold

is(scalar @{$first->{'manymx.test'}{mx_hosts} // []}, 500,
	'manymx: 500 MX hosts listed');
is(join('', @BIG_RPT), $first->{'bigtxt.test'}{published}{tlsrpt} // '',
	'bigtxt: the TLS-RPT record of 64 KB, whole');
is($first->{'bigtxt.test'}{published}{sts_id}, $ID, 'bigtxt: the id read');
ok($dns->count(proto => 'udp', name => '_mta-sts.bigtxt.test')
	&& $dns->count(proto => 'tcp', name => '_mta-sts.bigtxt.test'),
	'bigtxt: asked over UDP, then TCP');
is_deeply($first->{'loop.test'}{mx_hosts}, [], 'loop: no MX host');

# a TCP answer, then a close (RFC 7766 allows servers to close): the
# other lookups in flight to the same resolver are not failed with it

sub matches {
	my ($dom) = @_;
	my $r = $first->{$dom}{checks} // {};
	my @bad = grep { ($r->{$_}{status} // '') ne $EXPECT{$dom}{$_}[0]
		|| ($r->{$_}{message} // '') !~ $EXPECT{$dom}{$_}[1] } @CHECKS;
	diag("$dom $_: " . ($r->{$_}{status} // 'none') . ': '
		. ($r->{$_}{message} // '')) for @bad;
	return !@bad;
}

ok(matches('latency.test'), 'TCP closed after an answer: the lookups of '
	. 'another domain then in flight are answered');
ok(matches('quiet.test'), 'TCP closed after an answer: the lookups of a '
	. 'domain without answers then in flight time out');

# markup, control characters and non-UTF-8 bytes in every format

my %fmt = map { $_ => body(status_get("/status?domain=evil.test&format=$_")) }
	qw(json text html prometheus zone);
ok(eval { decode_json($fmt{json} // '') }, 'evil: valid JSON');
unlike($fmt{html} // '<script', qr/<script|<b>/i, 'evil: HTML escaped');
like($fmt{html} // '', qr/&lt;script&gt;/, 'evil: HTML shows the text');
for my $f (qw(text prometheus zone)) {
	ok(defined $fmt{$f} && $fmt{$f} !~ /[\x00-\x08\x0b-\x1f\x7f]/,
		"evil: no control characters in $f");
}

# the whole list, every format, renders

for my $f (qw(json text html prometheus zone)) {
	my $b = body(status_get("/status?format=$f"));
	ok(defined $b && length $b, "all domains: $f");
}

###############################################################################

# the other rounds: the same results, the same worker, memory flat

my ($last, $nserved) = ($first, $served ? 1 : 0);
for (2 .. $ROUNDS) {
	($last, $served) = all_rounds();
	$nserved++ if $served;
}
my $rss20 = Test::Nginx::vmrss($pids[0]) // 0;

is_deeply([$t->workers], \@pids, "$ROUNDS rounds: the same worker, no crash");
is($nserved, $ROUNDS, "$ROUNDS rounds: policies served during each");

sub states {
	my ($r) = @_;
	return { map { my $dom = $_; $dom => { map {
		$_ => ($r->{$dom}{checks}{$_}{status} // '') . ': '
			. ($r->{$dom}{checks}{$_}{message} // '') } @CHECKS } }
		@MAIN, 'tcpclose.test' };
}

is_deeply(states($last), states($first), "$ROUNDS rounds: the same results");

SKIP: {
	skip "under ${TOOL}, the RSS is mostly the tool's own", 1 if $TOOL;
	ok($rss20 <= $rss1 * 1.2, "worker RSS flat over $ROUNDS rounds")
		or diag("worker RSS: $rss1 kB after round 1, "
			. "$rss20 kB after $ROUNDS");
}
note("worker RSS: $rss1 kB after round 1, $rss20 kB after $ROUNDS");

ok(policy_ok($_), "$_ still served") for qw(silent.test ptrloop.test);

###############################################################################

# A flood: 50 refreshes of flood.test at once, with two workers, whose
# answer comes 500 ms late: one check in all, shared by both workers
# through the claim in the shared zone.

write_conf(2);
$t->reload();
@pids = $t->workers;

my @names = (['_mta-sts.flood.test', 'TXT'], ['_smtp._tls.flood.test', 'TXT'],
	['flood.test', 'MX'], ['mta-sts.flood.test', 'A'],
	['mta-sts.flood.test', 'AAAA']);
my @count0 = map { $dns->count(name => $_->[0], type => $_->[1]) } @names;
my $from = -s "$d/flood.log" // 0;

my @s = map { status_get('/status?refresh=1&domain=flood.test', port => 8083,
	start => 1) } 1 .. 50;
my @r = map { my $j = json($t->http_end($_, timeout => 10));
	$j && $j->{domains}{'flood.test'} } @s;

my @count = map { $dns->count(name => $names[$_][0],
	type => $names[$_][1]) - $count0[$_] } 0 .. $#names;

is(scalar(@pids), 2, 'flood: two workers');
is($count[0], 1, 'flood: one query for _mta-sts.flood.test');
is("@count", '1 1 1 1 1', 'flood: one set of five queries');
is(scalar(grep { $_ && $_->{checks}{sts_record}{status} eq 'ok' } @r), 50,
	'flood: 50 answers with the result');
my %checked = map { ($_ && $_->{checked} // 'none') => 1 } @r;
is(scalar keys %checked, 1, 'flood: all of the same check');

open my $fh, '<', "$d/flood.log" or die "flood.log: $!\n";
seek $fh, $from, 0;
my %by = map { /^(\d+) .*flood\.test/ ? ($1 => 1) : () } <$fh>;
close $fh;
is(scalar keys %by, 2, 'flood: requests answered by both workers');
is_deeply([$t->workers], \@pids, 'flood: the same workers, no crash');

###############################################################################
