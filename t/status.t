#!/usr/bin/perl

# The status location against a real DNS server (nsd): one domain for each
# mistake an operator makes, each check's state and message, every format,
# results shared by the workers and kept across a reload.

use warnings;
use strict;

use Test::More;
use JSON::PP;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;
use Test::MtaSts::DNS;

###############################################################################

my $t = Test::Nginx->new();
my $d = $t->testdir;
my $ca = Test::MtaSts::CA->new($d);

# domain => { mode, mx (policy patterns), cert options, zone records
# replacing the defaults, expected states }

my %default_rr = (
	mx => ['@ IN MX 10 mail'],
	host => ['mta-sts IN A 127.0.0.1'],
	sts => ['_mta-sts IN TXT "v=STSv1; id=%ID%"'],
	rpt => ['_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%D%"'],
);

my %domains = (
	'ok.test' => { want => [qw(ok ok ok ok ok)], ready => 1 },
	'norecord.test' => { sts => [],
		want => [qw(error ok ok ok ok)], ready => 0,
		msg => [sts_record => 'No _mta-sts TXT record: publish '
			. '_mta-sts.norecord.test. IN TXT "v=STSv1; id=%ID%"'] },
	'stale.test' => { sts => ['_mta-sts IN TXT "v=STSv1; id=old1"'],
		want => [qw(error ok ok ok ok)], ready => 0,
		msg => [sts_record => 'The TXT id is old1, the served '
			. "policy's id is %ID%"] },
	'split.test' => { sts => ['_mta-sts IN TXT "v=STSv1; " "id=%ID%"'],
		want => [qw(ok ok ok ok ok)], ready => 1 },
	'tworec.test' => { sts => ['_mta-sts IN TXT "v=STSv1; id=%ID%"',
		'_mta-sts IN TXT "v=STSv1; id=other"'],
		want => [qw(error ok ok ok ok)], ready => 0 },
	'spf.test' => { sts => ['_mta-sts IN TXT "v=STSv1; id=%ID%"',
		'_mta-sts IN TXT "v=spf1 -all"'],
		want => [qw(error ok ok ok ok)], ready => 0,
		msg => [sts_record => 'Remove the 1 other TXT record'] },
	'space.test' => { sts => ['_mta-sts IN TXT "v=STSv1 ; id=%ID%"'],
		want => [qw(warning ok ok ok ok)], ready => 1,
		msg => [sts_record => 'whitespace before the first'] },
	'nortl.test' => { mode => 'testing', rpt => [],
		want => [qw(ok warning ok ok ok)], ready => 1,
		msg => [tlsrpt_record => 'No TLS-RPT record: publish '
			. '_smtp._tls.nortl.test. IN TXT '
			. '"v=TLSRPTv1; rua=mailto:tlsrpt@nortl.test"'] },
	'badrua.test' => { rpt => ['_smtp._tls IN TXT '
		. '"v=TLSRPTv1; rua=mailto:tlsrpt@badrua.test!10m"'],
		want => [qw(ok error ok ok ok)], ready => 1,
		msg => [tlsrpt_record => '"!" must be percent-encoded as "%21"'] },
	'otherrua.test' => { rpt => ['_smtp._tls IN TXT '
		. '"v=TLSRPTv1; rua=mailto:reports@elsewhere.test"'],
		want => [qw(ok warning ok ok ok)], ready => 1,
		msg => [tlsrpt_record => 'does not list the configured'] },
	'mxmiss.test' => { mx_rr => ['@ IN MX 10 mail',
		'@ IN MX 20 backup.elsewhere.test.'],
		want => [qw(ok ok error ok ok)], ready => 0,
		msg => [mx => 'Mail to backup.elsewhere.test would bounce: '
			. 'add mx: backup.elsewhere.test'] },
	'mxtesting.test' => { mode => 'testing', mx_rr => ['@ IN MX 10 mail',
		'@ IN MX 20 backup.elsewhere.test.'],
		want => [qw(ok ok warning ok ok)], ready => 0 },
	'stalepat.test' => { mx => ['mail.stalepat.test', 'old.stalepat.test'],
		want => [qw(ok ok warning ok ok)], ready => 1,
		msg => [mx => 'The policy pattern mx: old.stalepat.test matches no '
			. 'MX host'] },
	'nullmx.test' => { mx_rr => ['@ IN MX 0 .'],
		want => [qw(ok ok error ok ok)], ready => 0,
		msg => [mx => 'The domain publishes a null MX (accepts no mail)'] },
	'nomx.test' => { mx => ['nomx.test'], mx_rr => ['@ IN A 127.0.0.1'],
		want => [qw(ok ok ok ok ok)], ready => 1,
		msg => [mx => 'No MX record: mail goes to nomx.test itself'] },
	'odd.test' => { mx_rr => ['@ IN MX 10 mail_1'],
		want => [qw(ok ok error ok ok)], ready => 0,
		msg => [mx => 'No policy pattern can match the MX host '
			. '"mail_1.odd.test"'] },
	'nohost.test' => { host => [],
		want => [qw(ok ok ok error ok)], ready => 0,
		msg => [policy_host => 'The policy host mta-sts.nohost.test has '
			. 'no A or AAAA record: senders cannot fetch the policy'] },
	'expired.test' => { cert => { expired => 1 },
		want => [qw(ok ok ok ok error)], ready => 0,
		msg => [certificate => 'The certificate for mta-sts.expired.test '
			. 'expired on'] },
	'soon.test' => { cert => { days => 5 },
		want => [qw(ok ok ok ok warning)], ready => 1,
		msg => [certificate => 'The certificate for mta-sts.soon.test '
			. 'expires on'] },
	'wrongcert.test' => { cert => { dns => ['mta-sts.other.test'] },
		want => [qw(ok ok ok ok error)], ready => 0,
		msg => [certificate => '("/CN=mta-sts.other.test") does not cover '
			. 'mta-sts.wrongcert.test: senders reject the policy'] },
);

my @checks = qw(sts_record tlsrpt_record mx policy_host certificate);
my %rank = (ok => 0, skipped => 1, pending => 2, warning => 3, error => 4);

# nginx: one server per domain, explicit ids

my ($servers, %zones, $i) = ('');

for my $dom (sort keys %domains) {
	my $c = $domains{$dom};
	my $id = 'id' . ++$i;
	my $mode = $c->{mode} // 'enforce';
	my @mx = @{$c->{mx} // ["mail.$dom"]};
	$c->{id} = $id;

	my ($crt, $key) = $ca->cert($dom, dns => ["mta-sts.$dom"], days => 90,
		%{$c->{cert} // {}});

	$servers .= <<"EOF";
    server {
        listen 127.0.0.1:%%PORT_8443%% ssl;
        server_name mta-sts.$dom;
        ssl_certificate $crt;
        ssl_certificate_key $key;
        mta_sts on;
        mta_sts_mode $mode;
        mta_sts_mx @mx;
        mta_sts_id $id;
        mta_sts_tlsrpt_rua mailto:tlsrpt\@$dom;
    }

EOF

	my @rr = ('mail IN A 127.0.0.1', @{$c->{mx_rr} // $default_rr{mx}},
		map { @{$c->{$_} // $default_rr{$_}} } qw(host sts rpt));
	s/%ID%/$id/g, s/%D%/$dom/g for @rr;
	$zones{$dom} = Test::MtaSts::DNS->zone_text($dom, @rr);
}

mkdir "$d/nsd" or die "mkdir: $!\n";
my $dns = Test::MtaSts::DNS->start_nsd(dir => "$d/nsd",
	port => $t->port(5353), zones => \%zones);

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_resolver 127.0.0.1:%%PORT_5353%% timeout=1s attempts=2;
    mta_sts_check_interval off;
    mta_sts_trusted_certificate ${\ $ca->ca_file};

    # ok.test also on plain HTTP, with another policy: checked with the
    # policy and certificate of its HTTPS server, which senders reach

    server {
        listen 127.0.0.1:%%PORT_8081%%;
        server_name mta-sts.ok.test;
        mta_sts on;
        mta_sts_mode testing;
        mta_sts_mx other.ok.test;
    }

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

my $ndomains = keys %domains;
$t->plan(6 * $ndomains + 38)->run();

###############################################################################

sub get {
	my ($uri, @headers) = @_;
	my $raw = $t->http("GET $uri HTTP/1.0\r\nHost: status\r\n"
		. join('', map { "$_\r\n" } @headers) . "\r\n");
	my ($head, $body) = split /\r\n\r\n/, $raw // '', 2;
	return ($head // '', $body // '');
}

sub json {
	my ($head, $body) = get(@_);
	return eval { decode_json($body) } // do { diag($body); {} };
}

sub policy_get {
	my ($dom, $method) = @_;
	$t->http("$method /.well-known/mta-sts.txt HTTP/1.0\r\n"
		. "Host: mta-sts.$dom\r\n\r\n", port => $t->port(8443),
		ssl => 1, sni => "mta-sts.$dom");
}

# before any check: every domain pending

my $j = json('/status');
is($j->{domains}{'ok.test'}{status}, 'pending', 'pending before a check');
is($j->{domains}{'ok.test'}{checks}{mx}{status}, 'pending',
	'checks pending before a check');
is(scalar keys %{$j->{domains}}, $ndomains, 'every domain listed');

# policy requests are counted per domain and method

policy_get('ok.test', 'GET') for 1 .. 2;
policy_get('ok.test', 'HEAD');
policy_get('ok.test', 'POST');

# the plain HTTP server of ok.test answers its own policy, and counts too

like($t->http("GET /.well-known/mta-sts.txt HTTP/1.0\r\n"
	. "Host: mta-sts.ok.test\r\n\r\n", port => $t->port(8081)),
	qr/\r\n\r\nversion: STSv1\r\nmode: testing\r\nmx: other\.ok\.test\r\n/,
	'another server of the domain: its policy');

# one refresh checks every domain

$j = json('/status?refresh=1');

for my $dom (sort keys %domains) {
	my $c = $domains{$dom};
	my $r = $j->{domains}{$dom};
	my %got = map { $_ => $r->{checks}{$_}{status} // 'none' } @checks;
	my %want;
	@want{@checks} = @{$c->{want}};

	is(join(' ', @got{@checks}), join(' ', @want{@checks}),
		"$dom: check states");

	my ($worst) = sort { $rank{$b} <=> $rank{$a} } values %want;
	is($r->{status}, $worst, "$dom: status is the worst check");
	is($r->{enforce_ready} ? 1 : 0, $c->{ready}, "$dom: enforce_ready");
	is($r->{policy}{id}, $c->{id}, "$dom: policy id");
	is($r->{records}{mta_sts},
		"_mta-sts.$dom. IN TXT \"v=STSv1; id=$c->{id}\"",
		"$dom: record to publish");

	my ($check, $text) = @{$c->{msg} // [mx => '']};
	$text =~ s/%ID%/$c->{id}/g;
	like($r->{checks}{$check}{message} // '', qr/\Q$text\E/,
		"$dom: $check message");
}

# probes are off: skipped, and the domain's status not made worse by it

is($j->{domains}{'ok.test'}{checks}{starttls}{status}, 'skipped',
	'starttls skipped when off');
is($j->{domains}{'ok.test'}{status}, 'ok', 'skipped checks do not count');

# details

my $r = $j->{domains}{'mxmiss.test'};
is(join(',', map { "$_->{name}/$_->{preference}/"
	. ($_->{matched} ? 1 : 0) } @{$r->{mx_hosts}}),
	'mail.mxmiss.test/10/1,backup.elsewhere.test/20/0', 'mx hosts');
is(join(',', @{$j->{domains}{'ok.test'}{policy_host_addresses}}),
	'127.0.0.1', 'policy host addresses');
is($j->{domains}{'stale.test'}{published}{sts_id}, 'old1', 'published id');
is($j->{domains}{'badrua.test'}{published}{tlsrpt},
	'v=TLSRPTv1; rua=mailto:tlsrpt@badrua.test!10m', 'published tlsrpt');
ok($j->{domains}{'ok.test'}{certificate}{days_left} >= 89,
	'certificate days left');
is_deeply($j->{domains}{'ok.test'}{requests},
	{ GET => 3, HEAD => 1, other => 1 }, 'policy requests counted');
is($j->{domains}{'ok.test'}{policy}{mode}, 'enforce',
	'checked with the policy of the HTTPS server');
like($j->{generated}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'generated');
like($j->{domains}{'ok.test'}{checked}, qr/^\d{4}-\d\d-\d\dT/, 'checked');

# every worker answers the same

my %seen = map { json('/status?domain=ok.test')->{domains}{'ok.test'}{checked}
	=> 1 } 1 .. 8;
is(join(' ', keys %seen), $j->{domains}{'ok.test'}{checked},
	'all workers answer the same results');

# domain=

my $one = json('/status?domain=Stale.Test.');
is(join(',', keys %{$one->{domains}}), 'stale.test', 'domain= selects one');
my ($head) = get('/status?domain=unknown.test');
like($head, qr/^HTTP\/1.1 404 /, 'domain= unknown: 404');
($head) = get('/status?format=xml');
like($head, qr/^HTTP\/1.1 400 /, 'unknown format: 400');

# formats

my $body;
($head, $body) = get('/status?format=text');
like($head, qr/Content-Type: text\/plain; charset=utf-8/, 'text: type');
like($body, qr/^DOMAIN +STATUS +MODE +STS_RECORD +TLSRPT_RECORD +MX +POLICY_HOST +CERTIFICATE +STARTTLS +DANE\n/,
	'text: header');
like($body, qr/^ok\.test +ok +enforce +ok +ok +ok +ok +ok +skipped +skipped *$/m,
	'text: row');
like($body, qr/^stale\.test sts_record: error: The TXT id is old1/m,
	'text: problem line');

($head, $body) = get('/status?format=prometheus');
like($head, qr/Content-Type: text\/plain; version=0.0.4/, 'prometheus: type');
like($body, qr/^mta_sts_check_state\{domain="stale.test",check="sts_record",state="error"\} 1$/m,
	'prometheus: check state');
like($body, qr/^mta_sts_enforce_ready\{domain="ok.test"\} 1$/m,
	'prometheus: enforce ready');
like($body, qr/^mta_sts_policy_requests_total\{domain="ok.test",method="GET"\} 3$/m,
	'prometheus: requests');
like($body, qr/^mta_sts_certificate_expiry_timestamp_seconds\{domain="ok.test"\} \d+$/m,
	'prometheus: certificate expiry');

($head, $body) = get('/status?format=zone');
like($body, qr/^_mta-sts\.stale\.test\. IN TXT "v=STSv1; id=$domains{'stale.test'}{id}"$/m,
	'zone: sts record');
like($body, qr/^_smtp\._tls\.ok\.test\. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt\@ok\.test"$/m,
	'zone: tlsrpt record');
like($body, qr/^_smtp\._tls\.nohost\.test\. .*\n; The policy host mta-sts\.nohost\.test has no A or AAAA record: /m,
	'zone: what the policy host lacks');
unlike($body, qr/^; .*mta-sts\.ok\.test/m, 'zone: nothing for a good host');

($head, $body) = get('/status', 'Accept: text/html,application/xhtml+xml');
like($head, qr/Content-Type: text\/html; charset=utf-8/, 'html by Accept');
like($body, qr/<section id="stale.test">/, 'html: a section per domain');
unlike($body, qr/<script/i, 'html: no javascript');

# the zone survives a reload

my $before = json('/status?domain=ok.test')->{domains}{'ok.test'};
$t->reload();

# a load logs its warnings to the error log (the first start, to stderr)

like($t->read_file('error.log'), qr/\[warn\] .*domain "ok\.test" is served with another policy in \S+:\d+ than in \S+:\d+: senders get the one of the server they reach/,
	'warned: two policies for one domain');
$j = json('/status?domain=ok.test')->{domains}{'ok.test'};
ok($before->{checked} && $j->{checked} eq $before->{checked},
	'results kept across a reload');
is($j->{status}, 'ok', 'status kept across a reload');

###############################################################################
