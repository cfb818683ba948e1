# Proves that the t/lib Test::Nginx::Socket harness passes what must pass and,
# above all, fails what must fail. Each case in t/lib/selftest/*.t.in is run
# as its own `perl -It/lib` process (own servroot, own port 19840+) against
# stock nginx; we assert on its TAP lines, plan, bail-out text and exit code.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use IO::Socket::INET ();
use Test::More;

my $t_dir = dirname(abs_path(__FILE__));
my $lib = "$t_dir/lib";
my $in_dir = "$lib/selftest";
my $nginx = $ENV{TEST_NGINX_SELFTEST_BINARY} || '/usr/sbin/nginx';
my $base_port = $ENV{TEST_NGINX_SELFTEST_PORT} || 19840;

plan skip_all => "no nginx binary at $nginx" unless -x $nginx;

my $tmp = tempdir('harness-selftest-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{TEST_NGINX_NO_CLEAN});

# name => { env, exit, tests, ok => [name regexes], not_ok => [...], output => [regexes] }
my @cases = (
    pass => {
        exit => 0,
        ok => [
            'TEST 1: .* - status code ok', 'TEST 1: .* - header X-A ok',
            'TEST 1: .* - header X-B not present in the raw headers', 'TEST 1: .* - header X-C ok',
            'TEST 1: .* - header Content-Type ok', 'TEST 1: .* - response_body - response is expected',
            'TEST 1: .* - pattern "GET /t" matches a line in error.log',
            'TEST 1: .* - pattern "\[error\]" does not match a line in error.log',
            'TEST 2: .* - status code ok', 'TEST 2: .* - response_body_like',
            'TEST 3: .* - status code ok', 'TEST 3: .* - header Location like ok',
            'TEST 4: .* - header Last-Modified ok', 'TEST 4: .* - header Content-Length ok',
            'TEST 5: .* - status code ok', 'TEST 6: .* - header X-Port ok',
            'TEST 9: .* - response_body', 'TEST 10: .* - header Content-Length ok',
            'TEST 11: .* - response_body', 'TEST 13: .* - response_body',
            'TEST 14: .* - header Transfer-Encoding ok', 'TEST 14: .* - response_body',
            'TEST 15: .* - pattern "\(\?\^:marker=a\.c\)" matches',
            'TEST 16: .* - pattern "body=\[abcd\]" matches a line in access.log',
        ],
        count => { 'TEST 7: ' => 4, 'TEST 12: ' => 4, 'TEST 15: ' => 4, 'TEST 16: ' => 3,
            'TEST 17: several requests: the error log is also checked between them - pattern' => 2,
            'TEST 18: ' => 2 },
    },
    fail => {
        exit => 'failures',
        # debug logging puts the query string in several lines: one failure each
        at_least => { 'TEST 7: missing error_log line and present no_error_log line - pattern "flag=zzyzx" should not' => 3 },
        not_ok => [
            'TEST 1: wrong status - status code ok',
            'TEST 2: .* - status code ok',
            'TEST 3: .* - header X-A ok',
            'TEST 4: .* - header X-A not present in the raw headers',
            'TEST 5: .* - header X-A ok',
            'TEST 6: wrong body - response_body - response is expected',
            'TEST 7: .* - pattern "this line is never logged" matches a line in error.log',
            'TEST 7: .* - pattern "flag=zzyzx" should not match any line in error.log but matches line',
            'TEST 8: .* - response_body_like',
            'ERROR: client socket timed out - TEST 9: ',
            'TEST 10: .* - tcp_query ok',
            'TEST 12: .* - die as expected',
        ],
        # checked after request 1 (present) and after request 2 (absent)
        count => { 'TEST 11: a line logged by the first request only is missing from the final check - pattern' => 2 },
        mixed => ['TEST 11: .* - pattern "only-in-first" matches a line in error.log \\(req 0\\)'],
        ok => ['TEST 2: .* - response_body', 'TEST 3: .* - status code ok', 'TEST 10: .* - status code ok'],
        output => [qr/got: '404'\n#\s+expected: '200'/, qr/nginx error\.log .*last non-debug lines/],
    },
    repeat => {
        exit => 0, tests => 12, plan => 12,
        count => { 'TEST 1: one - status code ok' => 2, 'TEST 2: two - pattern "second"' => 2 },
    },
    features => {
        env => { TEST_NGINX_FORCE_RESTART_ON_TEST => 0 },
        exit => 0, tests => 27,
        ok => [
            'TEST 1: .* - grep_error_log_out \\(req 1\\)',
            'TEST 2: .* - pattern "GET /pre\\?round" matches a line in error.log \\(req 1\\)',
            'TEST 3: .* - pattern ""GET /e HTTP/1.1" 200" matches a line in access.log',
            'TEST 3: .* - pattern "/pre" does not match a line in access.log',
            'TEST 6: .* - pattern "\\(SIGQUIT\\) received" matches a line in shutdown error.log',
            'TEST 7: LAST ends the file - status code ok',
        ],
        # skipped: 2 per round, 2 rounds
        output => [qr/^(?:ok \d+ # skip [^\n]*TEST 5: skip_nginx skips on a version condition - nginx version > 1\.0\.0\n){4}/m],
        never => [qr/TEST [48]: /],
    },
    master => { exit => 0, tests => 8 },
    only => { exit => 0, tests => 2, output => [qr/I found ONLY/], never => [qr/TEST 1: /] },
    tcp => {
        exit => 0, tests => 8,
        ok => ['TEST 1: .* - tcp_query ok', 'TEST 2: .* - pattern "memcached sent invalid response"',
            'TEST 3: .* - pattern "upstream timed out"', 'TEST 3: .* - TCP query length ok'],
    },
    must_die => {
        exit => 0, tests => 6,
        ok => ['TEST 1: .* - die as expected', 'TEST 1: .* - pattern ""limit_rate" directive invalid value"',
            'TEST 2: .* - die with the expected exit code', 'TEST 3: .* - response_body'],
    },
    helper => { exit => 0, tests => 2, ok => ['TEST 1: .* - response_body'] },
    missing_directive => {
        env => { TEST_NGINX_IGNORE_MISSING_DIRECTIVES => 1 },
        exit => 0, tests => 2,
        output => [qr/^ok 1 # skip .*TEST 1: .*nginx lacks the directive "some_missing_module_directive"/m],
    },
    order => {
        exit => 0, tests => 5,
        ok => ['TEST 2: without config - pattern "first-block" matches a line in error.log'],
    },
    bail_directive => { exit => 255, output => [qr/Bail out!.*Failed to start nginx/, qr/unknown directive "no_such_directive_here"/] },
    bail_env => { exit => 255, output => [qr/Bail out!.*No environment TEST_NGINX_SELFTEST_UNSET_VAR defined/] },
    bail_need_array => {
        exit => 255, output => [qr/Bail out!.*You asked for many requests, the expected results should be arrays as well/],
    },
    bail_noconfig => { exit => 255, output => [qr/Bail out!.*No '--- config' section specified/] },
    load_modules => {
        env => { TEST_NGINX_LOAD_MODULES => ' /nonexistent/mod_a.so  /nonexistent/mod_b.so ' },
        exit => 255, output => [qr/Bail out!.*Failed to start nginx/, qr{dlopen\(\) "/nonexistent/mod_a\.so" failed}],
        conf => qr{\nload_module /nonexistent/mod_a\.so;\nload_module /nonexistent/mod_b\.so;\n\s*worker_rlimit_nofile 1024;},
    },
);

my $next_port = $base_port;
my @runs;
while (my ($case, $want) = splice @cases, 0, 2) {
    push @runs, [$case, $want, start_case($case, free_port(), $want->{env} || {})];
}
check_case(@$_) for @runs;
done_testing();

# Other people run nginx tests on this machine too: skip ports in use.
sub free_port {
    while ($next_port < $base_port + 1000) {
        my $port = $next_port++;
        my $sock = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port,
            Proto => 'tcp', Listen => 1, ReuseAddr => 1) or next;
        close $sock;
        return $port;
    }
    die "no free port in $base_port.." . ($base_port + 999);
}

# Starts one case in the background; all cases run in parallel since they
# mostly wait on sockets. Returns {pid, out, servroot}.
sub start_case {
    my ($case, $port, $env) = @_;
    my $file = "$tmp/$case.t";
    copy("$in_dir/$case.t.in", $file) or die "copy $case: $!";
    my $servroot = "$tmp/servroot_$case";
    my $out = "$tmp/$case.out";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        delete $ENV{$_} for grep { /^TEST_NGINX_/ } keys %ENV;
        %ENV = (%ENV, TEST_NGINX_BINARY => $nginx, TEST_NGINX_PORT => $port,
            TEST_NGINX_SERVROOT => $servroot, %$env);
        open STDOUT, '>', $out or die;
        open STDERR, '>&', \*STDOUT or die;
        exec $^X, "-I$lib", "-I$in_dir", $file or die "exec: $!";
    }
    return { pid => $pid, out => $out, servroot => $servroot, file => $file };
}

sub check_case {
    my ($case, $want, $run) = @_;
    waitpid $run->{pid}, 0;
    my $exit = $? >> 8;
    my $out = do { local (@ARGV, $/) = $run->{out}; <> } // '';
    my (%status, @names, $plan);
    for my $line (split /\n/, $out) {
        $plan = $1 if $line =~ /^1\.\.(\d+)/;
        next unless $line =~ /^(not ok|ok) \d+ - (.*)$/;
        my ($st, $n) = ($1, $2);
        $n =~ s/\Q$run->{file}\E //g;
        push @names, [$st, $n];
    }
    my $ctx = "[$case]";
    my $failures = grep { $_->[0] eq 'not ok' } @names;
    my $want_exit = $want->{exit} eq 'failures' ? $failures : $want->{exit};
    is($exit, $want_exit, "$ctx exit status") or diag($out);
    ok($failures >= 10, "$ctx at least 10 failures ($failures)") if $want->{exit} eq 'failures';
    is(scalar(@names), $want->{tests}, "$ctx number of assertions") if defined $want->{tests};
    is($plan, $want->{plan}, "$ctx plan") if defined $want->{plan};
    if ($want_exit eq '0') {
        my @bad = grep { $_->[0] ne 'ok' } @names;
        ok(@names && !@bad, "$ctx all assertions pass")
            or diag(join "\n", map { "$_->[0] - $_->[1]" } @bad);
    }
    for my $kind (qw(ok not_ok)) {
        (my $st = $kind) =~ s/_/ /;
        for my $re (@{ $want->{$kind} || [] }) {
            my @hits = grep { $_->[1] =~ /^$re/ } @names;
            ok(@hits && !grep({ $_->[0] ne $st } @hits), "$ctx '$re' is $st")
                or diag("matching lines: " . join("; ", map { "$_->[0] - $_->[1]" } @hits) || 'none');
        }
    }
    for my $re (@{ $want->{mixed} || [] }) {
        my @st = map { $_->[0] } grep { $_->[1] =~ /^$re/ } @names;
        is(join(',', @st), 'ok,not ok', "$ctx '$re' passes once, then fails");
    }
    while (my ($prefix, $n) = each %{ $want->{count} || {} }) {
        is(scalar(grep { index($_->[1], $prefix) == 0 } @names), $n, "$ctx $n assertions for '$prefix'");
    }
    while (my ($prefix, $n) = each %{ $want->{at_least} || {} }) {
        my $got = grep { index($_->[1], $prefix) == 0 } @names;
        cmp_ok($got, '>=', $n, "$ctx at least $n assertions for '$prefix'");
    }
    for my $re (@{ $want->{never} || [] }) {
        ok(!grep({ $_->[1] =~ $re } @names), "$ctx no assertion named like $re");
    }
    like($out, $_, "$ctx output matches $_") for @{ $want->{output} || [] };
    if ($want->{conf}) {
        my $conf = do { local (@ARGV, $/) = "$run->{servroot}/conf/nginx.conf"; <> } // '';
        like($conf, $want->{conf}, "$ctx generated nginx.conf");
    }
    if ($exit != 0 && $want_exit eq '0' || $ENV{TEST_VERBOSE}) {
        diag("$ctx output:\n$out");
    }
}
