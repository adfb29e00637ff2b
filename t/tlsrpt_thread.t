#!/usr/bin/perl

# A TLS-RPT report is made durable (fsync() of the file, link() into
# place, fsync() of the directory, one for the reports linked at the same
# time) in nginx's "default" thread pool, not in the worker's own
# thread: strace shows which thread does it, and the policy served
# meanwhile.  A pool that cannot take the task answers 503 and keeps
# nothing.

use warnings;
use strict;

use Test::More;
use POSIX qw(WNOHANG);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;

###############################################################################

my $t = Test::Nginx->new();
my $d = $t->testdir;

sub conf {
	my ($pool) = @_;
	return <<"EOF";
%%TEST_GLOBALS%%

worker_processes 1;
thread_pool default $pool;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.company-y.example;

        mta_sts on;
        mta_sts_mx *.mail.company-y.example;

        location = /tlsrpt {
            mta_sts_tlsrpt_receive $d/reports;
        }
    }
}
EOF
}

$t->write_file_expand('nginx.conf', conf('threads=2'));
$t->plan(26)->run();

###############################################################################

my $n = 0;

sub report {
	$n++;
	return '{"organization-name":"Company-X","date-range":'
		. '{"start-datetime":"2016-04-01T00:00:00Z",'
		. '"end-datetime":"2016-04-01T23:59:59Z"},'
		. '"contact-info":"sts-reporting@company-x.example",'
		. "\"report-id\":\"thread-$n\",\"policies\":[{\"policy\":"
		. '{"policy-type":"sts","policy-domain":"company-y.example"},'
		. '"summary":{"total-successful-session-count":1,'
		. '"total-failure-session-count":0}}]}';
}

sub post {
	my ($pad) = @_;
	my $file = $t->write_file('body', report() . ($pad // ''));
	my $r = $t->curl('-H', 'Content-Type: application/tlsrpt+json',
		'--data-binary', "\@$file",
		'http://127.0.0.1:' . $t->port(8080) . '/tlsrpt');
	return ($r->{status} // 'none') . ' ' . $r->{body};
}

sub stored {
	opendir my $dh, "$d/reports" or return ();
	return sort grep { !/^\.\.?$/ } readdir $dh;
}

# strace on every thread of the worker: syncfs(), fsync() and link()
# logged with the paths of their descriptors, syncfs() and fsync() made to
# wait 1.5 s for the disk

sub trace {
	my ($worker) = @_;
	unlink "$d/strace.out", "$d/strace.err";
	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		open STDERR, '>', "$d/strace.err";
		exec 'strace', '-f', '-y', '-o', "$d/strace.out",
			'-e', 'trace=fsync,syncfs,link,linkat',
			'-e', 'inject=fsync,syncfs:delay_enter=1500000',
			'-p', $worker or POSIX::_exit(127);
	}
	# it says "Process N attached with 3 threads"
	my $deadline = time + 10;
	until (time > $deadline) {
		my $err = -e "$d/strace.err" ? $t->read_file('strace.err') : '';
		last if $err =~ /attached( with \d+ threads)?$/m;
		select undef, undef, undef, 0.05;
	}
	return $pid;
}

sub untrace {
	my ($pid) = @_;
	kill 'INT', $pid;
	waitpid $pid, 0;
	my %calls;
	for (split /\n/, $t->read_file('strace.out')) {
		my ($tid, $call) = /^(\d+)\s+(fsync|syncfs|link)(?:at)?\(/
			or next;
		$calls{$call eq 'syncfs' ? 'fsync' : $call}{$tid} = 1;
	}
	return \%calls;
}

# a report POSTed in the background: the curl's pid and its output file

sub post_bg {
	my ($name) = @_;
	my $file = $t->write_file("body-$name", report());
	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		open STDOUT, '>', "$d/answer-$name";
		exec 'curl', '-sS', '-w', ' %{http_code}',
			'-H', 'Content-Type: application/tlsrpt+json',
			'--data-binary', "\@$file",
			'http://127.0.0.1:' . $t->port(8080) . '/tlsrpt'
			or POSIX::_exit(127);
	}
	return $pid;
}

sub answer_bg {
	my ($pid, $name) = @_;
	waitpid $pid, 0;
	return $t->read_file("answer-$name");
}

# the files of the directory that the worker has open, whole and without
# a name yet (O_TMPFILE: "DIR/#<inode> (deleted)"), and no temporary file
# with a name: what waits for the disk

my $worker;

sub waiting {
	my ($count, $size) = @_;
	my $deadline = time + 10;
	until (time > $deadline) {
		my @open = grep {
			(readlink($_) // '') =~ m!^\Q$d\E/reports/#\d+ \(deleted\)$!
			&& (-s $_ // 0) == $size
		} glob "/proc/$worker/fd/*";
		return 1 if @open >= $count && !grep { /\.tmp$/ } stored();
		select undef, undef, undef, 0.02;
	}
	return 0;
}

my $size;

($worker) = $t->workers;

# a temporary file that a crashed worker of the same pid left: not reused
# (by a report larger than the 64 KB kept in memory, which is written to
# a temporary file as it comes)

$t->write_file("reports/.tlsrpt-$worker-0.tmp", 'left');
is(post("\n" x 70000), "201 stored\n", 'a name taken by a temporary file left');
is($t->read_file("reports/.tlsrpt-$worker-0.tmp"), 'left',
	'which is left alone');
unlink "$d/reports/.tlsrpt-$worker-0.tmp";
unlink map { "$d/reports/$_" } stored();

my $strace = trace($worker);

$size = length report();
$n--;
my $post = post_bg('one');
ok(waiting(1, $size), 'the report waits for the disk');

my $policy = $t->curl('-H', 'Host: mta-sts.company-y.example',
	'http://127.0.0.1:' . $t->port(8080) . '/.well-known/mta-sts.txt');
is($policy->{status}, 200, 'the worker serves the policy meanwhile');
is(waitpid($post, WNOHANG), 0, 'while the report is not yet answered');
is(answer_bg($post, 'one'), "stored\n 201", 'then the report is stored');

my $calls = untrace($strace);
my @threads = map { m!/(\d+)$! } glob "/proc/$worker/task/*";

is(scalar(@threads), 3, 'the worker has its own thread and the pool\'s two');
my @fsync = keys %{$calls->{fsync} // {}};
is(scalar(@fsync), 1, 'the fsync()s are made by one thread');
ok(@fsync && $fsync[0] != $worker && grep({ $_ == $fsync[0] } @threads),
	'a thread of the pool, not the worker\'s own');
is(join(' ', keys %{$calls->{link} // {}}), $fsync[0] // 'none',
	'the link() too');

# a file system without O_TMPFILE (EOPNOTSUPP, made by strace for the
# first open of the thread): the report goes to a temporary file named by
# the worker, then into place

unlink "$d/strace.out";
my $pid = fork // die "fork: $!\n";
if (!$pid) {
	open STDERR, '>', "$d/strace.err";
	exec 'strace', '-f', '-o', "$d/strace.out", '-e', 'trace=openat,link',
		'-e', 'inject=openat:error=EOPNOTSUPP:when=1', '-p', $worker
		or POSIX::_exit(127);
}
my $deadline = time + 10;
until (time > $deadline) {
	last if -e "$d/strace.err"
		&& $t->read_file('strace.err') =~ /attached( with \d+ threads)?$/m;
	select undef, undef, undef, 0.05;
}
my @kept = stored();
is(post(), "201 stored\n", 'without O_TMPFILE, stored');
kill 'INT', $pid;
waitpid $pid, 0;
my $trace = $t->read_file('strace.out');
my ($tmp) = $trace =~ m!"\Q$d\E/reports/(\.tlsrpt-$worker-\d+\.tmp)"!;
is(join("\n", map { s/^\d+\s+//r =~ s/, 0600\)/)/r =~ s/(openat.*) = \d+$/$1 = fd/r }
	grep { /openat\(|link\(/ } split /\n/, $trace),
	join("\n", "openat(AT_FDCWD, \"$d/reports\", O_WRONLY|O_TMPFILE) = -1 "
		. 'EOPNOTSUPP (Operation not supported) (INJECTED)',
	"openat(AT_FDCWD, \"$d/reports/" . ($tmp // 'none') . '", '
		. 'O_WRONLY|O_CREAT|O_EXCL) = fd',
	"openat(AT_FDCWD, \"$d/reports\", O_RDONLY) = fd",
	"link(\"$d/reports/" . ($tmp // 'none') . "\", \"$d/reports/"
		. (grep { my $k = $_; !grep { $_ eq $k } @kept } stored())[0]
		. '") = 0'),
	'the file named in advance, the directory opened for its fsync(), '
	. 'then the file linked into place');
is(scalar(grep { /\.tmp$/ } stored()), 0, 'and no temporary file left');
unlink map { "$d/reports/$_" } grep { my $k = $_; !grep { $_ eq $k } @kept }
	stored();

# a reload while a report waits for the disk: the old worker stays until
# it is stored and answered

$strace = trace($worker);
$post = post_bg('reload');
ok(waiting(1, $size), 'a report waits for the disk');
$t->reload();
is(answer_bg($post, 'reload'), "stored\n 201",
	'the worker that left answered it first');
untrace($strace);

# one thread and a queue of one: a third report finds no room

my @before = stored();
is(scalar(@before), 2, 'two reports kept');

$t->write_file_expand('nginx.conf', conf('threads=1 max_queue=1'));
$t->reload();

($worker) = $t->workers;
$strace = trace($worker);

# the tasks the worker gave the pool, from its debug log

sub tasks {
	my ($count) = @_;
	my $deadline = time + 10;
	until (time > $deadline) {
		my $log = $t->read_file('error.log');
		my $added = () = $log =~ /\[debug\]\ $worker\#\d+:\ task\ \#\d+
			\ added\ to\ thread\ pool\ "default"/xg;
		return 1 if $added >= $count;
		select undef, undef, undef, 0.02;
	}
	return 0;
}

my $one = post_bg('two');
ok(waiting(1, $size), 'a report in the thread');
my $two = post_bg('three');
ok(tasks(2) && waiting(1, $size), 'another in the queue, in memory');

is(post(), "503 the report cannot be stored now\n",
	'no room in the pool\'s queue');
is(answer_bg($one, 'two') . answer_bg($two, 'three'),
	"stored\n 201stored\n 201", 'the other two are stored');
untrace($strace);

is(scalar(my @after = stored()), 4, 'four reports kept, no temporary file');

# group commit: while one report's fsync()s wait for the disk, two more
# arrive; each of their threads fsync()s its own file, and one fsync() of
# the directory makes both names durable

$t->write_file_expand('nginx.conf', conf('threads=4'));
$t->reload();

($worker) = $t->workers;
$strace = trace($worker);

my $first = post_bg('four');
ok(waiting(1, $size), 'a report waits for its fsync()');
my @more = map { post_bg($_) } qw(five six);
is(join('', map { answer_bg($_->[0], $_->[1]) } [$first, 'four'],
	[$more[0], 'five'], [$more[1], 'six']), "stored\n 201" x 3,
	'three reports stored');
untrace($strace);

my $traced = $t->read_file('strace.out');
my @synced = $traced =~ /^\d+\s+fsync\(\d+<([^>]*)>/mg;
is(join(' ', scalar(() = $traced =~ /^\d+\s+syncfs\(/mg),
	scalar(() = $traced =~ /^\d+\s+linkat\(/mg),
	scalar(grep { m!/reports/#\d+$! } @synced),
	scalar(grep { m!/reports$! } @synced), scalar(@synced)), '0 3 3 2 5',
	'three reports: no syncfs(), three links, each file fsync()ed, the '
	. 'first\'s name alone and the two that came meanwhile together');
is(scalar(my @all = stored()), 7, 'seven reports kept');

$t->stop;
like($t->read_file('error.log'),
	qr/\[error\].*thread pool "default" queue overflow: 1 tasks waiting/,
	'nginx logs the overflow');

###############################################################################
