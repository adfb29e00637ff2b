#!/usr/bin/perl

# The Debian package: "make deb" builds libnginx-mod-http-mta-sts, lintian
# finds nothing to report, the package installs into the machine's nginx
# (module, load_module snippet enabled in modules-enabled, ABI dependency,
# documentation and examples), the stock /etc/nginx/nginx.conf with the
# packaged single-domain example in conf.d/ serves the policy over HTTPS,
# and purging the package leaves nginx as it was.
#
# This test changes the system: it runs as root only, starts and stops the
# system nginx (/run/nginx.pid) and installs and purges the package.  It
# fails if the package is installed already or a system nginx is running,
# and restores everything at exit, also when it fails midway.

use warnings;
use strict;

use Test::More;
use Cwd qw(abs_path);
use IO::Socket::IP;
use Socket qw(SOMAXCONN);
use Time::HiRes qw(sleep time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::Nginx;
use Test::MtaSts::CA;

###############################################################################

my $PKG = 'libnginx-mod-http-mta-sts';
my $REPO = abs_path("$FindBin::Bin/..");
my $NGINX = '/usr/sbin/nginx';
my $PIDFILE = '/run/nginx.pid';
my $ERROR_LOG = '/var/log/nginx/error.log';
my $MODULE = '/usr/lib/nginx/modules/ngx_http_mtasts_module.so';
my $AVAILABLE = '/usr/share/nginx/modules-available/mod-http-mta-sts.conf';
my $ENABLED = '/etc/nginx/modules-enabled/50-mod-http-mta-sts.conf';
my $DOC = "/usr/share/doc/$PKG";
my $ABI_SUBSTVARS = '/usr/share/nginx/src/debian/libnginx-mod.abisubstvars';
my $CONFD = '/etc/nginx/conf.d/mta-sts-package-test.conf';
my $DEFAULT_SITE = '/etc/nginx/sites-enabled/default';
my $DEFAULT_ASIDE = '/etc/nginx/.sites-enabled-default.package-t';
my $ALERTS = qr/\[(?:alert|crit|emerg)\]/;
my @APT = ('apt-get', '-y', '-q', '-o', 'DPkg::Lock::Timeout=300');

# what keeps this test from running is a failure, never a skip

sub cannot { die "package.t cannot run: $_[0]\n" }

cannot('needs root: installs a package into the system nginx')
	if $> != 0;
for my $f ('/usr/bin/dpkg', '/usr/bin/apt-get', $NGINX,
	'/etc/nginx/nginx.conf')
{
	cannot("no $f (not a Debian system with nginx)") unless -e $f;
}
cannot("$PKG is installed already: this test would purge it")
	if installed();
cannot("a system nginx is running ($PIDFILE); not touching it")
	if system_nginx_pid();
cannot("$CONFD exists (left by an interrupted run?); remove it")
	if -e $CONFD || -l $CONFD;
cannot("$DEFAULT_ASIDE exists (left by an interrupted run?); "
	. "move it back to $DEFAULT_SITE")
	if -e $DEFAULT_ASIDE || -l $DEFAULT_ASIDE;

# What the test changed and undo() takes back (see the end of the file).
my %done;

END { undo() }

###############################################################################

my $t = Test::Nginx->new();
my $log_from = (-s $ERROR_LOG) || 0;
my $before = snapshot();

nginx_t('stock nginx.conf passes nginx -t before');

main();
undo();

my $log = slurp($ERROR_LOG);
$log = length $log >= $log_from ? substr($log, $log_from) : $log;
is(join("\n", grep { /$ALERTS/ } split /\n/, $log), '',
	"no alerts in $ERROR_LOG");

done_testing();

###############################################################################

sub main {
	# build

	my ($rc, $out, $err) = Test::Nginx::capture(
		['make', '-C', $REPO, 'deb'], timeout => 1800);
	ok($rc == 0, 'make deb') or return diag(tail("$out$err", 60));

	my @debs = glob "$REPO/build/deb/${PKG}_*_*.deb";
	is(scalar @debs, 1, 'one .deb in build/deb/') or return;
	my $deb = $debs[0];
	like($deb, qr/\Q${PKG}\E_[\w.~+-]+_\w+\.deb$/,
		'named <package>_<version>_<arch>.deb');

	($rc, $out, $err) = Test::Nginx::capture(['lintian', $deb],
		timeout => 300);
	my @tags = grep { /^[EW]: / } split /\n/, $out;
	ok($rc == 0 && !@tags,
		'lintian: no errors or warnings') or diag("exit $rc\n$out$err");

	my ($abi) = slurp($ABI_SUBSTVARS) =~ /^nginx:abi=(\S+)/m;
	($rc, $out) = Test::Nginx::capture(['dpkg-deb', '-f', $deb, 'Depends']);
	like($out, qr/(?:^|,\s*)\Q$abi\E\s*(?:,|$)/m,
		"depends on the nginx ABI it was built for ($abi)");

	($rc, $out) = Test::Nginx::capture(['dpkg-deb', '-c', $deb]);
	my %in = map { m{ \./(\S+?)(?: -> .*)?$} ? ("/$1" => 1) : () }
		split /\n/, $out;
	my @missing = grep { !$in{$_} } ($MODULE, $AVAILABLE, "$DOC/copyright",
		'/usr/bin/mta-sts-tlsrpt-mail',
		'/usr/share/man/man1/mta-sts-tlsrpt-mail.1.gz',
		map { "$DOC/examples/$_" } qw(single-domain.conf
			many-domains.conf mta-sts.d/example.org.conf
			mta-sts.d/example.net.conf hosted.conf
			hosted-domains.txt));
	push @missing, "$DOC/README*"
		unless grep { m{^\Q$DOC\E/README} } keys %in;
	is("@missing", '',
		'module, snippet, mail command, copyright, README, examples');
	ok(!grep({ m{^/etc/} } keys %in), 'nothing shipped in /etc');

	# install

	$done{install} = 1;
	($rc, $out, $err) = Test::Nginx::capture([@APT, 'install',
		'--no-install-recommends', $deb], timeout => 600,
		env => { DEBIAN_FRONTEND => 'noninteractive' });
	ok($rc == 0 && installed(), "apt-get install $deb")
		or return diag("exit $rc\n$out$err");

	ok(-f $MODULE, "module in $MODULE");
	is(slurp($AVAILABLE),
		"load_module modules/ngx_http_mtasts_module.so;\n",
		"load_module snippet in $AVAILABLE");
	is(readlink($ENABLED), $AVAILABLE, "enabled by $ENABLED");

	# the packaged example, on a test port with test certificates

	my $ca = Test::MtaSts::CA->new($t->testdir);
	my ($crt, $key) = $ca->cert('mta-sts', dns => ['mta-sts.example.com']);
	my $port = $t->port(8443);

	my $conf = slurp("$DOC/examples/single-domain.conf");
	my $n = 0;
	$n += $conf =~ s/^(\s*listen\s+)443\b/${1}127.0.0.1:$port/mg;
	$n += $conf =~ s/^(\s*ssl_certificate\s+)\S+;/$1$crt;/mg;
	$n += $conf =~ s/^(\s*ssl_certificate_key\s+)\S+;/$1$key;/mg;
	is($n, 3, 'example adapted: listen, certificate, key')
		or diag($conf);

	$done{confd} = 1;
	spew($CONFD, $conf);
	nginx_t("nginx -t with the package and the example in conf.d/")
		or return;

	# start the system nginx with its stock configuration

	free_port_80();
	$done{nginx} = 1;
	($rc, $out, $err) = Test::Nginx::capture([$NGINX]);
	ok($rc == 0 && $t->waitforsocket("127.0.0.1:$port", 10),
		'system nginx started') or return diag("exit $rc\n$out$err");

	my $r = $t->curl(cacert => $ca->ca_file,
		resolve => "mta-sts.example.com:$port:127.0.0.1",
		"https://mta-sts.example.com:$port/.well-known/mta-sts.txt");
	is($r->{status}, 200, 'policy: 200 over HTTPS (test CA)')
		or diag("$r->{stderr}$r->{raw}");
	is($r->{body}, expected_policy($conf), 'policy: body of the example');
	like($r->{headers}{'content-type'} // '', qr{^text/plain\b},
		'policy: text/plain');

	ok(stop_nginx(), 'system nginx stopped with nginx -s quit')
		and delete $done{nginx};
	undo('default_site');

	# remove

	undo('confd');
	ok(!-e $CONFD, "$CONFD removed");

	($rc, $out, $err) = Test::Nginx::capture([@APT, 'purge', $PKG],
		timeout => 600, env => { DEBIAN_FRONTEND => 'noninteractive' });
	delete $done{install} unless installed();
	ok($rc == 0 && !installed(), "apt-get purge $PKG")
		or diag("exit $rc\n$out$err");

	ok(!-e $MODULE, 'module file gone');
	ok(!-e $AVAILABLE, 'modules-available snippet gone');
	ok(!-l $ENABLED && !-l "$ENABLED.removed",
		'modules-enabled link gone (also the .removed one)');
	ok(!-e $DOC, "$DOC gone");
	is(snapshot(), $before, 'nginx directories as they were');
	nginx_t('stock nginx.conf passes nginx -t again');
}

# Expected policy, from the directives of the example.
sub expected_policy {
	my ($conf) = @_;
	my %unit = ('' => 1, s => 1, m => 60, h => 3600, d => 86400,
		w => 604800, M => 2592000, y => 31536000);
	my ($mode) = $conf =~ /^\s*mta_sts_mode\s+(\S+);/m;
	my ($mx) = $conf =~ /^\s*mta_sts_mx\s+([^;]+);/m;
	my ($n, $u) = $conf =~ /^\s*mta_sts_max_age\s+(\d+)([smhdwMy]?);/m;
	return "version: STSv1\r\nmode: $mode\r\n"
		. join('', map { "mx: $_\r\n" } split ' ', $mx)
		. 'max_age: ' . $n * $unit{$u} . "\r\n";
}

###############################################################################

sub installed {
	my ($rc, $out) = Test::Nginx::capture(['dpkg-query', '-W',
		'-f=${db:Status-Abbrev}', $PKG]);
	# "ii ", also half-installed or config-files states count
	return $rc == 0 && $out =~ /^.[^n]/;
}

sub system_nginx_pid {
	return undef unless -s $PIDFILE;
	my ($pid) = slurp($PIDFILE) =~ /^(\d+)/;
	return $pid && Test::Nginx::_alive($pid) ? $pid : undef;
}

sub stop_nginx {
	my $pid = system_nginx_pid() or return 1;
	Test::Nginx::capture([$NGINX, '-s', 'quit']);
	for my $sig ('', 'TERM', 'KILL') {
		kill $sig, $pid if $sig;
		my $deadline = time + 10;
		while (Test::Nginx::_alive($pid)) {
			last if time > $deadline;
			sleep 0.05;
		}
		return !$sig unless Test::Nginx::_alive($pid);
	}
	return 0;
}

# Debian's default site listens on port 80: if anything else has port 80
# (or there is no IPv6 for its [::]:80), take the site out of
# sites-enabled while this test runs.
sub free_port_80 {
	return unless -e $DEFAULT_SITE || -l $DEFAULT_SITE;
	my @free = map {
		IO::Socket::IP->new(LocalHost => $_, LocalPort => 80,
			Listen => SOMAXCONN, ReuseAddr => 1, V6Only => 1)
	} ('0.0.0.0', '::');
	return unless grep { !$_ } @free;
	$done{default_site} = 1;
	rename $DEFAULT_SITE, $DEFAULT_ASIDE or die "rename: $!\n";
	diag("port 80 is busy: $DEFAULT_SITE disabled during the test");
}

# The files that nginx and the package touch, with link targets.
sub snapshot {
	my @l;
	for my $dir (qw(/etc/nginx/modules-enabled /etc/nginx/conf.d
		/etc/nginx/sites-enabled /usr/share/nginx/modules-available
		/usr/lib/nginx/modules))
	{
		for my $f (sort glob "$dir/* $dir/.*") {
			next if $f =~ m{/\.\.?$};
			push @l, $f . (-l $f ? ' -> ' . readlink($f) : '');
		}
	}
	return join("\n", @l) . "\n";
}

sub nginx_t {
	my ($name) = @_;
	my ($rc, $out, $err) = Test::Nginx::capture([$NGINX, '-t']);
	return ok($rc == 0, $name) || diag("exit $rc\n$err$out");
}

sub slurp {
	my ($path) = @_;
	open my $fh, '<', $path or return '';
	local $/;
	return scalar <$fh> // '';
}

sub spew {
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "write $path: $!\n";
	print $fh $text;
	close $fh or die "close $path: $!\n";
	chmod 0644, $path;
}

sub tail {
	my ($text, $n) = @_;
	my @l = split /\n/, $text;
	splice @l, 0, @l - $n if @l > $n;
	return join("\n", @l) . "\n";
}

# The guard: undo() takes back what the test changed, newest first, or
# the steps named; each step only once.  Called by the test itself and at
# exit however the test ends (die, INT/TERM which Test::Nginx turns into
# exit).
sub undo {
	my @steps = @_ ? @_ : qw(nginx default_site confd install);
	local ($?, $!, $@);

	for my $step (grep { delete $done{$_} } @steps) {
		if ($step eq 'nginx') {
			stop_nginx() or diag('could not stop the system nginx');
		} elsif ($step eq 'default_site') {
			rename $DEFAULT_ASIDE, $DEFAULT_SITE or diag(
				"could not move $DEFAULT_ASIDE back: $!");
		} elsif ($step eq 'confd') {
			unlink $CONFD;
		} elsif ($step eq 'install' && installed()) {
			my ($rc, $out, $err) = Test::Nginx::capture(
				[@APT, 'purge', $PKG], timeout => 600,
				env => { DEBIAN_FRONTEND => 'noninteractive' });
			diag("apt-get purge $PKG: exit $rc\n$out$err") if $rc;
		}
	}
}
