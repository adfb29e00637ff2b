#!/usr/bin/perl

# make demo (tools/demo), as a newcomer runs it: nginx with examples/, a
# local nsd serving the example zones, and the status page that shows one
# domain right and one with a stale id and an MX host outside its policy.
# Ctrl-C (SIGINT to the process group) stops every process it started.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::IP;
use POSIX qw(setsid WNOHANG);
use Test::More;
use Test::Nginx;

my $t = Test::Nginx->new;
my $d = $t->testdir;
my $repo = "$FindBin::Bin/..";

my $port = ports3();
my $sport = $t->port(2);
my $dport = $t->port(3);
my $status = "http://127.0.0.1:$sport/mta-sts-status";

###############################################################################

my $pid = fork // die "fork: $!\n";
if (!$pid) {
	setsid();
	open STDIN, '<', '/dev/null';
	open STDOUT, '>>', "$d/stderr";
	open STDERR, '>&', \*STDOUT;
	chdir $repo or POSIX::_exit(126);
	$ENV{DEMO_DIR} = "$d/demo";
	$ENV{DEMO_PORT} = $port;
	$ENV{DEMO_STATUS_PORT} = $sport;
	$ENV{DEMO_DNS_PORT} = $dport;
	exec 'sh', 'tools/demo' or POSIX::_exit(127);
}

# the demo is ready once it has told how to use it

my $deadline = time + 60 * Test::Nginx::slow();
until (-e "$d/stderr" && $t->read_file('stderr') =~ /In a browser: /) {
	last if waitpid($pid, WNOHANG) == $pid || time > $deadline;
	select undef, undef, undef, 0.1;
}

my $out = $t->read_file('stderr');

like($out, qr{^  curl '\Q$status\E\?format=text'$}m,
	'the demo prints the status curl');
like($out, qr{^In a browser: \Q$status\E$}m, 'and the browser URL');
like($out, qr{^ +https://mta-sts\.example\.com:$port/\.well-known/}m,
	'and the policy curls');

my @procs = grep { $_ != $pid } group($pid);
ok(scalar(grep { comm($_) eq 'nginx' } @procs), 'nginx runs');
ok(scalar(grep { comm($_) eq 'nsd' } @procs), 'nsd runs');

# nothing listens outside loopback

my @addrs;
for my $l (split /\n/, (Test::Nginx::capture(['ss', '-Hltunp']))[1]) {
	my ($local, $users) = $l =~ /^(?:\S+\s+){4}(\S+)\s+\S+\s+(.*)$/
		or next;
	my %mine = map { $_ => 1 } @procs;
	next unless grep { $mine{$_} } $users =~ /pid=(\d+)/g;
	push @addrs, $local;
}
ok(scalar(@addrs) >= 5, 'the demo listens') or diag("@addrs");
is(join(' ', grep { !/^127\.0\.0\.1:\d+$/ } @addrs), '',
	'on 127.0.0.1 only');

# policies, over TLS with the demo's CA

my ($rc, $policy) = Test::Nginx::capture(['curl', '-sS',
	'--cacert', "$d/demo/ssl/ca.crt",
	'--resolve', "mta-sts.example.com:$port:127.0.0.1",
	"https://mta-sts.example.com:$port/.well-known/mta-sts.txt"]);
is($policy, "version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\n"
	. "mx: backup-mx.example.com\r\nmax_age: 604800\r\n",
	'the policy of example.com');

# the status page: real checks against the demo's nsd

my $text = get("$status?format=text");

like(line($text, 'example.com '),
	qr/^example\.com +ok +testing +ok +ok +ok +ok +ok +skipped +skipped$/,
	'example.com is right');
like(line($text, 'example.net '),
	qr/^example\.net +error +testing +error +ok +warning +ok +ok +skipped +skipped$/,
	'example.net has an error and a warning');
is(line($text, 'example.com: '), 'example.com: Nothing would bounce: '
	. 'example.com is ready for "mta_sts_mode enforce".',
	'example.com is ready for enforce');

my ($id) = $text =~ /the served policy's id is ([0-9a-f]{20}):/;
ok(defined $id, 'the served id of example.net is named');
$id //= '';

is(line($text, 'example.net sts_record: '), 'example.net sts_record: error: '
	. "The TXT id is 20260101, the served policy's id is $id: publish "
	. "_mta-sts.example.net. IN TXT \"v=STSv1; id=$id\" (senders do not "
	. 'fetch the policy again until the TXT id changes).',
	'the stale id, with the record to publish');
is(line($text, 'example.net mx: '), 'example.net mx: warning: '
	. 'mx.backup-provider.example does not match the policy: senders '
	. 'deliver anyway in testing mode but report a failure; add mx: '
	. 'mx.backup-provider.example (or a wildcard) to the policy before '
	. 'switching to enforce.',
	'the MX host outside the policy, with the fix');

my $one = get("$status?domain=example.net&format=text");
like($one, qr/\ADOMAIN .*\nexample\.net +error /, 'domain=example.net');
unlike($one, qr/^example\.com/m, 'and only it');

like(get($status, 'Accept: text/html'), qr/^<!DOCTYPE html>/i,
	'a browser gets the HTML page');

# Ctrl-C stops every process of the demo

kill 'INT', -$pid;

$deadline = time + 20 * Test::Nginx::slow();
my @left;
while (1) {
	waitpid($pid, WNOHANG);
	@left = grep { kill 0, $_ } @procs, $pid;
	last if !@left || time > $deadline;
	select undef, undef, undef, 0.1;
}
waitpid($pid, 0) if !@left;

is("@left", '', 'Ctrl-C stopped nginx, nsd and the demo');
is(scalar(group($pid)), 0, 'nothing of the demo is left');

$t->check_alerts;

done_testing;

###############################################################################

# the processes of a process group
sub group {
	my ($pgid) = @_;
	my @pids;
	for my $stat (glob '/proc/[0-9]*/stat') {
		open my $fh, '<', $stat or next;
		my $line = <$fh> // next;
		my ($p, $rest) = $line =~ /^(\d+) \(.*\) (.*)$/ or next;
		my @f = split ' ', $rest;
		push @pids, $p if $f[2] == $pgid && $f[0] ne 'Z';
	}
	return @pids;
}

# the program a process runs: nginx renames its processes, nsd too
sub comm {
	my ($p) = @_;
	my $exe = readlink("/proc/$p/exe") // '';
	return $exe =~ m{([^/]+)$} ? $1 : '';
}

# three free ports in a row: the demo's policies listen on them
sub ports3 {
	for (1 .. 100) {
		my $s = IO::Socket::IP->new(Listen => 1,
			LocalHost => '127.0.0.1', LocalPort => 0) or next;
		my $p = $s->sockport;
		next if $p > 65533;
		my @more = map { IO::Socket::IP->new(Listen => 1,
			LocalHost => '127.0.0.1', LocalPort => $p + $_) } 1, 2;
		return $p unless grep { !defined } @more;
	}
	die "no three free ports in a row\n";
}

# the line of a text that begins so
sub line {
	my ($text, $start) = @_;
	my ($l) = grep { index($_, $start) == 0 } split /\n/, $text;
	return $l // '';
}

sub get {
	my ($url, @headers) = @_;
	my ($rc, $body) = Test::Nginx::capture(['curl', '-sS',
		(map { ('-H', $_) } @headers), $url]);
	return $body;
}
