package Test::Nginx;

# Test harness for the nginx MTA-STS module, shaped like nginx-tests'
# lib/Test/Nginx.pm: a temp dir per test file, config templates with
# placeholders, start/stop/reload, the pids and RSS of nginx's processes,
# raw HTTP and curl helpers, and a final "no alerts in error.log" test.
#
# Run modes, for the module built with sanitizers or for valgrind (see
# "make test SANITIZE=1" and "make test VALGRIND=1"); every nginx the
# harness starts, "nginx -t" included, runs so:
#
#   TEST_NGINX_SANITIZE=1    the AddressSanitizer runtime preloaded
#       (TEST_NGINX_ASAN_LIB, default: clang's shared one); the reports
#       of ASan and UBSan go to <testdir>/sanitizer.<pid>
#   TEST_NGINX_VALGRIND=1    under valgrind's memcheck, the logs in
#       <testdir>/valgrind.<pid>.log (workers too)
#
# and the final test fails on any sanitizer report, on a valgrind error,
# and on blocks "definitely lost" in the module.  UBSan stops nginx at
# its first report; TEST_NGINX_UBSAN_OPTIONS=halt_on_error=0 lets it go
# on, to see them all.
#
# TEST_NGINX_SLOW=N multiplies the waits and timeouts of the harness
# (default 1, 10 under valgrind); tests get it from Test::Nginx::slow().

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir tempfile);
use IO::Socket::IP;
use POSIX qw(WNOHANG);
use Scalar::Util qw(weaken);
use Test::More ();
use Time::HiRes qw(sleep time);

my $REPO = abs_path(dirname(__FILE__) . '/../../..');
my $ALERTS = qr/\[(?:alert|crit|emerg)\]|AddressSanitizer|runtime error/;

my $SANITIZE = $ENV{TEST_NGINX_SANITIZE};
my $VALGRIND = $ENV{TEST_NGINX_VALGRIND};
my $SLOW = $ENV{TEST_NGINX_SLOW} || ($VALGRIND ? 10 : 1);
my $MODULE_FRAMES = qr/ngx_http_mtasts|\bmtasts_/;
my $VALGRIND_ERROR = qr/^==\d+==\ (?:Invalid\ |Conditional\ jump
	|Use\ of\ uninit|Syscall\ param|Mismatched|Source\ and\ destination
	|Argument\ '|Jump\ to|Process\ terminating)/mx;

# the factor for the waits of the harness
sub slow { $SLOW }

# UBSan reports not to fail on (suppressions, "check:function"): known
# bugs, each to be removed with its fix.
my @UBSAN_SUPPRESS = ();

# Harness objects alive (weak refs), cleaned up newest first at END:
# before Test::More's own END, even if a closure still holds them.
my @LIVE;

sub track {
	my ($obj) = @_;
	push @LIVE, $obj;
	weaken($LIVE[-1]);
	return $obj;
}

END { $_ && $_->cleanup for reverse @LIVE }

for my $sig (qw(INT TERM)) {
	# turn a kill into a normal exit so that DESTROY cleans up
	$SIG{$sig} = sub { exit 1 } if !$SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
}

sub new {
	my ($class, %opt) = @_;
	my $dir = tempdir('nginx-test-XXXXXXXX', TMPDIR => 1,
		CLEANUP => !$ENV{TEST_NGINX_LEAVE});
	chmod 0755, $dir;
	my $module = $ENV{TEST_NGINX_MODULE}
		|| "$REPO/build/ngx_http_mtasts_module.so";
	return track(bless {
		dir => $dir,
		binary => $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx',
		module => File::Spec->rel2abs($module),
		netns => $opt{netns},	# a name or a Test::MtaSts::Netns
		ports => {},
		daemons => [],
		owner => $$,
	}, $class);
}

sub testdir { $_[0]{dir} }
sub module_path { $_[0]{module} }
sub has_module { -e $_[0]{module} }
sub todo_alerts { $_[0]{todo_alerts} = 1; $_[0] }

sub netns {
	my $ns = $_[0]{netns};
	return ref $ns ? $ns->name : $ns;
}

sub plan {
	my ($self, $n) = @_;
	Test::More::plan(tests => $n + 1);
	$self->{planned} = 1;
	return $self;
}

# Files in the test dir.

sub write_file {
	my ($self, $name, $content) = @_;
	my $path = File::Spec->rel2abs($name, $self->{dir});
	open my $fh, '>', $path or die "write $path: $!\n";
	binmode $fh;
	print $fh $content;
	close $fh or die "close $path: $!\n";
	chmod 0644, $path;
	return $path;
}

sub read_file {
	my ($self, $name) = @_;
	my $path = File::Spec->rel2abs($name, $self->{dir});
	open my $fh, '<', $path or die "read $path: $!\n";
	binmode $fh;
	local $/;
	return scalar <$fh>;
}

sub write_file_expand {
	my ($self, $name, $content) = @_;
	return $self->write_file($name, $self->_expand($content));
}

# A free port on 127.0.0.1 for placeholder %%PORT_<n>%%, the same one
# for the same <n> during the life of the object.

sub port {
	my ($self, $n) = @_;
	return $self->{ports}{$n} //= do {
		my %used = map { $_ // 0 => 1 } values %{$self->{ports}};
		my $p;
		for (1 .. 100) {
			my $s = IO::Socket::IP->new(Listen => 1,
				LocalHost => '127.0.0.1', LocalPort => 0)
				or die "port: $@\n";
			$p = $s->sockport;
			last unless $used{$p};
		}
		$p;
	};
}

sub _expand {
	my ($self, $text, $log, $pid) = @_;
	my $d = $self->{dir};
	$log //= "$d/error.log";
	$pid //= "$d/nginx.pid";

	my $g = '';
	$g .= "load_module $self->{module};\n" if $self->has_module;
	$g .= "user root;\n" if $> == 0;
	$g .= "pid $pid;\nerror_log $log debug;\n"
		. "daemon on;\nmaster_process on;\n";

	my $h = "access_log $d/access.log;\n";
	$h .= "${_}_temp_path $d/${_}_temp;\n"
		for qw(client_body proxy fastcgi uwsgi scgi);

	$text =~ s/%%TEST_GLOBALS%%/$g/g;
	$text =~ s/%%TEST_GLOBALS_HTTP%%/$h/g;
	$text =~ s/%%TESTDIR%%/$d/g;
	$text =~ s/%%PORT_(\d+)%%/$self->port($1)/ge;
	return $text;
}

# Starting and stopping nginx.

sub _ns_prefix {
	my ($self) = @_;
	my $ns = $self->netns;
	return defined $ns ? ('ip', 'netns', 'exec', $ns) : ();
}

sub run {
	my ($self) = @_;
	my $d = $self->{dir};
	die "nginx already running\n" if $self->{started};
	unlink "$d/nginx.pid";

	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', "$d/stderr";
		open STDERR, '>>', "$d/stderr";
		exec $self->_ns_prefix, $self->_nginx,
			'-p', "$d/", '-c', "$d/nginx.conf"
			or POSIX::_exit(127);
	}
	$self->{started} = 1;
	$self->{launcher} = $pid;

	my $wait = 5 * $SLOW;
	my $deadline = time + $wait;
	until ($self->master_pid) {
		if (waitpid($pid, WNOHANG) == $pid) {
			delete $self->{launcher};
			die $self->_failed("exit code " . ($? >> 8)) if $?;
		}
		die $self->_failed("no pid file after $wait s")
			if time > $deadline;
		sleep 0.02;
	}
	my $master = $self->master_pid;
	$self->_check_mode($master);
	$self->_wait_listen($deadline);
	# the master listens before it forks the workers (slow under valgrind)
	if ($self->read_file('nginx.conf') !~ /^\s*master_process\s+off/m) {
		until (my @workers = children($master)) {
			die $self->_failed('no worker process')
				if time > $deadline || !_alive($master);
			sleep 0.02;
		}
	}
	return $self;
}

# The command that starts nginx, as the run mode wants it.
sub _nginx {
	my ($self) = @_;
	my $d = $self->{dir};
	if ($VALGRIND) {
		return ('valgrind', '--tool=memcheck', '--trace-children=yes',
			'--child-silent-after-fork=no', '--error-exitcode=99',
			'--leak-check=full', '--show-leak-kinds=definite',
			'--errors-for-leak-kinds=none', '--num-callers=30',
			'--track-origins=yes', '--keep-debuginfo=yes',
			"--log-file=$d/valgrind.%p.log", $self->{binary});
	}
	if ($SANITIZE) {
		$self->write_file('ubsan.supp',
			join('', map { "$_\n" } @UBSAN_SUPPRESS));
		return ('env', 'LD_PRELOAD=' . asan_lib(),
			"ASAN_OPTIONS=detect_leaks=0:log_path=$d/sanitizer"
				. ':print_legend=0',
			'UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1'
				. ":log_path=$d/sanitizer"
				. ":suppressions=$d/ubsan.supp"
				. ($ENV{TEST_NGINX_UBSAN_OPTIONS}
					? ":$ENV{TEST_NGINX_UBSAN_OPTIONS}" : ''),
			$self->{binary});
	}
	return ($self->{binary});
}

# The ASan runtime of the compiler that built the module: clang's shared
# one has UBSan in it, which so reads UBSAN_OPTIONS at startup.  (gcc's
# libubsan would read them at its first report, from /proc/self/environ,
# which nginx has overwritten with the process title by then.)
my $ASAN_LIB;
sub asan_lib {
	return $ASAN_LIB //= do {
		my $lib = $ENV{TEST_NGINX_ASAN_LIB};
		if (!$lib) {
			my ($rc, $out) = capture(['clang',
				'-print-file-name=libclang_rt.asan-x86_64.so']);
			chomp($lib = $out);
		}
		die "no ASan runtime \"$lib\" (TEST_NGINX_ASAN_LIB)\n"
			unless $lib && $lib =~ m{^/} && -e $lib;
		Cwd::realpath($lib);
	};
}

# Make sure the run mode took: nginx with the ASan runtime and the
# instrumented module, or nginx under valgrind.
sub _check_mode {
	my ($self, $pid) = @_;
	return unless $pid && ($SANITIZE || $VALGRIND);
	if ($VALGRIND) {
		my $exe = readlink("/proc/$pid/exe") // '';
		die $self->_failed("nginx ($pid) is not under valgrind: $exe")
			unless $exe =~ /memcheck/;
		return;
	}
	open my $fh, '<', "/proc/$pid/maps" or return;
	my $maps = join '', <$fh>;
	die $self->_failed("nginx ($pid) runs without " . asan_lib())
		unless index($maps, asan_lib()) >= 0;
	die $self->_failed("nginx ($pid) has not loaded $self->{module}")
		if $self->has_module
			&& $self->read_file('nginx.conf') =~ /^\s*load_module\b/m
			&& index($maps, Cwd::realpath($self->{module})) < 0;
}

sub try_run {
	my ($self, $message) = @_;
	eval { $self->run(); 1 } and return $self;
	Test::More::diag($@) if $ENV{TEST_NGINX_VERBOSE};
	$self->stop;
	Test::More::plan(skip_all => $message);
}

sub _failed {
	my ($self, $why) = @_;
	my $d = $self->{dir};
	my $out = "nginx: $why\n";
	for my $f ('stderr', 'error.log') {
		next unless -e "$d/$f";
		my @l = grep { !/\[debug\]/ } split /\n/, $self->read_file($f);
		splice @l, 0, @l - 30 if @l > 30;
		$out .= "--- $f:\n" . join("\n", @l) . "\n";
	}
	return $out;
}

# The pid of the running master (of nginx.pid), or undef.
sub master_pid {
	my ($self) = @_;
	my $f = "$self->{dir}/nginx.pid";
	return undef unless -s $f;
	my ($pid) = $self->read_file($f) =~ /^(\d+)/;
	return $pid && _alive($pid) ? $pid : undef;
}

sub _alive {
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return 0;
	my ($state) = (scalar <$fh> // '') =~ /\) (\S) /;
	return defined $state && $state ne 'Z';
}

# The child processes of a pid, zombies not, in pid order: a function,
# for the tests too (Test::Nginx::children($pid)).
sub children {
	my ($ppid) = @_;
	my @kids;
	for my $stat (glob '/proc/[0-9]*/stat') {
		open my $fh, '<', $stat or next;
		my ($pid, $st, $pp) = (scalar <$fh> // '')
			=~ /^(\d+) .*\) (\S) (\d+) /s or next;
		push @kids, $pid if $pp == $ppid && $st ne 'Z';
	}
	return sort { $a <=> $b } @kids;
}

# The workers of the running nginx, in pid order; () if it is not running.
sub workers {
	my ($self) = @_;
	my $pid = $self->master_pid or return ();
	return children($pid);
}

# The resident set size of a process in kB (VmRSS of /proc), or undef if
# it is gone (or the pid undef): a function, for the memory tests.
sub vmrss {
	my ($pid) = @_;
	return undef unless defined $pid;
	open my $fh, '<', "/proc/$pid/status" or return undef;
	local $/;
	my ($kb) = (<$fh> // '') =~ /^VmRSS:\s+(\d+)\s+kB/m;
	return $kb;
}

# host:port pairs of the "listen" lines of nginx.conf
sub _listen_addrs {
	my ($self) = @_;
	my %seen;
	my $conf = $self->read_file('nginx.conf');
	while ($conf =~ /^\s*listen\s+([^\s;]+)([^;]*)/mg) {
		my ($l, $rest) = ($1, $2);
		next if $l =~ /^unix:/ || $rest =~ /\budp\b/;
		my ($h, $p) = $l =~ /^(.*):(\d+)$/ ? ($1, $2)
			: $l =~ /^\d+$/ ? ('*', $l) : next;
		$h = '127.0.0.1' if $h eq '*' || $h eq '0.0.0.0';
		$h = '::1' if $h eq '[::]';
		$seen{"$h:$p"} = 1;
	}
	return sort keys %seen;
}

sub _wait_listen {
	my ($self, $deadline) = @_;
	for my $addr ($self->_listen_addrs) {
		my $left = $deadline - time;
		$self->waitforsocket($addr, $left > 0.5 ? $left : 0.5)
			or die $self->_failed("$addr not accepting");
	}
}

sub stop {
	my ($self) = @_;
	return $self unless $self->{started};
	if (my $pid = $self->master_pid) {
		my @kids = children($pid);
		kill 'QUIT', $pid;
		unless (_wait_gone(10 * $SLOW, $pid)) {
			kill 'TERM', $pid;
			_wait_gone(5 * $SLOW, $pid) or kill 'KILL', $pid, @kids;
		}
		_wait_gone(5 * $SLOW, @kids);
	}
	waitpid($self->{launcher}, 0) if $self->{launcher};
	delete $self->{launcher};
	$self->{started} = 0;
	return $self;
}

sub _wait_gone {
	my ($timeout, @pids) = @_;
	my $deadline = time + $timeout;
	while (grep { _alive($_) } @pids) {
		return 0 if time > $deadline;
		sleep 0.02;
	}
	return 1;
}

# HUP the master, then wait until none of the old workers is left and
# a new generation of workers runs; or, with expect_failure => 1,
# until the master logs an [emerg] and keeps its old workers.
sub reload {
	my ($self, %opt) = @_;
	my $pid = $self->master_pid or die "nginx is not running\n";
	my %old = map { $_ => 1 } children($pid);
	my $from = -s "$self->{dir}/error.log" // 0;
	kill 'HUP', $pid;
	my $deadline = time + 10 * $SLOW;
	while (1) {
		my @now = children($pid);
		# old_may_stay: an old worker still busy may outlive the reload
		my $new = $opt{old_may_stay} ? grep { !$old{$_} } @now
			: @now && !grep { $old{$_} } @now;
		if ($opt{expect_failure}) {
			die $self->_failed('reload did not fail') if $new;
			last if $self->_log_since($from) =~ /\[emerg\]/;
		} else {
			last if $new;
		}
		die $self->_failed('reload timed out') if time > $deadline;
		sleep 0.02;
	}
	$self->_check_mode($pid);
	$self->_wait_listen(time + 5 * $SLOW);
	return $self;
}

sub _log_since {
	my ($self, $offset) = @_;
	open my $fh, '<', "$self->{dir}/error.log" or return '';
	seek $fh, $offset, 0;
	local $/;
	return scalar <$fh> // '';
}

# Move error.log aside to error.log.<n>, which the alerts check does
# not read, and have nginx reopen its logs (USR1).
sub rotate_log {
	my ($self) = @_;
	my $d = $self->{dir};
	my $n = ++$self->{rotated};
	rename "$d/error.log", "$d/error.log.$n" or die "rename: $!\n";
	my $pid = $self->master_pid or die "nginx is not running\n";
	kill 'USR1', $pid;
	my $deadline = time + 5 * $SLOW;
	until (-e "$d/error.log") {
		die $self->_failed('logs not reopened') if time > $deadline;
		sleep 0.02;
	}
	return $self;
}

sub cleanup {
	my ($self) = @_;
	return if $$ != $self->{owner} || $self->{cleaned}++;
	local ($?, $!, $@);
	$self->stop;
	$self->stop_daemons;
	$self->check_alerts if $self->{planned} && !$self->{alerts_done};
	Test::More::diag("test dir left in $self->{dir}")
		if $ENV{TEST_NGINX_LEAVE};
}

sub DESTROY { $_[0]->cleanup }

sub check_alerts {
	my ($self) = @_;
	$self->{alerts_done} = 1;
	my @lines;
	for my $f ('error.log', 'stderr') {
		next unless -e "$self->{dir}/$f";
		push @lines, grep { /$ALERTS/ }
			split /\n/, $self->read_file($f);
	}
	push @lines, $self->_sanitizer_reports, $self->_valgrind_reports;
	my $tb = Test::More->builder;
	$tb->todo_start('alerts') if $self->{todo_alerts};
	Test::More::is(join("\n", @lines), '', 'no alerts in error.log');
	$tb->todo_end if $self->{todo_alerts};
}

# Reports of ASan and UBSan (log_path): the files exist only if there
# is something to report, which is shown (the first 40 lines of each).
sub _sanitizer_reports {
	my ($self) = @_;
	my @out;
	for my $f (sort glob "$self->{dir}/sanitizer.*") {
		my $text = _slurp($f) // next;
		next unless $text =~ /\S/;
		my @l = split /\n/, $text;
		splice @l, 40 if @l > 40;
		push @out, "--- $f:", @l;
	}
	return @out;
}

# Valgrind logs: memory errors anywhere (ERROR SUMMARY), and blocks
# "definitely lost" that the module allocated (a frame of ngx_http_mtasts*
# or mtasts_*): nginx itself leaks some memory at exit.
sub _valgrind_reports {
	my ($self) = @_;
	my @out;
	for my $f (sort glob "$self->{dir}/valgrind.*.log") {
		my $text = _slurp($f) // next;
		my @blocks = split /^==\d+==\s*\n/m, $text;
		my @bad;
		for my $blk (@blocks) {
			if ($blk =~ /definitely lost in loss record/) {
				push @bad, $blk if $blk =~ $MODULE_FRAMES;
			} elsif ($blk =~ $VALGRIND_ERROR) {
				push @bad, $blk;
			}
		}
		my ($errors) = $text =~ /ERROR SUMMARY: (\d+) errors/;
		next unless @bad || ($errors // 0) > 0;
		my @l = map { split /\n/ } @bad;
		splice @l, 60 if @l > 60;
		push @out, "--- $f:", @l,
			'ERROR SUMMARY: ' . ($errors // '?') . ' errors';
	}
	return @out;
}

sub _slurp {
	my ($f) = @_;
	open my $fh, '<', $f or return undef;
	local $/;
	return scalar <$fh> // '';
}

# "nginx -t" of a config text, expanded like nginx.conf but with its
# own error log and pid file so nothing leaks into error.log.

sub test_config {
	my ($self, $conf) = @_;
	my $n = ++$self->{nconf};
	my $d = $self->{dir};
	$self->write_file("test-$n.conf",
		$self->_expand($conf, "$d/test-$n.log", "$d/test-$n.pid"));
	my ($rc, $out, $err) = capture([$self->_nginx, '-t',
		'-p', "$d/", '-c', "$d/test-$n.conf"], timeout => 60 * $SLOW);
	return ($rc, $err . $out);
}

sub nginx_t_fails {
	my ($self, $conf, $re, $name) = @_;
	my ($rc, $out) = $self->test_config($conf);
	Test::More::ok($rc != 0 && $out =~ $re, $name)
		or Test::More::diag("exit $rc, output:\n$out");
	return $out;
}

sub nginx_t_ok {
	my ($self, $conf, $name) = @_;
	my ($rc, $out) = $self->test_config($conf);
	Test::More::ok($rc == 0, $name)
		or Test::More::diag("exit $rc, output:\n$out");
	return $out;
}

# Sockets, raw HTTP and curl; all of them inside the netns if any.

sub _in_ns {
	my ($self, $code) = @_;
	my $ns = $self->netns;
	return $code->() unless defined $ns;
	require Test::MtaSts::Netns;
	return Test::MtaSts::Netns::within($ns, $code);
}

sub _connect {
	my ($self, $addr, $timeout) = @_;
	my ($h, $p) = $addr =~ /^\[?(.*?)\]?:(\d+)$/ or die "addr $addr\n";
	return $self->_in_ns(sub {
		IO::Socket::IP->new(PeerHost => $h, PeerPort => $p,
			Proto => 'tcp', Timeout => $timeout // 5);
	});
}

sub waitforsocket {
	my ($self, $addr, $timeout) = @_;
	my $deadline = time + ($timeout // 5 * $SLOW);
	while (time < $deadline) {
		return 1 if $self->_connect($addr, 1);
		sleep 0.05;
	}
	return 0;
}

sub http {
	my ($self, $req, %opt) = @_;
	my $s = $opt{socket};
	$s //= $self->_connect('127.0.0.1:' . ($opt{port}
		// $self->port(8080))) or return undef;
	if ($opt{ssl}) {
		require IO::Socket::SSL;
		IO::Socket::SSL->start_SSL($s,
			SSL_hostname => $opt{sni},
			SSL_verify_mode => $opt{cacert} ? 1 : 0,
			$opt{cacert} ? (SSL_ca_file => $opt{cacert}) : ())
			or return undef;
	}
	my $ok = _with_timeout($opt{timeout}, sub {
		my $off = 0;
		while ($off < length $req) {
			my $n = syswrite($s, $req, length($req) - $off, $off);
			die "write: $!\n" unless defined $n;
			$off += $n;
		}
	});
	return undef unless $ok;
	return $s if $opt{start};
	return $self->http_end($s, %opt);
}

sub http_end {
	my ($self, $s, %opt) = @_;
	my $reply = '';
	_with_timeout($opt{timeout}, sub {
		while (1) {
			my $n = sysread($s, my $buf, 65536);
			die "read: $!\n" unless defined $n;
			last unless $n;
			$reply .= $buf;
		}
	});
	close $s;
	return $reply;
}

sub _with_timeout {
	my ($timeout, $code) = @_;
	my $ok = eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm(int(($timeout // 5) * $SLOW + 0.5));
		$code->();
		alarm(0);
		1;
	};
	alarm(0);
	Test::More::diag("http: $@") unless $ok;
	return $ok;
}

sub http_get {
	my ($self, $uri, %opt) = @_;
	my $host = delete $opt{host} // 'localhost';
	return $self->http("GET $uri HTTP/1.0\r\nHost: $host\r\n\r\n", %opt);
}

# curl(@curl_args) with the conveniences "resolve => [...]" and
# "cacert => file" anywhere in the list; returns a hash ref with
# status, headers, header_text, body, raw, exit and stderr.
sub curl {
	my ($self, @args) = @_;
	my @cmd = ('curl', '-sS', '--max-time', 10 * $SLOW, '-i');
	my $follow;
	while (@args) {
		my $a = shift @args;
		if ($a eq 'resolve') {
			my $r = shift @args;
			push @cmd, map { ('--resolve', $_) } ref $r ? @$r : $r;
		} elsif ($a eq 'cacert') {
			push @cmd, '--cacert', shift @args;
		} else {
			$follow = 1 if $a =~ /^(-L|--location)$/;
			push @cmd, $a;
		}
	}
	my ($rc, $out, $err) = capture([$self->_ns_prefix, @cmd],
		timeout => 20 * $SLOW);
	my $r = parse_curl($out, $follow);
	@$r{qw(exit stderr)} = ($rc, $err);
	return $r;
}

sub parse_curl {
	my ($raw, $follow) = @_;
	my $r = { raw => $raw, headers => {}, header_text => '',
		body => $raw, status => undef };
	while ($r->{body} =~ /\AHTTP\/[\d.]+ (\d{3})/) {
		my $status = $1;
		my ($head, $body) = split /\r?\n\r?\n/, $r->{body}, 2;
		@$r{qw(status header_text body)} = ($status, $head, $body);
		$r->{body} //= '';
		last unless $status =~ /^1/ || $follow && $status =~ /^3/;
	}
	my %h;
	for (split /\r?\n/, $r->{header_text}) {
		next unless /^([^:\s]+):\s*(.*?)\s*$/;
		my $k = lc $1;
		$h{$k} = exists $h{$k} ? "$h{$k}, $2" : $2;
	}
	$r->{headers} = \%h;
	return $r;
}

# Helper daemons (fake servers): a code ref run in a child process or
# a command array; killed at stop_daemons() or DESTROY.

sub run_daemon {
	my ($self, $what, @args) = @_;
	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		open STDIN, '<', '/dev/null';
		if (ref $what eq 'CODE') {
			my $ns = $self->netns;
			if (defined $ns) {
				require Test::MtaSts::Netns;
				Test::MtaSts::Netns::enter($ns);
			}
			eval { $what->(@args); 1 } or warn $@;
			POSIX::_exit(0);
		}
		exec $self->_ns_prefix, @$what
			or POSIX::_exit(127);
	}
	push @{$self->{daemons}}, $pid;
	return $pid;
}

sub stop_daemons {
	my ($self) = @_;
	my @pids = @{$self->{daemons}};
	$self->{daemons} = [];
	kill_and_reap(@pids);
	return $self;
}

# Plain functions shared by the other harness modules.

# TERM the (child) processes, KILL them after 5 s; reaps them.
sub kill_and_reap {
	my @pids = @_;
	kill 'TERM', @pids;
	my $deadline = time + 5;
	while (@pids) {
		@pids = grep { waitpid($_, WNOHANG) == 0 } @pids;
		last unless @pids;
		if (time > $deadline) {
			kill 'KILL', @pids;
			waitpid($_, 0) for @pids;
			last;
		}
		sleep 0.02;
	}
}

# capture([cmd, args...], timeout => s, env => {...})
# runs a command without a shell; returns (exit, stdout, stderr),
# exit is -1 if it was killed by a signal or the timeout.
sub capture {
	my ($cmd, %opt) = @_;
	my @fh = map { scalar tempfile() } 1 .. 2;
	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>&', $fh[0];
		open STDERR, '>&', $fh[1];
		@ENV{keys %{$opt{env}}} = values %{$opt{env}} if $opt{env};
		exec @$cmd
			or POSIX::_exit(127);
	}
	local $?;
	my $deadline = time + ($opt{timeout} // 60);
	while (waitpid($pid, WNOHANG) == 0) {
		if (time > $deadline) {
			kill_and_reap($pid);
			$? = -1;
			last;
		}
		sleep 0.01;
	}
	my $rc = $? == -1 || $? & 127 ? -1 : $? >> 8;
	my @out = map { seek $_, 0, 0; local $/; scalar <$_> // '' } @fh;
	return ($rc, @out);
}

1;
