# Pure-Perl checks of the harness pieces whose exact bytes matter (spec
# 5.2-5.7): request bytes, response splitting, de-chunking, $TEST_NGINX_*
# expansion, time stamps, generated nginx.conf. No nginx needed.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use lib dirname(abs_path(__FILE__)) . '/lib';

use Test::More;
use Test::Nginx::Harness::Client qw(build_request build_request_packets parse_more_headers parse_responses dechunk);
use Test::Nginx::Harness::Util qw(expand_env parse_time);
use Test::Nginx::Harness::Server;
use Test::Nginx::Harness::Check;

# --- request bytes (spec 5.4)
my @req_cases = (
    ["GET /t\n", '', "GET /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 'plain GET'],
    ["GET\n", '', "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", 'URI defaults to /'],
    ["  \n# comment\n# another\nGET /x HTTP/1.0\n", '',
        "GET /x HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        'leading blanks and # lines dropped; HTTP/1.0 still gets Host and Connection'],
    ["POST /t\n   hello   \n", '',
        "POST /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
        'body trimmed when the harness adds Content-Length'],
    ["POST /t\n   hello   \n", "Content-Length: 12\n",
        "POST /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 12\r\n\r\n   hello   \n",
        'explicit Content-Length: body sent untrimmed'],
    ["POST /t\nhello\n", "content-length: 5\n",
        "POST /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\ncontent-length: 5\r\nContent-Length: 5\r\n\r\nhello",
        'the Content-Length test is case-sensitive'],
    ["POST /t\n5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked\n",
        "POST /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        'chunked request: no Content-Length, body untouched'],
    ["GET /t\n", "host: a.example\n\n# skipped\nX-Foo:bar\nconnection: keep-alive\n",
        "GET /t HTTP/1.1\r\nhost: a.example\r\nX-Foo: bar\r\nconnection: keep-alive\r\n\r\n",
        'more_headers replace Host and Connection, normalised "Key: value"'],
);
for my $c (@req_cases) {
    my ($bytes) = build_request($c->[0], $c->[1]);
    is($bytes, $c->[2], "request: $c->[3]");
}
is((build_request("GET /a\n", '', keepalive => 1))[0],
    "GET /a HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n", 'pipelining uses keep-alive');
is((build_request("HEAD /a\n", ''))[1], 'HEAD', 'method is reported');
ok(!eval { build_request("GET / HTTP/1.1 extra\n", ''); 1 }, 'four tokens on the request line are rejected');
like($@, qr/Bad request line/, '... with a clear message');
is_deeply((build_request_packets(["POST /t\nab", { value => "cd", delay_before => 0.1 }], "X: 1\n"))[0],
    [{ value => "POST /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX: 1\r\nContent-Length: 4\r\n\r\nab" },
     { value => "cd", delay_before => 0.1 }],
    'request packets: headers in the first, Content-Length over all');
is_deeply([parse_more_headers("A:1\n  \n#x: y\nB :  2 \n")], [['A', '1'], ['B', '2']], 'parse_more_headers');

# --- responses (spec 5.5)
my $resp = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\nX-A: 2\r\n\r\nabcEXTRA";
my ($r) = parse_responses($resp, 1, [0]);
is($r->{code}, 200, 'status code');
is($r->{body}, 'abc', 'body cut to Content-Length');
is(scalar $r->{res}->header('x-a'), '1, 2', 'repeated headers joined with ", "');
like($r->{warnings}[0], qr/5 extra bytes/, 'extra bytes are a warning');
is($r->{raw_headers}, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: 1\r\nX-A: 2\r\n", 'raw header block');

($r) = parse_responses("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1, [0]);
is($r->{body}, 'abc', 'short body kept');
like($r->{warnings}[0], qr/truncated/, 'short body is a warning');
($r) = parse_responses("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 1, [1]);
is_deeply([$r->{body}, $r->{warnings}], ['', []], 'HEAD: no body, no truncation warning');
($r) = parse_responses('', 1, [0]);
is($r->{code}, '', 'no response: empty status code');

my @two = parse_responses("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
    . "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nBB\r\n0\r\n\r\n", 2, [0, 0]);
is_deeply([map { [$_->{code}, $_->{body}, scalar @{ $_->{errors} }] } @two],
    [[200, 'A', 0], [201, 'BB', 0]], 'pipelined responses split by length and chunking');

is_deeply([dechunk("3;ext=1\r\nabc\r\n1\r\nd\r\n0\r\nTrailer: x\r\n\r\nrest")], ['abcd', 'rest', undef],
    'dechunk with extensions and trailers');
ok((dechunk("zz\r\nabc"))[2], 'bad chunk size is an error');
ok((dechunk("5\r\nab"))[2], 'truncated chunk is an error');
($r) = parse_responses("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 1, [0]);
like($r->{errors}[0], qr/invalid chunked body/, 'bad framing becomes a failed assertion');

# --- $TEST_NGINX_* expansion (spec 5.7)
{
    local $ENV{TEST_NGINX_FOO} = 'bar';
    local $ENV{TEST_NGINX_SERVER_PORT} = 1984;
    is(expand_env('x $TEST_NGINX_FOO $nginx_var $TEST_NGINX_FOO', {}), 'x bar $nginx_var bar', 'expansion');
    ok(!eval { expand_env('$TEST_NGINX_NOT_SET_ANYWHERE', {}); 1 }, 'unset variable dies');
    is($@, "No environment TEST_NGINX_NOT_SET_ANYWHERE defined.\n", '... with the real module\'s message');
    my %rand;
    my $t = expand_env('$TEST_NGINX_RAND_PORT_1 $TEST_NGINX_RAND_PORT_1 $TEST_NGINX_RAND_PORT_2', \%rand);
    my ($a1, $a2, $b) = split ' ', $t;
    ok($a1 == $a2 && $a1 >= 1988 && $b != $a1, "RAND_PORT stable within a block ($t)");
}
is(parse_time('100ms'), 0.1, 'parse_time ms');
is(parse_time(' 2 '), 2, 'parse_time plain');

# --- user_files stamps and the generated conf (spec 5.2, 5.3)
is(Test::Nginx::Harness::Server::touch_stamp('201501021030'), 1420194600, 'CCYYMMDDhhmm stamp is GMT');
is(Test::Nginx::Harness::Server::touch_stamp('1501021030.05'), 1420194605, 'YYMMDDhhmm.ss stamp');

my $srv = Test::Nginx::Harness::Server->new(binary => 'nginx', servroot => '/srv/root/');
$srv->{vinfo} = { text => 'nginx version: nginx/1.22.1 --without-http_uwsgi_module', version => [1, 22, 1], has_e => 1 };
my $conf = $srv->gen_conf(
    workers => 1, master_process => 'off', log_level => 'debug', port => 1984, worker_connections => 64,
    env => ['FOO'], load_modules => ['/m/a.so', 'b.so'], main_config => 'MAIN;',
    http_config => "proxy_temp_path /x;", config => 'CONFIG;', post_main_config => 'POST;',
    worker_user => 'nobody',
);
like($conf, qr/\Aworker_processes  1;\ndaemon on;\nmaster_process off;\nerror_log \/srv\/root\/logs\/error\.log debug;\npid       \/srv\/root\/logs\/nginx\.pid;\n/,
    'conf preamble');
like($conf, qr/env FOO;\n\nload_module \/m\/a\.so;\nload_module b\.so;\nMAIN;/, 'env, load_module, main_config in order');
like($conf, qr/client_body_temp_path \/srv\/root\/client_body_temp;/, 'temp paths into the servroot');
unlike($conf, qr/proxy_temp_path \/srv/, 'http_config proxy_temp_path suppresses ours');
unlike($conf, qr/uwsgi_temp_path/, 'no directive for a compiled-out module');
like($conf, qr/default_type text\/plain;\n    keepalive_timeout  68000ms;/, 'http defaults');
like($conf, qr/listen          1984;\n        server_name     'localhost';\n\n        client_max_body_size 30M;/, 'server preamble');
like($conf, qr/CONFIG;.*location \/ \{\n            root \/srv\/root\/html;\n            index index\.html index\.htm;/s,
    'root location after the test config');
like($conf, qr/\}\n\}\n\nPOST;\n\nevents \{\n    accept_mutex off;\n\n    worker_connections  64;\n\}\nuser nobody;\n\z/,
    'post_main_config, events, user');
unlike($srv->gen_conf(workers => 1, master_process => 'off', log_level => 'info', port => 1, worker_connections => 1,
    no_root_location => 1, worker_user => undef), qr/location \//, 'no_root_location');

# --- servroot layout and user_files on disk (spec 3, 5.3)
{
    require File::Temp;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $sr = Test::Nginx::Harness::Server->new(binary => 'nginx', servroot => "$dir/servroot");
    $sr->setup_servroot;
    is(Test::Nginx::Harness::Util::slurp("$dir/servroot/html/index.html"), 'It works!', 'index.html');
    local $ENV{TEST_NGINX_UNIT_X} = 'expanded';
    $sr->write_user_files(">>> a.txt 201501021030\n0123456789abcdef\n>>> d/b.txt\n\$TEST_NGINX_UNIT_X\n"
        . ">>> $dir/abs.txt\nabs\n", {});
    is(-s "$dir/servroot/html/a.txt", 17, 'user file keeps its trailing newline');
    is((stat "$dir/servroot/html/a.txt")[9], 1420194600, 'user file mtime from the stamp');
    is(Test::Nginx::Harness::Util::slurp("$dir/servroot/html/d/b.txt"), "expanded\n", 'content expanded, dirs created');
    is(Test::Nginx::Harness::Util::slurp("$dir/abs.txt"), "abs\n", 'absolute path used as is');
    mkdir "$dir/servroot/logs/keep";
    $sr->setup_servroot;
    ok(!-e "$dir/servroot/html/a.txt" && !-e "$dir/servroot/logs/keep", 'known directories are wiped');
    Test::Nginx::Harness::Util::spew("$dir/servroot/precious", 'x');
    ok(!eval { $sr->setup_servroot; 1 }, 'an unknown file in the servroot stops the run');
    like($@, qr/not empty\?/, '... saying so');
    ok(-e "$dir/servroot/precious", '... and the file survives');
}

# --- response_headers lines (spec 5.6.3)
is_deeply(Test::Nginx::Harness::Check::_parse_header_lines("  X-A : 1 \n!X-B\nX-C:\nX-A: 2\nD: a: b\n"),
    { 'X-A' => '2', 'X-B' => undef, 'X-C' => '', 'D' => 'a: b' }, 'header lines: last wins, ! and empty');

done_testing();
