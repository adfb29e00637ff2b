package Test::MtaSts::Run;

# run(@cmd): runs a command without a shell, and without a time limit
# (a build, a fuzzing run); returns its wait status ($?) and its stdout
# and stderr together, in the order written.  For t/unit.t and t/fuzz.t,
# which build and run code of their own and need no nginx: this module
# loads nothing of Test::Nginx, whose signal handlers and END cleanup
# are not for them.  Test::Nginx::capture() is the one with a timeout
# and stdout apart from stderr.
#
#   use Test::MtaSts::Run qw(run);
#   my ($rc, $out) = run('gcc', '-o', $bin, @sources);

use strict;
use warnings;

use Exporter qw(import);

our @EXPORT_OK = qw(run);

sub run {
	my (@cmd) = @_;

	my $pid = open(my $fh, '-|');
	die "cannot fork: $!\n" unless defined $pid;

	if ($pid == 0) {
		open(STDERR, '>&', \*STDOUT) or die "cannot dup stdout: $!\n";
		exec(@cmd) or die "cannot run $cmd[0]: $!\n";
	}

	local $/;
	my $out = <$fh> // '';
	close($fh);

	return ($?, $out);
}

1;
