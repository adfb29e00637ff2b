#!/usr/bin/perl

# 10,000 domains checked in one round through a real nsd: every domain gets
# its results, the worker never holds more than a bounded number of sockets,
# and policies are served correctly while the round runs.  The answers of
# all the domains, in every format, are whole; they are rendered a slice
# per turn of the event loop, and policies are answered meanwhile.

use warnings;
use strict;

use Test::More;

use IO::Select;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::DNS;

###############################################################################

my $N = 10000;

my $t = Test::Nginx->new();
my $d = $t->testdir;

$t->write_file('domains.txt', join('', map { "d$_.scale.test;\n" } 1 .. $N));

my @rr = ('mail.mx IN A 127.0.0.1');

for my $i (1 .. $N) {
	push @rr, "d$i IN MX 10 mail.mx",
		"mta-sts.d$i IN A 127.0.0.1",
		"_mta-sts.d$i IN TXT \"v=STSv1; id=scale1\"",
		"_smtp._tls.d$i IN TXT \"v=TLSRPTv1; rua=mailto:r\@scale.test\"";
}

mkdir "$d/nsd" or die "mkdir: $!\n";
my $dns = Test::MtaSts::DNS->start_nsd(dir => "$d/nsd",
	port => $t->port(5353),
	zones => { 'scale.test' => Test::MtaSts::DNS->zone_text('scale.test',
		@rr) });

$t->write_file_expand('nginx.conf', <<'EOF');
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    mta_sts_resolver 127.0.0.1:%%PORT_5353%% timeout=2s attempts=3;
    mta_sts_check_interval off;

    log_format timed '$msec $request_time $request_method $uri $status';

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.*;

        mta_sts on;
        mta_sts_mode enforce;
        mta_sts_mx *.mx.scale.test;
        mta_sts_id scale1;
        mta_sts_tlsrpt_rua mailto:r@scale.test;

        mta_sts_domains {
            include domains.txt;
        }

        location = /status {
            mta_sts_status;
        }

        access_log %%TESTDIR%%/timed.log timed;
    }
}
EOF

$t->plan(17)->run();

###############################################################################

my $policy = "version: STSv1\r\nmode: enforce\r\nmx: *.mx.scale.test\r\n"
	. "max_age: 604800\r\n";

my ($worker) = grep { /^\d+$/ } split /\s+/,
	`pgrep -P \$(cat $d/nginx.pid)`;

sub sockets {
	my $n = 0;
	for my $fd (glob "/proc/$worker/fd/*") {
		$n++ if (readlink($fd) // '') =~ /^socket:/;
	}
	return $n;
}

# start the round, then watch the worker and fetch policies while it runs

my $s = $t->http("GET /status?refresh=1&format=text HTTP/1.0\r\n"
	. "Host: mta-sts.d1.scale.test\r\n\r\n", start => 1, timeout => 120);

my ($max, $served, $bad) = (0, 0, 0);

for my $i (1 .. 200) {
	my $n = sockets();
	$max = $n if $n > $max;

	my $dom = 'd' . (1 + int rand $N) . '.scale.test';
	my $raw = $t->http("GET /.well-known/mta-sts.txt HTTP/1.0\r\n"
		. "Host: mta-sts.$dom\r\n\r\n");
	my $body = (split /\r\n\r\n/, $raw // '', 2)[1] // '';
	$body eq $policy ? $served++ : $bad++;
}

my $text = $t->http_end($s, timeout => 120);

is("$served $bad", '200 0', 'policies served while the round runs');
ok($max > 0 && $max < 100, "sockets held by the worker bounded ($max)");

# every domain checked: sts, tlsrpt, mx and host ok; no certificate here

my %rows;
for (split /\n/, (split /\r\n\r\n/, $text // '', 2)[1] // '') {
	my @col = split ' ';
	$rows{"@col[3 .. 9]"}++ if @col == 10 && $col[0] =~ /\.scale\.test$/;
}

is(join(', ', map { "$_: $rows{$_}" } sort keys %rows),
	"ok ok ok ok warning skipped skipped: $N",
	"$N domains checked in one round");

my ($head) = split /\r\n\r\n/, $text // '', 2;
like($head, qr/^HTTP\/1.1 200 /, 'refresh answered');

# a second refresh of one domain works after the big round

my $raw = $t->http("GET /status?refresh=1&format=text&domain=d77.scale.test"
	. " HTTP/1.0\r\nHost: x\r\n\r\n");
like($raw, qr/^d77\.scale\.test +warning +enforce( +ok){4} +warning +skipped/m,
	'one domain refreshed');

# every format holds every domain

sub body {
	my ($raw) = @_;
	return (split /\r\n\r\n/, $raw // '', 2)[1] // '';
}

sub status {
	my ($format) = @_;
	return body($t->http("GET /status?format=$format HTTP/1.0\r\n"
		. "Host: x\r\n\r\n", timeout => 120));
}

my $json = status('json');
my $n = () = $json =~ /"d\d+\.scale\.test":\{"status":"warning"/g;
is($n, $N, 'json: every domain');
like($json, qr/\}\}\n\z/, 'json: whole');

my $prom = status('prometheus');
$n = () = $prom =~ /^mta_sts_domain_state\{domain="d\d+\.scale\.test",
	state="warning"\}\ 1$/mgx;
is($n, $N, 'prometheus: every domain');

# the samples of a metric are one group, after its TYPE line

my (%type, %seen, $grouped);
$grouped = 1;
my $last = '';
for (split /\n/, $prom) {
	if (/^# TYPE (\w+)/) {
		$type{$1}++;
		next;
	}
	next if /^#/;
	my ($m) = /^(\w+)/ or next;
	$grouped = 0 if $m ne $last && $seen{$m}++;
	$last = $m;
}
ok($grouped && !grep({ $_ != 1 } values %type) && keys %type == 11,
	'prometheus: each metric once, its samples together');

my $html = status('html');
$n = () = $html =~ /<tr><td><a href="#d\d+\.scale\.test">/g;
is($n, $N, 'html: every domain');
like($html, qr/<\/tbody>\n<\/table>\n.*<\/body>\n<\/html>\n\z/s,
	'html: whole');

my $zone = status('zone');
$n = () = $zone =~ /^; d\d+\.scale\.test: mode enforce, status warning$/mg;
is($n, $N, 'zone: every domain');

# while the answer is rendered, policies are answered: HEAD renders it all
# (its length) and sends no body; the policies asked meanwhile were served
# before the answer's end

my $slices = () = $t->read_file('error.log') =~ /mta-sts status slice/g;

my $st = $t->http("HEAD /status?format=prometheus HTTP/1.0\r\nHost: x\r\n\r\n",
	start => 1);
my $sel = IO::Select->new($st);
my $asked = 0;

until ($sel->can_read(0) || $asked >= 5000) {
	$t->http("GET /.well-known/mta-sts.txt HTTP/1.0\r\n"
		. "Host: mta-sts.d2.scale.test\r\n\r\n");
	$asked++;
}

my $raw_head = $t->http_end($st, timeout => 120);
my ($len) = ($raw_head // '') =~ /Content-Length: (\d+)/i;
is($len, length $prom, 'HEAD: the length of the whole answer');

$slices = (() = $t->read_file('error.log') =~ /mta-sts status slice/g)
	- $slices;
ok($slices > 100, "answer rendered in slices ($slices)");

my ($end, $took) = map { /^([\d.]+) ([\d.]+) HEAD \/status 200$/ ? ($1, $2)
	: () } split /\n/, $t->read_file('timed.log');
my $during = grep { /^([\d.]+) [\d.]+ GET \/\.well-known\S+ 200$/
	&& $1 > $end - $took && $1 < $end } split /\n/,
	$t->read_file('timed.log');

ok($during > 0, "policies served while rendering ($during of $asked)");

# a client that goes away while its answer is rendered

my $gone = $t->http("GET /status?format=prometheus HTTP/1.0\r\nHost: x\r\n\r\n",
	start => 1);
select undef, undef, undef, 0.01;
close $gone;

like($t->http("GET /.well-known/mta-sts.txt HTTP/1.0\r\n"
	. "Host: mta-sts.d3.scale.test\r\n\r\n"), qr/^HTTP\/1.1 200 /,
	'served after a client left during a render');

unlike($t->read_file('error.log'), qr/\[crit\]/, 'zone big enough');

###############################################################################
