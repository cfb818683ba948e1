package Test::Nginx::Harness::TcpServer;

# `--- tcp_listen`: a scripted TCP peer for nginx to talk to (an upstream
# that answers garbage, answers late, or hangs up), run in a forked child for
# one round, with the real module's semantics:
#   tcp_listen: PORT or /path/x.sock    tcp_reply: bytes (eval array = packets)
#   tcp_query_len: N (default: length of tcp_query)   tcp_reply_delay: 100ms
#   tcp_shutdown: 0|1|2 (+ tcp_shutdown_delay)   tcp_no_close
# It accepts ONE connection, reads until it has tcp_query_len bytes (or, with
# no length, one read), replies, and closes. What it read is kept in a file
# for the tcp_query / tcp_query_len checks.

use strict;
use warnings;

use IO::Socket::INET ();
use IO::Socket::UNIX ();
use POSIX ();
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(sleep);

use Test::Nginx::Harness::Util qw(slurp spew);

# %a: listen, reply, reply_delay, query_len, no_close, shutdown,
# shutdown_delay, record (file for the query)
sub start {
    my ($class, %a) = @_;
    my $target = $a{listen};
    my $sock;
    if ($target =~ /^\d+$/) {
        $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $target,
            Listen => 5, ReuseAddr => 1, Proto => 'tcp');
    } elsif ($target =~ /\S+\.sock$/) {
        unlink $target;
        $sock = IO::Socket::UNIX->new(Local => $target, Type => SOCK_STREAM, Listen => 5);
    } else {
        die "bad tcp_listen target: $target\n";
    }
    die "failed to create the tcp listening socket on $target: $!\n" unless $sock;
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
    my $c = $sock->accept or return;
    binmode $c;
    my ($no_read, $no_write);
    if (defined $a->{shutdown}) {
        sleep $a->{shutdown_delay} if $a->{shutdown_delay};
        $c->shutdown($a->{shutdown});
        ($a->{shutdown} == 0 || $a->{shutdown} == 2) ? ($no_read = 1) : ($no_write = 1);
    }
    unless ($no_read) {
        my $buf = '';
        while (1) {
            my $n = sysread $c, $buf, 4096, length $buf;
            last unless $n;    # error or EOF (the real module would spin here)
            spew($a->{record}, $buf);    # visible at once, as in the real module
            last if !$a->{query_len} || length($buf) >= $a->{query_len};
        }
    }
    sleep $a->{reply_delay} if $a->{reply_delay};
    unless ($no_write) {
        my $reply = $a->{reply};
        syswrite $c, $_ for ref $reply eq 'ARRAY' ? @$reply : defined $reply ? ($reply) : ();
    }
    sleep 1 while $a->{no_close};
    close $c;
}

sub query { slurp($_[0]{record}) // '' }

sub stop {
    my $self = shift;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    unlink $self->{listen} if $self->{listen} =~ /\.sock$/;
}

sub DESTROY { $_[0]->stop if $_[0]{owner} == $$ }

1;
