#!/usr/bin/perl

# mta_sts_publish against Knot DNS (knotd), set up as docs/publish.md
# says: the key as "keymgr -t" prints it (read by nginx as it is, and
# included by knotd), an ACL that lets it update TXT at _mta-sts and
# _smtp._tls only.  A zone whose ACL names other owners refuses.

use warnings;
use strict;

use Test::More;
use JSON::PP;
use Net::DNS;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::DNS;

###############################################################################

my $t = Test::Nginx->new();
my $d = $t->testdir;
my $port = $t->port(8053);

# the key, as keymgr prints it

my ($rc, $yaml, $err) = Test::Nginx::capture(['keymgr', '-t', 'nginx-mta-sts',
	'hmac-sha256']);
die "keymgr -t: $rc $err\n" if $rc;
$t->write_file('key.yaml', $yaml);
chmod 0600, "$d/key.yaml";

$t->write_file('knot.test.zone', Test::MtaSts::DNS->zone_text('knot.test',
	'_mta-sts IN TXT "v=STSv1; id=old1"', '_mta-sts IN TXT "keep me"'));
$t->write_file('other.test.zone', Test::MtaSts::DNS->zone_text('other.test'));

$t->write_file('knot.conf', <<"EOF");
server:
    listen: 127.0.0.1\@$port
    rundir: $d
include: $d/key.yaml
database:
    storage: $d
log:
  - target: $d/knot.log
    any: info
acl:
  - id: nginx-mta-sts
    key: nginx-mta-sts
    action: update
    update-type: [TXT]
    update-owner: name
    update-owner-match: equal
    update-owner-name: [_mta-sts, _smtp._tls]
  - id: elsewhere
    key: nginx-mta-sts
    action: update
    update-type: [TXT]
    update-owner: name
    update-owner-match: equal
    update-owner-name: [other-name]
zone:
  - domain: knot.test
    file: $d/knot.test.zone
    acl: nginx-mta-sts
  - domain: other.test
    file: $d/other.test.zone
    acl: elsewhere
EOF

my $knot = fork // die "fork: $!\n";
if (!$knot) {
	open STDIN, '<', '/dev/null';
	open STDOUT, '>', "$d/knotd.out";
	open STDERR, '>&', \*STDOUT;
	exec 'knotd', '-c', "$d/knot.conf" or POSIX::_exit(127);
}
END { Test::Nginx::kill_and_reap($knot) if $knot && $$ != $knot }

my $res = Net::DNS::Resolver->new(nameservers => ['127.0.0.1'],
	port => $port, recurse => 0, udp_timeout => 1, retry => 1);

sub txt {
	my $reply = $res->send($_[0], 'TXT') or return ();
	return sort map { join '', $_->txtdata }
		grep { $_->type eq 'TXT' } $reply->answer;
}

my $deadline = time + 10;
until (my @ready = txt('_mta-sts.knot.test')) {
	die "knotd does not answer:\n" . `cat $d/knotd.out $d/knot.log`
		if time > $deadline || waitpid($knot, WNOHANG) == $knot;
	sleep 0.1;
}

sub server {
	my ($domain) = @_;
	return <<"EOF";
    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.$domain;

        mta_sts on;
        mta_sts_mx mail.$domain;
        mta_sts_id knot1;
        mta_sts_tlsrpt_rua mailto:tlsrpt\@$domain;
    }
EOF
}

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_resolver 127.0.0.1:$port timeout=500ms;
    mta_sts_publish server=127.0.0.1:$port key=$d/key.yaml;

@{[ server('knot.test') ]}
@{[ server('other.test') ]}

    server {
        listen 127.0.0.1:%%PORT_8080%% default_server;
        server_name localhost;

        location = /status {
            mta_sts_status;
        }
    }
}
EOF

$t->plan(8)->run();

###############################################################################

my $p;
$deadline = time + 20;
while (time < $deadline) {
	my $r = $t->curl('http://127.0.0.1:' . $t->port(8080) . '/status');
	my $json = eval { decode_json($r->{body}) } or die "status: $r->{raw}";
	$p = { map { $_ => $json->{domains}{$_}{publish} }
		keys %{$json->{domains}} };
	last unless grep { $_->{status} eq 'pending' } values %$p;
	sleep 0.2;
}

is($p->{'knot.test'}{status}, 'ok', 'Knot DNS accepts the update')
	or diag(explain($p), `tail -30 $d/knot.log`);
is_deeply([txt('_mta-sts.knot.test')], ['keep me', 'v=STSv1; id=knot1'],
	'the id replaced, the other record kept');
is_deeply([txt('_smtp._tls.knot.test')],
	['v=TLSRPTv1; rua=mailto:tlsrpt@knot.test'], 'the TLS-RPT record');

my @batches = $t->read_file('knot.log')
	=~ /\[knot\.test\.\] DDNS, processing (\d+) updates/g;
is(join('+', @batches), '1', 'one UPDATE message, sent once');

is($p->{'other.test'}{status}, 'error', 'the ACL of other.test refuses');
is($p->{'other.test'}{answer}, 'BADKEY', 'Knot answers BADKEY');
like($p->{'other.test'}{message}, qr/does not know the key "nginx-mta-sts" \(or its algorithm\), or does not let it update these names \(Knot DNS answers so\): add the key of "\Q$d\E\/key\.yaml" to the server, and allow it to update TXT at _mta-sts\.other\.test\. and _smtp\._tls\.other\.test\.$/,
	'what to do');
is_deeply([txt('_mta-sts.other.test')], [], 'nothing written there');

###############################################################################
