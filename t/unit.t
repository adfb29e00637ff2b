#!/usr/bin/perl

# Unit tests of the pure C code: builds each test program of t/unit/
# with the sources it tests (gcc, AddressSanitizer,
# UndefinedBehaviorSanitizer), runs it and reports each of its checks as
# a test; the sources also build warning-free with clang.
#
#   test_record.c  the DNS record checkers and parsers of src/parse/
#   test_dane.c    the DNSSEC queries and TLSA records of src/dane/
#
# TEST_VERBOSE=1 also shows the message of every case.

use warnings;
use strict;

use Test::More;
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::MtaSts::Run qw(run);

###############################################################################

my $unit = "$FindBin::Bin/unit";
my $top = "$FindBin::Bin/../src";
my $tmp = tempdir('mtasts-unit-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);

my @PROGRAMS = (
	['test_record', "$top/parse", ['ngx_mtasts_record.c',
		'ngx_mtasts_parse.c'], ['-lidn2', '-lpsl']],
	['test_dane', "$top/dane", ['ngx_mtasts_dane.c'], ['-lldns']],
);

unit(@$_) for @PROGRAMS;

done_testing();

###############################################################################

sub unit {
	my ($name, $src, $files, $libs) = @_;
	my $bin = "$tmp/$name";

	my ($rc, $out) = run('gcc', qw(-Wall -Wextra -Werror -g),
		'-fsanitize=address,undefined', '-fno-sanitize-recover=all',
		"-I$src", '-o', $bin, "$unit/$name.c",
		(map { "$src/$_" } @$files), @$libs);

	if (!ok($rc == 0, "$name.c compiles with gcc -Werror and sanitizers"))
	{
		diag($out);
		return;
	}

	for my $file (@$files) {
		($rc, $out) = run('clang',
			qw(-Wall -Wextra -Werror -std=c99 -pedantic),
			'-D_POSIX_C_SOURCE=200809L', "-I$src", '-c',
			'-o', "$tmp/$file.o", "$src/$file");
		ok($rc == 0, "$file compiles with clang -Werror") or diag($out);
	}

	# each "ok"/"not ok" line of its TAP output becomes a test here

	my ($checks, $nfailed, $plan, $summary, $failing) = (0, 0);

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
			diag("$name: $line");
		}
	}

	close($run);
	$rc = $?;

	ok(defined $plan && $plan == $checks,
		"$name ran all its checks ($checks)");
	is($summary, ($checks - $nfailed) . " passed, $nfailed failed",
		"$name summary line");
	is($rc, $nfailed ? 1 << 8 : 0, "$name exit status");
}
