package Test::MtaSts::FakeDNS;

# A scripted DNS server for tests, on Net::DNS::Nameserver (1.36, as in
# Debian 12): a code ref chooses the answer to each query, which may be
# any rcode, any records, a header flag such as TC, a delay (UDP), or no
# answer at all.  It listens on UDP and TCP; every query is logged to a
# file, so that the test can count them.
#
#   my $dns = Test::MtaSts::FakeDNS->new(port => $t->port(5353),
#       log => $t->testdir . '/dns.log', handler => sub {
#           my ($q) = @_;   # { name, type, proto => 'udp' | 'tcp' }
#           return undef;                           # never answer
#           return { rcode => 'SERVFAIL' };
#           return { answer => [dns_rr('a.test A 127.0.0.1')],
#               authority => [...], additional => [...],
#               header => { tc => 1 }, delay => 0.3 };
#       });
#   $dns->start($t);    # a daemon of the harness; waits until it answers
#   $dns->count(name => '_mta-sts.a.test', type => 'TXT', proto => 'udp');
#
# Names are lower case, without the trailing dot.  Over UDP an answer is
# cut to 512 bytes, or to the EDNS size of the query, with TC set, as a
# real server does.  A delay holds the answer back without blocking the
# other queries; over TCP answers are never delayed.

use strict;
use warnings;

use Exporter qw(import);
use List::Util qw(min);
use Net::DNS ();
use Net::DNS::Nameserver;
use POSIX ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(dns_rr);

my $READY = 'ready.fakedns';

# not "rr": Net::DNS exports an rr() that makes a query
sub dns_rr { Net::DNS::RR->new(@_) }

sub new {
	my ($class, %opt) = @_;
	die "FakeDNS: port, log and handler needed\n"
		unless $opt{port} && $opt{log} && $opt{handler};
	die "FakeDNS: Net::DNS::Nameserver without loop_once "
		. "($Net::DNS::VERSION)\n"
		unless Net::DNS::Nameserver->can('loop_once');
	open my $fh, '>', $opt{log} or die "FakeDNS: $opt{log}: $!\n";
	close $fh;
	return bless {
		address => $opt{address} // '127.0.0.1',
		port => $opt{port},
		log => $opt{log},
		handler => $opt{handler},
	}, $class;
}

sub port { $_[0]{port} }
sub address { $_[0]{address} }

sub start {
	my ($self, $t, $timeout) = @_;
	$t->run_daemon(sub { $self->serve });
	$self->wait_ready($timeout);
	return $self;
}

# in the child: never returns
sub serve {
	my ($self) = @_;
	$SIG{TERM} = $SIG{INT} = sub { POSIX::_exit(0) };

	my $ns;
	$ns = Test::MtaSts::FakeDNS::Server->new(
		LocalAddr => [$self->{address}],
		LocalPort => $self->{port},
		ReplyHandler => sub { $self->_reply($ns, @_) },
	) or die "FakeDNS: cannot listen on $self->{address}:$self->{port}\n";
	$ns->{fake_later} = [];

	while (1) {
		my $later = $ns->{fake_later};
		my $wait = 1;
		$wait = min($wait, map { $_->{at} - time } @$later) if @$later;
		$ns->loop_once($wait > 0 ? $wait : 0);

		my $now = time;
		for my $l (grep { $_->{at} <= $now } @$later) {
			$l->{sock}->send($l->{data}, 0, $l->{peer});
		}
		@$later = grep { $_->{at} > $now } @$later;
	}
}

sub _reply {
	my ($self, $ns, $qname, $qclass, $qtype, $peer, $query, $conn) = @_;
	my $name = lc $qname;
	$name =~ s/\.$//;
	my $proto = ($conn->{protocol} // 0)
		== (getprotobyname('udp'))[2] ? 'udp' : 'tcp';

	return ('NOERROR', [], [], []) if $name eq $READY;

	if (open my $fh, '>>', $self->{log}) {
		print $fh "$proto $name $qtype\n";
		close $fh;
	}

	my $ans = $self->{handler}->({ name => $name, type => $qtype,
		class => $qclass, proto => $proto, query => $query });

	return undef unless $ans;

	$ns->{fake_delay} = $ans->{delay} if $proto eq 'udp';

	return ($ans->{rcode} // 'NOERROR', $ans->{answer} || [],
		$ans->{authority} || [], $ans->{additional} || [],
		$ans->{header} || {});
}

# in the test: until it answers over both UDP and TCP
sub wait_ready {
	my ($self, $timeout) = @_;
	my $deadline = time + ($timeout // 5);
	my %ok;
	while (1) {
		for my $vc (0, 1) {
			next if $ok{$vc};
			my $res = Net::DNS::Resolver->new(
				nameservers => [$self->{address}],
				port => $self->{port}, usevc => $vc,
				recurse => 0, retry => 1, retrans => 1,
				udp_timeout => 0.3, tcp_timeout => 0.3);
			my $reply = $res->send($READY, 'A');
			$ok{$vc} = 1
				if $reply && $reply->header->rcode eq 'NOERROR';
		}
		return $self if $ok{0} && $ok{1};
		die "FakeDNS: no answer on $self->{address}:$self->{port} over "
			. join(' and ', map { $_ ? 'TCP' : 'UDP' }
				grep { !$ok{$_} } 0, 1) . "\n"
			if time > $deadline;
		sleep 0.05;
	}
}

# the queries so far: list of [proto, name, type]
sub queries {
	my ($self) = @_;
	open my $fh, '<', $self->{log} or return ();
	return map { chomp; [split / /] } <$fh>;
}

sub count {
	my ($self, %want) = @_;
	my %col = (proto => 0, name => 1, type => 2);
	return scalar grep {
		my $q = $_;
		!grep { lc $q->[$col{$_}] ne lc $want{$_} } keys %want;
	} $self->queries;
}


package Test::MtaSts::FakeDNS::Server;

# Net::DNS::Nameserver 1.36 limits UDP answers only for queries with EDNS,
# and has no way to answer later: both are done here, where the socket is
# known.

use strict;
use warnings;

use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time);

our @ISA = ('Net::DNS::Nameserver');

sub make_reply {
	my ($self, $query, $sock) = @_;
	$self->{fake_delay} = 0;
	my $reply = $self->SUPER::make_reply($query, $sock) or return;
	return $reply unless $sock->socktype == SOCK_DGRAM;

	my $max = $query ? $query->edns->size : 0;
	$reply->truncate($max > 512 ? $max : 512);

	my $delay = $self->{fake_delay};
	return $reply unless $delay;

	push @{$self->{fake_later}}, { at => time + $delay, sock => $sock,
		peer => $sock->peername, data => $reply->data };
	return;
}

1;
