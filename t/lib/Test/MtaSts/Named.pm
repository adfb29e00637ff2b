package Test::MtaSts::Named;

# A real primary DNS server that accepts signed updates: BIND 9's named,
# on loopback, with zones given as text, TSIG keys made by tsig-keygen and
# an update-policy per zone.
#
#   my $ns = Test::MtaSts::Named->start(dir => $dir, port => $port,
#       keys => ['nginx-key'],
#       zones => { 'example.test' => { text => $zone_text,
#           grant => ['nginx-key name _mta-sts.example.test. TXT'] } });
#   $ns->key_file('nginx-key');      # the file tsig-keygen wrote
#   $ns->txt('_mta-sts.example.test');   # the TXT strings, sorted
#   $ns->log;                        # what named logged (updates too)
#
# With netns => a Test::MtaSts::Netns, named runs (and is asked) there.

use strict;
use warnings;

use Net::DNS;
use POSIX qw(WNOHANG);
use Test::Nginx ();
use Time::HiRes qw(sleep time);

sub start {
	my ($class, %opt) = @_;
	my $dir = $opt{dir} or die "named: dir needed\n";
	mkdir $dir;
	my $self = Test::Nginx::track(bless {
		dir => $dir,
		port => $opt{port},
		zones => $opt{zones} || {},
		keys => $opt{keys} || [],
		netns => $opt{netns},	# a Test::MtaSts::Netns, or none
		owner => $$,
	}, $class);
	$self->_write_config;
	$self->_spawn;
	$self->_wait_ready($opt{timeout} // 20);
	return $self;
}

sub port { $_[0]{port} }
sub key_file { "$_[0]{dir}/$_[1].key" }

sub _write_file {
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "write $path: $!\n";
	print $fh $text;
	close $fh or die "close $path: $!\n";
}

sub _write_config {
	my ($self) = @_;
	my $d = $self->{dir};
	my $conf = '';
	for my $key (@{$self->{keys}}) {
		my ($rc, $out, $err) = Test::Nginx::capture(
			['tsig-keygen', '-a', 'hmac-sha256', $key]);
		die "tsig-keygen $key: $rc $err\n" if $rc != 0;
		_write_file("$d/$key.key", $out);
		chmod 0600, "$d/$key.key";
		$conf .= qq{include "$d/$key.key";\n};
	}
	$conf .= <<"EOF";
options {
	directory "$d";
	pid-file "$d/named.pid";
	listen-on port $self->{port} { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	allow-query { any; };
	dnssec-validation no;
	notify no;
};
controls { };
logging {
	channel all { file "$d/named.log"; print-time yes; severity info; };
	category default { all; };
	category queries { all; };
	category update { all; };
	category update-security { all; };
	category security { all; };
};
EOF
	for my $zone (sort keys %{$self->{zones}}) {
		my $z = $self->{zones}{$zone};
		_write_file("$d/$zone.zone", $z->{text});
		my $grant = join '', map { "\t\tgrant $_;\n" } @{$z->{grant} || []};
		$conf .= "zone \"$zone\" {\n\ttype primary;\n"
			. "\tfile \"$d/$zone.zone\";\n"
			. ($grant ? "\tupdate-policy {\n$grant\t};\n" : '')
			. "};\n";
	}
	_write_file("$d/named.conf", $conf);
}

sub _spawn {
	my ($self) = @_;
	my $d = $self->{dir};
	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', "$d/named.stderr";
		open STDERR, '>&', \*STDOUT;
		exec $self->{netns} ? ('ip', 'netns', 'exec',
				$self->{netns}->name) : (),
			'named', '-f', '-u', 'root', '-n', '1',
			'-c', "$d/named.conf"
			or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
}

sub _wait_ready {
	my ($self, $timeout) = @_;
	my ($zone) = sort keys %{$self->{zones}};
	my $deadline = time + $timeout;
	while (1) {
		if (waitpid($self->{pid}, WNOHANG) == $self->{pid}) {
			delete $self->{pid};
			die "named exited with $?\n" . $self->log;
		}
		my $reply = $self->query($zone, 'SOA', 0.3);
		return if $reply && $reply->header->rcode eq 'NOERROR';
		die "named does not answer\n" . $self->log if time > $deadline;
		sleep 0.1;
	}
}

sub log {
	my ($self) = @_;
	my $out = '';
	for my $f ('named.stderr', 'named.log') {
		open my $fh, '<', "$self->{dir}/$f" or next;
		local $/;
		$out .= "--- $f:\n" . (<$fh> // '');
	}
	return $out;
}

sub query {
	my ($self, $name, $type, $timeout) = @_;
	$timeout //= 2;
	my $res = Net::DNS::Resolver->new(
		nameservers => ['127.0.0.1'], port => $self->{port},
		recurse => 0, retry => 1, retrans => $timeout,
		udp_timeout => $timeout, tcp_timeout => $timeout);
	return $res->send($name, $type) unless $self->{netns};
	return $self->{netns}->within(sub { $res->send($name, $type) });
}

# the TXT records at a name, each its strings joined, sorted
sub txt {
	my ($self, $name) = @_;
	my $reply = $self->query($name, 'TXT') or return ();
	return sort map { join '', $_->txtdata }
		grep { $_->type eq 'TXT' } $reply->answer;
}

# the updates named applied to a zone: its "adding an RR" log lines
sub updates {
	my ($self, $zone) = @_;
	open my $fh, '<', "$self->{dir}/named.log" or return 0;
	my $n = 0;
	while (<$fh>) {
		$n++ if /updating zone '\Q$zone\E\/IN': adding an RR/;
	}
	return $n;
}

sub stop {
	my ($self) = @_;
	my $pid = delete $self->{pid} or return $self;
	Test::Nginx::kill_and_reap($pid);
	return $self;
}

sub cleanup {
	my ($self) = @_;
	return if $$ != $self->{owner};
	local ($?, $!, $@);
	$self->stop;
}

sub DESTROY { $_[0]->cleanup }

1;
