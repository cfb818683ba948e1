package Test::Nginx::Harness::Util;

# Small pure helpers shared by the harness modules: $TEST_NGINX_* expansion,
# time parsing, free-port picking, file slurping.

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET ();

our @EXPORT_OK = qw(
  expand_env parse_time pick_free_port slurp spew tail_lines
);

# Replaces every $TEST_NGINX_FOO by its environment value. An unset variable
# is fatal (the caller turns the die into a bail-out), never an empty string:
# a silently empty port or path produces confusing nginx errors instead.
# $rand_ports (hashref) keeps the $TEST_NGINX_RAND_PORT_N values of one block.
sub expand_env {
    my ($text, $rand_ports) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{_env_value($1, $rand_ports)}ge;
    return $text;
}

sub _env_value {
    my ($name, $rand_ports) = @_;
    if ($name =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
        $rand_ports ||= {};
        return $rand_ports->{$name} //= pick_free_port(values %$rand_ports);
    }
    return $ENV{$name} if defined $ENV{$name};
    die "No environment $name defined.\n";
}

# "3", "0.5", "100ms", "2s", "1m" -> seconds (float).
sub parse_time {
    my $v = shift;
    return undef unless defined $v;
    $v =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $v =~ /^(\d+(?:\.\d+)?)ms$/;
    return $1 * 60   if $v =~ /^(\d+(?:\.\d+)?)m$/;
    return $1        if $v =~ /^(\d+(?:\.\d+)?)s?$/;
    die "Bad time value: $v\n";
}

# A port >= 1988 that we could bind just now on 127.0.0.1 and is not in @taken.
sub pick_free_port {
    my %taken = map { $_ => 1 } grep { defined } @_;
    $taken{ $ENV{TEST_NGINX_SERVER_PORT} // 0 } = 1;
    for (1 .. 200) {
        my $port = 1988 + int(rand(60000 - 1988));
        next if $taken{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => $port,
            Proto => 'tcp', Listen => 1, ReuseAddr => 1,
        ) or next;
        close $sock;
        return $port;
    }
    die "Could not find a free port for \$TEST_NGINX_RAND_PORT_*\n";
}

sub slurp {
    my ($path, $offset) = @_;
    open my $fh, '<:raw', $path or return undef;
    seek $fh, $offset, 0 if $offset;
    local $/;
    my $data = <$fh>;
    return $data // '';
}

sub spew {
    my ($path, $data) = @_;
    open my $fh, '>:raw', $path or die "Cannot write $path: $!\n";
    print {$fh} $data;
    close $fh or die "Cannot write $path: $!\n";
}

# A log line of level info or above; debug lines and their multi-line
# continuations (request header dumps) are noise in a failure report.
sub non_debug_line { $_[0] =~ m{^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(?!debug\])} }

# Last $n lines of $text for which $keep returns true.
sub tail_lines {
    my ($text, $n, $keep) = @_;
    my @lines = grep { $keep ? $keep->($_) : 1 } split /\n/, ($text // '');
    splice @lines, 0, @lines - $n if @lines > $n;
    return @lines;
}

1;
