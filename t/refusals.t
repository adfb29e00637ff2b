#!/usr/bin/perl

# Every value a sender would reject is refused by "nginx -t", with a message
# that names the directive, the value, the reason and file:line.

use warnings;
use strict;

use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;

###############################################################################

my $long_label = 'a' x 64;
my $long_name = join('.', ('abcdefghi') x 25) . '.example';   # 258 chars
my $many_mx = join(' ', map { sprintf('mx%03d.%s.example.com', $_, 'a' x 40) }
	1 .. 200);

# [ directives in a server with "mta_sts on", expected message, the value
#   that the line named in the message must contain ]

my $inv = sub {
	my ($value, $directive, $reason) = @_;
	return qr/\[emerg\] .*invalid value "\Q$value\E" in "\Q$directive\E" directive, \Q$reason\E in \S+:\d+/;
};

my $host = 'host names contain only letters, digits, hyphens and dots';
my $wild = 'a wildcard must be the whole leftmost label, as in "*.example.com"';
my $ip = 'an IP address is not a host name';
my $alabel = 'a label that begins with "xn--" must be a valid A-label '
	. '(punycode)';
my $modes = 'it must be "enforce", "testing" or "none"';
my $time = 'it must be a time in seconds or with a unit, as in "604800" or "1w"';
my $big = 'it must not exceed 31557600 seconds (365.25 days)';
my $idv = 'it must be "auto" or 1 to 32 letters and digits';
my $addr = 'a "mailto:" URI needs an address, as in "mailto:tlsrpt@example.com"';
my $hosturi = 'an "https:" URI needs a host, as in '
	. '"https://reports.example.com/tlsrpt"';

my @cases = (

	# mta_sts_mode

	['mta_sts_mode enforced;', $inv->('enforced', 'mta_sts_mode', $modes),
		'enforced'],
	['mta_sts_mode "";', $inv->('', 'mta_sts_mode', $modes), 'mta_sts_mode'],
	['mta_sts_mode strict;', $inv->('strict', 'mta_sts_mode', $modes),
		'strict'],
	['mta_sts_mode enforce; mta_sts_mode testing;',
		qr/"mta_sts_mode" directive is duplicate in \S+:\d+/, 'testing'],

	# mta_sts_mx

	['mta_sts_mx mail_1.example.com;', $inv->('mail_1.example.com',
		'mta_sts_mx', 'underscore is not allowed in host names'),
		'mail_1'],
	['mta_sts_mx 192.0.2.1;', $inv->('192.0.2.1', 'mta_sts_mx', $ip),
		'192.0.2.1'],
	['mta_sts_mx mx.xn--zz.example.com;', $inv->('mx.xn--zz.example.com',
		'mta_sts_mx', $alabel), 'xn--zz'],
	['mta_sts_mx *.XN--LS8H.example.com;', $inv->('*.XN--LS8H.example.com',
		'mta_sts_mx', $alabel), 'XN--LS8H'],
	['mta_sts_mx [2001:db8::1];', $inv->('[2001:db8::1]', 'mta_sts_mx', $ip),
		'2001:db8'],
	['mta_sts_mx mail.example.123;', $inv->('mail.example.123',
		'mta_sts_mx', $ip), 'example.123'],
	['mta_sts_mx mail.*.example.com;', $inv->('mail.*.example.com',
		'mta_sts_mx', $wild), 'mail.*'],
	['mta_sts_mx m*.example.com;', $inv->('m*.example.com', 'mta_sts_mx',
		$wild), 'm*.example'],
	['mta_sts_mx *mx.example.com;', $inv->('*mx.example.com', 'mta_sts_mx',
		$wild), '*mx.example'],
	['mta_sts_mx *.*.example.com;', $inv->('*.*.example.com', 'mta_sts_mx',
		$wild), '*.*.example'],
	['mta_sts_mx *;', $inv->('*', 'mta_sts_mx', $wild), 'mta_sts_mx *'],
	['mta_sts_mx "*.";', $inv->('*.', 'mta_sts_mx', $wild), '"*."'],
	['mta_sts_mx .example.com;', $inv->('.example.com', 'mta_sts_mx',
		'empty label'), '.example.com'],
	['mta_sts_mx mail..example.com;', $inv->('mail..example.com',
		'mta_sts_mx', 'empty label'), 'mail..example'],
	['mta_sts_mx mail.example.com..;', $inv->('mail.example.com..',
		'mta_sts_mx', 'empty label'), 'example.com..'],
	['mta_sts_mx -mail.example.com;', $inv->('-mail.example.com',
		'mta_sts_mx', 'label begins or ends with a hyphen'), '-mail'],
	['mta_sts_mx mail-.example.com;', $inv->('mail-.example.com',
		'mta_sts_mx', 'label begins or ends with a hyphen'), 'mail-'],
	["mta_sts_mx $long_label.example.com;", $inv->("$long_label.example.com",
		'mta_sts_mx', 'label longer than 63 characters'), $long_label],
	["mta_sts_mx $long_name;", $inv->($long_name, 'mta_sts_mx',
		'name is longer than 253 characters'), $long_name],
	['mta_sts_mx "mail example.com";', $inv->('mail example.com',
		'mta_sts_mx', $host), 'mail example'],
	['mta_sts_mx mail.ex@mple.com;', $inv->('mail.ex@mple.com',
		'mta_sts_mx', $host), 'ex@mple'],
	['mta_sts_mx "";', $inv->('', 'mta_sts_mx', 'empty name'),
		'mta_sts_mx ""'],
	["mta_sts_mx \"\xcc\x81mail.example.com\";",
		$inv->("\xcc\x81mail.example.com", 'mta_sts_mx',
		'not a valid internationalized domain name'), 'mail.example'],

	# mta_sts_max_age

	['mta_sts_max_age 31557601;', $inv->('31557601', 'mta_sts_max_age',
		$big), '31557601'],
	['mta_sts_max_age 2y;', $inv->('2y', 'mta_sts_max_age', $big), '2y'],
	['mta_sts_max_age 367d;', $inv->('367d', 'mta_sts_max_age', $big),
		'367d'],
	['mta_sts_max_age -1;', $inv->('-1', 'mta_sts_max_age', $time), '-1'],
	['mta_sts_max_age 1x;', $inv->('1x', 'mta_sts_max_age', $time), '1x'],
	['mta_sts_max_age 1.5d;', $inv->('1.5d', 'mta_sts_max_age', $time),
		'1.5d'],
	['mta_sts_max_age 99999999999999999999;',
		$inv->('99999999999999999999', 'mta_sts_max_age', $time),
		'99999999999999999999'],
	['mta_sts_max_age 1w; mta_sts_max_age 2w;',
		qr/"mta_sts_max_age" directive is duplicate in \S+:\d+/, '2w'],

	# mta_sts_id

	['mta_sts_id 2026-11-28;', $inv->('2026-11-28', 'mta_sts_id', $idv),
		'2026-11-28'],
	['mta_sts_id ' . ('1' x 33) . ';', $inv->('1' x 33, 'mta_sts_id', $idv),
		'1' x 33],
	['mta_sts_id "ab cd";', $inv->('ab cd', 'mta_sts_id', $idv), 'ab cd'],
	['mta_sts_id abc_def;', $inv->('abc_def', 'mta_sts_id', $idv),
		'abc_def'],
	['mta_sts_id "dGVzdA==";', $inv->('dGVzdA==', 'mta_sts_id', $idv),
		'dGVzdA'],
	['mta_sts_id "";', $inv->('', 'mta_sts_id', $idv), 'mta_sts_id'],

	# mta_sts_tlsrpt_rua

	['mta_sts_tlsrpt_rua mailto:tlsrpt@example.com!10m;',
		$inv->('mailto:tlsrpt@example.com!10m', 'mta_sts_tlsrpt_rua',
		'"!" must be percent-encoded as "%21" '
		. '(TLS-RPT has no size limit suffix)'), '!10m'],
	['mta_sts_tlsrpt_rua "mailto:a@example.com,mailto:b@example.com";',
		$inv->('mailto:a@example.com,mailto:b@example.com',
		'mta_sts_tlsrpt_rua', '"," must be percent-encoded as "%2C", '
		. 'give several URIs as separate parameters'), ',mailto'],
	['mta_sts_tlsrpt_rua "mailto:a@example.com;x";',
		$inv->('mailto:a@example.com;x', 'mta_sts_tlsrpt_rua',
		'";" must be percent-encoded as "%3B"'), ';x'],
	['mta_sts_tlsrpt_rua http://reports.example.com/;',
		$inv->('http://reports.example.com/', 'mta_sts_tlsrpt_rua',
		'reports are not sent over plain "http:", '
		. 'use "https:" or "mailto:"'), 'http://'],
	['mta_sts_tlsrpt_rua ftp://reports.example.com/;',
		$inv->('ftp://reports.example.com/', 'mta_sts_tlsrpt_rua',
		'only "mailto:" and "https:" URIs are allowed'), 'ftp://'],
	['mta_sts_tlsrpt_rua tlsrpt@example.com;',
		$inv->('tlsrpt@example.com', 'mta_sts_tlsrpt_rua',
		'only "mailto:" and "https:" URIs are allowed'),
		'rua tlsrpt@'],
	['mta_sts_tlsrpt_rua mailto:;', $inv->('mailto:', 'mta_sts_tlsrpt_rua',
		$addr), 'mailto:;'],
	['mta_sts_tlsrpt_rua mailto:tlsrpt;', $inv->('mailto:tlsrpt',
		'mta_sts_tlsrpt_rua', $addr), 'mailto:tlsrpt'],
	['mta_sts_tlsrpt_rua mailto:a@b@example.com;',
		$inv->('mailto:a@b@example.com', 'mta_sts_tlsrpt_rua',
		'a "mailto:" URI takes one address'), 'a@b@'],
	['mta_sts_tlsrpt_rua mailto:tlsrpt@exa_mple.com;',
		$inv->('mailto:tlsrpt@exa_mple.com', 'mta_sts_tlsrpt_rua',
		'the domain of the "mailto:" address is not a valid host name'),
		'exa_mple'],
	['mta_sts_tlsrpt_rua mailto:tls%2reports@example.com;',
		$inv->('mailto:tls%2reports@example.com', 'mta_sts_tlsrpt_rua',
		'invalid percent-encoding'), '%2r'],
	['mta_sts_tlsrpt_rua https:reports;', $inv->('https:reports',
		'mta_sts_tlsrpt_rua', $hosturi), 'https:reports'],
	['mta_sts_tlsrpt_rua https://;', $inv->('https://',
		'mta_sts_tlsrpt_rua', $hosturi), 'https://;'],
	['mta_sts_tlsrpt_rua "https://reports example.com/";',
		$inv->('https://reports example.com/', 'mta_sts_tlsrpt_rua',
		'URIs contain no spaces, quotes or control characters, '
		. 'percent-encode them'), 'reports example'],
	['mta_sts_tlsrpt_rua https://user@reports.example.com/;',
		$inv->('https://user@reports.example.com/', 'mta_sts_tlsrpt_rua',
		'an "https:" URI must not carry user information'), 'user@'],
	['mta_sts_tlsrpt_rua https://reports.example.com:port/;',
		$inv->('https://reports.example.com:port/', 'mta_sts_tlsrpt_rua',
		'invalid port in "https:" URI'), ':port'],
	['mta_sts_tlsrpt_rua https://rep_orts.example.com/;',
		$inv->('https://rep_orts.example.com/', 'mta_sts_tlsrpt_rua',
		'the host of the "https:" URI is not a valid host name'),
		'rep_orts'],

	# mta_sts_domains

	['mta_sts_domains { exa_mple.com; }', $inv->('exa_mple.com',
		'mta_sts_domains', 'underscore is not allowed in host names'),
		'exa_mple'],
	['mta_sts_domains { xn--a.example; }',
		$inv->('xn--a.example', 'mta_sts_domains', $alabel),
		'xn--a.example'],
	['mta_sts_domains { *.example.com; }', $inv->('*.example.com',
		'mta_sts_domains', 'wildcards are not allowed here'),
		'*.example.com'],
	['mta_sts_domains { 192.0.2.1; }', $inv->('192.0.2.1',
		'mta_sts_domains', $ip), '192.0.2.1'],
	["mta_sts_domains {\n a.example;\n b..example;\n }",
		$inv->('b..example', 'mta_sts_domains', 'empty label'),
		'b..example'],

);

# a whole server or http block, and the text its message must have

my @blocks = (

	["server { listen 127.0.0.1:%%PORT_8080%%; server_name mta-sts.a.test;\n"
		. "mta_sts on; mta_sts_mode enforce; }",
		qr/no "mta_sts_mx" is defined for "mta_sts_mode enforce" in \S+:\d+/,
		'server {'],
	["server { listen 127.0.0.1:%%PORT_8080%%; server_name mta-sts.a.test;\n"
		. "mta_sts on; }",
		qr/no "mta_sts_mx" is defined for "mta_sts_mode testing" in \S+:\d+/,
		'server {'],
	["server { listen 127.0.0.1:%%PORT_8080%%; server_name mta-sts.a.test;\n"
		. "mta_sts on; mta_sts_mx $many_mx; }",
		qr/the policy of the server in \S+:\d+ is \d+ bytes, senders accept at most 10239: use wildcard "mta_sts_mx" patterns/,
		'server {'],
	["server { listen 127.0.0.1:%%PORT_8080%%; mta_sts\nmaybe; }",
		qr/invalid value "maybe" in "mta_sts" directive, it must be "on" or "off" in \S+:\d+/,
		'maybe'],
	# the status location's directives (http level)

	["mta_sts_resolver\n dns.example.net;\n",
		$inv->('dns.example.net', 'mta_sts_resolver', 'it must be an IP '
		. 'address with an optional port, as in "127.0.0.1:53" or '
		. '"[::1]:5353"'), 'dns.example.net'],
	["mta_sts_resolver 127.0.0.1\n timeout=soon;\n",
		$inv->('timeout=soon', 'mta_sts_resolver', 'the timeout must be a '
		. 'time, as in "timeout=2s"'), 'timeout=soon'],
	["mta_sts_resolver 127.0.0.1\n attempts=0;\n",
		$inv->('attempts=0', 'mta_sts_resolver', 'attempts must be a number '
		. 'from 1 to 10'), 'attempts=0'],
	["mta_sts_resolver 127.0.0.1;\nmta_sts_resolver 127.0.0.2;\n",
		qr/"mta_sts_resolver" directive is duplicate in \S+:\d+/,
		'127.0.0.2'],
	["mta_sts_check_interval\n 5s;\n",
		$inv->('5s', 'mta_sts_check_interval', 'it must be "off" or a time '
		. 'of at least 10 seconds, as in "1h"'), '5s'],
	["mta_sts_check_interval 1h;\nmta_sts_check_interval 2h;\n",
		qr/"mta_sts_check_interval" directive is duplicate in \S+:\d+/,
		'2h'],
	["mta_sts_check_starttls\n maybe;\n",
		$inv->('maybe', 'mta_sts_check_starttls', 'it must be "on" or '
		. '"off"'), 'maybe'],
	["mta_sts_check_starttls on\n port=0;\n",
		$inv->('port=0', 'mta_sts_check_starttls', 'the port must be a '
		. 'number from 1 to 65535'), 'port=0'],
	["mta_sts_check_starttls on\n timeout=x;\n",
		$inv->('timeout=x', 'mta_sts_check_starttls', 'the timeout must be '
		. 'a time, as in "timeout=10s"'), 'timeout=x'],
	["mta_sts_check_starttls on\n tls=1.3;\n",
		$inv->('tls=1.3', 'mta_sts_check_starttls', 'it must be "port=" or '
		. '"timeout="'), 'tls=1.3'],
	["mta_sts_check_starttls on;\nmta_sts_check_starttls off;\n",
		qr/"mta_sts_check_starttls" directive is duplicate in \S+:\d+/,
		'off'],
	["mta_sts_check_dane\n maybe;\n",
		$inv->('maybe', 'mta_sts_check_dane', 'it must be "on" or "off"'),
		'maybe'],
	["mta_sts_check_dane on;\nmta_sts_check_dane off;\n",
		qr/"mta_sts_check_dane" directive is duplicate in \S+:\d+/,
		'off'],
	["server { listen 127.0.0.1:%%PORT_8080%%;\n"
		. "location = /s { mta_sts_status x; } }",
		qr/invalid number of arguments in "mta_sts_status" directive in \S+:\d+/,
		'mta_sts_status x'],

	["server { listen 127.0.0.1:%%PORT_8080%%;\n"
		. "location = /r { mta_sts_tlsrpt_receive \"\"; } }",
		$inv->('', 'mta_sts_tlsrpt_receive', 'a directory is needed'),
		'mta_sts_tlsrpt_receive'],
	["server { listen 127.0.0.1:%%PORT_8080%%; location = /r {\n"
		. "mta_sts_tlsrpt_receive %%TESTDIR%%/r1;\n"
		. "mta_sts_tlsrpt_receive %%TESTDIR%%/r2; } }",
		qr/"mta_sts_tlsrpt_receive" directive is duplicate in \S+:\d+/,
		'/r2'],
	["server { listen 127.0.0.1:%%PORT_8080%%;\n"
		. "mta_sts_tlsrpt_receive %%TESTDIR%%/r1; }",
		qr/"mta_sts_tlsrpt_receive" directive is not allowed here in \S+:\d+/,
		'mta_sts_tlsrpt_receive'],
	["mta_sts_tlsrpt_window 12h;\n",
		$inv->('12h', 'mta_sts_tlsrpt_window',
			'it must be a time from 1d to 366d'), '12h'],
	["mta_sts_tlsrpt_window 400d;\n",
		$inv->('400d', 'mta_sts_tlsrpt_window',
			'it must be a time from 1d to 366d'), '400d'],
	["mta_sts_tlsrpt_window 7d;\nmta_sts_tlsrpt_window 14d;\n",
		qr/"mta_sts_tlsrpt_window" directive is duplicate in \S+:\d+/,
		'14d'],
	["mta_sts_tlsrpt_retention 12h;\n",
		$inv->('12h', 'mta_sts_tlsrpt_retention',
			'it must be "off" or a time of 1d or more'), '12h'],
	["mta_sts_tlsrpt_retention off;\nmta_sts_tlsrpt_retention 90d;\n",
		qr/"mta_sts_tlsrpt_retention" directive is duplicate in \S+:\d+/,
		'90d'],
	["mta_sts_tlsrpt_max_size 20q;\n",
		qr/"mta_sts_tlsrpt_max_size" directive invalid value in \S+:\d+/,
		'20q'],

	["mta_sts on;\n", qr/"mta_sts" directive is not allowed here in \S+:\d+/,
		'mta_sts on'],
	["mta_sts_domains { a.example; }\n",
		qr/"mta_sts_domains" directive is not allowed here in \S+:\d+/,
		'mta_sts_domains'],
	["server { listen 127.0.0.1:%%PORT_8080%%; location / {\n"
		. "mta_sts_mode enforce; } }",
		qr/"mta_sts_mode" directive is not allowed here in \S+:\d+/,
		'mta_sts_mode'],
	["server { listen 127.0.0.1:%%PORT_8080%%; location / {\n"
		. "mta_sts_mx mail.example.com; } }",
		qr/"mta_sts_mx" directive is not allowed here in \S+:\d+/,
		'mta_sts_mx'],
);

# the trust store is read with the status location: no file:line there

my @trust = (
	['mta_sts_trusted_certificate "";',
		qr/\[emerg\] .*invalid value "" in "mta_sts_trusted_certificate" directive, it must be a file of PEM certificates/],
	['mta_sts_trusted_certificate /nonexistent/ca.pem;',
		qr/\[emerg\] .*invalid value "\/nonexistent\/ca.pem" in "mta_sts_trusted_certificate" directive, it must be a readable file of PEM certificates/],
);

# checked once the http block is read: no file:line either

push @trust, ['mta_sts_tlsrpt_retention 7d;',
	qr/\[emerg\] .*"mta_sts_tlsrpt_retention" of 7 days is shorter than "mta_sts_tlsrpt_window" of 30 days: the reports the status page counts would be deleted/];

my $t = Test::Nginx->new()->plan(2 * (@cases + @blocks) + @trust);

for my $c (@trust) {
	my ($directive, $re) = @$c;
	$t->nginx_t_fails(conf("$directive\n"
		. "server {\n listen 127.0.0.1:%%PORT_8080%%;\n"
		. " server_name mta-sts.example.com;\n mta_sts on;\n"
		. " mta_sts_mx mail.example.com;\n"
		. " location = /status { mta_sts_status; }\n}\n"),
		$re, "refused: $directive");
}

for my $c (@cases) {
	my ($directives, $re, $at) = @$c;
	check($t, conf("server {\n listen 127.0.0.1:%%PORT_8080%%;\n"
		. " server_name mta-sts.example.com;\n mta_sts on;\n"
		. ($directives =~ /mta_sts_mx/ ? '' : " mta_sts_mx mail.example.com;\n")
		. " $directives\n}\n"), $re, $at, $directives);
}

for my $b (@blocks) {
	my ($block, $re, $at) = @$b;
	check($t, conf("$block\n"), $re, $at, (split /\n/, $block)[-1]);
}

###############################################################################

sub conf {
	my ($http) = @_;
	return <<"EOF";
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

$http
}
EOF
}

# nginx -t fails with the message, and file:line of the message is the line
# where the offending value stands

sub check {
	my ($t, $conf, $re, $at, $name) = @_;
	$name = substr($name, 0, 60);

	my $out = $t->nginx_t_fails($conf, $re, "refused: $name");
	my ($file, $line) = $out =~ /\[emerg\].* in (\S+):(\d+)/;

	my $text = defined $file && -f $file
		? (split /\n/, $t->read_file($file))[$line - 1] // '' : '';
	like($text, qr/\Q$at\E/, "line named: $name");
}

###############################################################################
