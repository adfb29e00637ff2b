#!/usr/bin/perl

# TLS-RPT reports POSTed to mta_sts_tlsrpt_receive (RFC 8460, 5.3): every
# answer, gzip by its magic bytes, the limits (inflated size, depth,
# UTF-8), the tolerance of what real senders leave out, duplicates stored
# once, and a full disk that loses nothing already stored.

use warnings;
use strict;

use Test::More;
use JSON::PP;
use IO::Compress::Gzip qw(gzip $GzipError);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;

###############################################################################

my $t = Test::Nginx->new();
my $d = $t->testdir;
my $ca = Test::MtaSts::CA->new($d);
my ($crt, $key) = $ca->cert('tlsrpt', dns => ['mta-sts.company-y.example']);

# a disk that is nearly full: 16 KiB of tmpfs

mkdir "$d/full" or die "mkdir: $!\n";
system('mount', '-t', 'tmpfs', '-o', 'size=16k,mode=0755', 'tmpfs',
	"$d/full") == 0 or die "cannot mount a tmpfs on $d/full\n";
END { system('umount', '-l', "$d/full") if $d && -d "$d/full"; }

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

        mta_sts_domains {
            company-z.example;
        }

        client_max_body_size 100k;
        client_body_buffer_size 4k;
        mta_sts_tlsrpt_max_size 64k;

        location = /tlsrpt {
            mta_sts_tlsrpt_receive $d/reports/;
        }

        location = /full {
            mta_sts_tlsrpt_receive $d/full;
        }

        location = /big {
            mta_sts_tlsrpt_max_size 1m;
            client_max_body_size 2m;
            mta_sts_tlsrpt_receive $d/big;
        }
    }
}
EOF

$t->plan(46)->run();

###############################################################################

# the example of RFC 8460, appendix B (its additional-information on one
# line: a JSON string holds no line break)

my $rfc = <<'EOF';
{
  "organization-name": "Company-X",
  "date-range": {
    "start-datetime": "2016-04-01T00:00:00Z",
    "end-datetime": "2016-04-01T23:59:59Z"
  },
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  "policies": [{
    "policy": {
      "policy-type": "sts",
      "policy-string": ["version: STSv1","mode: testing",
            "mx: *.mail.company-y.example","max_age: 86400"],
      "policy-domain": "company-y.example",
      "mx-host": "*.mail.company-y.example"
    },
    "summary": {
      "total-successful-session-count": 5326,
      "total-failure-session-count": 303
    },
    "failure-details": [{
      "result-type": "certificate-expired",
      "sending-mta-ip": "2001:db8:abcd:0012::1",
      "receiving-mx-hostname": "mx1.mail.company-y.example",
      "failed-session-count": 100
    }, {
      "result-type": "starttls-not-supported",
      "sending-mta-ip": "2001:db8:abcd:0013::1",
      "receiving-mx-hostname": "mx2.mail.company-y.example",
      "receiving-ip": "203.0.113.56",
      "failed-session-count": 200,
      "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported"
    }, {
      "result-type": "validation-failure",
      "sending-mta-ip": "198.51.100.62",
      "receiving-ip": "203.0.113.58",
      "receiving-mx-hostname": "mx-backup.mail.company-y.example",
      "failed-session-count": 3,
      "failure-reason-code": "X509_V_ERR_PROOF_OF_POLICY"
    }]
  }]
}
EOF

my $json = JSON::PP->new->canonical;

sub report {
	my (%o) = @_;
	my $r = $json->decode($rfc);
	$r->{'report-id'} = $o{id} if defined $o{id};
	$r->{policies}[0]{policy}{'policy-domain'} = $o{domain}
		if defined $o{domain};
	$o{edit}->($r) if $o{edit};
	return $json->encode($r);
}

sub gz {
	my ($in) = @_;
	gzip(\$in => \my $out) or die "gzip: $GzipError\n";
	return $out;
}

sub post {
	my ($body, %o) = @_;
	my $file = $t->write_file('body', $body);
	my $type = exists $o{type} ? $o{type} : 'application/tlsrpt+json';
	return $t->curl('-X', $o{method} // 'POST',
		defined $type ? ('-H', "Content-Type: $type") : (),
		'--data-binary', "\@$file",
		'http://127.0.0.1:' . $t->port(8080) . ($o{path} // '/tlsrpt'));
}

sub answer {
	my ($r) = @_;
	return ($r->{status} // 'none') . ' ' . $r->{body};
}

sub stored {
	my ($dir) = @_;
	opendir my $dh, "$d/$dir" or return ();
	return sort grep { !/^\.\.?$/ } readdir $dh;
}

my $NAME = qr/^2016-04-01-[0-9a-f]{32}\.json$/;

# the report as a sender posts it

my $r = post($rfc);
is(answer($r), "201 stored\n", 'the RFC 8460 example report is stored');
is($r->{headers}{'content-type'}, 'text/plain', 'a text answer');

my @files = stored('reports');
is(scalar(@files), 1, 'one file');
like($files[0] // '', $NAME, 'named by its end date and its key');
is($t->read_file("reports/$files[0]"), $rfc, 'kept as it was sent');

is(answer(post($rfc)), "200 a duplicate: the report was already stored\n",
	'the same report again is a duplicate');
is(answer(post(gz($rfc), type => 'application/tlsrpt+gzip')),
	"200 a duplicate: the report was already stored\n",
	'and gzip\'d too');
is(scalar(my @once = stored('reports')), 1, 'stored once');

# gzip is told by its magic bytes, whatever the label

is(answer(post(gz(report(id => 'gz-1')), type => 'application/tlsrpt+gzip')),
	"201 stored\n", 'a gzip report');
is(answer(post(gz(report(id => 'gz-2')))), "201 stored\n",
	'a gzip report labelled +json');
is(answer(post(report(id => 'json-1'), type => 'application/tlsrpt+gzip')),
	"201 stored\n", 'a JSON report labelled +gzip');
is(answer(post(report(id => 'param'),
	type => 'Application/TLSRPT+JSON; charset=utf-8')),
	"201 stored\n", 'the media type in any case, with parameters');

# as Postfix's tlsrpt-reporter posts: curl --data-binary @- with a type

my $piped = $t->write_file('piped', report(id => 'piped'));
my ($rc, $out) = Test::Nginx::capture(['sh', '-c',
	"gzip -c < $piped | curl -sS -w ' %{http_code}' --data-binary \@- "
	. '-H "Content-Type: application/tlsrpt+gzip" '
	. 'http://127.0.0.1:' . $t->port(8080) . '/tlsrpt']);
is($out, "stored\n 201", 'piped through gzip into curl');

# a report in nginx's temporary file (client_body_buffer_size 4k)

my $pad = 'x' x 20000;
my $long = report(id => 'long', edit => sub {
	$_[0]{policies}[0]{'failure-details'}[0]{'additional-information'}
		= $pad;
});
is(answer(post(gz($long))), "201 stored\n", 'a body in a file');
my ($long_file) = grep { $t->read_file("reports/$_") =~ /"long"/ }
	stored('reports');
is(defined $long_file ? $t->read_file("reports/$long_file") : '', $long,
	'kept whole');

# a report of many slices (256 KiB a turn of the event loop), gzip'd

my $huge = report(id => 'huge', edit => sub {
	$_[0]{policies}[0]{'failure-details'} = [map { {
		'result-type' => 'certificate-expired',
		'receiving-mx-hostname' => "mx$_.mail.company-y.example",
		'failed-session-count' => $_,
	} } 1 .. 8000];
});
is(answer(post(gz($huge), path => '/big')), "201 stored\n",
	'a report inflated over several slices');
my @big = stored('big');
is(@big ? $t->read_file("big/$big[0]") : '', $huge, 'kept whole too');

# what real senders leave out

my $loose = report(id => 'loose', edit => sub {
	my ($r) = @_;
	delete $r->{'contact-info'};
	$r->{'date-range'}{'start-datetime'} = '2016-04-01T00:00:00';
	$r->{'date-range'}{'end-datetime'} = '2016-04-01 23:59:59.999+00:00';
	my $p = $r->{policies}[0];
	delete $p->{policy}{'policy-string'};
	$p->{policy}{'mx-host'} = ['mx1.mail.company-y.example',
		'mx2.mail.company-y.example'];
	delete $p->{'failure-details'}[0]{'sending-mta-ip'};
	$p->{'failure-details'}[1]{'receiving-mx-hostname'} = '';
	$p->{'failure-details'}[2]{'result-type'} = 'something-new';
	push @{$r->{policies}}, {
		policy => { 'policy-type' => 'no-policy-found' },
		summary => { 'total-successful-session-count' => 0,
			'total-failure-session-count' => 7 },
	};
});
is(answer(post($loose)), "201 stored\n",
	'no contact-info, no zone, an mx-host array, no policy-domain');
is(answer(post(report(id => 'null', edit => sub {
	$_[0]{'contact-info'} = undef;
	$_[0]{policies}[0]{'failure-details'} = undef;
}))), "201 stored\n", 'null contact-info and failure-details');

# a report of several domains is taken if one of them is served here

is(answer(post(report(id => 'two', edit => sub {
	my ($r) = @_;
	push @{$r->{policies}}, $json->decode($json->encode($r->{policies}[0]));
	$r->{policies}[0]{policy}{'policy-domain'} = 'stranger.example';
	$r->{policies}[1]{policy}{'policy-domain'} = 'COMPANY-Z.example.';
}))), "201 stored\n", 'one served domain of two, in any case');

# refused

is(answer(post(report(id => 'stranger', domain => 'stranger.example'))),
	"403 no policy domain of the report is served here\n",
	'a domain not served here');

$r = post($rfc, method => 'GET');
is(answer($r), "405 reports are POSTed\n", 'GET');
is($r->{headers}{allow}, 'POST', 'Allow: POST');
is(answer(post($rfc, method => 'PUT')), "405 reports are POSTed\n", 'PUT');

is(answer(post($rfc, type => 'application/json')),
	"415 a report is application/tlsrpt+gzip or application/tlsrpt+json\n",
	'application/json');
is(answer(post($rfc, type => undef)),
	"415 a report is application/tlsrpt+gzip or application/tlsrpt+json\n",
	'no Content-Type');

is(answer(post('')), "400 no report in the body\n", 'an empty body');
is(answer(post('{"organization-name": "x",')),
	"400 the JSON report is cut off\n", 'JSON cut off');
is(answer(post(substr(gz($rfc), 0, 200))),
	"400 the gzip data is cut off\n", 'gzip cut off');
is(answer(post("\x1f\x8b" . 'not gzip at all, only its magic')),
	"400 the gzip data is corrupt\n", 'gzip corrupt');
is(answer(post('{"a": 1,}')), "400 not valid JSON in UTF-8\n",
	'not JSON');
is(answer(post(qq({"organization-name": "Company-\xff"}))),
	"400 not valid JSON in UTF-8\n", 'not UTF-8');
is(answer(post(('[' x 100) . (']' x 100))),
	"400 the JSON nests too deep\n", 'nested 100 deep');
is(answer(post($rfc . '{}')), "400 data after the JSON report\n",
	'two documents');
is(answer(post('[1, 2]')), "400 the report is not a JSON object\n",
	'an array');
is(answer(post(report(edit => sub { delete $_[0]{'organization-name'} }))),
	"400 no \"organization-name\" string\n", 'no organization-name');
is(answer(post(report(edit => sub {
	$_[0]{'date-range'}{'end-datetime'} = '2016-02-31T00:00:00Z';
}))), "400 no valid \"end-datetime\" in \"date-range\"\n",
	'February 31');
is(answer(post(report(edit => sub {
	$_[0]{policies}[0]{summary}{'total-failure-session-count'} = -1;
}))), "400 a session count is negative\n", 'a negative count');
is(answer(post(report(edit => sub {
	$_[0]{policies}[0]{summary}{'total-failure-session-count'} = 1.5;
}))), "400 a session count is missing or not an integer\n",
	'a fraction');

# the limits

is(answer(post(gz('[' . (' ' x (10 * 1024 * 1024)) . ']'),
	path => '/big')),
	"413 the report is larger than mta_sts_tlsrpt_max_size\n",
	'a gzip bomb of 10 MB stops at the limit');
is(post('x' x (150 * 1024))->{status}, 413, 'past client_max_body_size');

# a full disk: 503, and what was stored stays whole

is(answer(post(report(id => 'small'), path => '/full')), "201 stored\n",
	'a report on the small disk');
my @before = map { [$_, $t->read_file("full/$_")] } stored('full');

is(answer(post(report(id => 'too-big', edit => sub {
	$_[0]{policies}[0]{'failure-details'}[0]{'additional-information'}
		= 'y' x 30000;
}), path => '/full')), "503 the report cannot be stored now\n",
	'no room left');
is_deeply([map { [$_, $t->read_file("full/$_")] } stored('full')], \@before,
	'the stored report is intact, nothing half-written is left');

is(join(' ', grep { /^\./ } stored('reports')), '',
	'no temporary file left');

$t->stop;
my $full = qr/ failed \(28: No space left on device\)/;
like($t->read_file('error.log'),
	qr/\[error\].*mta_sts: TLS-RPT report not stored, write\(\) "\Q$d\E\/full\/2016-04-01-[0-9a-f]{32}\.json"$full/,
	'the full disk is logged');

###############################################################################
