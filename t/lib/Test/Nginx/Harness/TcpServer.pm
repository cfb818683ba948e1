package Test::Nginx::Harness::TcpServer;

# `--- tcp_listen` a scripted TCP peer for nginx to talk to (an upstream that
# answers garbage, answers slowly, or hangs up), in a forked child:
#   tcp_listen: PORT (or a unix socket path)   tcp_reply: bytes (array = packets)
#   tcp_reply_delay: 100ms   tcp_query_len: N   tcp_no_close   tcp_query: expected bytes
# The child serves connections one after another until the round ends; what
# it received (all connections, concatenated) is compared with tcp_query.

use strict;
use warnings;

use IO::Select ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use POSIX ();
use Socket qw(SOMAXCONN);
use Time::HiRes qw(sleep time);

use Test::Nginx::Harness::Util qw(parse_time slurp spew);

# %a: listen, reply, reply_delay, query_len, no_close, record (file for the query)
sub start {
    my ($class, %a) = @_;
    my $listen = $a{listen};
    my $sock = $listen =~ m{/}
        ? do { unlink $listen; IO::Socket::UNIX->new(Local => $listen, Listen => SOMAXCONN) }
        : IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $listen,
            Listen => SOMAXCONN, ReuseAddr => 1, Proto => 'tcp');
    die "tcp_listen: cannot listen on $listen: $!\n" unless $sock;
    spew($a{record}, '');
    my $pid = fork // die "fork: $!\n";
    if (!$pid) {
        $SIG{$_} = 'DEFAULT' for qw(TERM INT HUP PIPE);
        eval { _serve($sock, \%a) };
        POSIX::_exit(0);    # never run the test's END blocks in this child
    }
    close $sock;
    return bless { pid => $pid, owner => $$, %a }, $class;
}

sub _serve {
    my ($sock, $a) = @_;
    my @held;    # tcp_no_close: keep peers open until we are stopped
    while (my $c = $sock->accept) {
        binmode $c;
        my $got = _read_query($c, $a->{query_len});
        open my $fh, '>>:raw', $a->{record} or die;
        print {$fh} $got;
        close $fh;
        sleep $a->{reply_delay} if $a->{reply_delay};
        my $reply = $a->{reply};
        for my $packet (ref $reply eq 'ARRAY' ? @$reply : defined $reply ? ($reply) : ()) {
            syswrite $c, $packet;
        }
        $a->{no_close} ? push(@held, $c) : close $c;
    }
}

# With tcp_query_len: exactly that many bytes. Otherwise until the peer
# half-closes or goes quiet for 100 ms after sending something.
sub _read_query {
    my ($c, $len) = @_;
    my $sel = IO::Select->new($c);
    my $buf = '';
    my $deadline = time + 10;
    while (time < $deadline) {
        last if defined $len && length $buf >= $len;
        my $wait = length($buf) && !defined $len ? 0.1 : $deadline - time;
        last unless $sel->can_read($wait);
        my $n = sysread $c, $buf, defined $len ? $len - length $buf : 65536, length $buf;
        last unless $n;
    }
    return $buf;
}

sub query { slurp($_[0]{record}) // '' }

sub stop {
    my $self = shift;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

sub DESTROY { $_[0]->stop if $_[0]{owner} == $$ }

1;
