#!/usr/bin/perl

# End to end with real senders: Debian's Postfix, asking
# postfix-mta-sts-resolver's mta-sts-daemon for the TLS policy of each
# destination (socketmap), delivers test messages to SMTP servers on
# the MX addresses; the policies come from nginx with the module, over
# HTTPS verified against a test CA; DNS is a real nsd.  All of it in a
# network namespace of the test.  What Postfix did with each message
# (sent, or deferred and why) is read from its log, what the MX saw from
# the SMTP server's.  Then mailauth (npm), a second implementation,
# reads the same policies.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP;
use Test::More;
use Test::Nginx;
use Test::MtaSts::CA;
use Test::MtaSts::DNS;
use Test::MtaSts::Netns;
use Test::MtaSts::Postfix;
use Test::MtaSts::SMTP;
use Time::HiRes qw(sleep time);

# declared first so that it is cleaned up last
my $ns = Test::MtaSts::Netns->new('postfix');

my $t = Test::Nginx->new(netns => $ns);
my $d = $t->testdir;

my $ca = Test::MtaSts::CA->new($d);

# domain => [mode, policy mx, the MX in DNS, SMTP server mode, its cert]
# the MX's certificate: 'good' for its name, 'expired', 'other' (for
# another name), none without STARTTLS

my %CASE = (
	'enforce.test' => ['enforce', 'mail', 'mail', 'ok', 'good'],
	'wild.test' => ['enforce', '*', 'mx1', 'ok', 'good'],
	'expired.test' => ['enforce', 'mail', 'mail', 'ok', 'expired'],
	'mismatch.test' => ['enforce', 'mail', 'mail', 'ok', 'other'],
	'plain.test' => ['enforce', 'mail', 'mail', 'no_starttls', undef],
	'nomatch.test' => ['enforce', 'mail', 'backup', 'ok', 'good'],
	't-expired.test' => ['testing', 'mail', 'mail', 'ok', 'expired'],
	't-mismatch.test' => ['testing', 'mail', 'mail', 'ok', 'other'],
	't-plain.test' => ['testing', 'mail', 'mail', 'no_starttls', undef],
	't-nomatch.test' => ['testing', 'mail', 'backup', 'ok', 'good'],
	'none.test' => ['none', undef, 'mail', 'ok', 'good'],
	'change.test' => ['enforce', 'old', 'new', 'ok', 'good'],
);

my @DOMAINS = sort keys %CASE;
my %ID = map { $_ => 'id' . length($_) . 'x' . substr($_, 0, 2) } @DOMAINS;
s/[^A-Za-z0-9]//g for values %ID;

my ($crt, $key) = $ca->cert('mta-sts',
	dns => [map { "mta-sts.$_" } @DOMAINS]);

sub mx_name {
	my ($domain) = @_;
	return "$CASE{$domain}[2].$domain";
}

sub policy_mx {
	my ($domain) = @_;
	my $mx = $CASE{$domain}[1];
	return defined $mx ? "$mx.$domain" : undef;
}

sub nginx_conf {
	my (%change) = @_;
	my $servers = '';
	for my $domain (@DOMAINS) {
		my ($mode) = @{$CASE{$domain}};
		my $mx = $change{$domain}{mx} // policy_mx($domain);
		my $id = $change{$domain}{id} // $ID{$domain};
		$servers .= <<"EOF";
	server {
		listen 127.0.0.1:443 ssl;
		server_name mta-sts.$domain;
		mta_sts on;
		mta_sts_mode $mode;
		mta_sts_id $id;
		mta_sts_max_age 86400;
@{[ defined $mx ? "\t\tmta_sts_mx $mx;\n" : '' ]}	}

EOF
	}

	$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%
events {}
http {
	%%TEST_GLOBALS_HTTP%%
	ssl_certificate $crt;
	ssl_certificate_key $key;
	log_format hosts '\$host \$request';
	access_log $d/access.log hosts;

$servers}
EOF
}

nginx_conf();

$t->plan(50);
diag('module not built: ' . $t->module_path) unless $t->has_module;
$t->run();

###############################################################################

# the MX hosts: an SMTP server on port 25 of an address of its own

my (%addr, %smtp_log);
my $n = 20;

for my $domain (@DOMAINS) {
	my ($mode, undef, undef, $smtp, $kind) = @{$CASE{$domain}};
	my $name = mx_name($domain);
	my ($mcrt, $mkey);
	if (defined $kind) {
		($mcrt, $mkey) = $ca->cert("mx-$domain",
			dns => [$kind eq 'other' ? 'elsewhere.test' : $name],
			$kind eq 'expired' ? (expired => 1) : ());
	}
	$addr{$domain} = '127.0.0.' . $n++;
	$smtp_log{$domain} = "$d/smtp-$domain.log";
	$ns->within(sub {
		Test::MtaSts::SMTP->start($t, address => $addr{$domain},
			port => 25, name => $name, mode => $smtp, accept => 1,
			defined $kind ? (cert => $mcrt, key => $mkey) : (),
			log => $smtp_log{$domain});
	});
}

sub zones {
	my (%id) = @_;
	return { map {
		my $domain = $_;
		my $mx = $CASE{$domain}[2];
		($domain => Test::MtaSts::DNS->zone_text($domain,
			"\@ IN MX 10 $mx.$domain.",
			"$mx IN A $addr{$domain}",
			'mta-sts IN A 127.0.0.1',
			qq{_mta-sts IN TXT "v=STSv1; id=}
				. ($id{$domain} // $ID{$domain}) . '"'))
	} @DOMAINS };
}

mkdir "$d/nsd" or die "mkdir: $!\n";
my $dns = Test::MtaSts::DNS->start_nsd(dir => "$d/nsd", netns => $ns,
	port => 53, zones => zones());

my $sts = Test::MtaSts::Postfix->start_sts_daemon(dir => "$d/sts",
	netns => $ns, ca => $ca->ca_file, grace => 1);

my $pf = Test::MtaSts::Postfix->start(dir => "$d/postfix", netns => $ns,
	main => {
		smtp_tls_security_level => 'may',
		smtp_tls_CAfile => $ca->ca_file,
		smtp_tls_policy_maps =>
			'socketmap:inet:127.0.0.1:8461:postfix',
	});

###############################################################################

# one message to each domain, all at once

my $FROM = 'alice@sender.test';

$pf->send($FROM, "bob\@$_", "to $_") for @DOMAINS;

my %status = map { $_ => $pf->wait_status("bob\@$_") // '' } @DOMAINS;

# what the MX saw, once it is what is expected or after 5 s: the server
# may write its last line a moment after Postfix has logged the result

sub events {
	my ($domain, $expect) = @_;
	my $deadline = time + 5 * Test::Nginx::slow();
	while (1) {
		my $got = join ',', grep { !/^(connect|eof|quit|ehlo )/ }
			Test::MtaSts::SMTP->events($smtp_log{$domain});
		return $got if $got eq $expect || time > $deadline;
		sleep 0.05;
	}
}

# a line of the Postfix log has this text
sub logged {
	my ($text) = @_;
	return scalar $pf->log(qr/: \Q$text\E/);
}

sub sent {
	my ($domain, $how, $tls, $what) = @_;
	my $mx = mx_name($domain);
	like($status{$domain}, qr/relay=\Q$mx\E\[\Q$addr{$domain}\E\]:25,.*
		status=sent\ \(250\ 2\.0\.0\ queued\ as\ TEST\)/x,
		"$what: sent");
	if ($tls) {
		ok(logged("$tls TLS connection established to "
			. "$mx\[$addr{$domain}\]:25: TLSv1.3 "), "$what: $tls TLS");
	}

	# the name is sent (SNI) where the policy asks for it

	my $sni = $tls && $tls eq 'Verified' ? $mx : '';
	my $tail = $how eq 'tls' ? "starttls,sni $sni,tls TLSv1_3," : '';
	my $want = "${tail}mail $FROM,rcpt bob\@$domain,message $how to $domain";
	is(events($domain, $want), $want, "$what: what the MX got");
}

sub deferred {
	my ($domain, $reason, $events, $what) = @_;
	my $mx = mx_name($domain);
	like($status{$domain}, qr/relay=\Q$mx\E\[\Q$addr{$domain}\E\]:25,.*
		\ status=deferred\ \(\Q$reason\E\)\z/x, "$what: deferred");
	is(events($domain, $events), $events, "$what: nothing delivered");
}

# enforce: Postfix asks for a verified certificate matching the policy

sent('enforce.test', 'tls', 'Verified', 'enforce, valid certificate');
sent('wild.test', 'tls', 'Verified', 'enforce, mx: *.wild.test');

deferred('expired.test', 'Server certificate not verified',
	'starttls,sni mail.expired.test,tls TLSv1_3',
	'enforce, expired certificate');
ok(logged('server certificate verification failed for '
	. "mail.expired.test[$addr{'expired.test'}]:25: certificate has expired"),
	'enforce, expired certificate: the reason logged');

deferred('mismatch.test', 'Server certificate not verified',
	'starttls,sni mail.mismatch.test,tls TLSv1_3',
	'enforce, certificate for another name');
ok(logged('server certificate verification failed for '
	. "mail.mismatch.test[$addr{'mismatch.test'}]:25: "
	. 'num=62:hostname mismatch'),
	'enforce, name mismatch: the reason logged');

deferred('plain.test', 'TLS is required, but was not offered by host '
	. "mail.plain.test[$addr{'plain.test'}]", '',
	'enforce, no STARTTLS');

deferred('nomatch.test', 'Server certificate not verified',
	'starttls,sni backup.nomatch.test,tls TLSv1_3',
	'enforce, MX not in the policy');
ok(logged('server certificate verification failed for '
	. "backup.nomatch.test[$addr{'nomatch.test'}]:25: "
	. 'num=62:hostname mismatch'),
	'enforce, MX not in the policy: the reason logged');

# testing, and none: opportunistic TLS, the faults do not stop the mail

sent('t-expired.test', 'tls', 'Untrusted', 'testing, expired certificate');
sent('t-mismatch.test', 'tls', 'Trusted', 'testing, name mismatch');
sent('t-plain.test', 'plain', undef, 'testing, no STARTTLS');
sent('t-nomatch.test', 'tls', 'Trusted', 'testing, MX not in the policy');
sent('none.test', 'tls', 'Trusted', 'mode none');

###############################################################################

# a policy that changes: old.change.test is not the MX, new.change.test
# is; the mail waits for the policy that names it

deferred('change.test', 'Server certificate not verified',
	'starttls,sni new.change.test,tls TLSv1_3', 'change: old policy');

sub retry {
	my ($domain, $after) = @_;
	sleep 1.5;	# past the daemon's cache_grace
	$pf->flush;
	return $pf->wait_status("bob\@$domain", after => $after) // '';
}

# the policy changed, the id did not: the sender keeps what it has

nginx_conf('change.test' => { mx => 'new.change.test' });
$t->reload();

like(retry('change.test', 1),
	qr/ status=deferred \(Server certificate not verified\)\z/,
	'change, same id: the old policy kept');

# a new id: fetched again, and the mail goes

my $NEW = 'changed2';
nginx_conf('change.test' => { mx => 'new.change.test', id => $NEW });
$t->reload();
$dns->stop;
$dns = Test::MtaSts::DNS->start_nsd(dir => "$d/nsd", netns => $ns,
	port => 53, zones => zones('change.test' => $NEW));

like(retry('change.test', 2), qr/ relay=new\.change\.test\[[\d.]+\]:25,
	.*\ status=sent\ /x, 'change, new id: sent');
ok(logged("Verified TLS connection established to "
	. "new.change.test[$addr{'change.test'}]:25: "),
	'change, new id: verified TLS');

# fetched once each, and change.test again only for its new id

my %fetched;
my $access = $t->read_file('access.log');
$fetched{$1}++ while $access
	=~ m{^mta-sts\.(\S+) GET /\.well-known/mta-sts\.txt }mg;
is_deeply(\%fetched, { map { $_ => $_ eq 'change.test' ? 2 : 1 } @DOMAINS },
	'each policy fetched from nginx once, a changed one again');

###############################################################################

# the same policies read by mailauth

my $NODE_DIR = "$FindBin::Bin/npm";

sub mailauth {
	my ($domain, @names) = @_;
	my ($rc, $out, $err) = $ns->exec({ timeout => 60 }, 'env', '-i',
		'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
		'NODE_EXTRA_CA_CERTS=' . $ca->ca_file,
		'node', "$NODE_DIR/mta-sts-get.js", $domain, @names);
	diag("mailauth $domain: exit $rc\n$err") if $rc || $err;
	return eval { decode_json($out) } // { raw => $out };
}

for my $domain (@DOMAINS) {
	my ($mode) = @{$CASE{$domain}};
	my $mx = $domain eq 'change.test' ? 'new.change.test'
		: policy_mx($domain);
	my $dns_mx = mx_name($domain);
	my $allowed = $mode eq 'none' || $domain !~ /nomatch/;
	is_deeply(mailauth($domain, $dns_mx), {
		status => 'found',
		id => $domain eq 'change.test' ? $NEW : $ID{$domain},
		mode => $mode,
		mx => [defined $mx ? $mx : ()],
		max_age => 86400,
		allowed => { $dns_mx => $allowed ? JSON::PP::true
			: JSON::PP::false },
	}, "mailauth: $domain");
}

###############################################################################

# which senders ran

my ($rc, $resolver) = Test::Nginx::capture(['dpkg-query', '-W', '-f',
	'${Version}', 'postfix-mta-sts-resolver']);
my (undef, $node) = Test::Nginx::capture(['node', '--version']);
chomp $node;
open my $fh, '<', "$NODE_DIR/node_modules/mailauth/package.json"
	or die "mailauth not installed (make test-deps): $!\n";
my $mailauth = decode_json(do { local $/; <$fh> })->{version};

my $ran = sprintf 'Postfix %s with postfix-mta-sts-resolver %s; '
	. 'mailauth %s on Node.js %s', Test::MtaSts::Postfix->version // '?',
	$resolver, $mailauth, $node;
diag("senders: $ran");
like($ran, qr/^Postfix\ 3\.\d+\.\d+\ with\ postfix-mta-sts-resolver\ \S+;
	\ mailauth\ 4\.\d+\.\d+\ on\ Node\.js\ v\d+/x, 'the senders that ran');

###############################################################################
