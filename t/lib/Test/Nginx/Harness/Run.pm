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

my $PrevConf;          # conf text nginx is running with (undef: none yet)
my $StartedOnce = 0;
my $PendingShutdown;   # {name, patterns} of the last block's shutdown_error_log

sub _failures { scalar grep { !$_ } Test::More->builder->summary }

sub run_block {
    my ($block, $s) = @_;
    my $name = "$0 " . $block->name;
    my $srv = $s->{server};
    my $bail = sub { $s->{bail_out}->("$name - " . join '', @_) };
    my $fails_before = _failures();

    return if _skipped($block, $name, $srv, $s);

    my %rand;    # $TEST_NGINX_RAND_PORT_N values, shared by the whole block
    my $x = sub {
        my $v = shift;
        my $r = eval { expand_env($v, \%rand) };
        $bail->($@) if $@;
        return $r;
    };

    my $config = $block->can_get('config');
    if (defined $config) {
        my $conf = $srv->gen_conf(
            main_config => $x->($block->can_get('main_config')),
            http_config => $x->($block->can_get('http_config')),
            config => $x->($config),
            post_main_config => $x->($block->can_get('post_main_config')),
            event_config => $x->($block->can_get('event_config')),
            log_level => _one_line($block->can_get('log_level')) // $s->{log_level},
            port => $s->{port},
            map({ $_ => $s->{$_} } qw(no_root_location master_process workers
                worker_connections env load_modules worker_user)),
        );
        if ($s->{force_restart} || !defined $PrevConf || $conf ne $PrevConf || !$srv->running) {
            my $err = _restart($srv, $s, $conf, $block, \%rand);
            if ($err && $s->{ignore_missing_directives} && $err =~ /unknown directive "([^"]+)"/) {
                Test::More->builder->skip("$name - nginx lacks the directive \"$1\"");
                return;
            }
            $bail->($err) if $err;
        }
        $PrevConf = $conf;
    } elsif (!defined $PrevConf) {
        $bail->("No '--- config' section specified and could not get previous one. ");
    }

    my $checker = Test::Nginx::Harness::Check->new(
        block => $block, name => $name, settings => $s, rand_ports => \%rand, bail => $bail,
    );
    my %log_offset = (error => 0, access => 0);
    for my $round (0 .. $s->{repeat_each} - 1) {
        my $tcp = _start_tcp_server($block, $srv, $x, $bail);
        _run_requests($block, $name, $s, $checker, $round, \%rand, $bail, \%log_offset);
        _check_tcp_query($block, $name, $tcp) if $tcp;
        my $wait = parse_time(_one_line($block->can_get('wait')));
        sleep $wait if $wait;
        $checker->check_logs($round, \%log_offset);
    }
    $PendingShutdown = { name => $name, patterns => $block->can_get('shutdown_error_log') }
        if defined $block->can_get('shutdown_error_log');

    if (defined $PrevConf && !$srv->running) {
        Test::More::diag("$name: nginx (pid " . ($srv->pid // '?') . ") is no longer running"
            . ($srv->death ? ": " . $srv->death : ''));
    }
    if (_failures() > $fails_before) {
        my @tail = tail_lines(slurp($srv->error_log), 30, \&Test::Nginx::Harness::Util::non_debug_line);
        Test::More::diag("$name: nginx error.log (" . $srv->error_log
            . "), last non-debug lines:\n" . join("\n", map { "  $_" } @tail));
    }
}

sub _start_tcp_server {
    my ($block, $srv, $x, $bail) = @_;
    my $listen = _one_line($x->($block->can_get('tcp_listen')));
    return undef unless defined $listen;
    my $tcp = eval {
        Test::Nginx::Harness::TcpServer->start(
            listen => $listen,
            reply => $block->can_get('tcp_reply'),
            reply_delay => parse_time(_one_line($block->can_get('tcp_reply_delay'))),
            query_len => _one_line($block->can_get('tcp_query_len')),
            no_close => defined $block->can_get('tcp_no_close'),
            record => $srv->servroot . '/logs/tcp_query.bin',
        );
    } or $bail->($@);
    return $tcp;
}

sub _check_tcp_query {
    my ($block, $name, $tcp) = @_;
    $tcp->stop;
    my $want = $block->can_get('tcp_query');
    return unless defined $want;
    if (ref $want eq 'Regexp') {
        Test::More::like($tcp->query, $want, "$name - tcp_query ok");
    } else {
        Test::Nginx::Harness::Check::is_str($tcp->query, $want, "$name - tcp_query ok");
    }
}

# Returns an error message when nginx could not be (re)started.
sub _restart {
    my ($srv, $s, $conf, $block, $rand) = @_;
    $srv->stop_leftover unless $StartedOnce++;
    $srv->stop(timeout => $s->{timeout}, fast => $s->{fast_shutdown});
    check_shutdown_log($srv);
    $PrevConf = undef;
    eval {
        $srv->setup_servroot;
        my $uf = $block->can_get('user_files');
        $srv->write_user_files($uf, $rand) if defined $uf;
        $srv->write_conf($conf);
        $srv->start;
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

# --- skip_nginx: N: OP VERSION  /  --- skip_eval: N: PERL-EXPR
sub _skipped {
    my ($block, $name, $srv, $s) = @_;
    my ($count, $reason);
    if (defined(my $sk = $block->can_get('skip_nginx'))) {
        my ($n, $op, $ver) = $sk =~ /^\s*(\d+)\s*:\s*(<=?|>=?|==|!=)\s*(\d+(?:\.\d+)*)\s*$/
            or $s->{bail_out}->("$name - bad skip_nginx value '$sk'");
        my @want = (split(/\./, $ver), 0, 0, 0)[0 .. 2];
        my @have = @{ $srv->version_info->{version} };
        my $cmp = ($have[0] <=> $want[0]) || ($have[1] <=> $want[1]) || ($have[2] <=> $want[2]);
        my %ops = ('<' => $cmp < 0, '<=' => $cmp <= 0, '>' => $cmp > 0, '>=' => $cmp >= 0,
            '==' => $cmp == 0, '!=' => $cmp != 0);
        ($count, $reason) = ($n, "$name - nginx version " . join('.', @have) . " $op $ver") if $ops{$op};
    }
    if (!$count && defined(my $se = $block->can_get('skip_eval'))) {
        my ($n, $code) = $se =~ /^\s*(\d+)\s*:(.*)$/s
            or $s->{bail_out}->("$name - bad skip_eval value '$se'");
        my $r = eval "package main; $code";
        $s->{bail_out}->("$name - skip_eval: $@") if $@;
        ($count, $reason) = ($n, "$name - skip_eval") if $r;
    }
    return 0 unless $count;
    Test::More->builder->skip($reason) for 1 .. $count;
    return 1;
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
