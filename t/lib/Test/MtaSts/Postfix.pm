package Test::MtaSts::Postfix;

# A sending Postfix of its own (Debian's postfix: config, queue and log
# under a directory of the test), inside a network namespace, so that
# it resolves and connects through the test's DNS and servers; and the
# MTA-STS policy daemon of postfix-mta-sts-resolver beside it.
#
#   my $sts = Test::MtaSts::Postfix->start_sts_daemon(dir => $dir,
#       netns => $ns, ca => $ca_file);      # 127.0.0.1:8461 in the netns
#   my $pf = Test::MtaSts::Postfix->start(dir => $dir, netns => $ns,
#       main => { smtp_tls_policy_maps =>
#           'socketmap:inet:127.0.0.1:8461:postfix' });
#   $pf->send('a@sender.test', 'b@example.test', 'subject');
#   my $line = $pf->wait_status('b@example.test');   # smtp's last word
#   $pf->flush;                     # try the deferred mail again now
#   my @l = $pf->log(qr/TLS/);     # lines of its log that match
#
# Both are stopped by DESTROY, and at the latest with the namespace.

use strict;
use warnings;

use File::Path qw(make_path);
use IO::Socket::IP;
use Test::Nginx ();
use Test::MtaSts::Netns ();
use Time::HiRes qw(sleep time);

# the services a sender needs, none chrooted, no smtpd listening
my $MASTER_CF = <<'EOF';
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

sub version {
	my ($rc, $out) = Test::Nginx::capture(['postconf', '-d', '-h',
		'mail_version']);
	chomp $out;
	return $rc ? undef : $out;
}

sub start {
	my ($class, %opt) = @_;
	my $dir = $opt{dir} or die "Postfix: dir needed\n";
	my $ns = $opt{netns} or die "Postfix: netns needed\n";

	make_path("$dir/conf", "$dir/queue", "$dir/data");
	chown scalar getpwnam('postfix'), -1, "$dir/data"
		or die "Postfix: no postfix user: $!\n";

	my %main = (
		compatibility_level => '3.6',
		queue_directory => "$dir/queue",
		data_directory => "$dir/data",
		maillog_file => "$dir/maillog",
		maillog_file_prefixes => $dir,
		mail_owner => 'postfix',
		setgid_group => 'postdrop',
		myhostname => 'sender.test',
		mydomain => 'sender.test',
		myorigin => 'sender.test',
		mydestination => '',
		inet_interfaces => 'loopback-only',
		inet_protocols => 'ipv4',
		smtp_tls_loglevel => 1,
		smtp_connect_timeout => '5s',
		%{$opt{main} || {}},
	);

	_write("$dir/conf/main.cf", join '', map { "$_ = $main{$_}\n" }
		sort keys %main);
	_write("$dir/conf/master.cf", $MASTER_CF);

	my $self = Test::Nginx::track(bless {
		dir => $dir, ns => $ns, owner => $$, seen => 0,
	}, $class);

	# "check" makes the queue's directories, "start" the master
	for my $cmd ('check', 'start') {
		my ($rc, $out, $err) = $self->_postfix('postfix', $cmd);
		die "postfix $cmd: exit $rc: $err$out\n"
			. $self->_tail if $rc;
	}

	my $deadline = time + 10 * Test::Nginx::slow();
	until ($self->log(qr/daemon started/)) {
		die "postfix did not start\n" . $self->_tail if time > $deadline;
		sleep 0.05;
	}

	return $self;
}

sub _write {
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "write $path: $!\n";
	print $fh $text;
	close $fh or die "close $path: $!\n";
}

sub _postfix {
	my ($self, $cmd, @args) = @_;
	return $self->{ns}->exec({ timeout => 30 }, $cmd,
		'-c', "$self->{dir}/conf", @args);
}

sub _tail {
	my ($self) = @_;
	my @l = $self->log(qr//);
	return join '', map { "$_\n" } @l[($#l > 20 ? $#l - 20 : 0) .. $#l];
}

# the log's lines that match, without their newlines
sub log {
	my ($self, $re) = @_;
	open my $fh, '<', "$self->{dir}/maillog" or return;
	chomp(my @l = grep { $_ =~ $re } <$fh>);
	return @l;
}

# a message, as sendmail(1) submits it
sub send {
	my ($self, $from, $to, $subject) = @_;
	my $file = "$self->{dir}/message-" . ++$self->{seen};
	_write($file, "From: <$from>\nTo: <$to>\nSubject: $subject\n\n"
		. "A test message.\n");
	my ($rc, $out, $err) = $self->{ns}->exec({ timeout => 30 }, 'sh',
		'-c', 'exec sendmail -C "$1" -f "$2" "$3" < "$4"', 'sh',
		"$self->{dir}/conf", $from, $to, $file);
	die "sendmail: exit $rc: $err$out\n" if $rc;
}

# the delivery agent's lines about a recipient: "to=<...>, ...
# status=sent (...)" or deferred, bounced
sub statuses {
	my ($self, $to) = @_;
	return $self->log(qr/postfix\/smtp\[\d+\]: \w+: to=<\Q$to\E>.*status=/);
}

# waits for a status line past the first "after" ones; returns it, or
# undef after the timeout
sub wait_status {
	my ($self, $to, %opt) = @_;
	my $after = $opt{after} // 0;
	my $deadline = time + ($opt{timeout} // 30) * Test::Nginx::slow();
	while (time < $deadline) {
		my @l = $self->statuses($to);
		return $l[$after] if @l > $after;
		sleep 0.1;
	}
	return undef;
}

# the deferred mail tried again at once (sendmail -q)
sub flush {
	my ($self) = @_;
	my ($rc, $out, $err) = $self->_postfix('postqueue', '-f');
	die "postqueue -f: exit $rc: $err$out\n" if $rc;
}

# postfix-mta-sts-resolver's daemon on 127.0.0.1:8461 in the netns,
# trusting the CA given; "grace": seconds a policy is used before its
# DNS id is looked at again
sub start_sts_daemon {
	my ($class, %opt) = @_;
	my $dir = $opt{dir} or die "mta-sts-daemon: dir needed\n";
	my $ns = $opt{netns};
	make_path($dir);
	_write("$dir/mta-sts-daemon.yml", <<"EOF");
host: 127.0.0.1
port: 8461
reuse_port: true
shutdown_timeout: 1
cache_grace: @{[ $opt{grace} // 1 ]}
cache:
  type: internal
  options:
    cache_size: 1000
default_zone:
  strict_testing: false
  timeout: 4
EOF

	my $pid = $ns->spawn({ log => "$dir/mta-sts-daemon.log" }, 'env', '-i',
		'PATH=/usr/sbin:/usr/bin:/sbin:/bin', "SSL_CERT_FILE=$opt{ca}",
		'mta-sts-daemon', '-c', "$dir/mta-sts-daemon.yml",
		'-v', 'debug', '--disable-uvloop');

	my $deadline = time + 20 * Test::Nginx::slow();
	while (1) {
		my $up = $ns->within(sub {
			IO::Socket::IP->new(PeerHost => '127.0.0.1',
				PeerPort => 8461, Timeout => 1);
		});
		last if $up;
		die "mta-sts-daemon did not start:\n"
			. `cat $dir/mta-sts-daemon.log` if time > $deadline
				|| !kill 0, $pid;
		sleep 0.1;
	}

	return bless { pid => $pid, log => "$dir/mta-sts-daemon.log" },
		"${class}::StsDaemon";
}

sub cleanup {
	my ($self) = @_;
	return if $$ != $self->{owner} || $self->{cleaned}++;
	local ($?, $!, $@);
	$self->_postfix('postfix', 'stop');
}

sub DESTROY { $_[0]->cleanup }

package Test::MtaSts::Postfix::StsDaemon;

sub pid { $_[0]{pid} }

sub log {
	my ($self) = @_;
	open my $fh, '<', $self->{log} or return '';
	local $/;
	return scalar <$fh>;
}

1;
