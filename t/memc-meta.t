# t/memc.t against memcached with `memc_protocol meta` in every block that does not pin a protocol.
use strict;
use warnings;
$ENV{MEMC_PROTOCOL} = 'meta';
exec $^X, (map {"-I$_"} grep { !ref } @INC), 't/memc.t' or die "cannot run t/memc.t: $!\n";
