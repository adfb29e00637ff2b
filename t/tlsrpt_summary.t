#!/usr/bin/perl

# The summary of TLS-RPT reports on the status page: 1,000 reports from 7
# organisations for 100 domains, 900 of them kept on disk before nginx
# starts (read back at start) and 100 posted while it reads them, the
# numbers checked exactly for every domain; then the same numbers after
# a restart (read again from the disk) and after a reload (kept in the
# shared zone); reports older than the window do not count; the verdict
# in JSON and text.

use warnings;
use strict;

use Test::More;
use JSON::PP;
use POSIX qw(strftime);
use Digest::SHA qw(sha256_hex);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;

###############################################################################

my $t = Test::Nginx->new();
my $d = $t->testdir;

my @domains = map { sprintf('d%03d.example', $_) } 0 .. 100;
$t->write_file('domains.txt', join('', map { "$_;\n" } @domains));

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_resolver 127.0.0.1:%%PORT_5353%% timeout=1s attempts=1;
    mta_sts_check_interval off;
    mta_sts_tlsrpt_window 30d;
    mta_sts_tlsrpt_retention 60d;

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.*;

        mta_sts on;
        mta_sts_mode testing;
        mta_sts_mx *.example;

        mta_sts_domains {
            include $d/domains.txt;
        }

        location = /tlsrpt {
            mta_sts_tlsrpt_receive $d/reports;
        }

        location = /status {
            mta_sts_status;
        }
    }
}
EOF

###############################################################################

# the reports, and what the summary must say of them

my $json = JSON::PP->new->canonical;
my @types = ('certificate-expired', 'starttls-not-supported',
	'sts-policy-fetch-error', 'something-new');
my $today = int(time / 86400);
my (@reports, %want, %days);

for my $k (0 .. 999) {
	my $dom = $domains[$k % 100];
	my $org = 'Org-' . ($k % 7);
	my $end = ($today - 1 - $k % 5) * 86400 + 86399;
	my ($ok, $failed) = (10 + $k, $k % 3);
	my $type = $types[int($k / 100) % 4];
	my $mx = 'mx' . (int($k / 100) % 2) . ".$dom";

	push @reports, report("r$k", $org, $end, $dom, $ok, $failed, $type, $mx);

	my $w = $want{$dom} //= { reports => 0, successful_sessions => 0,
		failed_sessions => 0, failures => {}, by_organization => {},
		by_mx => {} };
	my $day = $days{$dom}{substr(iso($end), 0, 10)} //= [0, 0];
	$day->[0] += $ok;
	$day->[1] += $failed;
	$w->{reports}++;
	$w->{successful_sessions} += $ok;
	$w->{failed_sessions} += $failed;
	my $o = $w->{by_organization}{$org} //= { reports => 0,
		successful_sessions => 0, failed_sessions => 0 };
	$o->{reports}++;
	$o->{successful_sessions} += $ok;
	$o->{failed_sessions} += $failed;
	next unless $failed;
	my $ct = $type eq 'something-new' ? 'other' : $type;
	$w->{failures}{$ct} += $failed;
	$w->{by_mx}{$mx}{failed_sessions} += $failed;
}

# the counters of Prometheus count the 100 reports posted only

my %counted;

for my $k (900 .. 999) {
	my $rep = $reports[$k][0];
	my $p = $rep->{policies}[0];
	my $c = $counted{$p->{policy}{'policy-domain'}} //= {};
	$c->{reports}++;
	$c->{successful} += $p->{summary}{'total-successful-session-count'};
	$c->{failed} += $p->{summary}{'total-failure-session-count'};
	for my $f (@{$p->{'failure-details'} || []}) {
		my $type = $f->{'result-type'} eq 'something-new' ? 'other'
			: $f->{'result-type'};
		$c->{types}{$type} += $f->{'failed-session-count'};
	}
}

# one report of d000 from before the window, which must not count

my $old = report('old', 'Org-old', ($today - 40) * 86400, 'd000.example',
	1000, 1000, 'certificate-expired', 'mx0.d000.example');

sub report {
	my ($id, $org, $end, $dom, $ok, $failed, $type, $mx) = @_;
	my $r = {
		'organization-name' => $org,
		'date-range' => {
			'start-datetime' => iso($end - 86399),
			'end-datetime' => iso($end) },
		'contact-info' => 'tlsrpt@sender.example',
		'report-id' => $id,
		policies => [{
			policy => { 'policy-type' => 'sts',
				'policy-domain' => $dom },
			summary => {
				'total-successful-session-count' => $ok,
				'total-failure-session-count' => $failed },
			$failed ? ('failure-details' => [{
				'result-type' => $type,
				'receiving-mx-hostname' => $mx,
				'failed-session-count' => $failed }]) : (),
		}],
	};
	return [$r, $json->encode($r)];
}

sub iso { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) }

# 900 reports and the old one kept, as the intake names them

mkdir "$d/reports" or die "mkdir: $!\n";

for my $r (@reports[0 .. 899], $old) {
	my ($rep, $text) = @$r;
	my $day = substr($rep->{'date-range'}{'end-datetime'}, 0, 10);
	my $key = substr(sha256_hex($rep->{'report-id'}), 0, 32);
	$t->write_file("reports/$day-$key.json", $text);
}

# and one past mta_sts_tlsrpt_retention, deleted at start

my $ancient = report('ancient', 'Org-old', ($today - 100) * 86400,
	'd000.example', 1, 1, 'certificate-expired', 'mx0.d000.example');
my $ancient_file = 'reports/' . substr(iso(($today - 100) * 86400), 0, 10)
	. '-' . ('a' x 32) . '.json';
$t->write_file($ancient_file, $ancient->[1]);
my $old_file = 'reports/' . substr(iso(($today - 40) * 86400), 0, 10)
	. '-' . substr(sha256_hex('old'), 0, 32) . '.json';

# temporary files of the intake: one left by a crash two hours ago, one
# being written

$t->write_file('reports/.tlsrpt-99999-0.tmp', '{"organization-name"');
utime time - 7200, time - 7200, "$d/reports/.tlsrpt-99999-0.tmp";
$t->write_file('reports/.tlsrpt-99999-1.tmp', '{"organization-name"');

$t->plan(30)->run();

###############################################################################

# the last 100 posted while the worker reads the kept ones

my $posted = 0;

for my $r (@reports[900 .. 999]) {
	my $file = $t->write_file('body', $r->[1]);
	my $res = $t->curl('-H', 'Content-Type: application/tlsrpt+json',
		'--data-binary', "\@$file",
		'http://127.0.0.1:' . $t->port(8080) . '/tlsrpt');
	$posted++ if ($res->{status} // 0) == 201;
}

is($posted, 100, '100 reports posted');

sub status {
	my ($args) = @_;
	my $res = $t->curl('-H', 'Host: status',
		'http://127.0.0.1:' . $t->port(8080) . "/status$args");
	return $res->{body};
}

sub loaded {
	my $deadline = time + 30 * Test::Nginx::slow();
	while (time < $deadline) {
		my $j = eval { decode_json(status('?domain=d000.example')) };
		return $j if $j && !$j->{domains}{'d000.example'}{tlsrpt}{loading};
		select undef, undef, undef, 0.1;
	}
	return undef;
}

sub compare {
	my ($name) = @_;
	ok(loaded(), "$name: the kept reports are read");
	my $j = decode_json(status(''));
	my @wrong;
	for my $dom (grep { $want{$_} } @domains) {
		my $got = $j->{domains}{$dom}{tlsrpt};
		my %got = map { $_ => $got->{$_} } keys %{$want{$dom}};
		push @wrong, $dom
			unless $json->encode(\%got) eq $json->encode($want{$dom});
	}
	is("@wrong", '', "$name: every domain's numbers are exact")
		or diag($json->encode($j->{domains}{$wrong[0]}{tlsrpt}),
			"\n", $json->encode($want{$wrong[0]}));
	return $j;
}

my $j = compare('at start');

ok(!-e "$d/$ancient_file", 'a report past the retention is deleted');
ok(-e "$d/$old_file", 'one past the window only is kept');
ok(!-e "$d/reports/.tlsrpt-99999-0.tmp",
	'a temporary file an hour old is deleted');
ok(-e "$d/reports/.tlsrpt-99999-1.tmp", 'a new one is not');

my $r = $j->{domains}{'d001.example'}{tlsrpt};
my $org = $want{'d001.example'}{by_organization};
is($r->{window}, '30d', 'the window');
is($r->{verdict}{status}, 'warning', 'failures in testing: a warning');
is($r->{verdict}{message}, "$want{'d001.example'}{failed_sessions} of "
	. ($want{'d001.example'}{failed_sessions}
		+ $want{'d001.example'}{successful_sessions})
	. ' sessions would fail under enforce in the last 30 days: '
	. join(', ', map { "$_ $want{'d001.example'}{failures}{$_}" }
		sort keys %{$want{'d001.example'}{failures}})
	. '; MX hosts: ' . join(', ', sort keys %{$want{'d001.example'}{by_mx}})
	. '; senders: ' . join(', ', (map { "$_ $org->{$_}{failed_sessions}" }
		grep { $org->{$_}{failed_sessions} } sort keys %$org)[0 .. 3])
	. '. The sts-* failures are about the policy host mta-sts.d001.example: '
	. 'its certificate and its policy, see the checks. The certificate-* '
	. 'and starttls-not-supported failures are about the MX hosts named.',
	'the verdict names types, MX hosts and senders');

is_deeply($j->{domains}{'d100.example'}{tlsrpt}{verdict}, {
	status => 'pending',
	message => 'No TLS-RPT report for d100.example in the last 30 days: '
		. 'senders have said nothing yet.' },
	'a domain without a report says so');

# Prometheus: the counters of what was posted, the window, the refusals

$t->curl('http://127.0.0.1:' . $t->port(8080) . '/tlsrpt');
$t->curl('-H', 'Content-Type: application/tlsrpt+json', '--data', '[]',
	'http://127.0.0.1:' . $t->port(8080) . '/tlsrpt');

my $prom = status('?format=prometheus');
my (@want, @got);

for my $dom (@domains[0 .. 99]) {
	my $c = $counted{$dom} // { reports => 0, successful => 0, failed => 0 };
	push @want, qq(mta_sts_tlsrpt_reports_total{domain="$dom"} $c->{reports}),
		qq(mta_sts_tlsrpt_sessions_total{domain="$dom",result="successful"})
			. " $c->{successful}",
		qq(mta_sts_tlsrpt_sessions_total{domain="$dom",result="failed"})
			. " $c->{failed}",
		map { qq(mta_sts_tlsrpt_failures_total{domain="$dom",)
			. qq(result_type="$_"} $c->{types}{$_}) }
			sort keys %{$c->{types} || {}};
	push @want, map { qq(mta_sts_tlsrpt_window_sessions{domain="$dom",)
		. qq(result="$_->[0]"} $_->[1]) }
		['successful', $want{$dom}{successful_sessions}],
		['failed', $want{$dom}{failed_sessions}];
}

@got = grep { /^mta_sts_tlsrpt_(reports|sessions|failures|window)/
	&& !/d100/ } split /\n/, $prom;
is(join("\n", sort @got), join("\n", sort @want),
	'Prometheus: every TLS-RPT sample of the 100 domains');
is(join("\n", grep { /^mta_sts_tlsrpt_refused_total/ } split /\n/, $prom),
	join("\n", map { qq(mta_sts_tlsrpt_refused_total{reason="$_->[0]"})
		. " $_->[1]" } ['not_a_report', 1], ['no_domain_served', 0],
		['method', 1], ['too_large', 0], ['media_type', 0],
		['cannot_store', 0]),
	'Prometheus: the refusals by reason');
like($prom, qr/^# TYPE mta_sts_tlsrpt_sessions_total counter$/m,
	'the sessions are a counter');

# HTML: the verdict, a bar per day, no script

my $html = status('?format=html&domain=d001.example');
my @titles = $html
	=~ m{<title>(\d{4}-\d\d-\d\d: \d+ successful, \d+ failed)</title>}g;
is(join("\n", @titles), join("\n", map { "$_: $days{'d001.example'}{$_}[0] "
	. "successful, $days{'d001.example'}{$_}[1] failed" }
	sort keys %{$days{'d001.example'}}), 'HTML: a bar for each day');
my $verdict = $r->{verdict}{message};
$verdict =~ s/&/&amp;/g;
$verdict =~ s/</&lt;/g;
$verdict =~ s/>/&gt;/g;
$verdict =~ s/"/&quot;/g;
my $head = '<h3>TLS-RPT reports</h3>' . "\n"
	. '<p><span class="s warning">warning</span> ';
like($html, qr/\Q$head$verdict\E<\/p>/, 'HTML: the verdict');
unlike($html, qr/<script|src=/i, 'HTML: no script, nothing from elsewhere');

my $text = status('?format=text&domain=d001.example');
my $line = "d001.example tlsrpt_reports: warning: $r->{verdict}{message}";
like($text, qr/^\Q$line\E$/m, 'the verdict in the text format');

# a restart reads them again from the disk; a reload keeps the zone

$t->stop->run();
compare('after a restart');

like(status('?format=prometheus'),
	qr/^mta_sts_tlsrpt_reports_total\{domain="d001\.example"\} 0$/m,
	'after a restart the counters start again');

# a reload sweeps what is past the retention at once

$t->write_file($ancient_file, $ancient->[1]);
$t->reload();

my $gone = time + 10 * Test::Nginx::slow();
select undef, undef, undef, 0.1 while -e "$d/$ancient_file" && time < $gone;
ok(!-e "$d/$ancient_file", 'a reload sweeps the reports past retention');

$j = decode_json(status('?domain=d000.example'));
ok(!$j->{domains}{'d000.example'}{tlsrpt}{loading},
	'after a reload, nothing to read again');
compare('after a reload');

# a reload in the middle of the reading: the new workers read again,
# from nothing, and nothing counts twice

$t->stop;

my $w = $want{'d100.example'} = { reports => 0, successful_sessions => 0,
	failed_sessions => 0, failures => {}, by_organization => {},
	by_mx => {} };

for my $k (0 .. 3999) {
	my $r = report("many$k", 'Org-many', ($today - 2) * 86400 + 86399,
		'd100.example', 1, 1, 'dnssec-invalid', 'mx.d100.example');
	$t->write_file(sprintf('reports/%s-%032x.json',
		substr(iso(($today - 2) * 86400), 0, 10), $k), $r->[1]);
	$w->{$_}++ for qw(reports successful_sessions failed_sessions);
	$w->{failures}{'dnssec-invalid'}++;
	$w->{by_mx}{'mx.d100.example'}{failed_sessions}++;
	$w->{by_organization}{'Org-many'}{$_}++
		for qw(reports successful_sessions failed_sessions);
}

$t->run();
$t->reload();
compare('a reload while they are read');

$t->stop;
like($t->read_file('error.log'),
	qr/mta_sts: 1 TLS-RPT reports past mta_sts_tlsrpt_retention deleted/,
	'the reading at start says what it deleted');
like($t->read_file('error.log'),
	qr/\[notice\] .*mta_sts: deleted "[^"]*\/\.tlsrpt-99999-0\.tmp", a temporary file of a TLS-RPT report that a crash left/,
	'and the temporary file');
unlike($t->read_file('error.log'), qr/not counted/,
	'every kept file was a report');

###############################################################################
