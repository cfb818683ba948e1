# The configurations in nginx-conf/ load (nginx -t) with our module, and bad values make
# nginx -t fail with a message naming the file, the line and the directive.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(getcwd);

my $nginx = $ENV{TEST_NGINX_BINARY} // 'nginx';
my ($module) = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');
plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name our module' unless $module && -f $module;

my $tmp = tempdir(CLEANUP => 1);
mkdir "$tmp/$_" for qw(conf logs cache);
# Stand-ins for the shipped configs' store paths (/data/fastdfs, /data2/fastdfs): nginx -t
# refuses a store path without data/.
mkdir "$tmp/$_" for qw(data data/fastdfs data/fastdfs/data data2 data2/fastdfs data2/fastdfs/data);

# Debian's cache-purge module (libnginx-mod-http-cache-purge), which front-proxy-cache.conf
# loads. It is built for the stock nginx only: another nginx refuses it as not binary
# compatible, and then the configs that need it are skipped (never when it is merely missing).
my $purge_module = $ENV{TEST_NGINX_CACHE_PURGE_MODULE}
    // '/usr/lib/nginx/modules/ngx_http_cache_purge_module.so';
my $purge_skip;
{
    open my $fh, '>', "$tmp/conf/probe.conf" or die $!;
    print {$fh} "load_module $purge_module;\nevents {}\n";
    close $fh;
    my $out = `$nginx -t -p $tmp/ -c $tmp/conf/probe.conf -e $tmp/logs/error.log 2>&1`;
    $purge_skip = "$purge_module is built for another nginx" if $? && $out =~ /not binary compatible|version \d+ instead of/;
}

# Runs nginx -t on CONF (text); returns (exit status, output).
sub nginx_t {
    my ($name, $conf) = @_;
    my $path = "$tmp/conf/$name";
    open my $fh, '>', $path or die "$path: $!";
    print {$fh} $conf;
    close $fh;
    my $out = `$nginx -t -p $tmp/ -c $path -e $tmp/logs/error.log 2>&1`;
    return ($? >> 8, $out, $path);
}

# Points a shipped config at this machine: our module, temporary logs, cache and pid.
sub localize {
    my ($text) = @_;
    $text =~ s{load_module \S*ngx_http_fastdfs_module\.so;}{load_module $module;};
    $text =~ s{load_module \S*ngx_http_cache_purge_module\.so;}{load_module $purge_module;};
    $text =~ s{/var/log/nginx/}{$tmp/logs/}g;
    $text =~ s{/var/cache/nginx/}{$tmp/cache/}g;
    $text =~ s{/run/}{$tmp/logs/}g;
    $text =~ s{ (/data2?/fastdfs)}{ $tmp$1}g;
    $text =~ s{^user .*$}{}m;
    $text =~ s{listen 80;}{listen 127.0.0.1:1985;}g;
    return $text;
}

for my $file (glob 'nginx-conf/*.conf') {
    open my $fh, '<', $file or die "$file: $!";
    my $text = do { local $/; <$fh> };
    $text = "load_module $module;\n$text" unless $text =~ /load_module/;
    SKIP: {
        skip "$file: $purge_skip", 1 if $purge_skip && $text =~ /ngx_http_cache_purge_module/;
        my ($rc, $out) = nginx_t('shipped.conf', localize($text));
        is($rc, 0, "$file passes nginx -t") or diag $out;
    }
}

# The front's purge location really is the cache-purge module's, keyed like the cache.
{
    open my $fh, '<', 'nginx-conf/front-proxy-cache.conf' or die $!;
    my $text = do { local $/; <$fh> };
    like($text, qr{^load_module \S*/ngx_http_cache_purge_module\.so;}m, 'front config loads the purge module');
    my ($purge) = $text =~ /(location ~ \^\/purge\(\/\.\*\)\$ \{.*?\})/s;
    ok($purge, 'front config has a /purge/<file ID> location') or $purge = '';
    like($purge, qr/set \$fdfs_purge_key \$1;.*proxy_cache_purge fastdfs \$fdfs_purge_key;/s,
        '... purging zone fastdfs by the path after /purge, held in a variable (Debian 2.3-4 crashes on a bare $1)');
    like($purge, qr/proxy_redirect off;/, '... and no proxy redirect (the same Debian bug)');
    like($purge, qr/deny all;/, '... denied to every network not allowed');
    like($text, qr/proxy_cache_key \$uri;/, '... and the cache is keyed by that path');
}

my $head = "load_module $module;\nevents {}\nhttp {\n server {\n  listen 127.0.0.1:1985;\n";
my @bad = (
    # Checked when the block is merged: nginx names the line that closes the block.
    ['fastdfs_token on;',                       qr/"fastdfs_token on" needs "fastdfs_token_secret"/, 8],
    ['fastdfs_store_path 256 /data;',           qr/fastdfs_store_path: index "256" is not a number from 0 to 255/],
    ['fastdfs_store_path 0 relative/path;',     qr/must be an absolute path/],
    ['fastdfs_group bad/name;',                 qr/fastdfs_group: invalid group name/],
    ['fastdfs_url_have_group_name yes;',        qr/is neither "on" nor "off"/],
    ['fastdfs_peer group1 not-an-ip;',          qr/fastdfs_peer: expected GROUP IPV4/],
    ['fastdfs_peer group1 10.0.0.1 host;',      qr/is not HOST:PORT/],
    ['fastdfs_response_mode proxied;',          qr/is neither "proxy" nor "redirect"/],
    ['fastdfs_token_ttl forever;',              qr/is not a time of at least 1s/],
    ['fastdfs_token_secret ' . ('x' x 129) . ';', qr/the secret must be 1 to 128 bytes/],
    ['fastdfs_proxy_location peer;',            qr/is not a named location/],
    ['fastdfs_token_fail_file /no/such/file;',  qr/is not a readable file/],
);
# A mod_fastdfs.conf with a bad value: the error names that file, its line and the key.
open my $mfh, '>', "$tmp/conf/mod_fastdfs.conf" or die $!;
print {$mfh} "group_name=group1\nstore_path0=/data/fastdfs\nresponse_mode=proxied\n";
close $mfh;
push @bad, ["fastdfs_conf $tmp/conf/mod_fastdfs.conf;",
    qr{\Q$tmp/conf/mod_fastdfs.conf:3: response_mode: "proxied" is neither proxy nor redirect\E}];
push @bad, ["fastdfs_conf $tmp/conf/absent.conf;", qr/fastdfs_conf: cannot read/];

# What a location serving files must have, checked before nginx starts: a real store path (a
# directory holding data/, as fdfs_storaged leaves it) and the group it belongs to; and, when it
# proxies files not synced here yet, the named location it proxies through.
mkdir "$tmp/nodata";
my $store = "$tmp/data/fastdfs";
my $serve = 'location /group1/ { ngx_fastdfs_module; }';
open my $nfh, '>', "$tmp/conf/mod_nostore.conf" or die $!;
print {$nfh} "group_name=group1\nstore_path_count=1\nstore_path0=$tmp/nodata\n";
close $nfh;
push @bad,
    [$serve, qr/ngx_fastdfs_module: no store path to serve: set "fastdfs_store_path INDEX PATH"/, 8],
    ["fastdfs_store_path 0 $store; $serve", qr/ngx_fastdfs_module: no group for the store paths: set "fastdfs_group NAME"/, 8],
    ["fastdfs_group group1; fastdfs_store_path 0 $tmp/no/such/store;",
        qr{fastdfs_store_path: store path "\Q$tmp\E/no/such/store" does not exist}],
    ["fastdfs_group group1; fastdfs_store_path 0 $tmp/nodata;",
        qr{"\Q$tmp\E/nodata" is not a FastDFS store path: it has no data/ directory}],
    ["fastdfs_conf $tmp/conf/mod_nostore.conf;",
        qr{\Q$tmp/conf/mod_nostore.conf: store_path0: "$tmp/nodata\E" is not a FastDFS store path}],
    ["fastdfs_group group1; fastdfs_store_path 0 $store; fastdfs_peer group1 192.0.2.12; $serve",
        qr/the fallback location "\@fastdfs_peer" \(fastdfs_proxy_location\) is not defined in this server/, 8],
    ["fastdfs_group group1; fastdfs_store_path 0 $store; fastdfs_peer group1 192.0.2.12; "
        . "fastdfs_proxy_location \@member; $serve location \@fastdfs_peer { proxy_pass http://\$fastdfs_peer; }",
        qr/the fallback location "\@member" \(fastdfs_proxy_location\) is not defined/, 8],
    ["fastdfs_group group1; fastdfs_store_path 0 $store; fastdfs_peer group1 192.0.2.12; $serve "
        . 'location @fastdfs_peer { proxy_pass http://$fastdfs_peer; error_page 404 = @fastdfs_nxt; }',
        qr/location \@fastdfs_peer: "error_page 404 = \@fastdfs_nxt" names no location of this server/, 8];

my $n = 0;
for my $case (@bad) {
    my ($line, $want, $lineno) = @$case;
    $lineno //= 6;
    $n++;
    my ($rc, $out, $path) = nginx_t("bad$n.conf", "$head  $line\n }\n}\n");
    isnt($rc, 0, "nginx -t refuses: $line");
    like($out, $want, "... with a clear message");
    like($out, qr/\Q$path\E:$lineno\b/, "... naming the file and line");
}

# A fallback that would stop at the first member's 404 loads, with a warning saying so.
{
    my $conf = "$head  fastdfs_group group1; fastdfs_store_path 0 $store; fastdfs_peer group1 192.0.2.12;\n"
        . "  $serve\n"
        . '  location @fastdfs_peer { proxy_pass http://$fastdfs_peer$fastdfs_peer_uri; '
        . "recursive_error_pages on; error_page 502 504 = \@fastdfs_next; }\n"
        . "  location \@fastdfs_next { ngx_fastdfs_module; }\n }\n}\n";
    my ($rc, $out) = nginx_t('stop404.conf', $conf);
    is($rc, 0, 'a fallback that retries only on 502/504 still loads') or diag $out;
    like($out, qr/\[warn\] location \@fastdfs_peer would end the search for a file not synced here yet/,
        '... with a warning that a 404 ends the search');
    like($out, qr/no "error_page 404 = \@\.\.\." to a location with ngx_fastdfs_module; no "proxy_intercept_errors on"/,
        '... naming what is missing');
    unlike($out, qr/recursive_error_pages/, '... and not what is there');
}

done_testing();
