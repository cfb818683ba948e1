package SelftestHelper;

# A project-style helper module (like t::Util in OpenResty projects):
# `use Test::Nginx::Socket -Base` makes it a subclass whose importers get
# all of Test::Nginx::Socket's functions.
use Test::Nginx::Socket -Base;

no_shuffle();
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('request', "GET /t\n") unless defined $block->request;
});

1;
