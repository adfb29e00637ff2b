package Test::MtaSts::ScriptedDNS;

# What the scripted DNS servers of the tests share: Test::MtaSts::FakeDNS
# (on Net::DNS::Nameserver) and Test::MtaSts::HostileDNS (on plain
# sockets, for answers no DNS library would build) are subclasses.  Here
# are their options, the start as a daemon of the harness, the wait until
# the server answers, the query log and its counts:
#
#   my $dns = Test::MtaSts::FakeDNS->new(port => $t->port(5353),
#       log => $t->testdir . '/dns.log', handler => sub { ... },
#       address => '127.0.0.1');            # the default
#   $dns->start($t);    # a daemon of the harness; waits until it answers
#   $dns->pid;          # of that daemon
#   $dns->queries;      # so far: list of [proto, name, type]
#   $dns->count(name => '_mta-sts.a.test', type => 'TXT', proto => 'udp');
#
# A subclass has serve(), run in the child: it listens on UDP and TCP at
# address() and port() and never returns; it answers ready_name() with
# NOERROR, not logged, and logs every other query with log_query().
#
# And the helpers of the DNS scripts of the tests, which each subclass
# exports too (use Test::MtaSts::FakeDNS qw(dns_rr txt soa kind)):
#
#   dns_rr('a.test 0 IN A 127.0.0.1')   a record (Net::DNS::RR->new)
#   txt($owner, @strings)               a TXT record of those strings
#   soa()                               the SOA of test., for no data
#   kind($q)            the part of a check a query is, and its domain:
#       ('sts', d) for TXT _mta-sts.d, ('tlsrpt', d) for TXT _smtp._tls.d,
#       ('mx', d) for MX d, ('a', d) and ('aaaa', d) for mta-sts.d, else
#       ('other', name)

use strict;
use warnings;

use Exporter qw(import);
use Net::DNS ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(dns_rr txt soa kind);

# not "rr": Net::DNS exports an rr() that makes a query
sub dns_rr { Net::DNS::RR->new(@_) }

sub txt {
	my ($owner, @strings) = @_;
	return dns_rr(owner => $owner, ttl => 0, type => 'TXT',
		txtdata => [@strings]);
}

sub soa { dns_rr('test. 0 IN SOA ns.test. hostmaster.test. 1 60 60 60 0') }

sub kind {
	my ($q) = @_;
	my ($name, $type) = @$q{qw(name type)};
	return ('sts', $1) if $type eq 'TXT' && $name =~ /^_mta-sts\.(.+)/;
	return ('tlsrpt', $1) if $type eq 'TXT'
		&& $name =~ /^_smtp\._tls\.(.+)/;
	return (lc $type, $1) if $type =~ /^(?:A|AAAA)$/
		&& $name =~ /^mta-sts\.(.+)/;
	return ('mx', $name) if $type eq 'MX';
	return ('other', $name);
}

# "FakeDNS", "HostileDNS": for messages, and a ready name of each
sub _name { (ref $_[0] || $_[0]) =~ s/.*:://r }

sub ready_name { 'ready.' . lc $_[0]->_name }

sub new {
	my ($class, %opt) = @_;
	my $name = $class->_name;
	die "$name: port, log and handler needed\n"
		unless $opt{port} && $opt{log} && $opt{handler};
	open my $fh, '>', $opt{log} or die "$name: $opt{log}: $!\n";
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
sub pid { $_[0]{pid} }

# the parent, so that serve() may end when the test that started it ends
sub start {
	my ($self, $t, $timeout) = @_;
	$self->{parent} = $$;
	$self->{pid} = $t->run_daemon(sub { $self->serve });
	$self->wait_ready($timeout);
	return $self;
}

# in the child: one line "<proto> <name> <type>" per query
sub log_query {
	my ($self, $line) = @_;
	open my $fh, '>>', $self->{log} or return;
	print $fh "$line\n";
	close $fh;
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
			my $reply = $res->send($self->ready_name, 'A');
			$ok{$vc} = 1
				if $reply && $reply->header->rcode eq 'NOERROR';
		}
		return $self if $ok{0} && $ok{1};
		die $self->_name . ": no answer on "
			. "$self->{address}:$self->{port} over "
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

1;
