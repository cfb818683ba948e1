# Anti-steal tokens: ?token=<md5(Mxx/HH/HH/name + secret + ts)>&ts=<unix time>, as
# fastdfs-nginx-module checks them, with ts=0 ("never expires") only when allowed.
use Test::Nginx::Socket 'no_plan';
use lib 't/fixtures';
use FdfsStore;
use Digest::MD5 qw(md5_hex);

our $store = FdfsStore::prepare();
$ENV{TEST_NGINX_FDFS_FAIL_FILE} = "$store-outside/anti-steal.txt";

our $name = 'M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt';
our $now = time;
sub url { my ($logical, $secret, $ts) = @_; "/group1/$name?token=" . md5_hex("$logical$secret$ts") . "&ts=$ts" }
our $fresh = url($name, 'topsecret', $now);
our $expired = url($name, 'topsecret', $now - 1000);
our $wrong_secret = url($name, 'other', $now);
our $with_group = url("group1/$name", 'topsecret', $now);
our $other_file = "/group1/M00/00/00/fwAAAWsCHZOAOAslAAAAAdPZnos597.bin?token="
    . md5_hex("${name}topsecret$now") . "&ts=$now";

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_token on;
    fastdfs_token_secret topsecret;
    fastdfs_token_ttl 900;
    location /group1/ {
        ngx_fastdfs_module;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: a fresh token is accepted
--- request eval
"GET $::fresh"
--- response_body
hello fastdfs



=== TEST 2: an expired token is refused with 403
--- request eval
"GET $::expired"
--- error_code: 403
--- error_log
fastdfs: token check failed: token expired



=== TEST 3: a token made with another secret is refused
--- request eval
"GET $::wrong_secret"
--- error_code: 403
--- error_log
token check failed: token does not match



=== TEST 4: a token is bound to its file
--- request eval
"GET $::other_file"
--- error_code: 403



=== TEST 5: no token or no ts is refused
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt?token=df69278afbabf899460724595b91fe6a", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt?ts=1700000000"]
--- error_code eval
[403, 403, 403]
--- error_log
the URL has no token or no ts



=== TEST 6: a token of the wrong length or a non-numeric ts is refused
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt?token=abc&ts=1", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt?token=df69278afbabf899460724595b91fe6a&ts=x"]
--- error_code eval
[403, 403]



=== TEST 7: the token is computed without the group (fdfs_test prints URLs hashed with it)
--- request eval
"GET $::with_group"
--- error_code: 403



=== TEST 8: golden vector (ts=0) is refused unless never-expiring tokens are allowed
--- request
GET /group1/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg?token=a06242278d895272f0085157ed2f9d71&ts=0
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_token on;
    fastdfs_token_secret s3cret;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- error_code: 403
--- error_log
never-expiring token) is not allowed



=== TEST 9: golden vector (ts=0) with fastdfs_token_never_expire on
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_token on;
    fastdfs_token_secret s3cret;
    fastdfs_token_never_expire on;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg?token=a06242278d895272f0085157ed2f9d71&ts=0
--- response_body
not really a jpeg



=== TEST 10: golden vector with a timestamp, within a long ttl
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_token on;
    fastdfs_token_secret s3cret;
    fastdfs_token_ttl 100y;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/eSosZVfrMy2ADEcxAADS9IecoKQ527.jpg?token=580c9d3d75a01ee54aa8dc8fc67e7a8f&ts=1475031853
--- response_body
not really a jpeg



=== TEST 11: a failed check serves the fail file with 200
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_token on;
    fastdfs_token_secret topsecret;
    fastdfs_token_fail_file $TEST_NGINX_FDFS_FAIL_FILE;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request eval
"GET $::expired"
--- response_headers
Content-Type: text/plain
--- response_body
token check failed



=== TEST 12: the bypass header skips the check; a wrong value does not
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_token on;
    fastdfs_token_secret topsecret;
    fastdfs_token_bypass_header X-Internal-Fetch let-me-in;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt"]
--- more_headers eval
["x-internal-fetch: let-me-in", "X-Internal-Fetch: let-me-i"]
--- error_code eval
[200, 403]



=== TEST 13: tokens are off unless enabled: the same URL without a token is served
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- response_body
hello fastdfs
