package Test::Nginx::Harness::Run;

# One block's life: (re)start nginx with the block's config, send its
# requests repeat_each times, run the checks of Harness::Check.

use strict;
use warnings;

use Test::More ();
use Time::HiRes qw(sleep);

use Test::Nginx::Harness::Util qw(expand_env parse_time slurp tail_lines);
use Test::Nginx::Harness::Client qw(build_request build_request_packets exchange parse_responses);
use Test::Nginx::Harness::Check;
use Test::Nginx::Harness::TcpServer;

my $PrevConfig;        # --- config text nginx runs with (undef: none yet)
my $StartedOnce = 0;
my $PendingShutdown;   # {name, patterns} of the last block's shutdown_error_log

sub _failures { scalar grep { !$_ } Test::More->builder->summary }

sub run_block {
    my ($block, $s) = @_;
    my $name = "$0 " . $block->name;
    my $srv = $s->{server};
    my $bail = sub { $s->{bail_out}->("$name - " . join '', @_) };
    my $fails_before = _failures();

    my %rand;    # $TEST_NGINX_RAND_PORT_N values, shared by the whole block
    my $x = sub {
        my $v = shift;
        my $r = eval { expand_env($v, \%rand) };
        $bail->($@) if $@;
        return $r;
    };

    my $config = $x->($block->can_get('config'));
    $bail->("No '--- config' section specified and could not get previous one. ")
        if !defined $config && !defined $PrevConfig;
    my ($skip_count, $skip_reason) = _skip_spec($block, $srv, $bail);
    my $conf = defined $config ? $srv->gen_conf(
        main_config => $x->($block->can_get('main_config')),
        http_config => $x->($block->can_get('http_config')),
        config => $config,
        post_main_config => $x->($block->can_get('post_main_config')),
        event_config => $x->($block->can_get('event_config')),
        log_level => _one_line($block->can_get('log_level')) // $s->{log_level},
        port => $s->{port},
        map({ $_ => $s->{$_} } qw(no_root_location master_process workers
            worker_connections env load_modules worker_user)),
    ) : undef;

    my $checker = Test::Nginx::Harness::Check->new(
        block => $block, name => $name, settings => $s, rand_ports => \%rand, bail => $bail,
    );
    if (defined $block->can_get('must_die')) {
        $bail->("--- must_die needs a --- config") unless defined $conf;
        return _run_must_die($block, $name, $srv, $s, $conf, $checker, \%rand, $bail);
    }

    # Like the real module, the decision looks at the --- config text only.
    if (defined $config && !$skip_count
        && ($s->{force_restart} || !defined $PrevConfig || $config ne $PrevConfig || !$srv->running)) {
        my $err = _restart($srv, $s, $conf, $block, \%rand);
        if ($err && $s->{ignore_missing_directives} && $err =~ /unknown directive "([^"]+)"/) {
            Test::More->builder->skip("$name - nginx lacks the directive \"$1\"");
            return;
        }
        $bail->($err) if $err;
        $PrevConfig = $config;
    }

    if (defined(my $init = $block->can_get('init'))) {
        eval "package main; $init; 1" or $bail->("init failed: $@");
    }
    my %log_offset = (error => 0, access => 0);
    for my $round (0 .. $s->{repeat_each} - 1) {
        my $tcp = _start_tcp_server($block, $srv, $x, $bail);
        if ($round > 0 && defined(my $uf = $block->can_get('user_files'))) {
            eval { $srv->write_user_files($uf, \%rand); 1 } or $bail->($@);
        }
        if ($skip_count) {
            Test::More->builder->skip("$name - $skip_reason") for 1 .. $skip_count;
            next;
        }
        _run_requests($block, $name, $s, $checker, $round, \%rand, $bail, \%log_offset);
        my $wait = parse_time(_one_line($block->can_get('wait')));
        sleep $wait if $wait;
        $checker->check_logs($round, \%log_offset);
        _check_tcp_query($block, $name, $tcp) if $tcp;
    }
    return if $skip_count;
    $PendingShutdown = { name => $name, patterns => $block->can_get('shutdown_error_log') }
        if defined $block->can_get('shutdown_error_log');
    _diagnose($name, $srv, $fails_before);
}

# On failure: how nginx died, if it did, and the end of its error log.
sub _diagnose {
    my ($name, $srv, $fails_before) = @_;
    if (defined $PrevConfig && !$srv->running) {
        Test::More::diag("$name: nginx (pid " . ($srv->pid // '?') . ") is no longer running"
            . ($srv->death ? ": " . $srv->death : ''));
    }
    return unless _failures() > $fails_before;
    my @tail = tail_lines(slurp($srv->error_log), 30, \&Test::Nginx::Harness::Util::non_debug_line);
    Test::More::diag("$name: nginx error.log (" . $srv->error_log
        . "), last non-debug lines:\n" . join("\n", map { "  $_" } @tail));
}

# --- must_die[: exit code]: nginx must refuse to start (per round), then the
# log sections are checked against its startup messages.
sub _run_must_die {
    my ($block, $name, $srv, $s, $conf, $checker, $rand, $bail) = @_;
    my $want = _one_line($block->can_get('must_die'));
    my $err = _restart($srv, $s, $conf, $block, $rand, 'prepare only');
    $bail->($err) if $err;
    my %log_offset = (error => 0, access => 0);
    for my $round (0 .. $s->{repeat_each} - 1) {
        my $status = $srv->try_start;
        if ($status & 127) {
            Test::More::fail("$name - nginx core dumped");
        } elsif ($want =~ /^\d+$/) {
            Test::More::is($want, $status >> 8, "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }
        $srv->stop(timeout => $s->{timeout}) if $status == 0;
        $checker->check_logs($round, \%log_offset);
    }
}

sub _start_tcp_server {
    my ($block, $srv, $x, $bail) = @_;
    my $listen = _one_line($x->($block->can_get('tcp_listen')));
    return undef unless defined $listen;
    my $reply = $block->can_get('tcp_reply');
    my $shutdown = _one_line($block->can_get('tcp_shutdown'));
    $bail->("no --- tcp_reply specified but --- tcp_listen is specified")
        if !defined $reply && !defined $shutdown;
    my $len = _one_line($block->can_get('tcp_query_len'));
    my $query = $block->can_get('tcp_query');
    $len //= length $query if defined $query && !ref $query;
    my $tcp = eval {
        Test::Nginx::Harness::TcpServer->start(
            listen => $listen, reply => $reply, query_len => $len, shutdown => $shutdown,
            shutdown_delay => parse_time(_one_line($block->can_get('tcp_shutdown_delay'))),
            reply_delay => parse_time(_one_line($block->can_get('tcp_reply_delay'))),
            no_close => defined $block->can_get('tcp_no_close'),
            record => $srv->servroot . '/logs/tcp_query.bin',
        );
    } or $bail->($@);
    return $tcp;
}

# After the round's requests and log checks, as in the real module.
sub _check_tcp_query {
    my ($block, $name, $tcp) = @_;
    my $got = $tcp->query;
    $tcp->stop;
    if (defined(my $want = $block->can_get('tcp_query'))) {
        Test::Nginx::Harness::Check::is_str($got, $want, "$name - tcp_query ok");
    }
    if (defined(my $len = _one_line($block->can_get('tcp_query_len')))) {
        Test::More::is(length $got, $len, "$name - TCP query length ok");
    }
}

# Returns an error message when nginx could not be (re)started. With
# $prepare_only the servroot and conf are written but nginx is not started.
sub _restart {
    my ($srv, $s, $conf, $block, $rand, $prepare_only) = @_;
    $srv->stop_leftover unless $StartedOnce++;
    $srv->stop(timeout => $s->{timeout}, fast => $s->{fast_shutdown});
    check_shutdown_log($srv);
    $PrevConfig = undef;
    eval {
        $srv->setup_servroot;
        my $uf = $block->can_get('user_files');
        $srv->write_user_files($uf, $rand) if defined $uf;
        $srv->write_conf($conf);
        $srv->start unless $prepare_only;
        1;
    } or return $@;
    return '';
}

# Checked once nginx has been stopped, as the real module does.
sub check_shutdown_log {
    my $srv = shift;
    my $p = $PendingShutdown or return;
    $PendingShutdown = undef;
    my @lines = split /\n/, (slurp($srv->error_log) // '');
    Test::Nginx::Harness::Check::match_patterns($p->{name}, 'shutdown error.log', $p->{patterns}, \@lines, '');
}

sub _one_line {
    my $v = shift;
    return undef unless defined $v;
    $v =~ s/^\s+|\s+$//g;
    return $v;
}

# --- skip_nginx: N: OP X.Y.Z[: reason] (OP one of < <= > >=) and
# --- skip_eval: N: PERL-EXPR. Returns (N, reason) when the block is skipped:
# N skipped assertions per round, no nginx restart, no requests.
sub _skip_spec {
    my ($block, $srv, $bail) = @_;
    my ($count, $reason, $skip);
    if (defined(my $se = $block->can_get('skip_eval'))) {
        if ($se =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($count, $reason) = ($1, 'skip_eval');
            my $code = $2;
            $skip = eval "package main; $code";
            $bail->("skip_eval - failed to eval the Perl code \"$code\": $@") if $@;
        }
    }
    if (defined(my $sk = $block->can_get('skip_nginx'))) {
        my ($n, $op, @want) = $sk =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)(?:\s*:\s*(.*?))?\s*$/
            or $bail->("Invalid --- skip_nginx spec: $sk");
        my $why = pop @want;
        my @have = @{ $srv->version_info->{version} };
        my $cmp = ($have[0] <=> $want[0]) || ($have[1] <=> $want[1]) || ($have[2] <=> $want[2]);
        my %ops = ('<' => $cmp < 0, '<=' => $cmp <= 0, '>' => $cmp > 0, '>=' => $cmp >= 0);
        ($count, $reason) = ($n, $why || "nginx version $op " . join('.', @want));
        $skip = 1 if $ops{$op};
    }
    return $skip ? ($count, $reason // 'various reasons') : ();
}

# Each connection: {packets => [...], count => responses, is_head => [...]}.
sub _connections {
    my ($block, $name, $rand, $bail) = @_;
    if (defined(my $p = $block->can_get('pipelined_requests'))) {
        $bail->("invalid entries in --- pipelined_requests") unless ref $p eq 'ARRAY';
        my @reqs = @$p;
        my ($bytes, @head) = ('');
        for my $i (0 .. $#reqs) {
            my $text = eval { expand_env($reqs[$i], $rand) } // $bail->($@);
            my ($b, $m) = eval { build_request($text, _pick($block->can_get('more_headers'), $i),
                keepalive => $i < $#reqs) } or $bail->($@);
            $bytes .= $b;
            push @head, $m eq 'HEAD';
        }
        return ({ packets => [$bytes], count => scalar @reqs, is_head => \@head });
    }
    if (defined(my $raw = $block->can_get('raw_request'))) {
        my @packets = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        my $first = ref $packets[0] eq 'HASH' ? $packets[0]{value} : $packets[0];
        return ({ packets => \@packets, count => 1, is_head => [($first // '') =~ /^\s*HEAD\b/ ? 1 : 0] });
    }
    my $req = $block->can_get('request');
    $bail->("No '--- request' section specified") unless defined $req;
    my @list = ref $req eq 'ARRAY' ? @$req : ($req);
    my @conns;
    for my $i (0 .. $#list) {
        my $mh = _pick($block->can_get('more_headers'), $i);
        my ($packets, $method) = eval {
            ref $list[$i] eq 'ARRAY' ? build_request_packets($list[$i], $mh)
                : do { my ($b, $m) = build_request($list[$i], $mh); ([$b], $m) };
        } or $bail->($@);
        push @conns, { packets => $packets, count => 1, is_head => [$method eq 'HEAD' ? 1 : 0] };
    }
    return @conns;
}

sub _pick {
    my ($v, $i) = @_;
    return ref $v eq 'ARRAY' ? $v->[$i] : $v;
}

# Like the real module: with several requests (an eval array, or pipelined)
# the logs are also checked after every request but the last, each check
# seeing only lines logged since the previous one.
sub _run_requests {
    my ($block, $name, $s, $checker, $round, $rand, $bail, $log_offset) = @_;
    my $timeout = parse_time(_one_line($block->can_get('timeout'))) // $s->{timeout};
    my $ignore = defined $block->can_get('ignore_response');
    my $shutdown = _one_line($block->can_get('shutdown'));
    $shutdown = 1 if defined $shutdown && $shutdown eq '';
    my @conns = _connections($block, $name, $rand, $bail);
    my $total = 0;
    $total += $_->{count} for @conns;
    $checker->{need_array} = defined($block->can_get('pipelined_requests')) || $total > 1;
    my $req_idx = 0;
    for my $conn (@conns) {
        Test::More::diag("$name - request:\n" . join('', map { ref $_ ? $_->{value} : $_ } @{ $conn->{packets} }))
            if $s->{verbose};
        my $res = exchange(
            host => $s->{addr}, port => $s->{client_port}, packets => $conn->{packets},
            timeout => $timeout, retry_sleep => $s->{sleep}, shutdown => $shutdown,
            middle_delay => parse_time(_one_line($block->can_get('raw_request_middle_delay'))),
        );
        Test::More::diag("$name - raw response:\n$res->{raw}") if $s->{verbose};
        Test::More::diag("$name - $res->{error}") if $res->{error};
        Test::More::fail("$name - $res->{connect_error} (aborted)") if $res->{connect_error};
        if ($res->{timed_out} && !defined $block->can_get('abort')) {
            Test::More::fail("ERROR: client socket timed out - $name");
        }
        for my $r (parse_responses($res->{raw}, $conn->{count}, $conn->{is_head})) {
            $checker->check_response($r, $req_idx, $round) unless $ignore;
            next unless ++$req_idx < $total;
            my $wait = parse_time(_one_line($block->can_get('wait')));
            sleep $wait if $wait;
            $checker->check_logs($round, $log_offset);
        }
    }
}

1;
