# A store path replaced under a running nginx (a disk swapped and re-mounted, a restore, a store
# wiped and recreated): the directory at the path is renamed away and a new one put in its place.
# nginx keeps serving the path, i.e. the new directory, without a reload: the old directory's
# files are no longer served and the new one's are, also when they have the same names; a path
# with no directory left serves nothing until one is back.
# The blocks run in order on one nginx: only the first has a --- config (no restart after it).
use Test::Nginx::Socket 'no_plan';
use lib 't/fixtures';
use Cwd qw(getcwd);
use File::Path qw(make_path remove_tree);
use FdfsStore;

no_shuffle();

our $store = $ENV{TEST_NGINX_SWAP_STORE} = getcwd() . '/t/fdfs-store-swap';
our $same = 'fwAAAWsCHZSABJ6TAAAADg4Qul0712.txt';      # a name on every disk
our $first = 'fwAAAWsCHZWAf6BzAAAoAA3re24260.txt';     # only on the first disk
our $second = 'fwAAAWsCHZaAIISiAAMgAD5FooY185.txt';    # only on the second disk

# Puts a new store directory with FILES (name => content) at $store; the one there before is
# renamed to $store-old-N, as a swapped disk would be unmounted from under the path.
our $swaps = 0;
sub put_store {
    my (%files) = @_;
    if (-d $store) {
        $swaps++;
        rename $store, "$store-old-$swaps" or die "rename $store: $!\n";
    }
    make_path("$store/data/00/00");
    FdfsStore::spew("$store/data/00/00/$_", $files{$_}) for keys %files;
}

# Takes the store directory away (renamed, like an unmounted disk) without a new one.
sub take_store {
    $swaps++;
    rename $store, "$store-old-$swaps" or die "rename $store: $!\n";
}

remove_tree($store, glob("$store-old-*"));
put_store($same => "first disk\n", $first => "only on the first disk\n");

add_cleanup_handler(sub { remove_tree($store, glob("$store-old-*")) });

run_tests();

__DATA__

=== TEST 1: the first disk is served
--- config
    fastdfs_group group1;
    fastdfs_store_path 0 $TEST_NGINX_SWAP_STORE;
    fastdfs_url_have_group_name on;
    location /group1/ { ngx_fastdfs_module; }
--- request eval
["GET /group1/M00/00/00/$::same", "GET /group1/M00/00/00/$::first"]
--- response_body eval
["first disk\n", "only on the first disk\n"]



=== TEST 2: the store is replaced: a file only on the new disk is served at once
--- init
put_store($::same => "second disk\n", $::second => "only on the second disk\n");
--- request eval
"GET /group1/M00/00/00/$::second"
--- response_body
only on the second disk
--- error_log
was replaced (new device/inode); serving the new one



=== TEST 3: ... a name on both disks has the new content, a file only on the old disk is gone
--- request eval
["GET /group1/M00/00/00/$::same", "GET /group1/M00/00/00/$::first"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^second disk\n\\z", "404 Not Found"]



=== TEST 4: replaced again and only names on both disks are asked for: the new content, a second later at most
--- init
put_store($::same => "third disk\n");
select(undef, undef, undef, 1.1);    # into the next second: hits look again once a second
--- request eval
"GET /group1/M00/00/00/$::same"
--- response_body
third disk
--- error_log
was replaced (new device/inode); serving the new one



=== TEST 5: ... and the second disk's own file is gone
--- request eval
"GET /group1/M00/00/00/$::second"
--- error_code: 404



=== TEST 6: the store is taken away and nothing replaces it: a second later at most, its files are no longer served from the moved directory
--- init
take_store();
select(undef, undef, undef, 1.1);    # a hit looks at the path again in the next second
--- request eval
"GET /group1/M00/00/00/$::same"
--- error_code: 404
--- error_log
is gone; its files are not found until a directory is back at that path



=== TEST 7: a store put back at the path is served again
--- init
put_store($::same => "fourth disk\n");
--- request eval
"GET /group1/M00/00/00/$::same"
--- response_body
fourth disk
--- error_log
was replaced (new device/inode); serving the new one
