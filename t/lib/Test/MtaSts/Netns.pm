package Test::MtaSts::Netns;

# A throw-away network namespace with its own loopback and a
# resolv.conf pointing at 127.0.0.1 (for "ip netns exec").
#
#   my $ns = Test::MtaSts::Netns->new('e2e');
#   my ($rc, $out, $err) = $ns->exec('curl', ...);
#   my $pid = $ns->spawn('some-server', ...);
#   $ns->within(sub { ...sockets made here live in the netns... });
#
# DESTROY kills every process left in the namespace and deletes it.

use strict;
use warnings;

use File::Path qw(make_path remove_tree);
use POSIX ();
use Test::Nginx ();

my $PREFIX = 'tn-';
my $CLONE_NEWNET = 0x40000000;
my $seq = 0;

sub available {
	return 0 unless $> == 0;
	my $name = "${PREFIX}probe-$$";
	my ($rc) = Test::Nginx::capture(['ip', 'netns', 'add', $name]);
	return 0 if $rc;
	Test::Nginx::capture(['ip', 'netns', 'del', $name]);
	return 1;
}

sub new {
	my ($class, $label) = @_;
	_sweep_stale();
	my $name = $PREFIX . ($label // 'ns') . "-$$-" . ++$seq;
	_run('ip', 'netns', 'add', $name);
	my $self = Test::Nginx::track(bless {
		name => $name, pids => [], owner => $$ }, $class);
	_run('ip', 'netns', 'exec', $name, 'ip', 'link', 'set', 'lo', 'up');
	make_path("/etc/netns/$name");
	open my $fh, '>', "/etc/netns/$name/resolv.conf"
		or die "resolv.conf: $!\n";
	print $fh "nameserver 127.0.0.1\n";
	close $fh;
	return $self;
}

sub name { $_[0]{name} }

sub _run {
	my ($rc, $out, $err) = Test::Nginx::capture([@_]);
	die "@_: exit $rc: $err$out\n" if $rc;
	return $out;
}

# exec(@cmd) or exec({timeout => s, env => {...}}, @cmd)
# returns (exit, stdout, stderr)
sub exec {
	my ($self, @cmd) = @_;
	my %opt = ref $cmd[0] eq 'HASH' ? %{shift @cmd} : ();
	return Test::Nginx::capture(['ip', 'netns', 'exec', $self->{name},
		@cmd], %opt);
}

# spawn(@cmd) or spawn({log => file}, @cmd): a long-running process
# inside; its stdout and stderr go to the log (default: our stderr).
# The pid returned is the command's own: "ip netns exec" execs it.
sub spawn {
	my ($self, @cmd) = @_;
	my %opt = ref $cmd[0] eq 'HASH' ? %{shift @cmd} : ();
	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		open STDIN, '<', '/dev/null';
		if ($opt{log}) {
			open STDOUT, '>>', $opt{log};
			open STDERR, '>&', \*STDOUT;
		} else {
			open STDOUT, '>&', \*STDERR;
		}
		CORE::exec 'ip', 'netns', 'exec', $self->{name}, @cmd
			or POSIX::_exit(127);
	}
	push @{$self->{pids}}, $pid;
	return $pid;
}

# Run code with this process switched into the namespace; sockets
# created meanwhile stay in it after we switch back.
sub within {
	my ($self, $code) = @_;
	my $name = ref $self ? $self->{name} : $self;
	open my $home, '<', '/proc/self/ns/net' or die "netns: $!\n";
	my $want = wantarray;
	enter($name);
	my @r = eval { $want ? $code->() : scalar $code->() };
	my $err = $@;
	_setns($home);
	die $err if $err;
	return $want ? @r : $r[0];
}

# Switch this process into the namespace for good (forked children).
sub enter {
	my ($name) = @_;
	$name = $name->{name} if ref $name;
	open my $fh, '<', "/run/netns/$name" or die "netns $name: $!\n";
	_setns($fh);
}

sub _setns {
	my ($fh) = @_;
	syscall(_sys_setns(), fileno($fh), $CLONE_NEWNET) == 0
		or die "setns: $!\n";
}

sub _sys_setns {
	my $nr = eval { require 'syscall.ph'; SYS_setns() };
	return $nr if $nr;
	my %nr = (x86_64 => 308, aarch64 => 268, i686 => 346);
	return $nr{(POSIX::uname())[4]} // die "setns: unknown arch\n";
}

sub pids_inside {
	my ($name) = @_;
	my ($rc, $out) = Test::Nginx::capture(['ip', 'netns', 'pids', $name]);
	return grep { /^\d+$/ && $_ != $$ } split /\s+/, $out;
}

sub _destroy_ns {
	my ($name, @ours) = @_;
	Test::Nginx::kill_and_reap(@ours) if @ours;
	for my $sig ('TERM', 'KILL') {
		my @left = pids_inside($name) or last;
		kill $sig, @left;
		for (1 .. 250) {
			last unless pids_inside($name);
			select undef, undef, undef, 0.02;
		}
	}
	Test::Nginx::capture(['ip', 'netns', 'del', $name]);
	remove_tree("/etc/netns/$name");
}

# namespaces of ours whose test process died without cleaning up
sub _sweep_stale {
	my ($rc, $out) = Test::Nginx::capture(['ip', 'netns', 'list']);
	while ($out =~ /^(\Q$PREFIX\E\S*-(\d+)-\d+)\b/mg) {
		my ($name, $pid) = ($1, $2);
		_destroy_ns($name) unless kill 0, $pid;
	}
}

sub cleanup {
	my ($self) = @_;
	return if $$ != $self->{owner} || $self->{cleaned}++;
	local ($?, $!, $@);
	_destroy_ns($self->{name}, @{$self->{pids}});
}

sub DESTROY { $_[0]->cleanup }

1;
