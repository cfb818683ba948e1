# memc_store against real key-value servers: exact bytes, misses, HEAD, ranges, 304s, large
# values, failures (down, slow, corrupt), next_upstream, consistent hashing, writes and their
# protection, and key escaping identical to stock memcached_pass.
# Backend: memcached, or tyrantd with MEMC_BACKEND=tyrantd (t/memc-tyrant*.t); protocol of the
# generic blocks: MEMC_PROTOCOL=get|meta (t/memc-meta.t). Blocks that are about one protocol say
# so in their config.
use Test::Nginx::Socket 'no_plan';
use lib 't/fixtures';
use MemcBackends;
use Digest::MD5 qw(md5_hex);
use Digest::SHA qw(sha256);

MemcBackends::start_all();
our ($P1, $P2, $P3) = @ENV{qw(TEST_NGINX_MEMCACHED_PORT TEST_NGINX_MEMCACHED_PORT2 TEST_NGINX_MEMCACHED_PORT3)};
our ($SLOW, $DEAD, $BAD) = @ENV{qw(TEST_NGINX_SLOW_PORT TEST_NGINX_DEAD_PORT TEST_NGINX_BAD_PORT)};

sub prandom {    # SHA-256 in counter mode, like the golden samples
    my ($label, $len) = @_;
    my $out = '';
    $out .= sha256($label . pack('N', length($out) / 32)) while length $out < $len;
    return substr $out, 0, $len;
}

our $HIT = "hello memc\n";
our $HIT_CAS = MemcBackends::seed($P1, '/hit.txt', $HIT);
our $HIT_ETAG = MemcBackends::etag($HIT, $HIT_CAS);
our $LM = "dated\n";
MemcBackends::seed($P1, '/lm.txt', $LM, 1795255200);    # Sat, 21 Nov 2026 10:00:00 GMT
our $V10K = prandom('memc/10k', 10240);
MemcBackends::seed($P1, '/10k.bin', $V10K);
our $V5M = prandom('memc/5m', 5 * 1024 * 1024);
our $V5M_CAS = MemcBackends::seed($P1, '/5m.bin', $V5M);
our $V5M_ETAG = MemcBackends::etag($V5M, $V5M_CAS);
MemcBackends::seed($P1, '/pic.jpg', "not a jpeg\n");
MemcBackends::seed($P1, '/empty.txt', '');
MemcBackends::seed($P1, '/sp%20ace%25pct.txt', "escaped\n");
MemcBackends::seed($P1, "/\xc3\xa9t\xc3\xa9.txt", "utf-8\n");
MemcBackends::seed($P1, '/raw%20seeded.txt', "seeded raw\n");
our $KEY250 = '/' . ('k' x 249);
MemcBackends::seed($P1, $KEY250, "long key\n");
MemcBackends::seed($P2, '/second-only.txt', "from the second server\n");
MemcBackends::seed($P1, '/gz3.txt', "gzipped?\n", 3);
MemcBackends::seed($ENV{TEST_NGINX_MEMCACHED_SOCKET}, '/unix.txt', "over a unix socket\n");

# Keys seeded where nginx's consistent ring puts them; all three servers must get some.
our @SERVERS = map { "127.0.0.1:$_" } $P1, $P2, $P3;
our $RING = MemcBackends::chash_ring(@SERVERS);
our @HKEYS = map { "/h/$_.jpg" } 0 .. 29;
our %PLACED;
for my $k (@HKEYS) {
    my $srv = MemcBackends::chash_server($RING, $k);
    my ($port) = $srv =~ /:(\d+)$/;
    MemcBackends::seed($port, $k, "$k on server $srv\n");
    $PLACED{$srv}++;
}
keys %PLACED == 3 or die "consistent-hash test keys do not cover all three servers\n";

no_root_location();

# A response-body filter factory: each response gets "|nginx opened N more" appended, N being the
# connections the first server accepted since the block's first response, besides the filter's
# own `stats` connections. 0 throughout means nginx reused one upstream connection.
our $NEW_CONNS = sub {
    my ($first, $calls) = (undef, 0);
    return sub {
        my ($n) = MemcBackends::exchange($P1, "stats\r\n", qr/END\r\n\z/) =~ /^STAT total_connections (\d+)\r$/m
            or die "no total_connections in stats\n";
        $first //= $n;
        my $more = $n - $first - $calls++;
        return "$_[0]|nginx opened $more more";
    };
};

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    upstream kv {
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT;
        keepalive 8;
    }
_EOC_
    }
    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location ~ ^/m(?<key>/.*)$ {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_flags_to_last_modified on;
        memc_key $key;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: hit returns the exact bytes with type, length and an ETag from the cas
--- request
GET /m/hit.txt
--- response_headers eval
"Content-Type: text/plain
Content-Length: 11
Accept-Ranges: bytes
ETag: $::HIT_ETAG
!Last-Modified"
--- response_body
hello memc
--- no_error_log
[error]



=== TEST 2: Content-Type comes from nginx types by the extension
--- request
GET /m/pic.jpg
--- response_headers
Content-Type: image/jpeg
--- response_body
not a jpeg



=== TEST 3: a 10 KB binary value is byte-exact
--- request
GET /m/10k.bin
--- response_headers
Content-Length: 10240
--- response_body_filters
md5_hex
--- response_body eval
Digest::MD5::md5_hex($::V10K)



=== TEST 4: a 5 MB value streams byte-exact
--- request
GET /m/5m.bin
--- response_headers
Content-Length: 5242880
--- response_body_filters
md5_hex
--- response_body eval
Digest::MD5::md5_hex($::V5M)
--- timeout: 10
--- no_error_log
[error]



=== TEST 5: a 5 MB value streams byte-exact through a small buffer
--- config
    location / {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_buffer_size 4k;
    }
--- request
GET /5m.bin
--- response_body_filters
md5_hex
--- response_body eval
Digest::MD5::md5_hex($::V5M)
--- timeout: 10



=== TEST 6: an empty value is a 200 with no body
--- request
GET /m/empty.txt
--- response_headers
Content-Length: 0
--- response_body



=== TEST 7: a miss is a 404 with nginx's page, logged at info
--- request
GET /m/missing.txt
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
memc_store: key "/missing.txt" was not found
--- no_error_log
[error]



=== TEST 8: a miss goes to error_page 404 = @fallback
--- config
    location / {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        error_page 404 = @origin;
    }
    location @origin {
        return 200 "from origin\n";
    }
--- request
GET /nowhere.jpg
--- response_body
from origin



=== TEST 9: HEAD of a hit has the headers and no body
--- request
HEAD /m/hit.txt
--- response_headers eval
"Content-Length: 11
ETag: $::HIT_ETAG"
--- response_body



=== TEST 10: HEAD of a miss is a 404
--- request
HEAD /m/missing.txt
--- error_code: 404
--- response_body



=== TEST 11: Range is served by nginx's range filter
--- request
GET /m/hit.txt
--- more_headers
Range: bytes=0-4
--- error_code: 206
--- response_headers
Content-Range: bytes 0-4/11
Content-Length: 5
--- response_body chomp
hello



=== TEST 12: suffix Range of the 5 MB value
--- request
GET /m/5m.bin
--- more_headers
Range: bytes=-16
--- error_code: 206
--- response_headers
Content-Range: bytes 5242864-5242879/5242880
--- response_body eval
substr($::V5M, -16)



=== TEST 13: If-None-Match with the current ETag is a 304
--- request
GET /m/hit.txt
--- more_headers eval
"If-None-Match: $::HIT_ETAG"
--- error_code: 304
--- response_headers eval
"ETag: $::HIT_ETAG
!Content-Length"
--- response_body



=== TEST 14: If-None-Match with another ETag gets the full value
--- request
GET /m/hit.txt
--- more_headers
If-None-Match: "b-99", "0-0"
--- response_headers eval
"ETag: $::HIT_ETAG"
--- response_body
hello memc



=== TEST 15: Last-Modified comes from the flags; If-Modified-Since equal to it is a 304
--- request eval
["GET /m/lm.txt", "GET /m/lm.txt"]
--- more_headers eval
["", "If-Modified-Since: Sat, 21 Nov 2026 10:00:00 GMT"]
--- error_code eval
[200, 304]
--- response_headers eval
["Last-Modified: Sat, 21 Nov 2026 10:00:00 GMT", "Last-Modified: Sat, 21 Nov 2026 10:00:00 GMT"]
--- response_body eval
["dated\n", ""]



=== TEST 16: If-Modified-Since of another time gets the value
--- request
GET /m/lm.txt
--- more_headers
If-Modified-Since: Fri, 20 Nov 2026 10:00:00 GMT
--- response_body
dated



=== TEST 17: the key is $uri escaped exactly like memcached_pass (space, %, UTF-8 raw)
--- request eval
["GET /m/sp%20ace%25pct.txt", "GET /m/%C3%A9t%C3%A9.txt"]
--- response_body eval
["escaped\n", "utf-8\n"]



=== TEST 18: a key written raw is read by memcached_pass and memc_store alike; a PUT through memc_store by memcached_pass
--- config
    location ~ ^/stock(?<k>/.*)$ {
        set $memcached_key $k;
        memcached_pass kv;
    }
    location ~ ^/memc(?<k>/.*)$ {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_key $k;
        memc_store_methods GET PUT;
    }
--- request eval
["GET /stock/raw%20seeded.txt", "GET /memc/raw%20seeded.txt",
 "PUT /memc/put%20by%25memc%0Bx.txt\nwritten through memc_store",
 "PUT /memc/put%20by%25memc.txt\nwritten through memc_store",
 "GET /stock/put%20by%25memc.txt"]
--- error_code eval
[200, 200, 400, 201, 200]
--- response_body_like eval
["^seeded raw\n\$", "^seeded raw\n\$", "400 Bad Request", "^\$", "^written through memc_store\$"]



=== TEST 19: a key of 250 bytes after escaping is served
--- request eval
"GET /m$::KEY250"
--- response_body
long key



=== TEST 20: a key over the limit after escaping is a 400 and no server is contacted
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_DEAD_PORT;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
    }
--- request eval
["GET /" . ('k' x 250), "GET /" . ('k' x 240) . '%20%20%20%20']
--- error_code eval
[400, 400]
--- error_log
memc_store: key refused: memcached key is 25
--- no_error_log
connect() failed



=== TEST 21: control characters in the key are a 400
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- request eval
["GET /x%01y", "GET /x%0Ay", "GET /x%7Fy"]
--- error_code eval
[400, 400, 400]
--- error_log
memc_store: key refused: memcached key contains byte 0x
--- no_error_log
connect() failed



=== TEST 22: memc_max_key_len raises our limit (for tyrantd fleets); a server that refuses the key makes it a 502
--- config
    location / {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_max_key_len 4000;
    }
--- request eval
"GET /" . ('z' x 1000)
--- error_code: 502
--- error_log
CLIENT_ERROR



=== TEST 23: server down is a 502 logged with the upstream address
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_DEAD_PORT;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
    }
--- request
GET /hit.txt
--- error_code: 502
--- error_log eval
["connect() failed (111: Connection refused)", "upstream: \"memc://127.0.0.1:$ENV{TEST_NGINX_DEAD_PORT}\""]



=== TEST 24: a server that does not answer is a 504 after memc_read_timeout
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_SLOW_PORT;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_read_timeout 300ms;
    }
--- request
GET /hit.txt
--- error_code: 504
--- error_log eval
["upstream timed out", "upstream: \"memc://127.0.0.1:$ENV{TEST_NGINX_SLOW_PORT}\""]



=== TEST 25a: a non-numeric length is a 502, never a truncated 200
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_BAD_PORT;
        memc_protocol get;
        memc_key /bad-length;
    }
--- request
GET /x
--- error_code: 502
--- error_log
memc_store: upstream sent malformed memcached VALUE line: "VALUE /bad-length 0 5x"



=== TEST 25b: a negative length is a 502, never a truncated 200
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_BAD_PORT;
        memc_protocol get;
        memc_key /neg-length;
    }
--- request
GET /x
--- error_code: 502
--- error_log
memc_store: upstream sent malformed memcached VALUE line: "VALUE /neg-length 0 -5"



=== TEST 25c: a VALUE line for another key is a 502, never a truncated 200
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_BAD_PORT;
        memc_protocol get;
        memc_key /bad-key;
    }
--- request
GET /x
--- error_code: 502
--- error_log
memc_store: upstream sent invalid key in reply "VALUE /other-key 0 5" for key "/bad-key"



=== TEST 25d: SERVER_ERROR instead of a value is a 502, never a truncated 200
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_BAD_PORT;
        memc_protocol get;
        memc_key /server-error;
    }
--- request
GET /x
--- error_code: 502
--- error_log
memc_store: upstream sent invalid response: reply "SERVER_ERROR out of memory" for key "/server-error"



=== TEST 25e: a reply line ended by a bare LF is a 502, never a truncated 200
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_BAD_PORT;
        memc_protocol get;
        memc_key /bare-lf;
    }
--- request
GET /x
--- error_code: 502
--- error_log
memc_store: upstream sent memcached reply line not terminated by CRLF



=== TEST 25f: a corrupt VA length (meta) is a 502, never a truncated 200
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_BAD_PORT;
        memc_protocol meta;
        memc_key /meta-bad-length;
    }
--- request
GET /x
--- error_code: 502
--- error_log
memc_store: upstream sent malformed memcached VA line: "VA 5x s5"



=== TEST 26: a value cut short by the server closes the client connection short of Content-Length
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_BAD_PORT;
        memc_protocol get;
    }
--- request
GET /short
--- ignore_response
--- error_log
upstream prematurely closed connection



=== TEST 27: a wrong trailer after the value is logged and the connection not reused
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_BAD_PORT;
        memc_protocol get;
    }
--- request
GET /bad-trailer
--- response_body chomp
hello
--- error_log
memc_store: upstream sent invalid trailer after the value



=== TEST 28: next_upstream error: a dead first server fails over to the second
--- http_config
    upstream pair {
        server 127.0.0.1:$TEST_NGINX_DEAD_PORT;
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT;
    }
--- config
    location / {
        memc_store pair;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        add_header X-Upstream $upstream_addr always;
    }
--- request
GET /hit.txt
--- response_headers eval
"X-Upstream: 127.0.0.1:$ENV{TEST_NGINX_DEAD_PORT}, 127.0.0.1:$ENV{TEST_NGINX_MEMCACHED_PORT}"
--- response_body
hello memc
--- error_log
connect() failed (111: Connection refused)



=== TEST 29: memc_next_upstream off: no failover, 502
--- http_config
    upstream pair {
        server 127.0.0.1:$TEST_NGINX_DEAD_PORT;
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT backup;
    }
--- config
    location / {
        memc_store pair;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_next_upstream off;
    }
--- request
GET /hit.txt
--- error_code: 502



=== TEST 30: next_upstream timeout: a silent server fails over to the backup
--- http_config
    upstream pair {
        server 127.0.0.1:$TEST_NGINX_SLOW_PORT;
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT backup;
    }
--- config
    location / {
        memc_store pair;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_read_timeout 300ms;
    }
--- request
GET /hit.txt
--- response_body
hello memc
--- error_log
upstream timed out



=== TEST 31: memc_next_upstream not_found asks the backup on a miss; without it the miss stands
--- http_config
    upstream pair {
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT;
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT2 backup;
    }
--- config
    location /nf/ {
        memc_store pair;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_next_upstream error timeout not_found;
        memc_key /second-only.txt;
    }
    location /plain/ {
        memc_store pair;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_key /second-only.txt;
    }
--- request eval
["GET /nf/x", "GET /plain/x"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^from the second server\n\$", "404 Not Found"]



=== TEST 32: hash $uri consistent spreads keys over three servers and each is found
--- http_config
    upstream ring {
        hash $uri consistent;
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT;
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT2;
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT3;
        keepalive 8;
    }
--- config
    location /h/ {
        memc_store ring;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
    }
--- request eval
[map { "GET $_" } @::HKEYS]
--- response_body eval
[map { "$_ on server " . MemcBackends::chash_server($::RING, $_) . "\n" } @::HKEYS]
--- no_error_log
[error]



=== TEST 33: writes are off by default: PUT and DELETE are 405, nothing is sent
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_DEAD_PORT;
    }
--- request eval
["PUT /w.txt\nnew", "DELETE /hit.txt", "POST /hit.txt\nx"]
--- error_code eval
[405, 405, 405]
--- no_error_log
connect() failed



=== TEST 34: PUT stores (201), GET reads it, DELETE removes it (204), then 404s
--- config
    location / {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_store_methods GET PUT DELETE;
    }
--- request eval
["PUT /w34.txt\nput body", "GET /w34.txt", "DELETE /w34.txt", "GET /w34.txt", "DELETE /w34.txt"]
--- error_code eval
[201, 200, 204, 404, 404]
--- response_body_like eval
["^\$", "^put body\$", "^\$", "404 Not Found", "404 Not Found"]



=== TEST 35: PUT takes flags and exptime from X-Kv-Flags / X-Kv-Exptime
--- config
    location / {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_store_methods GET PUT;
        memc_flags_to_last_modified on;
    }
--- request eval
["PUT /w35.txt\nflagged", "GET /w35.txt", "PUT /w35b.txt\nx", "PUT /w35c.txt\nx"]
--- more_headers eval
["X-Kv-Flags: 1795255200\nX-Kv-Exptime: 3600", "", "X-Kv-Flags: -1", "X-Kv-Exptime: 99999999999"]
--- error_code eval
[201, 200, 400, 400]
--- response_headers eval
["", "Last-Modified: Sat, 21 Nov 2026 10:00:00 GMT", "", ""]



=== TEST 36: a PUT above client_max_body_size is a 413 and nothing is stored
--- config
    location / {
        memc_store kv;
        memc_store_methods GET PUT;
        client_max_body_size 10;
    }
--- request eval
["PUT /w36.txt\n" . ('x' x 100), "GET /w36.txt"]
--- error_code eval
[413, 404]



=== TEST 37: a PUT above the server's item size is a 413
--- config
    location / {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_store_methods GET PUT;
    }
--- request eval
["PUT /w37.bin\n" . ('x' x (7 * 1024 * 1024)), "GET /w37.bin"]
--- error_code eval
[413, 404]
--- timeout: 10



=== TEST 38: limit_except denies writes to other clients; the value is not written
--- config
    location / {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_store_methods GET PUT DELETE;
        limit_except GET {
            allow 10.0.0.1;
            deny all;
        }
    }
--- request eval
["PUT /w38.txt\nintruder", "GET /w38.txt", "DELETE /hit.txt", "GET /hit.txt"]
--- error_code eval
[403, 404, 403, 200]



=== TEST 39: limit_except allows writes to the allowed client
--- config
    location / {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_store_methods GET PUT DELETE;
        limit_except GET {
            allow 127.0.0.1;
            deny all;
        }
    }
--- request eval
["PUT /w39.txt\nallowed", "GET /w39.txt"]
--- error_code eval
[201, 200]
--- response_body_like eval
["^\$", "^allowed\$"]



=== TEST 40: meta protocol: HEAD of 5 MB moves only the metadata line
--- http_config
    log_format ub "$request_method $uri ub=$upstream_bytes_received;";
    upstream kv {
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT;
        keepalive 8;
    }
--- config
    location / {
        memc_store kv;
        memc_protocol meta;
        access_log logs/access.log ub;
    }
--- request
HEAD /5m.bin
--- response_headers eval
"Content-Length: 5242880
ETag: $::V5M_ETAG"
--- response_body
--- access_log eval
qr/^HEAD \/5m.bin ub=\d{1,3};$/



=== TEST 41: meta protocol: a conditional GET whose ETag matches is answered from metadata
--- http_config
    log_format ub "$status ub=$upstream_bytes_received;";
    upstream kv {
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT;
        keepalive 8;
    }
--- config
    location / {
        memc_store kv;
        memc_protocol meta;
        access_log logs/access.log ub;
    }
--- request
GET /5m.bin
--- more_headers eval
"If-None-Match: $::V5M_ETAG"
--- error_code: 304
--- response_body
--- access_log eval
qr/^304 ub=\d{1,3};$/



=== TEST 41b: meta protocol: a conditional GET whose ETag differs gets the value on the same connection
--- http_config
    log_format ub "$status ub=$upstream_bytes_received;";
    upstream kv {
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT;
        keepalive 8;
    }
--- config
    location / {
        memc_store kv;
        memc_protocol meta;
        access_log logs/access.log ub;
    }
--- request
GET /5m.bin
--- more_headers
If-None-Match: "other"
--- response_headers eval
"ETag: $::V5M_ETAG"
--- response_body_filters
md5_hex
--- response_body eval
Digest::MD5::md5_hex($::V5M)
--- access_log eval
qr/^200 ub=\d{7};$/
--- timeout: 10



=== TEST 42: HEAD with the current ETag is a 304 too
--- request
HEAD /m/hit.txt
--- more_headers eval
"If-None-Match: $::HIT_ETAG"
--- error_code: 304
--- response_body



=== TEST 43: upstream keepalive: hits, misses, 304s, metadata-only answers and writes leave the connection reusable
--- http_config
    upstream kv {
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT;
        keepalive 1;
    }
--- config
    location / {
        memc_store kv;
        memc_protocol meta;
        memc_store_methods GET PUT DELETE;
    }
    location /get/ {
        memc_store kv;
        memc_protocol get;
        memc_key /hit.txt;
    }
--- request eval
["GET /get/x", "GET /get/x", "GET /hit.txt", "GET /nothing.txt", "HEAD /hit.txt", "PUT /w43.txt\nka", "DELETE /w43.txt", "GET /hit.txt"]
--- more_headers eval
["", "If-None-Match: $::HIT_ETAG", "", "", "", "", "", ""]
--- error_code eval
[200, 304, 200, 404, 200, 201, 204, 200]
--- response_body_filters eval
$::NEW_CONNS->()
--- response_body_like eval
[("\\|nginx opened 0 more\$") x 8]



=== TEST 44: max_fails/fail_timeout: a failed server is left alone for fail_timeout
--- http_config
    upstream pair {
        server 127.0.0.1:$TEST_NGINX_DEAD_PORT max_fails=1 fail_timeout=60s;
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT;
    }
--- config
    location / {
        memc_store pair;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        add_header X-Upstream $upstream_addr always;
    }
--- request eval
["GET /hit.txt", "GET /hit.txt", "GET /hit.txt", "GET /hit.txt"]
--- response_body eval
["hello memc\n", "hello memc\n", "hello memc\n", "hello memc\n"]
--- response_headers eval
["X-Upstream: 127.0.0.1:$ENV{TEST_NGINX_DEAD_PORT}, 127.0.0.1:$ENV{TEST_NGINX_MEMCACHED_PORT}",
 ("X-Upstream: 127.0.0.1:$ENV{TEST_NGINX_MEMCACHED_PORT}") x 3]



=== TEST 45: memc_next_upstream_tries 1 stops after the first server, 2 reaches the backup
--- http_config
    upstream pair {
        server 127.0.0.1:$TEST_NGINX_DEAD_PORT max_fails=0;
        server 127.0.0.1:$TEST_NGINX_MEMCACHED_PORT backup;
    }
--- config
    location / {
        memc_store pair;
        memc_next_upstream_tries 1;
        add_header X-Upstream $upstream_addr always;
    }
    location /two/ {
        memc_store pair;
        memc_next_upstream_tries 2;
        memc_key /hit.txt;
        add_header X-Upstream $upstream_addr always;
    }
--- request eval
["GET /hit.txt", "GET /two/x"]
--- error_code eval
[502, 200]
--- response_headers eval
["X-Upstream: 127.0.0.1:$ENV{TEST_NGINX_DEAD_PORT}",
 "X-Upstream: 127.0.0.1:$ENV{TEST_NGINX_DEAD_PORT}, 127.0.0.1:$ENV{TEST_NGINX_MEMCACHED_PORT}"]



=== TEST 46: memc_store unix:/path
--- config
    location / {
        memc_store unix:$TEST_NGINX_MEMCACHED_SOCKET;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
    }
--- request
GET /unix.txt
--- response_body
over a unix socket



=== TEST 47: an empty key is a configuration error: 500, logged, no server contacted
--- config
    location / {
        memc_store 127.0.0.1:$TEST_NGINX_DEAD_PORT;
        memc_key $arg_k;
    }
--- request
GET /x.txt
--- error_code: 500
--- error_log
memc_store: the key is empty
--- no_error_log
connect() failed



=== TEST 48: memc_gzip_flag marks values whose flags have the bit, like memcached_gzip_flag
--- config
    location /gz/ {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_gzip_flag 2;
        memc_key $arg_k;
    }
    location /plain/ {
        memc_store kv;
        memc_protocol $TEST_NGINX_MEMC_PROTOCOL;
        memc_key $arg_k;
    }
--- request eval
["GET /gz/?k=/gz3.txt", "GET /gz/?k=/hit.txt", "GET /plain/?k=/gz3.txt", "HEAD /gz/?k=/gz3.txt"]
--- response_headers eval
["Content-Encoding: gzip", "!Content-Encoding", "!Content-Encoding", "Content-Encoding: gzip"]
