package Test::MtaSts::DNSSEC;

# A small DNSSEC-signed tree for the DANE tests, made at test time: a
# root zone "." signed with ldns-signzone (ldnsutils) holding the names
# given, child zones delegated from it (signed with a DS in the root,
# unsigned, or signed with signatures that have expired), all served by
# one nsd; and unbound validating from the root's DS, as a DANE sender's
# resolver does.
#
#   my $tree = Test::MtaSts::DNSSEC->new(dir => $dir,
#       nsd_port => $p1, port => $p2);
#   $tree->root('secure.test. IN MX 10 mail.secure.test.', ...);
#   $tree->child('insecure.test', signed => 0, records => [...]);
#   $tree->child('bogus.test', expired => 1, records => [...]);
#   $tree->spoil('mail.secure.test', 'AAAA');  # that RRSIG made wrong
#   $tree->start;
#   $tree->resolver;            # "127.0.0.1:$p2", the validating one
#   $tree->authoritative;       # "127.0.0.1:$p1", nsd, which does not
#   my $reply = $tree->query('secure.test', 'MX');     # through unbound
#
# Records are given as zone file lines with absolute names.

use strict;
use warnings;

use File::Path qw(make_path);
use Net::DNS;
use POSIX qw(strftime);
use Test::Nginx ();
use Test::MtaSts::DNS ();
use Time::HiRes qw(sleep time);

sub new {
	my ($class, %opt) = @_;
	make_path($opt{dir});
	return Test::Nginx::track(bless {
		dir => $opt{dir}, nsd_port => $opt{nsd_port}, port => $opt{port},
		root => [], children => [], owner => $$,
	}, $class);
}

sub root {
	my ($self, @rr) = @_;
	push @{$self->{root}}, @rr;
	return $self;
}

sub child {
	my ($self, $name, %opt) = @_;
	push @{$self->{children}}, { name => $name, signed => 1, %opt };
	return $self;
}

# the signature over one RRset of the root zone spoiled after signing:
# that RRset is bogus, the rest of its name secure
sub spoil {
	my ($self, $name, $type) = @_;
	push @{$self->{broken}}, [$name, $type];
	return $self;
}

sub _spoil {
	my ($self, $file) = @_;
	return unless $self->{broken};
	my $path = "$self->{dir}/$file";
	my $text = _read($path);
	for my $b (@{$self->{broken}}) {
		my ($name, $type) = @$b;
		$text =~ s{^(\Q$name.\E[ \t]+\d+[ \t]+IN[ \t]+RRSIG[ \t]+$type
				[ \t][^\n]*[ \t][^\s]{8})([^\s])}
			{$1 . ($2 eq 'A' ? 'B' : 'A')}mex
			or die "no RRSIG $type of $name in $file\n";
	}
	_write($path, $text);
}

sub resolver { "127.0.0.1:$_[0]{port}" }
sub authoritative { "127.0.0.1:$_[0]{nsd_port}" }

sub _run {
	my ($self, @cmd) = @_;
	my ($rc, $out, $err) = Test::Nginx::capture([@cmd], timeout => 60);
	die "@cmd: exit $rc: $err$out\n" if $rc;
	return $out;
}

sub _write {
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "write $path: $!\n";
	print $fh $text;
	close $fh or die "close $path: $!\n";
}

sub _read {
	my ($path) = @_;
	open my $fh, '<', $path or die "read $path: $!\n";
	local $/;
	return scalar <$fh>;
}

sub _date { strftime('%Y%m%d%H%M%S', gmtime(time + $_[0] * 86400)) }

# a zone signed with a key pair of its own; returns (file, DS record)
sub _sign {
	my ($self, $origin, $text, $expired) = @_;
	my $d = $self->{dir};
	my $file = $origin eq '.' ? 'root' : $origin;
	_write("$d/$file.zone", $text);

	chomp(my $ksk = $self->_run('sh', '-c', 'cd "$1" && exec ldns-keygen '
		. '-a ECDSAP256SHA256 -k "$2"', 'sh', $d, $origin));
	chomp(my $zsk = $self->_run('sh', '-c', 'cd "$1" && exec ldns-keygen '
		. '-a ECDSAP256SHA256 "$2"', 'sh', $d, $origin));

	$self->_run('ldns-signzone', '-o', $origin,
		'-i', _date($expired ? -30 : -1), '-e', _date($expired ? -1 : 30),
		'-f', "$d/$file.zone.signed", "$d/$file.zone",
		"$d/$ksk", "$d/$zsk");

	my $ds = _read("$d/$ksk.ds");
	$ds =~ s/\s+\z//;
	return ("$file.zone.signed", $ds);
}

sub _soa {
	my ($origin) = @_;
	my $apex = $origin eq '.' ? '.' : "$origin.";
	my $ns = $origin eq '.' ? 'ns.' : "ns.$apex";
	my $mbox = $origin eq '.' ? 'hostmaster.' : "hostmaster.$apex";
	return ('$TTL 60', "$apex IN SOA $ns $mbox 1 3600 600 86400 60",
		"$apex IN NS $ns", "$ns IN A 127.0.0.1");
}

sub start {
	my ($self) = @_;
	my $d = $self->{dir};
	my (%zones, @root);

	for my $c (@{$self->{children}}) {
		my $text = join "\n", _soa($c->{name}), @{$c->{records} || []}, '';
		my $file = "$c->{name}.zone";
		push @root, "$c->{name}. IN NS ns.$c->{name}.",
			"ns.$c->{name}. IN A 127.0.0.1";
		if ($c->{signed}) {
			my $ds;
			($file, $ds) = $self->_sign($c->{name}, $text, $c->{expired});
			push @root, $ds;
		} else {
			_write("$d/$file", $text);
		}
		$zones{"$c->{name}."} = $file;
	}

	my ($file, $ds) = $self->_sign('.', join("\n", _soa('.'), @root,
		@{$self->{root}}, ''));
	$self->_spoil($file);
	$zones{'.'} = $file;
	_write("$d/root.ds", "$ds\n");

	$self->_nsd(%zones);
	$self->_unbound;
	return $self;
}

sub _nsd {
	my ($self, %zones) = @_;
	my $d = $self->{dir};
	my $conf = <<"EOF";
server:
	ip-address: 127.0.0.1\@$self->{nsd_port}
	zonesdir: "$d"
	database: ""
	username: ""
	chroot: ""
	pidfile: "$d/nsd.pid"
	logfile: "$d/nsd.log"
	xfrdfile: "$d/xfrd.state"
	xfrdir: "$d"
	zonelistfile: "$d/zone.list"
	server-count: 1
	rrl-ratelimit: 0
	rrl-whitelist-ratelimit: 0
remote-control:
	control-enable: no
EOF
	$conf .= qq{zone:\n\tname: "$_"\n\tzonefile: "$zones{$_}"\n}
		for sort keys %zones;
	_write("$d/nsd.conf", $conf);
	$self->{nsd} = $self->_spawn("$d/nsd.out", 'nsd', '-d', '-c',
		"$d/nsd.conf");
	$self->_wait($self->{nsd_port}, '.', 'SOA', 0, 'nsd', "$d/nsd.log");
}

sub _unbound {
	my ($self) = @_;
	my $d = $self->{dir};

	# "test." is one of unbound's default local zones (RFC 6761)

	_write("$d/unbound.conf", <<"EOF");
server:
	interface: 127.0.0.1
	port: $self->{port}
	do-daemonize: no
	chroot: ""
	username: ""
	directory: "$d"
	pidfile: "$d/unbound.pid"
	logfile: "$d/unbound.log"
	use-syslog: no
	verbosity: 1
	val-log-level: 2
	log-queries: yes
	num-threads: 1
	so-reuseport: no
	do-not-query-localhost: no
	qname-minimisation: no
	module-config: "validator iterator"
	trust-anchor-file: "$d/root.ds"
	access-control: 127.0.0.0/8 allow
	local-zone: "test." nodefault
remote-control:
	control-enable: no
stub-zone:
	name: "."
	stub-addr: 127.0.0.1\@$self->{nsd_port}
EOF
	$self->{unbound} = $self->_spawn("$d/unbound.out", 'unbound', '-d',
		'-c', "$d/unbound.conf");
	$self->_wait($self->{port}, '.', 'NS', 1, 'unbound',
		"$d/unbound.log");
}

sub _spawn {
	my ($self, $log, @cmd) = @_;
	my $pid = fork // die "fork: $!\n";
	if (!$pid) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $log;
		open STDERR, '>&', \*STDOUT;
		exec @cmd or POSIX::_exit(127);
	}
	return $pid;
}

sub _wait {
	my ($self, $port, $name, $type, $rd, $what, $log) = @_;
	my $deadline = time + 10 * Test::Nginx::slow();
	while (1) {
		my $reply = _query($port, $name, $type, $rd);
		return if $reply && $reply->header->rcode eq 'NOERROR';
		if (time > $deadline) {
			my $l = -e $log ? _read($log) : '';
			die "$what does not answer for $name $type\n$l";
		}
		sleep 0.1;
	}
}

sub _query {
	my ($port, $name, $type, $rd) = @_;
	my $res = Net::DNS::Resolver->new(nameservers => ['127.0.0.1'],
		port => $port, recurse => $rd, dnssec => 1, adflag => 1,
		retry => 1, retrans => 1, udp_timeout => 2, tcp_timeout => 2);
	return $res->send($name, $type);
}

# a query through the validating resolver: a Net::DNS::Packet or undef
sub query {
	my ($self, $name, $type) = @_;
	return _query($self->{port}, $name, $type, 1);
}

sub cleanup {
	my ($self) = @_;
	return if $$ != $self->{owner} || $self->{cleaned}++;
	local ($?, $!, $@);
	Test::Nginx::kill_and_reap(grep { defined } delete @$self{qw(unbound
		nsd)});
}

sub DESTROY { $_[0]->cleanup }

1;
