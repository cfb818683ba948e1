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

# An expectation for request $i. With several requests every expectation
# must be an array (the real module bails out otherwise); with one request
# an array means its first element.
sub _indexed {
    my ($self, $section, $i) = @_;
    my $v = $self->{block}->can_get($section);
    return undef unless defined $v;
    if ($self->{need_array}) {
        return $v->[$i] if ref $v eq 'ARRAY';
        $self->{bail}->("You asked for many requests, the expected results should be arrays as well.");
    }
    return ref $v eq 'ARRAY' ? $v->[0] : $v;
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
    my $sum = "req $round";
    Test::More::diag("WARNING: $name - $_") for @{ $r->{warnings} };
    Test::More::fail("$name - $_ ($sum)") for @{ $r->{errors} };

    # 1. status
    if (defined(my $like = $self->_indexed('error_code_like', $i))) {
        Test::More::like($r->{code}, qr/$like/sm, "$name - status code ok");
    } else {
        my $want = $self->_indexed('error_code', $i) // 200;
        Test::More::is($r->{code}, $want, "$name - status code ok");
    }

    # 2. raw header block
    for my $kind (qw(like unlike)) {
        my $pat = $self->_indexed("raw_response_headers_$kind", $i);
        next unless defined $pat;
        no strict 'refs';
        &{"Test::More::$kind"}($r->{raw_headers}, qr/$pat/s, "$name - raw resp headers $kind");
    }

    # 3. headers; response_headers wins over response_headers_like
    if (defined(my $h = $self->_indexed('response_headers', $i))) {
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
    } elsif (defined(my $hl = $self->_indexed('response_headers_like', $i))) {
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

    # response_body, else response_body_like, else response_body_unlike:
    # only one of them is checked, as in the real module.
    my $label = "$name - response_body";
    if (defined $b->can_get('response_body')) {
        my $want = $self->_indexed('response_body', $i);
        if (ref $want eq 'Regexp') {
            Test::More::like($body, $want, "$label - like ($sum)");
            return;
        }
        if (defined $want) {
            $want = eval { expand_env($self->_ports($want), $self->{rand_ports}) };
            $self->{bail}->($@) if $@;
        }
        is_str($body, $want, "$label - response is expected ($sum)");
        return;
    }
    for my $type (qw(like unlike)) {
        next unless defined $b->can_get("response_body_$type");
        my $pat = $self->_indexed("response_body_$type", $i) // '';
        $pat = $self->_ports($pat) unless ref $pat;
        no strict 'refs';
        &{"Test::More::$type"}($body, qr/$pat/s, "${label}_$type - response is expected ($sum)");
        return;
    }
}

# Exact string comparison. Long or binary strings get a short report around
# the first difference instead of a screenful (like Test::LongString).
sub is_str {
    my ($got, $want, $label) = @_;
    return Test::More::like($got, $want, $label) if ref $want eq 'Regexp';
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

# --- error_log semantics: one assertion per pattern, passing when some
# line contains it. The real module names both outcomes the same way.
sub match_patterns {
    my ($name, $file, $section, $lines, $sum) = @_;
    for my $pat (_patterns($section)) {
        my $found = grep { _matches($_, $pat) } @$lines;
        Test::More::ok($found, "$name - pattern \"$pat\" matches a line in $file"
            . ($sum ne '' ? " ($sum)" : ''));
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
            Test::More::fail("$name - pattern \"" . _fmt($pats[$p]) . "\" should not match any line in $file "
                . "but matches line \"" . _fmt($line) . "\" ($sum)");
        }
    }
    for my $p (0 .. $#pats) {
        Test::More::pass("$name - pattern \"" . _fmt($pats[$p]) . "\" does not match a line in $file ($sum)")
            unless $hit{$p};
    }
}

sub _fmt {
    my $s = shift;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub _mentions {
    my ($v, $word) = @_;
    return 0 unless defined $v;
    return index("$v", $word) >= 0 unless ref $v eq 'ARRAY';
    return scalar grep { _mentions($_, $word) } @$v;
}

sub check_logs {
    my ($self, $round, $offset) = @_;
    my ($b, $name, $s) = @$self{qw(block name settings)};
    my $srv = $s->{server};
    my $sum = "req $round";
    my @sections = grep { defined $b->can_get($_) }
        qw(error_log no_error_log grep_error_log access_log no_access_log);
    # Log-phase messages are written after the response has been sent.
    sleep 3 * $s->{sleep} if @sections;

    my $data = slurp($srv->error_log, $offset->{error}) // '';
    $offset->{error} += length $data unless $s->{accum_error_log};
    my @lines = split /\n/, $data;

    $self->_grep_error_log($round, \@lines);
    match_patterns($name, 'error.log', $b->can_get('error_log'), \@lines, $sum);
    _no_match_patterns($name, 'error.log', $b->can_get('no_error_log'), \@lines, $sum);

    # [alert]/[crit]/[emerg] lines are warnings unless a log section names them.
    for my $level (qw(alert crit emerg)) {
        next if grep { _mentions($b->can_get($_), "[$level") } qw(error_log no_error_log);
        print STDERR "WARNING: $name - " . _fmt($_) . "\n" for grep { /\[$level\]/ } @lines;
    }
    for my $line (@lines) {
        Test::More::fail("$name - $line") if $line =~ /\bAssertion .*? failed\.$/;
    }

    if (defined $b->can_get('access_log') || defined $b->can_get('no_access_log')) {
        my $acc = slurp($srv->access_log, $offset->{access}) // '';
        $offset->{access} += length $acc unless $s->{accum_error_log};
        my @acc = split /\n/, $acc;
        match_patterns($name, 'access.log', $b->can_get('access_log'), \@acc, $sum);
        _no_match_patterns($name, 'access.log', $b->can_get('no_access_log'), \@acc, $sum);
    }
}

# --- grep_error_log: the matched part of every matching line, each + "\n",
# compared with --- grep_error_log_out. Arrays of either index by round.
sub _grep_error_log {
    my ($self, $round, $lines) = @_;
    my ($b, $name) = @$self{qw(block name)};
    my $g = _pick($b->can_get('grep_error_log'), $round);
    return unless defined $g;
    my $want = $b->can_get('grep_error_log_out');
    $self->{bail}->("No --- grep_error_log_out defined but --- grep_error_log is defined")
        unless defined $want;
    $want = _pick($want, $round);
    my $got = '';
    for my $line (@$lines) {
        my $hit = ref $g eq 'Regexp' ? ($line =~ /($g)/ ? $1 : undef)
            : index($line, $g) >= 0 ? $g : undef;
        $got .= "$hit\n" if defined $hit && $hit !~ /\n/;
    }
    my $label = "$name - grep_error_log_out (req $round)";
    if (ref $want eq 'Regexp') {
        Test::More::like($got, $want, $label);
        return;
    }
    $want = eval { expand_env($want, $self->{rand_ports}) } if defined $want;
    $self->{bail}->($@) if $@;
    is_str($got, $want, $label);
}

# Test::Base::Block accessors exist only for section names some block used;
# AUTOLOAD returns nothing for the others. This keeps undef explicit.
package Test::Base::Block;

sub can_get {
    my ($self, $section) = @_;
    return exists $self->{$section} ? scalar($self->$section) : undef;
}

1;
