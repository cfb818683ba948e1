# ngx_fastdfs_module serving a FastDFS store path: exact bytes, nginx's static machinery
# (HEAD, ranges, conditional requests, types) and everything that must never be served.
# Needs TEST_NGINX_LOAD_MODULES=<path>/ngx_http_fastdfs_module.so (scripts/test sets it).
use Test::Nginx::Socket 'no_plan';
use lib 't/fixtures';
use FdfsStore;
use Digest::MD5 qw(md5_hex);

our $store = FdfsStore::prepare();
our $td = FdfsStore::testdata_dir();
our $md5_10k = md5_hex(FdfsStore::slurp("$td/samples/rand10k.bin"));
our $md5_200k = md5_hex(FdfsStore::slurp("$td/samples/rand200k.bin"));

# Blocks without their own config get the usual storage-node location.
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    location ~ ^/group[0-9]+/ {
        ngx_fastdfs_module;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: GET returns the exact bytes of a stored text file
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- response_headers
Content-Type: text/plain
Content-Length: 14
Accept-Ranges: bytes
--- response_body
hello fastdfs
--- no_error_log
[error]



=== TEST 2: GET of a 10 KiB binary file is byte-exact
--- request
GET /group1/M00/00/00/fwAAAWsCHZWAf6BzAAAoAA3re24260.bin
--- response_headers
Content-Length: 10240
--- response_body_filters
md5_hex
--- response_body eval
$::md5_10k



=== TEST 3: GET of a 200 KiB binary file is byte-exact (sendfile path)
--- config
    sendfile on;
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/fwAAAWsCHZaAIISiAAMgAD5FooY185.bin
--- response_headers
Content-Length: 204800
--- response_body_filters
md5_hex
--- response_body eval
$::md5_200k



=== TEST 4: HEAD sends the headers and no body
--- request
HEAD /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- response_headers
Content-Length: 14
Last-Modified: Sat, 21 Nov 2026 10:00:00 GMT
ETag: "6b016ba0-e"
--- response_body



=== TEST 5: a 0-byte file is a 200 with an empty body
--- request
GET /group1/M00/00/00/fwAAAWsCHZKAQRMsAAAAAAAAAAA917.bin
--- response_headers
Content-Length: 0
--- response_body



=== TEST 6: Range gives 206 with Content-Range
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- more_headers
Range: bytes=0-4
--- error_code: 206
--- response_headers
Content-Range: bytes 0-4/14
Content-Length: 5
--- response_body chomp
hello



=== TEST 7: suffix Range gives the last bytes
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- more_headers
Range: bytes=-8
--- error_code: 206
--- response_headers
Content-Range: bytes 6-13/14
--- response_body
fastdfs



=== TEST 8: a Range past the end is 416
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- more_headers
Range: bytes=100-200
--- error_code: 416
--- response_headers
Content-Range: bytes */14



=== TEST 9: several ranges give a multipart/byteranges 206
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- more_headers
Range: bytes=0-1,6-12
--- error_code: 206
--- response_headers_like
Content-Type: multipart/byteranges; boundary=\d+
--- response_body_like chomp
\A\r\n--\d+\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/14\r\n\r\nhe\r\n--\d+\r\nContent-Type: text/plain\r\nContent-Range: bytes 6-12/14\r\n\r\nfastdfs\r\n--\d+--\r\n\z



=== TEST 10: If-Modified-Since equal to the file's mtime gives 304
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- more_headers
If-Modified-Since: Sat, 21 Nov 2026 10:00:00 GMT
--- error_code: 304
--- response_body



=== TEST 11: If-None-Match with the ETag gives 304
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- more_headers
If-None-Match: "6b016ba0-e"
--- error_code: 304
--- response_body



=== TEST 12: an older If-Modified-Since still gets the file
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- more_headers
If-Modified-Since: Fri, 20 Nov 2026 10:00:00 GMT
--- response_body
hello fastdfs



=== TEST 13: a valid but absent file is 404 and logged like the static module
--- request
GET /group1/M00/00/00/rBIK6VcaP0aARXXvAAHrUgHEviQ394.jpg
--- error_code: 404
--- error_log
rBIK6VcaP0aARXXvAAHrUgHEviQ394.jpg" failed (2: No such file or directory)



=== TEST 14: only GET and HEAD: POST is 405
--- request
POST /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
hello
--- error_code: 405



=== TEST 15: PUT and DELETE are 405 too
--- request eval
["PUT /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt\nx", "DELETE /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt"]
--- error_code eval
[405, 405]



=== TEST 16: a name that is not a FastDFS logical name is 400
--- request
GET /group1/M00/00/00/hello.txt
--- error_code: 400
--- error_log
fastdfs: invalid file name in URI



=== TEST 17: lowercase sub-directory and store path are 400
--- request eval
["GET /group1/M00/0a/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/m00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt"]
--- error_code eval
[400, 400]



=== TEST 18: a file of another group is not served from this store (404)
--- request
GET /group2/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- error_code: 404
--- error_log
URI is for another group than "group1"



=== TEST 19: a store path that is not configured (M01) is 400
--- request
GET /group1/M01/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- error_code: 400
--- error_log
store path M01 is not configured



=== TEST 20: dot-dot traversal never leaves the store
nginx resolves dot segments before choosing the location: what stays under /group1/ reaches the
module and fails the name check (400); what climbs higher is nginx's root location (404).
--- request eval
["GET /group1/M00/00/00/../../../etc/passwd", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt/../../../etc/passwd", "GET /group1/M00/00/00/../../../../../../etc/passwd", "GET /group1/M00/00/00/../../00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt"]
--- error_code eval
[400, 400, 400, 200]
--- response_body_unlike eval
[(qr/root:/) x 4]



=== TEST 21: percent-encoded dots never leave the store
--- request eval
["GET /group1/M00/00/00/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "GET /group1/M00/00/00/%2E%2E/%2E%2E/%2E%2E/%2E%2E/group1/M00/00/01/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/00/00/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"]
--- error_code eval
[400, 403, 400]
--- response_body_unlike eval
[(qr/(?:root:|outside the store)/) x 3]



=== TEST 22: encoded slashes decode to plain slashes; backslashes are 400
--- request eval
["GET /group1/M00/00%2F00%2FfwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/00/00/..%2F..%2F..%2Fetc%2Fpasswd", "GET /group1/M00/00/00/..%5C..%5Cetc%5Cpasswd", "GET /group1/M00/00/00/%2Fetc%2Fpasswd"]
--- error_code eval
[200, 400, 400, 400]
--- response_body_unlike eval
[(qr/root:/) x 4]



=== TEST 23: a NUL byte in the URI is 400
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt%00.jpg", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712%00txt"]
--- error_code eval
[400, 400]



=== TEST 24: an overlong name is 400
--- request eval
"GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712" . ("a" x 300) . ".txt"
--- error_code: 400



=== TEST 25: a symlink pointing out of the store is refused
--- request
GET /group1/M00/00/01/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- error_code: 403
--- response_body_unlike
outside the store
--- error_log
resolves outside the store path, refused



=== TEST 26: a sub-directory symlinked out of the store is refused
--- request
GET /group1/M00/0A/FF/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- error_code: 403
--- response_body_unlike
outside the store



=== TEST 27: symlinks to another file of the same store are served (relative, and absolute as FastDFS makes them)
--- request eval
["GET /group1/M00/00/02/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/00/04/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt"]
--- response_body eval
["hello fastdfs\n", "hello fastdfs\n"]



=== TEST 28: the same symlink rules hold with the open file cache on
--- config
    open_file_cache max=100;
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request eval
["GET /group1/M00/00/01/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/0A/FF/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/00/02/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/00/03/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/00/04/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt"]
--- error_code eval
[403, 403, 200, 404, 200]
--- response_body_unlike eval
[(qr/outside the store/) x 5]



=== TEST 29: without the group in the URL, /M00/... is served
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    location /M00/ {
        ngx_fastdfs_module;
    }
--- request
GET /M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- response_body
hello fastdfs



=== TEST 30: without url_have_group_name, a group in the URL is a bad name
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- error_code: 400



=== TEST 31: Content-Type comes from nginx's types by extension
--- config
    types {
        image/jpeg jpg;
        application/x-fastdfs-test bin;
    }
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/fwAAAWsCHZOAOAslAAAAAdPZnos597.bin
--- response_headers
Content-Type: application/x-fastdfs-test
Content-Length: 1
--- response_body chomp
A



=== TEST 32: slave and appender files are served like any other
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZuAMVXIAAAoAA3re24207_big.bin", "GET /group1/M00/00/00/fwAAAWsCHZqEZp4aAAAAAA_-AcM075.log"]
--- response_headers eval
["Content-Length: 10240", "Content-Length: 12"]



=== TEST 33: open_file_cache keeps serving the same bytes
--- config
    open_file_cache max=100 inactive=20s;
    open_file_cache_valid 30s;
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt"]
--- response_body eval
["hello fastdfs\n", "hello fastdfs\n"]



=== TEST 34: several store paths and several groups on one nginx
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_store_path 1 $TEST_NGINX_FDFS_STORE-m01;
    fastdfs_store_path group2 0 $TEST_NGINX_FDFS_STORE-group2;
    fastdfs_url_have_group_name on;
    location ~ ^/group[0-9]+/ {
        ngx_fastdfs_module;
    }
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group1/M01/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group2/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group3/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group2/M01/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt"]
--- error_code eval
[200, 200, 200, 404, 400]
--- response_body eval
["hello fastdfs\n", "hello M01\n", "hello group2\n", qr/404 Not Found/, qr/400 Bad Request/]

