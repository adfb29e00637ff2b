package Test::MtaSts::SMTP;

# A fake SMTP server that offers STARTTLS, or misbehaves in one chosen
# way, in a child process of the test (Test::Nginx's run_daemon).
#
#   my $pid = Test::MtaSts::SMTP->start($t,
#       address => '127.0.0.11', port => $port,   # IPv6 too: '::1'
#       name => 'mx1.example.test',         # the name in its replies
#       cert => $crt, key => $key,          # for the TLS handshake
#       mode => 'ok',                       # see below
#       log => "$dir/smtp-mx1.log");        # what the client did
#   my @events = Test::MtaSts::SMTP->events("$dir/smtp-mx1.log");
#
# Stopped with the test's other daemons ($t->stop_daemons, or at the end).
#
# The listening socket is made before start() returns, so a client may
# connect at once.  Each connection is served by a process of its own,
# which gives up after 15 s.  The modes:
#
#   ok              220 banner (multi-line), EHLO reply with STARTTLS,
#                   220 to STARTTLS, the TLS handshake, then 221 to QUIT
#   no_starttls     EHLO reply without STARTTLS (but with look-alikes)
#   long_ehlo       an EHLO reply of 200 lines, about 8 KB
#   ehlo_502        502 to EHLO
#   refuse          454 to STARTTLS
#   garbage         220 to STARTTLS and plain text instead of TLS, at once
#   close           220 to STARTTLS, then closes the connection
#   silent          accepts and never says a word
#   silent_ehlo     never answers EHLO
#   silent_starttls never answers STARTTLS
#   silent_tls      220 to STARTTLS, then never answers the ClientHello
#   greet_554       the banner is "554 no service", or the banner option
#   hangup          closes the connection without a banner
#   http            answers as an HTTP server does
#
# With accept => 1 the server also takes mail, in the clear or after
# STARTTLS (for a sending MTA): MAIL and RCPT are answered 250, DATA 354
# and then 250; the log has "mail <from>", "rcpt <to>" and "message
# <tls|plain> <Subject>" for each message taken.
#
# With starttls_last => 1 the EHLO reply ends with "250 starttls" (last
# line, lower case) instead of having "250-STARTTLS" in its middle.
# With dribble => 1 every reply is written a few bytes at a time, 20 ms
# apart, so that the client reads each reply in pieces.
#
# The log file has one line per event: "connect", "ehlo <name>",
# "starttls", "sni <name>", "tls <version>", "handshake failed",
# "quit", "eof"; with accept, also the lines above.

use strict;
use warnings;

use Fcntl qw(O_WRONLY O_APPEND O_CREAT);
use IO::Socket::IP;
use POSIX ();

my %MODES = map { $_ => 1 } qw(ok no_starttls long_ehlo ehlo_502 refuse
	garbage close silent silent_ehlo silent_starttls silent_tls greet_554
	hangup http);

sub start {
	my ($class, $t, %opt) = @_;
	my $mode = $opt{mode} // 'ok';
	die "Test::MtaSts::SMTP: unknown mode $mode\n" unless $MODES{$mode};
	die "Test::MtaSts::SMTP: cert and key needed\n"
		if !($opt{cert} && $opt{key})
			&& $mode =~ /^(ok|silent_tls)$/;

	my $listen = IO::Socket::IP->new(Listen => 16, ReuseAddr => 1,
		LocalHost => $opt{address} // '127.0.0.1',
		LocalPort => $opt{port}, Proto => 'tcp')
		or die "Test::MtaSts::SMTP: listen on "
			. "$opt{address}:$opt{port}: $@\n";

	my $pid = $t->run_daemon(sub { _serve($listen, $mode, %opt) });
	close $listen;
	return $pid;
}

# the log's lines, without their newlines
sub events {
	my ($class, $log) = @_;
	open my $fh, '<', $log or return;
	chomp(my @l = <$fh>);
	return @l;
}

sub _serve {
	my ($listen, $mode, %opt) = @_;

	$SIG{TERM} = $SIG{INT} = sub { POSIX::_exit(0) };
	$SIG{CHLD} = 'IGNORE';

	# a client may close as soon as it has what it wants
	$SIG{PIPE} = 'IGNORE';

	require IO::Socket::SSL;

	while (1) {
		my $c = $listen->accept;
		if (!$c) {
			select undef, undef, undef, 0.05;
			next;
		}
		my $pid = fork;
		if (!defined $pid) {
			close $c;
			next;
		}
		if ($pid == 0) {
			close $listen;
			$SIG{ALRM} = sub { POSIX::_exit(0) };
			alarm 15;
			eval { _session($c, $mode, %opt); 1 } or _log(\%opt, "error $@");
			POSIX::_exit(0);
		}
		close $c;
	}
}

sub _log {
	my ($opt, $line) = @_;
	return unless $opt->{log};
	chomp $line;
	sysopen my $fh, $opt->{log}, O_WRONLY|O_APPEND|O_CREAT, 0644 or return;
	syswrite $fh, "$line\n";
	close $fh;
}

my $DRIBBLE;

sub _say {
	my ($c, @lines) = @_;
	my $out = join '', map { "$_\r\n" } @lines;
	if (!$DRIBBLE) {
		syswrite $c, $out;
		return;
	}
	for (my $i = 0; $i < length $out; $i += 5) {
		syswrite $c, substr($out, $i, 5);
		select undef, undef, undef, 0.02;
	}
}

# one line, read a byte at a time: nothing past it is taken from the
# socket, so that the TLS handshake finds the ClientHello whole
sub _line {
	my ($c) = @_;
	my $line = '';
	while (1) {
		my $n = sysread $c, my $ch, 1;
		return length $line ? $line : undef unless $n;
		$line .= $ch;
		last if $ch eq "\n";
		last if length $line > 4096;
	}
	$line =~ s/\r?\n\z//;
	return $line;
}

sub _until_eof {
	my ($c, $opt) = @_;
	1 while sysread $c, my $buf, 4096;
	_log($opt, 'eof');
}

sub _session {
	my ($c, $mode, %opt) = @_;
	my $name = $opt{name} // 'mx.test';
	my $opt = \%opt;

	$DRIBBLE = $opt{dribble};
	_log($opt, 'connect');

	if ($mode eq 'silent') {
		return _until_eof($c, $opt);
	}

	if ($mode eq 'hangup') {
		close $c;
		return;
	}

	if ($mode eq 'http') {
		_say($c, 'HTTP/1.1 400 Bad Request', 'Content-Length: 0', '');
		return _until_eof($c, $opt);
	}

	if ($mode eq 'greet_554') {
		_say($c, $opt{banner} // "554 $name no service here");
		return _until_eof($c, $opt);
	}

	_say($c, "220-$name ESMTP test server", "220 $name ready");

	while (defined(my $line = _line($c))) {

		if ($line =~ /^(?:EHLO|HELO)\s+(.*)$/i) {
			_log($opt, "ehlo $1");

			if ($mode eq 'silent_ehlo') {
				return _until_eof($c, $opt);
			}

			if ($mode eq 'ehlo_502') {
				_say($c, '502 5.5.2 EHLO not implemented, say HELO');
				next;
			}

			_say($c, "250-$name greets $1",
				$mode eq 'long_ehlo'
					? (map { "250-X-FILLER-$_ " . ('x' x 30) } 1 .. 200)
					: (),
				'250-PIPELINING',
				'250-SIZE 10240000',
				$mode eq 'no_starttls'
					? ('250-X-STARTTLS-LATER', '250-STARTTLSX')
					: $opt{starttls_last} ? ()
					: ('250-STARTTLS'),
				$opt{starttls_last} && $mode ne 'no_starttls'
					? ('250-8BITMIME', '250 starttls')
					: ('250 8BITMIME'));

		} elsif ($line =~ /^STARTTLS\s*$/i) {
			_log($opt, 'starttls');

			if ($mode eq 'silent_starttls') {
				return _until_eof($c, $opt);
			}

			if ($mode eq 'no_starttls') {
				_say($c, '502 5.5.1 command not implemented');
				next;
			}

			if ($mode eq 'refuse') {
				_say($c, '454 4.7.0 TLS not available');
				next;
			}

			# the reply and the plain text in one write: the
			# client sees the text at once, whatever the timing

			if ($mode eq 'garbage') {
				_say($c, '220 2.0.0 ready to start TLS',
					'this is plain text, not a TLS ServerHello,'
					. ' however long the client waits for one');
				return _until_eof($c, $opt);
			}

			_say($c, '220 2.0.0 ready to start TLS');

			if ($mode eq 'close') {
				close $c;
				return;
			}

			if ($mode eq 'silent_tls') {
				return _until_eof($c, $opt);
			}

			return _tls($c, $opt);

		} elsif ($line =~ /^QUIT/i) {
			_log($opt, 'quit');
			_say($c, "221 $name bye");
			return;

		} elsif ($opt{accept}
			&& _mail($line, 'plain', $opt,
				sub { _line($c) }, sub { _say($c, @_) }))
		{
			next;

		} else {
			_say($c, '500 5.5.2 what?');
		}
	}

	_log($opt, 'eof');
}

# a command of a mail transaction, with accept: 1 if it was one
sub _mail {
	my ($line, $how, $opt, $read, $write) = @_;

	if ($line =~ /^MAIL FROM:\s*<([^>]*)>/i) {
		_log($opt, "mail $1");
		$write->('250 2.1.0 ok');

	} elsif ($line =~ /^RCPT TO:\s*<([^>]*)>/i) {
		_log($opt, "rcpt $1");
		$write->('250 2.1.5 ok');

	} elsif ($line =~ /^DATA\s*$/i) {
		$write->('354 go ahead');
		my $subject = '';
		while (defined(my $l = $read->())) {
			last if $l eq '.';
			$subject = $1
				if !length $subject && $l =~ /^Subject:\s*(.*)/i;
		}
		_log($opt, "message $how $subject");
		$write->('250 2.0.0 queued as TEST');

	} elsif ($line =~ /^(?:RSET|NOOP)\b/i) {
		$write->('250 2.0.0 ok');

	} else {
		return 0;
	}

	return 1;
}

sub _tls {
	my ($c, $opt) = @_;

	# SNI is logged as the ClientHello comes in; no TLS 1.3 session
	# tickets, which the server would write after the client's Finished,
	# when a client that checked the certificate may be gone already

	my $ssl = IO::Socket::SSL->start_SSL($c,
		SSL_server => 1,
		SSL_cert_file => $opt->{cert},
		SSL_key_file => $opt->{key},
		SSL_verify_mode => IO::Socket::SSL::SSL_VERIFY_NONE(),
		SSL_create_ctx_callback => sub {
			my ($ctx) = @_;
			Net::SSLeay::CTX_set_num_tickets($ctx, 0)
				if defined &Net::SSLeay::CTX_set_num_tickets;
			Net::SSLeay::CTX_set_tlsext_servername_callback($ctx,
				sub {
					my ($s) = @_;
					_log($opt, 'sni '
						. (Net::SSLeay::get_servername($s) // ''));
					return 0;	# SSL_TLSEXT_ERR_OK
				});
		},
		Timeout => 10);

	if (!$ssl) {
		_log($opt, 'handshake failed');
		return;
	}

	_log($opt, 'tls ' . ($ssl->get_sslversion // ''));

	my $read = sub {
		my $line = $ssl->getline;
		$line =~ s/\r?\n\z// if defined $line;
		return $line;
	};
	my $write = sub { print $ssl map { "$_\r\n" } @_ };

	while (defined(my $line = $read->())) {
		if ($line =~ /^QUIT/i) {
			_log($opt, 'quit');
			$write->('221 bye');
			last;
		}

		if ($opt->{accept} && $line =~ /^EHLO\s+(.*)$/i) {
			_log($opt, "ehlo $1");
			$write->('250-' . ($opt->{name} // 'mx.test') . " greets $1",
				'250-PIPELINING', '250 8BITMIME');
			next;
		}

		next if $opt->{accept}
			&& _mail($line, 'tls', $opt, $read, $write);

		$write->('250 ok');
	}

	$ssl->close(SSL_no_shutdown => 1);
}

1;
