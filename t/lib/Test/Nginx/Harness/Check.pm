package Test::Nginx::Harness::Check;

# The assertions of one block (spec 5.6), in the real module's order:
# status, raw headers, headers, body per response; then the logs.

use strict;
use warnings;

use Digest::MD5 ();
use Digest::SHA ();
use MIME::Base64 ();
use Test::More ();
use Time::HiRes qw(sleep);

use Test::Nginx::Harness::Util qw(expand_env slurp);

my %BodyFilters = (
    uc => sub { uc $_[0] },
    lc => sub { lc $_[0] },
    length => sub { length $_[0] },
    md5_hex => \&Digest::MD5::md5_hex,
    sha1_hex => \&Digest::SHA::sha1_hex,
    sha256_hex => \&Digest::SHA::sha256_hex,
    base64 => sub { MIME::Base64::encode_base64($_[0], '') },
);

sub new {
    my ($class, %a) = @_;
    return bless {%a}, $class;
}

sub _pick {
    my ($v, $i) = @_;
    return ref $v eq 'ARRAY' ? $v->[$i] : $v;
}

sub _ports {
    my ($self, $v) = @_;
    my $s = $self->{settings};
    $v =~ s/\$ServerPortForClient\b/$s->{client_port}/g;
    $v =~ s/\$ServerPort\b/$s->{port}/g;
    return $v;
}

sub check_response {
    my ($self, $r, $i, $round) = @_;
    my ($b, $name) = @$self{qw(block name)};
    my $sum = "req $i, repeated req $round";
    Test::More::diag("WARNING: $name - $_") for @{ $r->{warnings} };
    Test::More::fail("$name - $_ ($sum)") for @{ $r->{errors} };

    # 1. status
    if (defined(my $like = _pick($b->can_get('error_code_like'), $i))) {
        Test::More::like($r->{code}, qr/$like/sm, "$name - status code ok");
    } else {
        my $want = _pick($b->can_get('error_code'), $i) // 200;
        Test::More::is($r->{code}, $want, "$name - status code ok");
    }

    # 2. raw header block
    for my $kind (qw(like unlike)) {
        my $pat = _pick($b->can_get("raw_response_headers_$kind"), $i);
        next unless defined $pat;
        no strict 'refs';
        &{"Test::More::$kind"}($r->{raw_headers}, qr/$pat/s, "$name - raw resp headers $kind");
    }

    # 3. headers; response_headers wins over response_headers_like
    if (defined(my $h = _pick($b->can_get('response_headers'), $i))) {
        my $want = _parse_header_lines($h);
        for my $k (sort keys %$want) {
            my $v = $want->{$k};
            if (!defined $v) {
                Test::More::unlike($r->{raw_headers}, qr/^\s*\Q$k\E\s*:/m,
                    "$name - header $k not present in the raw headers");
                next;
            }
            my $got = scalar $r->{res}->header($k);
            Test::More::is($got // '', $self->_ports($v), "$name - header $k ok");
        }
    } elsif (defined(my $hl = _pick($b->can_get('response_headers_like'), $i))) {
        my $want = _parse_header_lines($hl);
        for my $k (sort keys %$want) {
            my $v = $self->_ports($want->{$k} // '');
            my $got = scalar $r->{res}->header($k);
            Test::More::like($got // '', qr/^$v$/, "$name - header $k like ok");
        }
    }

    # 4. body
    $self->_check_body($r, $i, $sum);
}

# One header per line; "!Name" asserts absence. A hash, like the real
# module: a repeated name keeps its last line.
sub _parse_header_lines {
    my $text = shift;
    my %h;
    for my $line (split /\n/, $text) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            $h{$line} = undef;
            next;
        }
        my ($k, $v) = split /\s*:\s*/, $line, 2;
        $h{$k} = $v;
    }
    return \%h;
}

sub _check_body {
    my ($self, $r, $i, $sum) = @_;
    my ($b, $name) = @$self{qw(block name)};
    my $body = $r->{body};
    # artefacts of the LWP-era client, stripped by the real module too
    $body =~ s/^TE: deflate,gzip;q=0\.3\r\n//gm;
    $body =~ s/^Connection: TE, close\r\n//gm;

    if (defined(my $f = $b->can_get('response_body_filters'))) {
        my @filters = ref $f eq 'ARRAY' ? @$f : ref $f eq 'CODE' ? ($f) : split ' ', $f;
        for my $filter (@filters) {
            my $code = ref $filter eq 'CODE' ? $filter : $BodyFilters{$filter}
                or $self->{bail}->("unknown response_body_filters entry '$filter'");
            $body = $code->($body);
        }
    }

    my $label = "$name - response_body";
    if (defined $b->can_get('response_body')) {
        my $want = _pick($b->can_get('response_body'), $i);
        return unless defined $want;
        if (ref $want eq 'Regexp') {
            Test::More::like($body, $want, "$label - like ($sum)");
            return;
        }
        $want = eval { expand_env($self->_ports($want), $self->{rand_ports}) };
        $self->{bail}->($@) if $@;
        is_str($body, $want, "$label - response is expected ($sum)", $self->{settings}{long_string});
    } elsif (defined(my $like = _pick($b->can_get('response_body_like'), $i))) {
        $like = $self->_ports($like) unless ref $like;
        Test::More::like($body, qr/$like/s, "${label}_like - response is expected ($sum)");
    }
    if (defined(my $unlike = _pick($b->can_get('response_body_unlike'), $i))) {
        $unlike = $self->_ports($unlike) unless ref $unlike;
        Test::More::unlike($body, qr/$unlike/s, "${label}_unlike - response is expected ($sum)");
    }
}

# Exact string comparison. Long or binary strings get a short report around
# the first difference instead of a screenful (like Test::LongString).
sub is_str {
    my ($got, $want, $label) = @_;
    if (!defined $got || !defined $want
        || (length($got) < 200 && length($want) < 200 && "$got$want" !~ /[^\x09\x0a\x0d\x20-\x7e]/)) {
        return Test::More::is($got, $want, $label);
    }
    my $ok = Test::More::ok($got eq $want, $label);
    return $ok if $ok;
    my $pos = 0;
    $pos++ while $pos < length($got) && $pos < length($want)
        && substr($got, $pos, 1) eq substr($want, $pos, 1);
    my $ex = sub {
        my $s = substr($_[0], $pos > 20 ? $pos - 20 : 0, 60);
        $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
        return "\"$s\"";
    };
    Test::More::diag(sprintf "  strings differ at byte %d (got %d bytes, expected %d)\n"
        . "    got:      %s\n    expected: %s", $pos, length $got, length $want,
        $ex->($got), $ex->($want));
    return 0;
}

# Patterns of a log section: literal lines, or (eval) a qr// or an array.
sub _patterns {
    my $v = shift;
    return () unless defined $v;
    return @$v if ref $v eq 'ARRAY';
    return ($v) if ref $v eq 'Regexp';
    return grep { length } split /\n+/, $v;
}

sub _matches {
    my ($line, $pat) = @_;
    return ref $pat eq 'Regexp' ? $line =~ $pat : index($line, $pat) >= 0;
}

# --- error_log semantics: one pass per pattern seen, one failure per
# pattern never seen.
sub match_patterns {
    my ($name, $file, $section, $lines, $sum) = @_;
    for my $pat (_patterns($section)) {
        my $found = grep { _matches($_, $pat) } @$lines;
        my $label = "$name - pattern \"$pat\" "
            . ($found ? "matches a line in $file" : "should match a line in $file")
            . ($sum ne '' ? " ($sum)" : '');
        Test::More::ok($found, $label);
    }
}

# --- no_error_log semantics: one failure per (line, pattern) match, one
# pass per pattern that matched nothing.
sub _no_match_patterns {
    my ($name, $file, $section, $lines, $sum) = @_;
    my @pats = _patterns($section);
    my %hit;
    for my $line (@$lines) {
        for my $p (0 .. $#pats) {
            next unless _matches($line, $pats[$p]);
            $hit{$p}++;
            Test::More::fail("$name - pattern \"$pats[$p]\" should not match any line in $file "
                . "but matches line \"$line\" ($sum)");
        }
    }
    for my $p (0 .. $#pats) {
        Test::More::pass("$name - pattern \"$pats[$p]\" does not match a line in $file ($sum)")
            unless $hit{$p};
    }
}

sub check_logs {
    my ($self, $round, $offset) = @_;
    my ($b, $name, $s) = @$self{qw(block name settings)};
    my $srv = $s->{server};
    my $sum = "repeated req $round";
    my @sections = grep { defined $b->can_get($_) }
        qw(error_log no_error_log grep_error_log access_log no_access_log);
    # Log-phase messages are written after the response has been sent.
    sleep 3 * $s->{sleep} if @sections;

    my $data = slurp($srv->error_log, $offset->{error}) // '';
    $offset->{error} += length $data unless $s->{accum_error_log};
    my @lines = split /\n/, $data;

    my $mentioned = join "\n", map { ref $_ eq "ARRAY" ? "@$_" : "$_" } grep { defined }
        map { $b->can_get($_) } qw(error_log no_error_log grep_error_log);
    for my $line (@lines) {
        Test::More::fail("$name - nginx assertion failure in error.log: $line")
            if $line =~ /Assertion .* failed/;
        if ($line =~ /\[(alert|crit|emerg)\]/ && $mentioned !~ /\Q$1\E/) {
            print STDERR "WARNING: $name - $line\n";
        }
    }
    match_patterns($name, 'error.log', $b->can_get('error_log'), \@lines, $sum);
    _no_match_patterns($name, 'error.log', $b->can_get('no_error_log'), \@lines, $sum);

    if (defined(my $g = $b->can_get('grep_error_log'))) {
        my $got = '';
        for my $line (@lines) {
            if (ref $g eq 'Regexp') {
                $got .= "$1\n" if $line =~ /($g)/;
            } elsif (index($line, $g) >= 0) {
                $got .= "$g\n";
            }
        }
        my $want = _pick($b->can_get('grep_error_log_out'), $round);
        if (ref $want eq 'Regexp') {
            Test::More::like($got, $want, "$name - grep_error_log_out ($sum)");
        } elsif (defined $want) {
            $want = eval { expand_env($want, $self->{rand_ports}) };
            $self->{bail}->($@) if $@;
            Test::More::is($got, $want, "$name - grep_error_log_out ($sum)");
        }
    }

    if (defined $b->can_get('access_log') || defined $b->can_get('no_access_log')) {
        my $acc = slurp($srv->access_log, $offset->{access}) // '';
        $offset->{access} += length $acc unless $s->{accum_error_log};
        my @acc = split /\n/, $acc;
        match_patterns($name, 'access.log', $b->can_get('access_log'), \@acc, $sum);
        _no_match_patterns($name, 'access.log', $b->can_get('no_access_log'), \@acc, $sum);
    }
}

# Test::Base::Block accessors exist only for section names some block used;
# AUTOLOAD returns nothing for the others. This keeps undef explicit.
package Test::Base::Block;

sub can_get {
    my ($self, $section) = @_;
    return exists $self->{$section} ? scalar($self->$section) : undef;
}

1;
