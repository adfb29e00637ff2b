#!/usr/bin/perl

# Unit tests of the pure C code: builds t/unit/test_record.c with the
# parsers of src/parse/, ngx_mtasts_record.c and ngx_mtasts_parse.c (gcc,
# AddressSanitizer, UndefinedBehaviorSanitizer), runs it and reports each of its checks as a
# test.  TEST_VERBOSE=1 also shows the message of every case.

use warnings;
use strict;

use Test::More;
use File::Temp qw(tempdir);
use File::Spec;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::MtaSts::Run qw(run);

###############################################################################

my $unit = "$FindBin::Bin/unit";
my $src = "$FindBin::Bin/../src/parse";
my $tmp = tempdir('mtasts-unit-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bin = "$tmp/test_record";

my @sources = ("$unit/test_record.c", "$src/ngx_mtasts_record.c",
	"$src/ngx_mtasts_parse.c");

my ($rc, $out) = run('gcc', qw(-Wall -Wextra -Werror -g),
	'-fsanitize=address,undefined', '-fno-sanitize-recover=all',
	"-I$src", '-o', $bin, @sources, '-lidn2', '-lpsl');

if (!ok($rc == 0, 'test_record.c compiles with gcc -Werror and sanitizers')) {
	diag($out);
	done_testing();
	exit;
}

# the self-check code must build warning-free with clang too

($rc, $out) = run('clang', qw(-Wall -Wextra -Werror -std=c99 -pedantic),
	"-I$src", '-c', '-o', "$tmp/record.o", "$src/ngx_mtasts_record.c");

ok($rc == 0, 'ngx_mtasts_record.c compiles with clang -Werror')
	or diag($out);

# run it: each "ok"/"not ok" line of its TAP output becomes a test here

my ($checks, $nfailed, $plan, $summary, $failing) = (0, 0, undef, undef, 0);

open(my $run, '-|', $bin) or die "cannot run $bin: $!\n";

while (my $line = <$run>) {
	chomp $line;

	if ($line =~ /^(not )?ok \d+ - (.*)$/) {
		$checks++;
		$failing = defined $1;
		$nfailed++ if $failing;
		ok(!$failing, $2);

	} elsif ($line =~ /^#\s?(.*)$/) {
		$failing ? diag($1) : note($1);

	} elsif ($line =~ /^1\.\.(\d+)$/) {
		$plan = $1;

	} elsif ($line =~ /^\d+ passed, \d+ failed$/) {
		$summary = $line;

	} else {
		diag("test_record: $line");
	}
}

close($run);
$rc = $?;

ok(defined $plan && $plan == $checks,
	"test_record ran all its checks ($checks)");
is($summary, ($checks - $nfailed) . " passed, $nfailed failed",
	'test_record summary line');
is($rc, $nfailed ? 1 << 8 : 0, 'test_record exit status');

done_testing();
