package Test::Nginx::Harness::Client;

# The HTTP client side: request bytes exactly as Test::Nginx::Socket builds
# them (spec 5.4), a raw TCP exchange, and response parsing (spec 5.5).

use strict;
use warnings;

use Exporter 'import';
use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(
  build_request build_request_packets parse_more_headers exchange parse_responses dechunk
);

# more_headers text -> list of [key, value]; blank and '#' lines dropped.
sub parse_more_headers {
    my $text = shift // '';
    my @h;
    for my $line (split /\n/, $text) {
        $line =~ s/\r$//;
        next if $line !~ /\S/ || $line =~ /^\s*#/;
        my ($k, $v) = split /:\s*/, $line, 2;
        $k =~ s/^\s+|\s+$//g;
        $v //= '';
        $v =~ s/\s+$//;
        push @h, [$k, $v];
    }
    return @h;
}

# Returns (bytes, method). Dies (caller bails out) on a malformed first line.
# %opt: keepalive => 1 sends "Connection: keep-alive" (pipelining).
sub build_request {
    my ($text, $more_headers, %opt) = @_;
    $text //= '';
    1 while $text =~ s/^\s+// || $text =~ s/^#[^\n]*(?:\n|\z)//;
    my ($first, $body) = split /\n/, $text, 2;
    $first //= '';
    $body //= '';
    $first =~ s/\r$//;
    my @tok = split ' ', $first;
    die "Bad request line: '$first' (want METHOD [URI [VERSION]])\n" if @tok < 1 || @tok > 3;
    my ($method, $uri, $version) = ($tok[0], $tok[1] // '/', $tok[2] // 'HTTP/1.1');

    my $mh = $more_headers // '';
    my @extra = parse_more_headers($mh);
    my $req = "$method $uri $version\r\n";
    $req .= "Host: localhost\r\n" unless grep { lc $_->[0] eq 'host' } @extra;
    unless ($mh =~ /^\s*connection/mi) {
        $req .= $opt{keepalive} ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    }
    $req .= "$_->[0]: $_->[1]\r\n" for @extra;
    my $chunked = grep { lc $_->[0] eq 'transfer-encoding' && $_->[1] =~ /chunked/i } @extra;
    # Deliberately case-sensitive, as in Test::Nginx::Socket.
    my $has_len = $mh =~ /^\s*Content-Length\s*:/m;
    if (!$chunked && !$has_len && $body ne '') {
        $body =~ s/^\s+|\s+$//g;
        $req .= "Content-Length: " . length($body) . "\r\n";
    }
    return ("$req\r\n$body", $method);
}

# A request given as packets (`--- request eval [["POST /t\nab", "cd"]]`):
# the first packet is a request as above, the others are more body bytes
# sent in separate writes ({value => ..., delay_before => s} adds a pause).
# The Content-Length covers the whole body; nothing is trimmed, since the
# split points are the point of such a test.
sub build_request_packets {
    my ($packets, $more_headers) = @_;
    my @p = map { ref $_ eq 'HASH' ? {%$_} : { value => $_ } } @$packets;
    die "Empty request packet list\n" unless @p;
    my $text = $p[0]{value} // '';
    1 while $text =~ s/^\s+// || $text =~ s/^#[^\n]*(?:\n|\z)//;
    my ($first, $body) = split /\n/, $text, 2;
    my ($head, $method) = build_request("$first\n", $more_headers);
    $body //= '';
    my $total = length($body);
    $total += length($_->{value} // '') for @p[1 .. $#p];
    my $mh = $more_headers // '';
    if ($total && $mh !~ /^\s*Content-Length\s*:/m
        && !grep { lc $_->[0] eq 'transfer-encoding' } parse_more_headers($mh)) {
        $head =~ s/\r\n\z/Content-Length: $total\r\n\r\n/;
    }
    $p[0]{value} = $head . $body;
    return (\@p, $method);
}

# Sends $packets (arrayref of strings or {value, delay_before}) on a fresh
# connection while reading, until the peer closes. Like the real module,
# %a{timeout} is an idle timeout: it restarts whenever the socket is ready.
# %a{middle_delay}: pause before packets without their own delay_before;
# %a{shutdown}: shutdown(2) mode once everything is written.
# Returns { raw, timed_out, error }.
sub exchange {
    my (%a) = @_;
    my $sock;
    my $tries = $a{connect_retries} // 50;
    for my $i (1 .. $tries) {
        $sock = IO::Socket::INET->new(
            PeerAddr => $a{host} // '127.0.0.1', PeerPort => $a{port},
            Proto => 'tcp', Timeout => $a{timeout},
        );
        last if $sock;
        sleep($a{retry_sleep} // 0.015) if $i < $tries;
    }
    return { raw => '', connect_error => "Can't connect to " . ($a{host} // '127.0.0.1') . ":$a{port}: $!" }
        unless $sock;
    binmode $sock;
    $sock->blocking(0);

    my @packets = map { ref $_ eq 'HASH' ? {%$_} : { value => $_ } } @{ $a{packets} };
    my $buf = (shift @packets)->{value} // '';
    my ($off, $writing, $raw, %res) = (0, 1, '');
    while (1) {
        my $r = IO::Select->new($sock);
        my $w = $writing ? IO::Select->new($sock) : undef;
        my ($readable, $writable) = IO::Select->select($r, $w, undef, $a{timeout});
        if (!$readable && !$writable) {
            $res{timed_out} = 1;
            last;
        }
        if ($readable && @$readable) {
            my $n = sysread $sock, $raw, 65536, length $raw;
            if (!defined $n) {
                next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
                $res{error} = "read error: $!";
                last;
            }
            last if $n == 0;
        }
        next unless $writable && @$writable;
        if ($off < length $buf) {
            my $n = syswrite $sock, $buf, length($buf) - $off, $off;
            if (!defined $n) {
                next if $! == EINTR || $! == EAGAIN || $! == EWOULDBLOCK;
                # The server may answer and close early (413): keep reading.
                $res{error} = "write failed: $!";
                $writing = 0;
                next;
            }
            $off += $n;
        }
        next if $off < length $buf;
        if (my $p = shift @packets) {
            my $delay = $p->{delay_before} // $a{middle_delay};
            sleep $delay if $delay;
            ($buf, $off) = ($p->{value} // '', 0);
            next;
        }
        $writing = 0;
        shutdown $sock, $a{shutdown} if defined $a{shutdown};
    }
    close $sock;
    return { raw => $raw, %res };
}

# Decodes a chunked body. Returns ($body, $rest, $error).
sub dechunk {
    my $buf = shift;
    my $out = '';
    while (1) {
        $buf =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//
            or return ($out, $buf, 'bad chunk size line: ' . _excerpt($buf));
        my $size = hex $1;
        if ($size == 0) {
            # optional trailers, then the final CRLF
            $buf =~ s/^(?:[^\r\n]+\r\n)*\r\n//
                or return ($out, $buf, 'missing final CRLF after the last chunk');
            return ($out, $buf, undef);
        }
        return ($out . $buf, '', "truncated chunk: want $size bytes, have " . length($buf))
            if length($buf) < $size + 2;
        $out .= substr($buf, 0, $size, '');
        $buf =~ s/^\r\n// or return ($out, $buf, 'chunk data not followed by CRLF');
    }
}

sub _excerpt {
    my $s = substr(shift, 0, 40);
    $s =~ s/([^\x20-\x7e])/sprintf '\\x%02x', ord $1/ge;
    return "\"$s\"";
}

# Splits a raw byte stream into responses. @$is_head says, per expected
# response, whether its request was HEAD. Each result is a hashref:
# raw_headers, code ('' when nothing arrived), res (HTTP::Response), body,
# warnings [..], errors [..] (errors are failed assertions). Bytes after the
# last expected response become a warning on it.
sub parse_responses {
    my ($raw, $count, $is_head) = @_;
    my @out;
    for my $i (0 .. $count - 1) {
        my ($r, $rest) = _parse_one($raw, $is_head->[$i]);
        push @out, $r;
        $raw = $rest;
    }
    push @{ $out[-1]{warnings} }, length($raw) . " extra bytes after the response: " . _excerpt($raw)
        if @out && length $raw;
    return @out;
}

sub _parse_one {
    my ($raw, $is_head) = @_;
    my $r = { raw_headers => '', code => '', body => '', warnings => [], errors => [] };
    my ($head, $rest);
    if ($raw =~ /\A(.*?\r\n)\r\n/s) {
        $head = $1;
        $rest = substr $raw, length($head) + 2;
    } elsif ($raw ne '') {
        push @{ $r->{warnings} }, 'incomplete response headers: ' . _excerpt($raw);
        ($head, $rest) = ($raw, '');
    } else {
        $r->{res} = HTTP::Response->new('', '');
        return ($r, '');
    }
    $r->{raw_headers} = $head;
    my $res = HTTP::Response->parse($head);
    $r->{res} = $res;
    $r->{code} = defined $res->code && $res->code =~ /^\d+$/ ? $res->code : '';
    my $code = $r->{code};

    if ($is_head || $code eq '304' || $code eq '101') {
        $r->{body} = '';
        return ($r, $rest);
    }
    my $te = $res->header('Transfer-Encoding') // '';
    my $len = $res->header('Content-Length');
    if ($te =~ /chunked/i) {
        my ($body, $after, $err) = dechunk($rest);
        $r->{body} = $body;
        push @{ $r->{errors} }, "invalid chunked body received: $err" if $err;
        return ($r, $after);
    }
    if (defined $len && $len =~ /^\s*(\d+)\s*$/) {
        $len = $1;
        if (length($rest) < $len) {
            push @{ $r->{warnings} },
                "client received a truncated body: want $len bytes, got " . length($rest);
            $r->{body} = $rest;
            return ($r, '');
        }
        $r->{body} = substr $rest, 0, $len;
        return ($r, substr($rest, $len));
    }
    $r->{body} = $rest;
    return ($r, '');
}

1;
