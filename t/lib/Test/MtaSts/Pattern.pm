package Test::MtaSts::Pattern;

# Patterns for the messages of the status checks, made of literal text
# and qr// parts, so that a test spells out the fixed words of a message
# as they are and leaves only the variable parts to regular expressions.
#
#   use Test::MtaSts::Pattern qw(msg begins);
#   like($m, msg("Could not look up _mta-sts.$dom: ", qr/[^.]+/, '.'));
#   like($m, begins('No MX record: '));   # the beginning of a message

use strict;
use warnings;

use Exporter qw(import);

our @EXPORT_OK = qw(msg begins);

# a whole message: strings are literal text, qr// parts are patterns
sub msg {
	my $re = join '', map { ref $_ ? $_ : quotemeta $_ } @_;
	return qr/^$re$/s;
}

# the beginning of a message
sub begins {
	my $re = join '', map { ref $_ ? $_ : quotemeta $_ } @_;
	return qr/^$re/s;
}

1;
