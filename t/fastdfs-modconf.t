# fastdfs_conf reads an existing mod_fastdfs.conf (with its #include http.conf) so a site can
# switch from fastdfs-nginx-module without touching that file.
use Test::Nginx::Socket 'no_plan';
use lib 't/fixtures';
use FdfsStore;
use Digest::MD5 qw(md5_hex);

our $store = FdfsStore::prepare();
our $now = time;
our $name = 'M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt';
our $token = md5_hex("${name}FastDFS1234567890$now");

run_tests();

__DATA__

=== TEST 1: the store paths, group and url_have_group_name come from mod_fastdfs.conf; tokens from http.conf
--- config
    fastdfs_conf $TEST_NGINX_FDFS_STORE-conf/mod_fastdfs.conf;
    location ~ ^/group[0-9]+/ {
        ngx_fastdfs_module;
    }
--- request eval
["GET /group1/$::name?token=$::token&ts=$::now", "GET /group1/M01/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt?token=" . Digest::MD5::md5_hex("M01/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txtFastDFS1234567890$::now") . "&ts=$::now"]
--- response_body eval
["hello fastdfs\n", "hello M01\n"]



=== TEST 2: http.anti_steal.token_check_fail (relative to the conf file) answers a missing token
--- config
    fastdfs_conf $TEST_NGINX_FDFS_STORE-conf/mod_fastdfs.conf;
    location ~ ^/group[0-9]+/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- response_body
no token, no file
--- error_log
token check failed



=== TEST 3: native directives set before fastdfs_conf win over it
--- config
    fastdfs_token off;
    fastdfs_conf $TEST_NGINX_FDFS_STORE-conf/mod_fastdfs.conf;
    location ~ ^/group[0-9]+/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt
--- response_body
hello fastdfs



=== TEST 4: group_count and [groupN] sections give several local groups
--- config
    fastdfs_conf $TEST_NGINX_FDFS_STORE-conf/multi.conf;
    location ~ ^/group[0-9]+/ {
        ngx_fastdfs_module;
    }
--- request eval
["GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt", "GET /group2/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt"]
--- response_body eval
["hello fastdfs\n", "hello group2\n"]



=== TEST 5: flv_support from mod_fastdfs.conf
--- config
    fastdfs_token off;
    fastdfs_conf $TEST_NGINX_FDFS_STORE-conf/mod_fastdfs.conf;
    location ~ ^/group[0-9]+/ {
        ngx_fastdfs_module;
    }
--- request
GET /group1/M00/00/00/fwAAAWsCHZSABJ6TAAAADg4Qul0712.flv?start=10&end=12
--- response_body eval
"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x09ab"
