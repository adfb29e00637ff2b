package Test::MtaSts::CA;

# A test certificate authority made with the openssl command.
#
#   my $ca = Test::MtaSts::CA->new($dir);
#   my ($crt, $key) = $ca->cert('www', dns => ['www.a.test'],
#       days => 30, not_before => '-2d', key => 'rsa');
#   my ($old) = $ca->cert('old', dns => ['old.a.test'], expired => 1);
#   $ca->ca_file;
#
# Leaf certificates are signed with "openssl ca" because OpenSSL 3.0's
# "x509 -req" cannot set arbitrary validity dates.

use strict;
use warnings;

use File::Path qw(make_path);
use POSIX qw(strftime);
use Test::Nginx ();

my %UNIT = (s => 1, m => 60, h => 3600, d => 86400);

sub new {
	my ($class, $dir, %opt) = @_;
	$dir .= '/ca';
	make_path("$dir/newcerts");
	my $self = bless { dir => $dir, key => $opt{key} // 'ec' }, $class;
	$self->_file('index.txt', '');
	$self->_file('serial', "1000\n");
	$self->_file('ca.cnf', $self->_ca_cnf);
	$self->_genkey("$dir/ca.key", $self->{key});
	_openssl('req', '-x509', '-new', '-key', "$dir/ca.key",
		'-subj', $opt{subject} // '/CN=MTA-STS Test CA',
		'-days', 3650, '-sha256', '-out', "$dir/ca.crt",
		'-addext', 'basicConstraints=critical,CA:TRUE',
		'-addext', 'keyUsage=critical,keyCertSign,cRLSign');
	chmod 0644, "$dir/ca.crt", "$dir/ca.key";
	return $self;
}

sub ca_file { "$_[0]{dir}/ca.crt" }

# cert($name, dns => [...], ip => [...], days => n, not_before => '-2d',
#      not_after => '+1d', expired => 1, key => 'ec' | 'rsa')
# returns (crt_path, key_path)
sub cert {
	my ($self, $name, %opt) = @_;
	my $d = $self->{dir};
	my @san = ((map { "DNS:$_" } @{$opt{dns} || []}),
		(map { "IP:$_" } @{$opt{ip} || []}));
	die "cert $name: no dns or ip names\n" unless @san;
	my ($cn) = (@{$opt{dns} || []}, @{$opt{ip} || []});

	my $from = _offset($opt{not_before}
		// ($opt{expired} ? '-30d' : '-1h'));
	my $to = defined $opt{not_after} ? _offset($opt{not_after})
		: $opt{expired} ? _offset('-1d')
		: $from + 86400 * ($opt{days} // 30);

	$self->_file("$name.ext", join "\n",
		'[ leaf ]', 'basicConstraints = critical,CA:FALSE',
		'keyUsage = critical,digitalSignature,keyEncipherment',
		'extendedKeyUsage = serverAuth',
		'subjectKeyIdentifier = hash',
		'authorityKeyIdentifier = keyid',
		'subjectAltName = ' . join(',', @san), '');

	$self->_genkey("$d/$name.key", $opt{key} // $self->{key});
	_openssl('req', '-new', '-key', "$d/$name.key", '-subj', "/CN=$cn",
		'-out', "$d/$name.csr");
	_openssl('ca', '-batch', '-notext', '-config', "$d/ca.cnf",
		'-in', "$d/$name.csr", '-out', "$d/$name.crt",
		'-startdate', _asn1_time($from), '-enddate', _asn1_time($to),
		'-extfile', "$d/$name.ext", '-extensions', 'leaf');
	chmod 0644, "$d/$name.crt", "$d/$name.key";
	return ("$d/$name.crt", "$d/$name.key");
}

sub _ca_cnf {
	my ($self) = @_;
	my $d = $self->{dir};
	return <<"EOF";
[ ca ]
default_ca = test_ca

[ test_ca ]
database = $d/index.txt
new_certs_dir = $d/newcerts
certificate = $d/ca.crt
private_key = $d/ca.key
serial = $d/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none

[ policy_any ]
commonName = supplied
EOF
}

sub _genkey {
	my ($self, $path, $type) = @_;
	my @alg = $type eq 'rsa'
		? ('-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048')
		: ('-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256');
	_openssl('genpkey', @alg, '-out', $path);
}

sub _file {
	my ($self, $name, $text) = @_;
	my $path = "$self->{dir}/$name";
	open my $fh, '>', $path or die "write $path: $!\n";
	print $fh $text;
	close $fh or die "close $path: $!\n";
}

# '-2d', '+12h', '30m', '0' -> epoch seconds
sub _offset {
	my ($spec) = @_;
	my ($n, $u) = $spec =~ /^([+-]?\d+)([smhd]?)$/
		or die "bad time offset '$spec'\n";
	return time + $n * $UNIT{$u || 's'};
}

sub _asn1_time { strftime('%Y%m%d%H%M%SZ', gmtime $_[0]) }

sub _openssl {
	my ($rc, $out, $err) = Test::Nginx::capture(['openssl', @_]);
	die "openssl @_: exit $rc\n$err$out" if $rc;
	return $out;
}

1;
