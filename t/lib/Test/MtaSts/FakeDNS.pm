package Test::MtaSts::FakeDNS;

# A scripted DNS server for tests, on Net::DNS::Nameserver (1.36, as in
# Debian 12): a code ref chooses the answer to each query, which may be
# any rcode, any records, a header flag such as TC, a delay (UDP), or no
# answer at all.  It listens on UDP and TCP; every query is logged to a
# file, so that the test can count them.  The start, the query log and
# the script helpers are those of Test::MtaSts::ScriptedDNS.
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
use Net::DNS::Nameserver;
use POSIX ();
use Test::MtaSts::ScriptedDNS qw(dns_rr txt soa kind);
use Time::HiRes qw(time);

our @ISA = ('Test::MtaSts::ScriptedDNS');
our @EXPORT_OK = qw(dns_rr txt soa kind);

# the delayed answers need loop_once()
sub new {
	my ($class, %opt) = @_;
	die "FakeDNS: Net::DNS::Nameserver without loop_once "
		. "($Net::DNS::VERSION)\n"
		unless Net::DNS::Nameserver->can('loop_once');
	return $class->SUPER::new(%opt);
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

	return ('NOERROR', [], [], []) if $name eq $self->ready_name;

	$self->log_query("$proto $name $qtype");

	my $ans = $self->{handler}->({ name => $name, type => $qtype,
		class => $qclass, proto => $proto, query => $query });

	return undef unless $ans;

	$ns->{fake_delay} = $ans->{delay} if $proto eq 'udp';

	return ($ans->{rcode} // 'NOERROR', $ans->{answer} || [],
		$ans->{authority} || [], $ans->{additional} || [],
		$ans->{header} || {});
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
