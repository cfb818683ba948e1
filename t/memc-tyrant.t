# t/memc.t against tyrantd (TEST_NGINX_TYRANTD=<path to the tyrantd binary>; scripts/test sets it)
# with `memc_protocol get` in every block that does not pin a protocol.
use strict;
use warnings;
my $bin = $ENV{TEST_NGINX_TYRANTD} // '';
if (!-x $bin) {
    print "1..0 # SKIP TEST_NGINX_TYRANTD does not name the tyrantd binary\n";
    exit 0;
}
$ENV{MEMC_BACKEND} = 'tyrantd';
$ENV{MEMC_PROTOCOL} = 'get';
exec $^X, (map {"-I$_"} grep { !ref } @INC), 't/memc.t' or die "cannot run t/memc.t: $!\n";
