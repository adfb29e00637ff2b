#!/usr/bin/perl

# mta_sts_publish against a real primary server that accepts signed
# updates (BIND 9's named): the first publication, other TXT records left
# alone, one update per domain across the workers, every refusal a server
# gives (REFUSED, BADSIG, BADKEY, NOTAUTH, no answer) shown on the status
# page with what to do, a new id published only once the old workers are
# gone, and the secret of the key nowhere.

use warnings;
use strict;

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::DNS;
use Test::MtaSts::Named;

###############################################################################

my $t = Test::Nginx->new();
my $d = $t->testdir;
my $port = $t->port(8053);
my $silent = $t->port(8054);

sub zone {
	my ($origin, @rr) = @_;
	return Test::MtaSts::DNS->zone_text($origin, @rr);
}

sub grant {
	my ($key, $domain) = @_;
	return ["$key name _mta-sts.$domain. TXT",
		"$key name _smtp._tls.$domain. TXT"];
}

my $ns = Test::MtaSts::Named->start(dir => "$d/named", port => $port,
	keys => ['nginx-key'],
	zones => {
		'company-y.example' => {
			text => zone('company-y.example',
				'_mta-sts IN TXT "v=STSv1; id=old1"',
				'_mta-sts IN TXT "google-site-verification=keep"',
				'mta-sts IN A 127.0.0.1'),
			grant => [@{grant('nginx-key', 'company-y.example')},
				@{grant('nginx-key', 'sub.company-y.example')}] },
		'refused.example' => {
			text => zone('refused.example'),
			grant => ['nginx-key name other.refused.example. TXT'] },
		'badsig.example' => {
			text => zone('badsig.example'),
			grant => grant('nginx-key', 'badsig.example') },
		'badkey.example' => {
			text => zone('badkey.example'),
			grant => grant('nginx-key', 'badkey.example') },
	});

my $good = $ns->key_file('nginx-key');
my $secret = ($t->read_file('named/nginx-key.key') =~ /secret "([^"]+)"/)[0];

# the same name with another secret; a key the server does not know

(my $other = $t->read_file('named/nginx-key.key'))
	=~ s/secret "[^"]+"/secret "c2FtZSBuYW1lLCBhbm90aGVyIHNlY3JldCE="/;
$t->write_file('badsig.key', $other);
my ($rc, $stranger) = Test::Nginx::capture(['tsig-keygen', 'stranger']);
$t->write_file('stranger.key', $stranger);
chmod 0600, "$d/badsig.key", "$d/stranger.key";

sub server {
	my ($domain, $publish, $id) = @_;
	return <<"EOF";
    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.$domain;

        mta_sts on;
        mta_sts_mx mail.$domain;
        mta_sts_id $id;
        mta_sts_publish $publish;
    }
EOF
}

sub conf {
	my ($id) = @_;
	my $key = "key=$good";
	return <<"EOF";
%%TEST_GLOBALS%%

worker_processes 2;

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_resolver 127.0.0.1:$port timeout=500ms;
    mta_sts_check_interval 1h;

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.company-y.example;

        mta_sts on;
        mta_sts_mx mail.company-y.example;
        mta_sts_id $id;
        mta_sts_tlsrpt_rua mailto:tlsrpt\@company-y.example;
        mta_sts_publish server=127.0.0.1:$port $key ttl=600;

        location = /status {
            mta_sts_status;
        }

        location = /hold {
            mta_sts_tlsrpt_receive $d/reports;
        }
    }

@{[ server('refused.example', "server=127.0.0.1:$port $key", 'r1') ]}
@{[ server('badsig.example', "server=127.0.0.1:$port key=$d/badsig.key",
	'b1') ]}
@{[ server('badkey.example', "server=127.0.0.1:$port key=$d/stranger.key",
	'k1') ]}
@{[ server('sub.company-y.example',
	"server=127.0.0.1:$port $key zone=sub.company-y.example", 'n1') ]}
@{[ server('silent.example', "server=127.0.0.1:$silent $key", 's1') ]}
}
EOF
}

mkdir "$d/reports";
$t->write_file_expand('nginx.conf', conf('20261206a'));
$t->plan(44)->run();

###############################################################################

sub status {
	my $r = $t->curl('http://127.0.0.1:' . $t->port(8080)
		. "/status$_[0]");
	return $r->{body};
}

sub publish {
	my $json = eval { decode_json(status('?format=json')) } or return {};
	return { map { $_ => $json->{domains}{$_}{publish} }
		keys %{$json->{domains}} };
}

# until every domain has an answer (or a time out of 20 s)

sub settled {
	my ($want_id) = @_;
	my $deadline = time + 20;
	my $p;
	while (time < $deadline) {
		$p = publish();
		my @pending = grep { !$_ || $_->{status} eq 'pending' }
			values %$p;
		last if keys %$p == 6 && !@pending
			&& (!$want_id || ($p->{'company-y.example'}{published_id}
				// '') eq $want_id);
		sleep 0.2;
	}
	return $p;
}

my $p = settled('20261206a');
my $y = $p->{'company-y.example'};

is($y->{status}, 'ok', 'published');
is($y->{published_id}, '20261206a', 'the id served');
is($y->{answer}, 'NOERROR', 'NOERROR');
is($y->{server}, "127.0.0.1:$port", 'by the server named');
like($y->{at} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'when');
like($y->{message}, qr/accepted the update to id 20261206a/, 'message');

is_deeply([$ns->txt('_mta-sts.company-y.example')],
	['google-site-verification=keep', 'v=STSv1; id=20261206a'],
	'the old id replaced, the other TXT record kept');
is_deeply([$ns->txt('_smtp._tls.company-y.example')],
	['v=TLSRPTv1; rua=mailto:tlsrpt@company-y.example'],
	'the TLS-RPT record added');
is($ns->query('_mta-sts.company-y.example', 'TXT')->answer
	&& (grep { $_->type eq 'TXT' }
		$ns->query('_mta-sts.company-y.example', 'TXT')->answer)[0]->ttl,
	600, 'ttl=');
is($ns->updates('company-y.example'), 2,
	'one update by one of the two workers: two records added');
unlike($t->read_file('named/named.log'), qr/prerequisite not satisfied/,
	'each update sent once (a copy would fail its prerequisite)');

my $r = $p->{'refused.example'};
is($r->{status}, 'error', 'refused: error');
is($r->{answer}, 'REFUSED', 'refused: REFUSED');
like($r->{message}, qr/^127\.0\.0\.1:$port refused the update: allow key "nginx-key" to update TXT at _mta-sts\.refused\.example\.$/,
	'refused: what to allow');
is($r->{published_id}, undef, 'refused: nothing published');

is($p->{'badsig.example'}{answer}, 'BADSIG', 'wrong secret: BADSIG');
like($p->{'badsig.example'}{message},
	qr/does not accept the signature of key "nginx-key": the secret in "\Q$d\E\/badsig\.key" is not the server's/,
	'wrong secret: message');

is($p->{'badkey.example'}{answer}, 'BADKEY', 'unknown key: BADKEY');
like($p->{'badkey.example'}{message},
	qr/does not know the key "stranger"/, 'unknown key: message');

is($p->{'sub.company-y.example'}{answer}, 'NOTAUTH', 'not the zone: NOTAUTH');
like($p->{'sub.company-y.example'}{message},
	qr/is not authoritative for the zone "sub\.company-y\.example\."/,
	'not the zone: message');

is($p->{'silent.example'}{answer}, 'timeout', 'no server: timeout');
like($p->{'silent.example'}{message},
	qr/^127\.0\.0\.1:$silent did not answer \(3 tries/, 'no server: message');

is_deeply([$ns->txt('_mta-sts.refused.example')], [],
	'nothing written where refused');

# the other formats

my $text = status('?format=text');
like($text, qr/^refused\.example publish: error: .*refused the update/m,
	'text: the refusal');
unlike($text, qr/^company-y\.example publish:/m, 'text: ok is not a problem');

my $prom = status('?format=prometheus');
like($prom, qr/^mta_sts_publish_state\{domain="company-y\.example",state="ok"\} 1$/m,
	'prometheus: state');
like($prom, qr/^mta_sts_publish_updates_sent_total 5$/m,
	'prometheus: updates sent (none to the silent server)');
like($prom, qr/^mta_sts_publish_updates_succeeded_total 1$/m,
	'prometheus: succeeded');
like($prom, qr/^mta_sts_publish_updates_failed_total\{reason="BADSIG"\} 1$/m,
	'prometheus: failed by reason');

# the secret: in no log, on no page

my $everything = $t->read_file('error.log') . $text . $prom
	. status('?format=json') . status('?format=html');
ok(index($everything, $secret) < 0, 'the secret appears nowhere');

# a new id: published once the old workers are gone; one of them is kept
# alive by a request whose body has not all arrived

my $hold = IO::Socket::INET->new('127.0.0.1:' . $t->port(8080))
	or die "connect: $!\n";
print $hold "POST /hold HTTP/1.1\r\nHost: mta-sts.company-y.example\r\n"
	. "Content-Type: application/tlsrpt+json\r\n"
	. "Content-Length: 100\r\n\r\n{";
sleep 0.3;

$t->write_file_expand('nginx.conf', conf('20261206b'));
$t->reload(old_may_stay => 1);
sleep 3;

is(publish()->{'company-y.example'}{status}, 'pending',
	'reloaded: pending while an old worker lives');
is_deeply([$ns->txt('_mta-sts.company-y.example')],
	['google-site-verification=keep', 'v=STSv1; id=20261206a'],
	'reloaded: the old id still published');

close $hold;

$p = settled('20261206b');
is($p->{'company-y.example'}{published_id}, '20261206b',
	'the new id once the old workers are gone');
is_deeply([$ns->txt('_mta-sts.company-y.example')],
	['google-site-verification=keep', 'v=STSv1; id=20261206b'],
	'the new id in DNS');
is($ns->updates('company-y.example'), 3,
	'one more record added (the TLS-RPT one is current)');

# load-time refusals of the key and the parameters

sub refused {
	my ($params, $re, $name) = @_;
	my $conf = <<"EOF";
%%TEST_GLOBALS%%
events {
}
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.company-y.example;
        mta_sts on;
        mta_sts_mx mail.company-y.example;
        mta_sts_publish $params;
    }
}
EOF
	$t->nginx_t_fails($conf, $re, $name);
}

$t->write_file('nosecret.key',
	qq{key "k" {\n\talgorithm hmac-sha256;\n};\n});
$t->write_file('md5.key',
	qq{key "k" {\n\talgorithm hmac-md5;\n\tsecret "$secret";\n};\n});
$t->write_file('base64.key',
	qq{key "k" {\n\talgorithm hmac-sha256;\n\tsecret "not base64!";\n};\n});
chmod 0600, map { "$d/$_.key" } qw(nosecret md5 base64);

refused("server=127.0.0.1 key=$d/none.key",
	qr/the key file "\Q$d\E\/none\.key" cannot be read/, 'no key file');
refused("server=127.0.0.1 key=$d/nosecret.key",
	qr/nosecret\.key: the key has no secret/, 'no secret');
my $out = refused("server=127.0.0.1 key=$d/md5.key",
	qr/md5\.key:2: the key's algorithm is too weak/, 'hmac-md5');
ok(index($out, $secret) < 0, 'the refusal does not show the secret');
refused("server=127.0.0.1 key=$d/base64.key",
	qr/base64\.key:3: the key's secret is not base64/, 'bad secret');
refused("server=127.0.0.1",
	qr/"mta_sts_publish" directive needs "key=": the TSIG key/, 'no key');
refused("server=127.0.0.1 key=$good zone=other.example",
	qr/the domain "company-y\.example" is not in the zone "other\.example"/,
	'zone= not holding the domain');

chmod 0644, $good;
my ($rc2, $warn) = $t->test_config(conf('20261206c'));
like($warn, qr/\[warn\] \d+#\d+: the TSIG key file "\Q$good\E" can be read by others than its owner: chmod 600 it/,
	'a key file others can read: warned');
chmod 0600, $good;

###############################################################################
