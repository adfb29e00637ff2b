#!/usr/bin/perl

# The libFuzzer targets of fuzz/ (see fuzz/README and tools/fuzz): they
# build with clang -fsanitize=fuzzer,address,undefined, each one runs over
# its seed corpus fuzz/corpus/<target>/ (valid and invalid examples and
# the regression inputs of fixed bugs), then fuzzes for a few seconds
# (TEST_FUZZ_TIME, default 3) from those seeds, as many targets at a time
# as there are CPUs.  Any crash, sanitizer
# report, leak or failed check fails.  Nothing is skipped: without clang's
# fuzzer runtime (libclang-rt-14-dev) the build fails, and so does this.

use warnings;
use strict;

use Test::More;
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX ();
use Test::MtaSts::Run qw(run);

###############################################################################

my $top = "$FindBin::Bin/..";
my $fuzz = "$top/tools/fuzz";
my $tmp = tempdir('mtasts-fuzz-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);
my $secs = $ENV{TEST_FUZZ_TIME} || 3;

my ($rc, $out) = run('bash', $fuzz, 'list');
my @targets = split ' ', $out;

ok($rc == 0 && @targets >= 7, "fuzz targets: @targets") or diag($out);

($rc, $out) = run('bash', $fuzz, 'build', $tmp);

if (!ok($rc == 0, 'fuzz targets build with libFuzzer, ASan and UBSan')) {
	diag($out);
	done_testing();
	exit;
}

# the targets side by side, one per CPU; the results in their order

my $cpus = (run('nproc'))[1] =~ /^(\d+)/ ? $1 : 1;
my (%pid, %result);

for my $t (@targets, (undef) x $cpus) {
	if (keys %pid >= $cpus || !defined $t) {
		my $done = wait;
		last if $done < 0;
		my $name = delete $pid{$done} // next;
		$result{$name} = $? >> 8;
		next unless defined $t;
	}

	my $pid = fork // die "cannot fork: $!\n";

	if ($pid == 0) {
		open(my $fh, '>', "$tmp/$t.test") or POSIX::_exit(2);
		my ($rc1, $out1) = run('bash', $fuzz, 'replay', $tmp, $t);
		my ($rc2, $out2) = run('bash', $fuzz, 'run', $tmp, $secs, $t);
		print $fh "$rc1\n$rc2\n$out1\0$out2";
		close($fh);
		POSIX::_exit(0);
	}

	$pid{$pid} = $t;
}

for my $t (@targets) {
	my ($rc1, $rc2, $out1, $out2) = (-1, -1, 'no result', '');

	if (open(my $fh, '<', "$tmp/$t.test")) {
		local $/;
		my $text = <$fh> // '';
		($rc1, $rc2, $text) = split /\n/, $text, 3;
		($out1, $out2) = split /\0/, $text // '', 2;
	}

	ok(defined $rc1 && $rc1 eq '0', "$t: seed corpus") or diag($out1);
	note($out1);
	ok(defined $rc2 && $rc2 eq '0', "$t: $secs s of fuzzing")
		or diag($out2);
	note($out2);
}

done_testing();
