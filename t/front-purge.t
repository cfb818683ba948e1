# The front tier: nginx-conf/front-proxy-cache.conf's locations (read from the shipped file)
# caching a storage node's files, with Debian's cache-purge module, and `fdfs delete --purge`
# removing a deleted file from that cache. Everything is real: fdfs_trackerd + fdfs_storaged
# (t/fixtures/FdfsCluster.pm), a storage-node server with ngx_fastdfs_module over the storage's
# store path, and the front in front of it; both servers live in the nginx under test.
# The blocks after TEST 1 have no --- config: they keep TEST 1's nginx and its cache (order
# matters, hence no_shuffle).

my $purge_module;
BEGIN {
    # Debian's module is built for the stock nginx only; another nginx (the vendored 1.28 run)
    # refuses it as not binary compatible, and then there is nothing to test here. A module
    # that is merely missing is a failure (scripts/setup installs it).
    $purge_module = $ENV{TEST_NGINX_CACHE_PURGE_MODULE}
        // '/usr/lib/nginx/modules/ngx_http_cache_purge_module.so';
    my $nginx = $ENV{TEST_NGINX_BINARY} // 'nginx';
    my $dir = "/tmp/front-purge-probe-$$";
    mkdir $dir;
    open my $fh, '>', "$dir/probe.conf" or die "$dir/probe.conf: $!";
    print {$fh} "load_module $purge_module;\nevents {}\n";
    close $fh;
    my $out = `$nginx -t -p $dir/ -c $dir/probe.conf -e $dir/error.log 2>&1`;
    my $incompatible = $? && $out =~ /not binary compatible|version \d+ instead of/;
    unlink "$dir/probe.conf", "$dir/error.log";
    rmdir $dir;
    if ($incompatible) {
        require Test::More;
        Test::More::plan(skip_all => "$purge_module is built for another nginx than $nginx");
    }
}

use Test::Nginx::Socket 'no_plan';
use lib 't/fixtures';
use FdfsCluster;

no_shuffle();

my $store = FdfsCluster::start();
our ($content_a, $content_b, $content_c) = map { "front cache file $_\n" } qw(A B C);
our $id_a = FdfsCluster::upload($content_a, 'txt');
our $id_b = FdfsCluster::upload($content_b, 'txt');
our $id_c = FdfsCluster::upload($content_c, 'txt');
my $node_port = FdfsCluster::free_port();

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!\n";
    local $/;
    return <$fh>;
}

# The shipped front config, pointed at this machine: its cache path, its upstreams (group1's
# members become the local storage node, group2's a port nothing listens on) and its server's
# locations (the harness's server listens instead of `listen 80`).
my $shipped = slurp('nginx-conf/front-proxy-cache.conf');
my ($cache_path) = $shipped =~ /^\s*(proxy_cache_path [^;]*;)/m
    or die "no proxy_cache_path in the front config\n";
$cache_path =~ s{/var/cache/nginx/fastdfs}{\$TEST_NGINX_SERVER_ROOT/cache};
my @upstreams = $shipped =~ /^(    upstream \S+ \{\n.*?^    \}\n)/msg
    or die "no upstream in the front config\n";
s/192\.0\.2\.1\d:80/127.0.0.1:$node_port/g, s/192\.0\.2\.2\d:80/127.0.0.1:1/g for @upstreams;
our ($front) = $shipped =~ /^    server \{\n(.*?)^    \}\n/ms or die "no server in the front config\n";
$front =~ s/^\s*listen 80;\n//m or die "the front server has no `listen 80;`\n";
$front =~ /allow 127\.0\.0\.1;/ or die "the front's purge location does not allow this host\n";
# The same front where this host is not among the allowed networks.
(our $front_denied = $front) =~ s/^\s*allow 127\.0\.0\.1;.*\n//m;

our $main_config = "load_module $purge_module;\n";
our $http_config = join('', "    $cache_path\n", @upstreams) . <<"_EOC_";
    server {
        listen 127.0.0.1:$node_port;
        fastdfs_group group1;
        fastdfs_store_path 0 $store;
        fastdfs_url_have_group_name on;
        location ~ "^/group[0-9]+/M[0-9A-F]{2}/" { ngx_fastdfs_module; }
    }
_EOC_

# `fdfs delete ID --purge http://127.0.0.1:PORT/purge`: checks the exit status and that
# stdout reports that purge's result as $want.
sub delete_purge {
    my ($id, $want_rc, $want) = @_;
    my $url = "http://127.0.0.1:" . server_port() . "/purge";
    my ($rc, $out, $err) = FdfsCluster::fdfs('delete', $id, '--purge', $url);
    is($rc, $want_rc, "fdfs delete --purge exits $want_rc") or diag $err;
    like($out, qr/^purge \Q$id\E at \Q$url\E: $want$/m, "... and reports: $want") or diag "stdout: $out\nstderr: $err";
    return $err;
}

# The storage no longer has ID (not found, through the real tracker and storage).
sub gone {
    my ($id) = @_;
    my ($rc, undef, $err) = FdfsCluster::fdfs('download', $id, '-');
    isnt($rc, 0, "$id is deleted from the storage");
    like($err, qr/ENOENT|not found|status 2\b/i, '... the storage says not found') or diag $err;
}

run_tests();

__DATA__

=== TEST 1: files fetched through the front: a MISS, then a HIT from its cache
--- main_config eval
$::main_config
--- http_config eval
$::http_config
--- config eval
$::front
--- request eval
["GET /$::id_a", "GET /$::id_a", "GET /$::id_b", "GET /$::id_b"]
--- response_headers eval
["X-Cache-Status: MISS", "X-Cache-Status: HIT", "X-Cache-Status: MISS", "X-Cache-Status: HIT"]
--- response_body eval
[$::content_a, $::content_a, $::content_b, $::content_b]



=== TEST 2: fdfs delete --purge: the front purged it (200), and now answers 404, not a stale HIT
--- init
main::delete_purge($::id_a, 0, '200 purged');
main::gone($::id_a);
--- request eval
"GET /$::id_a"
--- error_code: 404
--- response_headers
X-Cache-Status: MISS



=== TEST 3: a delete without --purge leaves the deleted file in the cache (the reason for purging)
--- init
my ($rc, undef, $err) = FdfsCluster::fdfs('delete', $::id_b);
is($rc, 0, 'fdfs delete without --purge') or diag $err;
main::gone($::id_b);
--- request eval
"GET /$::id_b"
--- error_code: 200
--- response_headers
X-Cache-Status: HIT
--- response_body eval
$::content_b



=== TEST 4: deleting an already deleted file still purges it (retrying a failed purge), and fails
--- init
my $err = main::delete_purge($::id_b, 1, '200 purged');
like($err, qr/not found: \Q$::id_b\E .*purging the front caches anyway/, '... saying the delete failed');
--- request eval
"GET /$::id_b"
--- error_code: 404
--- response_headers
X-Cache-Status: MISS



=== TEST 5: a second purge of a file the front no longer caches is a 404 from it, which is fine
--- init
# TEST 4's GET cached the 404 (proxy_cache_valid 404 10s); drop it first.
main::delete_purge($::id_b, 1, '200 purged');
main::delete_purge($::id_b, 1, '404 not cached there');
--- request
GET /purge/group1/M00/00/00/not-cached.txt
--- error_code: 404



=== TEST 6: purging from a network not allowed is 403, and fdfs reports the failed purge
--- main_config eval
$::main_config
--- http_config eval
$::http_config
--- config eval
$::front_denied
--- init
my $err = main::delete_purge($::id_c, 1, "403: purge refused, this host is not in the front's allow list; the front may still serve the file \\(HTTP/1.1 403 Forbidden\\)");
like($err, qr/\Q$::id_c\E is deleted, but 1 of 1 front caches were not purged/, '... saying the file is deleted');
main::gone($::id_c);
--- request eval
["PURGE /purge/$::id_c", "GET /purge/$::id_c"]
--- error_code eval
[403, 403]
--- error_log
access forbidden by rule



=== TEST 7: the front answers keepalived's health check
--- request
GET /nginx-health
--- error_code: 204
--- response_body
