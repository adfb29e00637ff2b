#!/usr/bin/perl

# mta-sts-tlsrpt-mail: the TLS-RPT reports of a mail message (multipart/
# report, RFC 8460 5.3.1) handed to nginx's mta_sts_tlsrpt_receive, and
# the exit status an MTA's pipe transport reads.

use warnings;
use strict;

use Test::More;
use MIME::Base64 qw(encode_base64);
use IO::Compress::Gzip qw(gzip $GzipError);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;

###############################################################################

my $t = Test::Nginx->new();
my $d = $t->testdir;
my $ca = Test::MtaSts::CA->new($d);
my ($crt, $key) = $ca->cert('tlsrpt', dns => ['mta-sts.company-y.example'],
	ip => ['127.0.0.1']);
my $cmd = "$FindBin::Bin/../src/tlsrpt/mta-sts-tlsrpt-mail";

$t->write_file_expand('nginx.conf', <<"EOF");
%%TEST_GLOBALS%%

events {
}

http {
    %%TEST_GLOBALS_HTTP%%

    server {
        listen 127.0.0.1:%%PORT_8443%% ssl;
        listen 127.0.0.1:%%PORT_8080%%;
        server_name mta-sts.company-y.example;

        ssl_certificate $crt;
        ssl_certificate_key $key;

        mta_sts on;
        mta_sts_mx *.mail.company-y.example;

        location = /tlsrpt {
            mta_sts_tlsrpt_receive $d/reports;
        }
    }
}
EOF

$t->plan(17)->run();

###############################################################################

my $http = 'http://127.0.0.1:' . $t->port(8080) . '/tlsrpt';
my $https = 'https://127.0.0.1:' . $t->port(8443) . '/tlsrpt';

sub report {
	my ($id, $domain) = @_;
	$domain //= 'company-y.example';
	return qq({"organization-name":"Company-X","date-range":)
		. qq({"start-datetime":"2016-04-01T00:00:00Z",)
		. qq("end-datetime":"2016-04-01T23:59:59Z"},)
		. qq("contact-info":"sts-reporting\@company-x.example",)
		. qq("report-id":"$id","policies":[{"policy":{"policy-type":)
		. qq("sts","policy-domain":"$domain"},"summary":)
		. qq({"total-successful-session-count":5326,)
		. qq("total-failure-session-count":303}}]}\n);
}

sub gz {
	my ($in) = @_;
	gzip(\$in => \my $out) or die "gzip: $GzipError\n";
	return $out;
}

# a multipart/report as a sender mails it (RFC 8460, section 5.3.1)

sub message {
	my (@parts) = @_;
	my $m = "From: tlsrpt\@company-x.example\n"
		. "To: tls-reports\@company-y.example\n"
		. "Subject: Report Domain: company-y.example Submitter: "
		. "company-x.example Report-ID: <1\@company-x.example>\n"
		. "TLS-Report-Domain: company-y.example\n"
		. "TLS-Report-Submitter: company-x.example\n"
		. "MIME-Version: 1.0\n"
		. "Content-Type: multipart/report; report-type=\"tlsrpt\";\n"
		. "    boundary=\"----=_Part_1\"\n\n"
		. "------=_Part_1\n"
		. "Content-Type: text/plain; charset=us-ascii\n\n"
		. "This is an aggregate TLS report from company-x.example\n\n";
	for my $p (@parts) {
		my ($type, $body) = @$p;
		if ($type =~ /gzip/) {
			$m .= "------=_Part_1\nContent-Type: $type\n"
				. "Content-Transfer-Encoding: base64\n"
				. "Content-Disposition: attachment;\n"
				. "    filename=\"company-x.example!company-y.example!"
				. "1459468800!1459555199.json.gz\"\n\n"
				. encode_base64($body) . "\n";
		} else {
			$m .= "------=_Part_1\nContent-Type: $type\n\n$body\n";
		}
	}
	return $m . "------=_Part_1--\n";
}

sub deliver {
	my ($message, @args) = @_;
	my $file = $t->write_file('message', $message);
	my ($rc, $out, $err) = Test::Nginx::capture(['sh', '-c',
		'exec "$0" "$@" < "$MSG"', $cmd, @args],
		env => { MSG => $file });
	return ($rc, $err);
}

sub stored {
	opendir my $dh, "$d/reports" or return 0;
	return scalar grep { /\.json$/ } readdir $dh;
}

my ($rc, $err) = deliver(message(['application/tlsrpt+gzip',
	gz(report('one'))]), $http);
is($rc, 0, 'a mailed gzip report: exit 0');
my $gz = qr/report 1 \(application\/tlsrpt\+gzip, \d+ bytes\)/;
like($err, qr/^mta-sts-tlsrpt-mail: $gz: 201 stored$/m, 'stored');
is(stored(), 1, 'one report in the store');

($rc, $err) = deliver(message(['application/tlsrpt+gzip',
	gz(report('one'))]), $http);
is($rc, 0, 'the same message again: exit 0');
like($err, qr/: 200 a duplicate: the report was already stored$/m,
	'a duplicate');
is(stored(), 1, 'still one report');

($rc, $err) = deliver(message(['application/tlsrpt+json', report('two')],
	['application/tlsrpt+gzip', gz(report('three'))]), $http);
is($rc, 0, 'two reports in one message');
is(stored(), 3, 'both stored');

($rc, $err) = deliver(message(['application/tlsrpt+gzip',
	gz(report('four'))]), '--cacert', $ca->ca_file, $https);
is($rc, 0, 'over https, verified with --cacert');
is(stored(), 4, 'stored');

($rc, $err) = deliver(message(['application/tlsrpt+gzip',
	gz(report('five'))]), $https);
is($rc, 75, 'a certificate not trusted: try again later (75)');

($rc, $err) = deliver(message(), $http);
is($rc, 65, 'no report part: 65');
my $none = 'no application/tlsrpt+gzip or application/tlsrpt+json part';
like($err, qr/^mta-sts-tlsrpt-mail: \Q$none\E in the message$/m, 'said so');

($rc, $err) = deliver(message(['application/tlsrpt+json', '{"a": 1}']),
	$http);
is($rc, 65, 'not a report: 65');

($rc, $err) = deliver(message(['application/tlsrpt+json',
	report('six', 'stranger.example')]), $http);
is($rc, 77, 'a domain not served here: 77');

my $closed = 'http://127.0.0.1:' . $t->port(9999) . '/tlsrpt';
($rc, $err) = deliver(message(['application/tlsrpt+json', report('seven')]),
	$closed);
is($rc, 75, 'nginx not there: try again later (75)');

is(stored(), 4, 'nothing else was stored');

###############################################################################
