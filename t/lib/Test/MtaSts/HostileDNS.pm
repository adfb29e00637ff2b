package Test::MtaSts::HostileDNS;

# A scripted DNS server on plain UDP and TCP sockets, for answers that no
# DNS library would build: a code ref chooses the answer to each query, as
# with Test::MtaSts::FakeDNS, and may also change the bytes of the answer
# or send bytes of its own.  Every query is logged to a file, so that the
# test can count them.  The start, the query log and the script
# helpers are those of Test::MtaSts::ScriptedDNS.
#
#   my $dns = Test::MtaSts::HostileDNS->new(port => $t->port(5353),
#       log => $t->testdir . '/dns.log', handler => sub {
#           my ($q) = @_;   # { name, type, proto => 'udp' | 'tcp', id,
#                           #   query => Net::DNS::Packet, data => bytes }
#           return undef;                           # never answer
#           return { rcode => 'SERVFAIL' };
#           return { answer => [dns_rr('a.test A 127.0.0.1')],
#               authority => [...], additional => [...],
#               header => { tc => 1 }, delay => 0.3,
#               edit => sub { my ($bytes) = @_; ...; return $bytes } };
#           return { data => $bytes };              # sent as they are
#           return { close => 1 };                  # TCP: close, no answer
#           return { answer => [...], close_after => 1 };   # TCP: answer,
#                                                           # then close
#       });
#   $dns->start($t);    # a daemon of the harness; waits until it answers
#   $dns->count(name => '_mta-sts.a.test', type => 'TXT', proto => 'udp');
#
# Names are lower case, without the trailing dot.  Over UDP an answer is
# cut to 512 bytes (whole records) with TC set, as a server does for a
# query without EDNS; "edit" gets the bytes after that.  Over TCP the
# length prefix is added to whatever is sent.  A delay holds the answer
# back without blocking the other queries.  Queries that cannot be parsed
# are logged as "<proto> - -" and not answered.

use strict;
use warnings;

use Exporter qw(import);
use IO::Select;
use IO::Socket::IP;
use List::Util qw(min);
use Net::DNS ();
use POSIX ();
use Test::MtaSts::ScriptedDNS qw(dns_rr txt soa kind);
use Time::HiRes qw(time);

our @ISA = ('Test::MtaSts::ScriptedDNS');
our @EXPORT_OK = qw(dns_rr txt soa kind);

# in the child: never returns; ends with the test that started it
sub serve {
	my ($self) = @_;
	$SIG{TERM} = $SIG{INT} = sub { POSIX::_exit(0) };
	$SIG{PIPE} = 'IGNORE';

	my %addr = (LocalHost => $self->{address},
		LocalPort => $self->{port}, ReuseAddr => 1);
	my $udp = IO::Socket::IP->new(%addr, Proto => 'udp')
		or die "HostileDNS: udp $self->{address}:$self->{port}: $@\n";
	my $tcp = IO::Socket::IP->new(%addr, Proto => 'tcp', Listen => 128)
		or die "HostileDNS: tcp $self->{address}:$self->{port}: $@\n";

	my $sel = IO::Select->new($udp, $tcp);
	my %conn;	# TCP: fileno => { sock, buf }
	my @later;	# { at, send }

	while (1) {
		POSIX::_exit(0) if $self->{parent} && getppid() != $self->{parent};

		my $wait = 1;
		$wait = min($wait, map { $_->{at} - time } @later) if @later;

		for my $s ($sel->can_read($wait > 0 ? $wait : 0)) {
			if ($s == $udp) {
				my $peer = $udp->recv(my $data, 65535);
				next unless defined $peer && length $data;
				$self->_query($data, 'udp', \@later, sub {
					$udp->send($_[0], 0, $peer);
				});

			} elsif ($s == $tcp) {
				my $c = $tcp->accept or next;
				$sel->add($c);
				$conn{fileno $c} = { sock => $c, buf => '' };

			} else {
				my $fn = fileno $s;
				my $st = $conn{$fn} or next;
				my $n = sysread($s, my $data, 65536);
				if (!$n) {
					$sel->remove($s);
					delete $conn{$fn};
					close $s;
					next;
				}
				$st->{buf} .= $data;

				while (length $st->{buf} >= 2) {
					my $len = unpack 'n', $st->{buf};
					last if length $st->{buf} < 2 + $len;
					my $msg = substr($st->{buf}, 2, $len);
					$st->{buf} = substr($st->{buf}, 2 + $len);
					$self->_query($msg, 'tcp', \@later, sub {
						my ($bytes, $close) = @_;
						# closed meanwhile (a delayed answer)
						return unless $conn{$fn} && $conn{$fn} == $st;
						my $out = defined $bytes
							? pack('n', length $bytes) . $bytes : '';
						while (length $out) {
							my $w = syswrite($s, $out);
							last unless $w;
							substr($out, 0, $w) = '';
						}
						return if defined $bytes && !$close;
						$sel->remove($s);
						delete $conn{$fn};
						close $s;
					});
				}
			}
		}

		my $now = time;
		my @due = grep { $_->{at} <= $now } @later;
		@later = grep { $_->{at} > $now } @later;
		$_->{send}->() for @due;
	}
}

sub _query {
	my ($self, $data, $proto, $later, $send) = @_;

	my $query = eval { Net::DNS::Packet->new(\$data) };
	my ($question) = $query ? $query->question : ();
	unless ($question) {
		$self->log_query("$proto - -");
		return;
	}

	my $name = lc $question->qname;
	$name =~ s/\.$//;

	if ($name eq $self->ready_name) {
		my $reply = $query->reply;
		$reply->header->rcode('NOERROR');
		$send->($reply->data);
		return;
	}

	my $type = $question->qtype;
	$self->log_query("$proto $name $type");

	my $ans = $self->{handler}->({ name => $name, type => $type,
		proto => $proto, id => $query->header->id, query => $query,
		data => $data });

	return unless $ans;

	my $bytes;

	if ($ans->{close}) {
		return if $proto eq 'udp';
		$bytes = undef;

	} elsif (defined $ans->{data}) {
		$bytes = $ans->{data};

	} else {
		my $reply = $query->reply;
		my $h = $reply->header;
		$h->rcode($ans->{rcode} // 'NOERROR');
		$h->aa(1);
		$h->ra(1);
		$reply->push(answer => @{$ans->{answer} || []});
		$reply->push(authority => @{$ans->{authority} || []});
		$reply->push(additional => @{$ans->{additional} || []});
		for my $flag (sort keys %{$ans->{header} || {}}) {
			$h->$flag($ans->{header}{$flag});
		}
		$bytes = $proto eq 'udp' ? $reply->truncate(512) : $reply->data;
	}

	$bytes = $ans->{edit}->($bytes) if $ans->{edit} && defined $bytes;

	# UDP: "close" and "close_after" mean nothing
	my $close = $ans->{close_after} && $proto eq 'tcp';

	if ($ans->{delay}) {
		push @$later, { at => time + $ans->{delay},
			send => sub { $send->($bytes, $close) } };
		return;
	}

	$send->($bytes, $close);
}

1;
