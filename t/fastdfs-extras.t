# fastdfs-nginx-module's extras: ?filename= download names (escaped per RFC 6266, unlike the C
# module) and FLV ?start= seeking.
use Test::Nginx::Socket 'no_plan';
use lib 't/fixtures';
use FdfsStore;

FdfsStore::prepare();

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_flv on;
    location /group1/ {
        ngx_fastdfs_module;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: ?filename= names the download
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt?filename=notes.txt
--- response_headers
Content-Disposition: attachment; filename="notes.txt"
--- response_body
hello fastdfs



=== TEST 2: a crafted filename cannot break out of the header value or add headers
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt?filename=a%22%0d%0aX-Injected:%201;.txt
--- response_headers
Content-Disposition: attachment; filename="a_X-Injected: 1;.txt"; filename*=UTF-8''a%22X-Injected%3A%201%3B.txt
!X-Injected



=== TEST 3: a UTF-8 filename gets filename* and an ASCII fallback; paths are dropped
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt?filename=%E5%9B%BE%E7%89%87.txt", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt?filename=..%2F..%2Fetc%2Fpasswd"]
--- response_headers eval
["Content-Disposition: attachment; filename=\"__.txt\"; filename*=UTF-8''%E5%9B%BE%E7%89%87.txt", "Content-Disposition: attachment; filename=\"passwd\""]



=== TEST 4: no filename, no Content-Disposition
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- response_headers
!Content-Disposition



=== TEST 5: FLV start= seeks and prepends the FLV header
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.flv?start=10
--- response_headers
Content-Length: 23
!ETag
--- response_body eval
"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x09abcdefghij"



=== TEST 6: FLV start= with end=
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.flv?start=10&end=15
--- response_body eval
"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x09abcde"



=== TEST 7: start=0 is the whole file; start past the end is 416
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.flv?start=0", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.flv?start=20", "GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.flv?start=x"]
--- error_code eval
[200, 416, 416]
--- response_body eval
["0123456789abcdefghij", qr/416/, qr/416/]



=== TEST 8: without fastdfs_flv, start= is ignored
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    location /group1/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.flv?start=10
--- response_body eval
"0123456789abcdefghij"
