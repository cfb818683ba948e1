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

# The fallback locations exactly as nginx-conf/storage-node.conf ships them: what is tested is
# what operators install.
our $fallback = do {
    open my $fh, '<', 'nginx-conf/storage-node.conf' or die "nginx-conf/storage-node.conf: $!\n";
    my $text = do { local $/; <$fh> };
    my @locs = $text =~ /^(\s*location \@fastdfs_(?:peer|next) \{\n.*?^\s*\}\n)/msg;
    @locs == 2 or die "storage-node.conf: no \@fastdfs_peer and \@fastdfs_next locations\n";
    join '', @locs;
};

our $proxy_locations = <<'_EOC_' . $fallback;
    location /group1/ {
        ngx_fastdfs_module;
        add_header X-Decision $fastdfs_decision;
        add_header X-Source $fastdfs_source;
        add_header X-Size $fastdfs_file_size;
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
--- config eval
<<'_EOC_' . $::fallback;
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_sync_max_delay 100y;
    fastdfs_peer group1 127.0.0.2 127.0.0.2:1;
    fastdfs_peer group1 127.0.0.3 127.0.0.3:$TEST_NGINX_PEER_B_PORT;
    location /group1/ { ngx_fastdfs_module; }
_EOC_
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
--- config eval
<<'_EOC_' . $::fallback;
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_sync_max_delay 100y;
    fastdfs_peer group1 127.0.0.2 127.0.0.2:1;
    fastdfs_peer group1 127.0.0.3 127.0.0.3:1;
    location /group1/ { ngx_fastdfs_module; }
_EOC_
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
    location @fastdfs_peer { proxy_pass http://$fastdfs_peer$fastdfs_peer_uri; }
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



=== TEST 11: the source lags (404): the next member, which has the file, serves it
--- request
GET /group1/M00/00/00/fwAAAmsCPlyAId4qAAAAD15MMys299.txt
--- response_headers
X-Served-By: peerB
--- response_body
only on peer B
--- error_log eval
[qr/group member 127\.0\.0\.2:\d+ does not have the file \(404\) either/, qr/proxying to group member 127\.0\.0\.3:/]



=== TEST 12: every member answers 404: a 404, after asking each of them
--- request
GET /group1/M00/00/05/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt
--- error_code: 404
--- error_log eval
[qr/proxying to group member 127\.0\.0\.2:/, qr/proxying to group member 127\.0\.0\.3:/, qr/no group member has the file \(every one answered 404\)/]



=== TEST 13: one member down, the other answers 404: a 502, not a 404 (the down one may have it)
--- config eval
<<'_EOC_' . $::fallback;
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_FDFS_STORE;
    fastdfs_url_have_group_name on;
    fastdfs_sync_max_delay 100y;
    fastdfs_peer group1 127.0.0.2 127.0.0.2:$TEST_NGINX_PEER_A_PORT;
    fastdfs_peer group1 127.0.0.3 127.0.0.3:1;
    location /group1/ { ngx_fastdfs_module; }
_EOC_
--- request eval
["GET /group1/M00/00/05/fwAAAmsCPlyAPZMKAAAAEY14mZc296.txt", "GET /group1/M00/00/05/fwAAAmsCPlyAId4qAAAAD15MMys299.txt"]
--- error_code eval
[502, 502]
--- error_log
none had it, some could not be asked



=== TEST 14: a file of this host missing here (its store was wiped) is fetched from another member
--- request
GET /group1/M00/00/03/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- response_headers
X-Served-By: peerA
--- response_body
own file, back from peer A
--- error_log
proxying to group member 127.0.0.2:



=== TEST 15: a file of this host missing here and on every member is a 404
--- request
GET /group1/M00/00/06/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- error_code: 404
--- error_log
no group member has the file (every one answered 404)
