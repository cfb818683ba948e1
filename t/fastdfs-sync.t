# Files not synced here yet: proxied to (or redirected at) a configured member of their group,
# the source first, the others when it fails; never to an address that is not a member.
# The peers are a second nginx listening on 127.0.0.2 and 127.0.0.3, each server a storage
# node with its own store path served by ngx_fastdfs_module.
use Test::Nginx::Socket 'no_plan';
use lib 't/fixtures';
use FdfsStore;
use PeerNginx;

my $store = FdfsStore::prepare();
$ENV{TEST_NGINX_PEER_A_PORT} = PeerNginx::free_port();
$ENV{TEST_NGINX_PEER_B_PORT} = PeerNginx::free_port();

PeerNginx::start(<<"_EOC_", "127.0.0.2:$ENV{TEST_NGINX_PEER_A_PORT}", "127.0.0.3:$ENV{TEST_NGINX_PEER_B_PORT}");
    server {
        listen 127.0.0.2:$ENV{TEST_NGINX_PEER_A_PORT};
        fastdfs_group group1;
        fastdfs_store_path 0 $store-peerA;
        fastdfs_url_have_group_name on;
        location /group1/ { ngx_fastdfs_module; add_header X-Served-By peerA; }
    }
    server {
        listen 127.0.0.3:$ENV{TEST_NGINX_PEER_B_PORT};
        fastdfs_group group1;
        fastdfs_store_path 0 $store-peerB;
        fastdfs_url_have_group_name on;
        location /group1/ { ngx_fastdfs_module; add_header X-Served-By peerB; }
    }
_EOC_

our $proxy_locations = <<'_EOC_';
    location /group1/ {
        ngx_fastdfs_module;
        add_header X-Decision $fastdfs_decision;
        add_header X-Source $fastdfs_source;
        add_header X-Size $fastdfs_file_size;
    }
    location @fastdfs_peer {
        proxy_pass http://$fastdfs_peer$fastdfs_peer_uri;
        proxy_connect_timeout 2s;
        recursive_error_pages on;
        error_page 502 504 = @fastdfs_next;
        add_header X-Fdfs-Peer $fastdfs_peer always;
    }
    location @fastdfs_next {
        ngx_fastdfs_module;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_' . $proxy_locations);
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_sync_max_delay 100y;
    fastdfs_peer group1 127.0.0.2 127.0.0.2:$TEST_NGINX_PEER_A_PORT;
    fastdfs_peer group1 127.0.0.3 127.0.0.3:$TEST_NGINX_PEER_B_PORT;
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: a file of member 127.0.0.2 missing here is proxied from it
--- request
GET /group1/M00/00/00/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt
--- response_headers
X-Served-By: peerA
--- response_body
synced to peer A
--- error_log
proxying to group member 127.0.0.2:



=== TEST 2: a file present here is served locally, with the $fastdfs_* variables
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- response_headers
X-Decision: local
X-Source: 127.0.0.1
X-Size: 14
--- response_body
hello fastdfs



=== TEST 3: the source is down: the next member of the group serves it
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_sync_max_delay 100y;
    fastdfs_peer group1 127.0.0.2 127.0.0.2:1;
    fastdfs_peer group1 127.0.0.3 127.0.0.3:$TEST_NGINX_PEER_B_PORT;
    location /group1/ { ngx_fastdfs_module; }
    location @fastdfs_peer {
        proxy_pass http://$fastdfs_peer$fastdfs_peer_uri;
        recursive_error_pages on;
        error_page 502 504 = @fastdfs_next;
    }
    location @fastdfs_next { ngx_fastdfs_module; }
--- request
GET /group1/M00/00/00/fwAAAmsCPlyAId4qAAAAD15MMys299.txt
--- response_headers
X-Served-By: peerB
--- response_body
only on peer B
--- error_log
proxying to group member 127.0.0.2:1
proxying to group member 127.0.0.3:



=== TEST 4: every member down is a 502
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_sync_max_delay 100y;
    fastdfs_peer group1 127.0.0.2 127.0.0.2:1;
    fastdfs_peer group1 127.0.0.3 127.0.0.3:1;
    location /group1/ { ngx_fastdfs_module; }
    location @fastdfs_peer {
        proxy_pass http://$fastdfs_peer$fastdfs_peer_uri;
        recursive_error_pages on;
        error_page 502 504 = @fastdfs_next;
    }
    location @fastdfs_next { ngx_fastdfs_module; }
--- request
GET /group1/M00/00/00/fwAAAmsCPlyAId4qAAAAD15MMys299.txt
--- error_code: 502
--- error_log
every group member failed



=== TEST 5: a crafted ID whose source is not a member is a 404 and nothing is contacted
--- request
GET /group1/M00/00/00/CgECA2sCPl2AG92LAAAACN5unpw550.txt
--- error_code: 404
--- error_log
source 10.1.2.3 of the file is not a configured member of group1
--- no_error_log
proxying to
connect() failed



=== TEST 6: the redirect=1 loop guard: a redirected request for a missing file is a 404
--- request
GET /group1/M00/00/00/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt?redirect=1
--- error_code: 404
--- error_log
already redirected
--- no_error_log
proxying to



=== TEST 7: redirect mode answers 302 to the source member with redirect=1
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_sync_max_delay 100y;
    fastdfs_response_mode redirect;
    fastdfs_peer group1 127.0.0.2 127.0.0.2:8080;
    location /group1/ { ngx_fastdfs_module; }
--- request
GET /group1/M00/00/00/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt?x=1
--- error_code: 302
--- response_headers
Location: http://127.0.0.2:8080/group1/M00/00/00/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt?x=1&redirect=1



=== TEST 8: a file older than fastdfs_sync_max_delay is simply not found
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_sync_max_delay 1s;
    fastdfs_peer group1 127.0.0.2 127.0.0.2:$TEST_NGINX_PEER_A_PORT;
    location /group1/ { ngx_fastdfs_module; }
--- request
GET /group1/M00/00/00/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt
--- error_code: 404
--- no_error_log
proxying to



=== TEST 9: a URL of another group is proxied to that group's member
--- config
    fastdfs_group group2;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE-group2;
    fastdfs_url_have_group_name on;
    fastdfs_peer group1 127.0.0.2 127.0.0.2:$TEST_NGINX_PEER_A_PORT;
    location ~ ^/group[0-9]+/ { ngx_fastdfs_module; }
    location @fastdfs_peer { proxy_pass http://$fastdfs_peer$fastdfs_peer_uri; }
--- request
GET /group1/M00/00/00/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt
--- response_headers
X-Served-By: peerA
--- response_body
synced to peer A



=== TEST 10: a HEAD and a Range request go through the proxy too
--- request eval
["HEAD /group1/M00/00/00/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt", "GET /group1/M00/00/00/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt"]
--- more_headers eval
["", "Range: bytes=0-5"]
--- error_code eval
[200, 206]
--- response_body eval
["", "synced"]
