package Test::MtaSts::DNS;

# A real authoritative DNS server (nsd) for zones given as text.
#
#   my $dns = Test::MtaSts::DNS->start_nsd(dir => $dir, port => $port,
#       zones => { 'example.test' => $zone_text }, netns => $ns);
#   my $reply = $dns->query('example.test', 'SOA');
#   $dns->stop;    # also done by DESTROY

use strict;
use warnings;

use Net::DNS;
use POSIX qw(WNOHANG);
use Test::Nginx ();
use Time::HiRes qw(sleep time);

# Zone text with SOA and NS records for $origin, then the records
# given, one per line, relative to $origin.
sub zone_text {
	my ($class, $origin, @rr) = @_;
	return join "\n", "\$ORIGIN $origin.", '$TTL 60',
		"\@ IN SOA ns.$origin. hostmaster.$origin. "
			. '1 3600 600 86400 60',
		"\@ IN NS ns.$origin.", 'ns IN A 127.0.0.1', @rr, '';
}

sub start_nsd {
	my ($class, %opt) = @_;
	my $dir = $opt{dir} or die "start_nsd: dir needed\n";
	my $self = Test::Nginx::track(bless {
		dir => $dir,
		port => $opt{port} // 53,
		address => $opt{address} // '127.0.0.1',
		netns => $opt{netns},	# a name or a Test::MtaSts::Netns
		zones => $opt{zones} || {},
		owner => $$,
	}, $class);
	$self->_write_config;
	$self->_spawn;
	$self->_wait_ready($opt{timeout} // 10);
	return $self;
}

sub port { $_[0]{port} }
sub pid { $_[0]{pid} }

sub _netns_name {
	my $ns = $_[0]{netns};
	return ref $ns ? $ns->name : $ns;
}

sub _write_file {
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "write $path: $!\n";
	print $fh $text;
	close $fh or die "close $path: $!\n";
	chmod 0644, $path;
}

sub _write_config {
	my ($self) = @_;
	my $d = $self->{dir};
	my $conf = <<"EOF";
server:
	ip-address: $self->{address}\@$self->{port}
	zonesdir: "$d"
	database: ""
	username: ""
	chroot: ""
	pidfile: "$d/nsd.pid"
	logfile: "$d/nsd.log"
	xfrdfile: "$d/xfrd.state"
	xfrdir: "$d"
	zonelistfile: "$d/zone.list"
	verbosity: 1
	server-count: 1
	hide-version: yes
	# response rate limiting would drop answers to our only client
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: no
EOF
	for my $zone (sort keys %{$self->{zones}}) {
		_write_file("$d/$zone.zone", $self->{zones}{$zone});
		$conf .= qq{zone:\n\tname: "$zone"\n}
			. qq{\tzonefile: "$zone.zone"\n};
	}
	_write_file("$d/nsd.conf", $conf);
}

sub _spawn {
	my ($self) = @_;
	my $d = $self->{dir};
	my $ns = $self->_netns_name;
	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', "$d/nsd.stderr";
		open STDERR, '>&', \*STDOUT;
		exec defined $ns ? ('ip', 'netns', 'exec', $ns) : (),
			'nsd', '-d', '-c', "$d/nsd.conf"
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
			die $self->_failed("nsd exited with $?");
		}
		my $reply = $self->query($zone // '.', 'SOA', 0.2);
		return if $reply && $reply->header->rcode ne 'SERVFAIL';
		die $self->_failed('nsd does not answer') if time > $deadline;
		sleep 0.1;
	}
}

sub _failed {
	my ($self, $why) = @_;
	my $out = "$why\n";
	for my $f ('nsd.stderr', 'nsd.log') {
		my $path = "$self->{dir}/$f";
		next unless -e $path;
		open my $fh, '<', $path or next;
		local $/;
		$out .= "--- $f:\n" . (<$fh> // '');
	}
	return $out;
}

# one query to our server; returns a Net::DNS::Packet or undef
sub query {
	my ($self, $name, $type, $timeout) = @_;
	$timeout //= 2;
	my $res = Net::DNS::Resolver->new(
		nameservers => [$self->{address}], port => $self->{port},
		recurse => 0, retry => 1, retrans => $timeout,
		udp_timeout => $timeout, tcp_timeout => $timeout);
	my $ns = $self->_netns_name;
	return $res->send($name, $type) unless defined $ns;
	require Test::MtaSts::Netns;
	return Test::MtaSts::Netns::within($ns,
		sub { $res->send($name, $type) });
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
