package Test::Nginx::Socket;

# A re-implementation of the subset of OpenResty's Test::Nginx::Socket (0.33)
# that our t/*.t files use; shared/spec/test-nginx-semantics.md (beside the
# repository) is the reference. The same .t files must pass or fail
# identically under the real module, so every section keeps the real one's
# meaning, quirks included.
#
# Built on Test::Base like the real module: `use Test::Nginx::Socket 'no_plan'`
# goes through Test::Base::import (plan, strict+warnings source filter on the
# test file, Spiffy exports of @EXPORT below and Test::Base's Test::More subset).
# We inherit from Test::Base without `use Test::Base -Base` so no Spiffy source
# filter rewrites this file.

use strict;
use warnings;

use Test::Base ();
our @ISA = ('Test::Base');

use Cwd ();
use File::Spec ();
use List::Util ();
use Test::More ();

use Test::Nginx::Harness::Util qw(pick_free_port);
use Test::Nginx::Harness::Server;
use Test::Nginx::Harness::Run;

our $VERSION = '0.33_fastdfs_rs';

our @EXPORT = qw(
  run_tests run_test repeat_each no_shuffle no_root_location
  master_on master_off master_process_enabled workers worker_connections
  log_level no_long_string server_port server_port_for_client server_addr
  server_root html_dir env_to_nginx add_block_preprocessor
  check_accum_error_log bail_out timeout add_cleanup_handler
  $ServerPort $ServerPortForClient $ServRoot $RepeatEach $NginxBinary
);

sub _env_true { defined $ENV{ $_[0] } && $ENV{ $_[0] } ne '' && $ENV{ $_[0] } ne '0' }

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServRoot = $ENV{TEST_NGINX_SERVROOT} || Cwd::cwd() . '/t/servroot';
if (_env_true('TEST_NGINX_RANDOMIZE')) {
    $ServerPort = pick_free_port();
    $ServRoot = Cwd::cwd() . "/t/servroot_$ServerPort";
}
$ServRoot = File::Spec->rel2abs($ServRoot);
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $ServerAddr = '127.0.0.1';
our $RepeatEach = 1;
our $NoShuffle = _env_true('TEST_NGINX_NO_SHUFFLE');
our $NoRootLocation = 0;
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $Workers = 1;
our $WorkerConnections = 64;
our $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $NoLongString = 0;
our $Timeout = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $CheckAccumErrLog = 0;
our $Verbose = _env_true('TEST_NGINX_VERBOSE');
our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers);

# Passed through to nginx by the real module's generated conf as well.
my @DefaultEnv = qw(
  MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
  LD_PRELOAD LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES DYLD_FORCE_FLAT_NAMESPACE
);

$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

# Prototypes as in the real module: they decide how a test file parses
# (`html_dir . "/x"`, `add_block_preprocessor { ... };`).
sub repeat_each (@) { $RepeatEach = $_[0] if @_; $RepeatEach }
sub no_shuffle () { $NoShuffle = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub master_on () { $MasterProcessEnabled = 'on' }
sub master_off () { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    $MasterProcessEnabled = $_[0] ? 'on' : 'off' if @_;
    return $MasterProcessEnabled;
}
sub workers (@) { $Workers = $_[0] if @_; $Workers }
sub worker_connections (@) { $WorkerConnections = $_[0] if @_; $WorkerConnections }
sub log_level (@) { $LogLevel = $_[0] if @_; $LogLevel }
sub no_long_string () { $NoLongString = 1 }
sub server_port (@) { $ServerPort = $_[0] if @_; $ServerPort }
sub server_port_for_client (@) { $ServerPortForClient = $_[0] if @_; $ServerPortForClient }
sub server_addr (@) { $ServerAddr = $_[0] if @_; $ServerAddr }
sub server_root () { $ServRoot }
sub html_dir () { "$ServRoot/html" }
sub env_to_nginx (@) { push @EnvToNginx, @_ }
# The last one added runs first, as in the real module.
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, $_[0] }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, $_[0] }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub timeout (@) { $Timeout = $_[0] if @_; $Timeout }

my $OwnerPid = $$;
my $Server;

sub server {
    $Server ||= Test::Nginx::Harness::Server->new(
        binary => $NginxBinary,
        servroot => $ServRoot,
    );
}

sub bail_out (@) {
    my $msg = join '', @_;
    $msg =~ s/\s+\z//;
    cleanup();
    # prove shows only the first line of a bail-out; details go to stderr.
    my ($first, $details) = split /\n/, $msg, 2;
    Test::More::diag($details) if defined $details;
    Test::More::BAIL_OUT($first);
}

sub cleanup {
    return unless $$ == $OwnerPid;
    $_->() for splice @CleanupHandlers;
    return if _env_true('TEST_NGINX_NO_CLEAN');
    if ($Server) {
        $Server->stop(timeout => $Timeout, fast => _env_true('TEST_NGINX_FAST_SHUTDOWN'));
        Test::Nginx::Harness::Run::check_shutdown_log($Server);
    }
}

END { local $?; cleanup() }

# A write to a socket nginx already closed (early 413, abort tests) must be
# an EPIPE error, not the death of the test process with nginx left behind.
$SIG{PIPE} = 'IGNORE';
# Ctrl-C during a run still stops the daemonized nginx (via END).
for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { print STDERR "\nTest::Nginx::Socket: caught SIG$sig, stopping nginx\n"; exit 130 }
        if !defined $SIG{$sig} || $SIG{$sig} eq '' || $SIG{$sig} eq 'DEFAULT';
}

sub run_tests () {
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort unless defined $ENV{TEST_NGINX_SERVER_PORT};
    $ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
    my $srv = server();
    eval { $srv->version_info; 1 } or bail_out($@);
    my @blocks = Test::Base::blocks();
    @blocks = List::Util::shuffle(@blocks) unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        run_test($block);
    }
    cleanup();
}

sub run_test {
    my $block = shift;
    Test::Nginx::Harness::Run::run_block($block, _settings());
}

sub _settings {
    return {
        server => server(),
        port => $ServerPort,
        client_port => $ServerPortForClient,
        addr => $ServerAddr,
        repeat_each => $RepeatEach,
        no_root_location => $NoRootLocation,
        master_process => $MasterProcessEnabled,
        workers => $Workers,
        worker_connections => $WorkerConnections,
        log_level => $LogLevel,
        timeout => $Timeout,
        sleep => $TestNginxSleep,
        accum_error_log => $CheckAccumErrLog,
        verbose => $Verbose,
        env => [@DefaultEnv, @EnvToNginx],
        load_modules => [grep { length } split /\s+/, ($ENV{TEST_NGINX_LOAD_MODULES} // '')],
        force_restart => ($ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1) ne '0',
        fast_shutdown => _env_true('TEST_NGINX_FAST_SHUTDOWN'),
        worker_user => $ENV{TEST_NGINX_WORKER_USER},
        ignore_missing_directives => _env_true('TEST_NGINX_IGNORE_MISSING_DIRECTIVES'),
        bail_out => \&bail_out,
    };
}

1;
