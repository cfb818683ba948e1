package Test::Nginx::Harness::Server;

# The nginx side of the harness: server root layout, nginx.conf generation,
# starting and stopping the daemonized nginx.

use strict;
use warnings;

use Config ();
use File::Path qw(make_path remove_tree);
use File::Basename qw(dirname);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Time::Local qw(timegm);

use Test::Nginx::Harness::Util qw(expand_env slurp spew tail_lines);

# nginx daemonizes: its parent exits at once and the real server is
# re-parented. As a child subreaper we inherit it, so waitpid() tells us the
# moment it exits. Without this the orphan goes to PID 1, which on some hosts
# reaps late, and `kill 0` keeps succeeding on the zombie for seconds.
my %SYS_PRCTL = ('x86_64' => 157, 'aarch64' => 167, 'i686' => 172, 'i386' => 172);
my $PR_SET_CHILD_SUBREAPER = 36;
our $IsSubreaper = 0;
{
    my ($arch) = $Config::Config{archname} =~ /^([^-]+)-linux/;
    if ($arch && $SYS_PRCTL{$arch}) {
        $IsSubreaper = (syscall($SYS_PRCTL{$arch}, $PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0) ? 1 : 0;
    }
}

sub new {
    my ($class, %opt) = @_;
    my $self = bless {%opt}, $class;
    $self->{servroot} =~ s{/+$}{};
    return $self;
}

sub servroot  { $_[0]{servroot} }
sub html_dir  { "$_[0]{servroot}/html" }
sub error_log { "$_[0]{servroot}/logs/error.log" }
sub access_log { "$_[0]{servroot}/logs/access.log" }
sub pid_file  { "$_[0]{servroot}/logs/nginx.pid" }
sub conf_file { "$_[0]{servroot}/conf/nginx.conf" }
sub pid       { $_[0]{pid} }

# `nginx -V` output, probed once (version, -e support, compiled-out modules).
sub version_info {
    my $self = shift;
    return $self->{vinfo} if $self->{vinfo};
    my $bin = $self->{binary};
    my $out = qx{\Q$bin\E -V 2>&1};
    die "Cannot run nginx binary '$bin' (TEST_NGINX_BINARY): $out\n"
        if $? != 0 || $out !~ m{version: \S+?/(\d+)\.(\d+)\.(\d+)};
    my @v = ($1, $2, $3);
    return $self->{vinfo} = {
        text => $out,
        version => \@v,
        has_e => ($v[0] * 1_000_000 + $v[1] * 1000 + $v[2] >= 1_019_005),
    };
}

sub has_module {
    my ($self, $name) = @_;
    return $self->version_info->{text} !~ /--without-\Q$name\E\b/;
}

# Wipes what a previous run left and recreates an empty layout. Anything
# unexpected at the top level is fatal rather than silently deleted: the
# servroot path may have been pointed at a directory that matters.
sub setup_servroot {
    my $self = shift;
    my $root = $self->{servroot};
    if (-d $root) {
        opendir my $dh, $root or die "Cannot open $root: $!\n";
        my @entries = grep { !/^\.\.?$/ } readdir $dh;
        closedir $dh;
        for my $e (@entries) {
            next unless $e =~ /^(?:conf|html|logs|cache|\w+_temp|\w+_cache)$/;
            remove_tree("$root/$e", { safe => 0 });
        }
        rmdir $root or die "Cannot remove $root: $! (not empty?)\n";
    }
    make_path("$root/conf", "$root/html", "$root/logs");
    spew("$root/html/index.html", "It works!");
}

# --- user_files: text form ">>> PATH [STAMP]\ncontent" or an eval'd array
# of [path, content, mtime].
sub write_user_files {
    my ($self, $spec, $rand_ports) = @_;
    my @files;
    if (ref $spec eq 'ARRAY') {
        @files = map { [@$_] } @$spec;
    } else {
        while ($spec =~ /^>>>[ \t]+(\S+)(?:[ \t]+(\S+))?[ \t]*\n(.*?)(?=^>>>[ \t]|\z)/gms) {
            push @files, [$1, $3, $2];
        }
        die "Bad --- user_files section (expected '>>> PATH' lines)\n"
            if $spec =~ /\S/ && !@files;
    }
    for my $f (@files) {
        my ($path, $content, $stamp) = @$f;
        $path = $self->html_dir . "/$path" unless $path =~ m{^/};
        make_path(dirname($path));
        spew($path, expand_env($content // '', $rand_ports));
        if (defined $stamp) {
            my $mtime = $stamp =~ /^\d+$/ && length($stamp) > 12 ? $stamp : touch_stamp($stamp);
            utime $mtime, $mtime, $path or die "Cannot set mtime of $path: $!\n";
        }
    }
}

# touch -t [[CC]YY]MMDDhhmm[.ss], interpreted as GMT -> epoch seconds.
sub touch_stamp {
    my $stamp = shift;
    my ($digits, $ss) = $stamp =~ /^(\d{8}|\d{10}|\d{12})(?:\.(\d\d))?$/
        or die "Bad user_files time stamp '$stamp' (want [[CC]YY]MMDDhhmm[.ss])\n";
    my $year;
    if (length $digits == 12) {
        $year = substr($digits, 0, 4, '');
    } elsif (length $digits == 10) {
        my $yy = substr($digits, 0, 2, '');
        $year = $yy >= 69 ? 1900 + $yy : 2000 + $yy;
    } else {
        $year = (gmtime)[5] + 1900;
    }
    my ($mon, $day, $h, $m) = $digits =~ /^(\d\d)(\d\d)(\d\d)(\d\d)$/;
    return timegm($ss // 0, $m, $h, $day, $mon - 1, $year);
}

# The generated nginx.conf (spec 5.2). %c: main_config http_config config
# post_main_config event_config log_level, plus harness settings.
sub gen_conf {
    my ($self, %c) = @_;
    my $root = $self->{servroot};
    my $user = $c{worker_user} // ($> == 0 ? 'root' : undef);
    my $http_config = $c{http_config} // '';
    my @temp;
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        next if $t ne 'client_body' && !$self->has_module("http_${t}_module");
        push @temp, "    ${t}_temp_path $root/${t}_temp;\n";
    }
    my $env = join '', map { "env $_;\n" } @{ $c{env} || [] };
    my $mods = join '', map { "load_module $_;\n" } @{ $c{load_modules} || [] };
    my $root_location = $c{no_root_location} ? '' : <<"_EOC_";
        location / {
            root $root/html;
            index index.html index.htm;
        }
_EOC_
    my $conf = <<"_EOC_";
worker_processes  $c{workers};
daemon on;
master_process $c{master_process};
error_log $root/logs/error.log $c{log_level};
pid       $root/logs/nginx.pid;
$env
$mods${\ ($c{main_config} // '')}

http {
    access_log $root/logs/access.log;
@{[ join '', @temp ]}    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config

    server {
        listen          $c{port};
        server_name     'localhost';

        client_max_body_size 30M;

        # Begin test case config...
${\ ($c{config} // '')}
        # End test case config.

$root_location    }
}

${\ ($c{post_main_config} // '')}

events {
    accept_mutex off;
${\ ($c{event_config} // '')}
    worker_connections  $c{worker_connections};
}
_EOC_
    $conf .= "user $user;\n" if defined $user;
    return $conf;
}

sub write_conf {
    my ($self, $text) = @_;
    spew($self->conf_file, $text);
}

sub running {
    my $self = shift;
    return 0 unless $self->{pid};
    return 1 if _alive($self->{pid});
    # As its subreaper we can tell how it died (a crashing module: SIGSEGV).
    if (waitpid($self->{pid}, WNOHANG) == $self->{pid}) {
        my $st = $?;
        $self->{death} = ($st & 127) ? "killed by signal " . ($st & 127) . (($st & 128) ? ' (core dumped)' : '')
            : "exited with status " . ($st >> 8);
    }
    return 0;
}

# Why the nginx we started is gone, if it died on its own; undef otherwise.
sub death { $_[0]{death} }

# Starts nginx with the written conf. Dies with nginx's stderr and the error
# log tail when it does not come up. Only a busy port is retried: every
# other failure (bad directive, missing module) will not fix itself.
sub start {
    my $self = shift;
    my $deadline = time + ($self->{start_retry} // 5);
    my $delay = 0.1;
    while (1) {
        my ($ok, $err) = $self->_start_once;
        return 1 if $ok;
        if ($err =~ /Address already in use/ && time + $delay < $deadline) {
            sleep $delay;
            $delay = $delay * 2 > 1 ? 1 : $delay * 2;
            next;
        }
        my $log = slurp($self->error_log) // '';
        my @tail = tail_lines($log, 20, \&Test::Nginx::Harness::Util::non_debug_line);
        # First line: the reason, short enough for prove's bail-out summary.
        my ($why) = $err =~ /^(nginx: \[(?:emerg|alert|crit)\].*)$/m;
        ($why) = $err =~ /^(exit status .*)$/m unless $why;
        die "Failed to start nginx: " . ($why // 'see below') . "\n$err"
            . (@tail ? "error.log tail:\n" . join("\n", @tail) . "\n" : '');
    }
}

sub _start_once {
    my $self = shift;
    my $root = $self->{servroot};
    my $stderr_file = "$root/logs/nginx-start.stderr";
    my @cmd = ($self->{binary}, '-p', "$root/", '-c', $self->conf_file);
    push @cmd, '-e', $self->error_log if $self->version_info->{has_e};
    unlink $self->pid_file;
    my $child = fork // die "fork failed: $!\n";
    if (!$child) {
        $SIG{PIPE} = 'DEFAULT';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $stderr_file;
        exec { $cmd[0] } @cmd or do { print STDERR "exec $cmd[0]: $!\n"; POSIX::_exit(127) };
    }
    waitpid $child, 0;
    my $status = $?;
    my $stderr = slurp($stderr_file) // '';
    print STDERR $stderr if $stderr =~ /\S/ && $status == 0;
    return (0, "command: @cmd\nexit status " . ($status >> 8) . "\n$stderr", $status) if $status != 0;

    # The daemon writes the pid file after its parent has exited.
    my $until = time + 3;
    while (time < $until) {
        my $pid = slurp($self->pid_file);
        if (defined $pid && $pid =~ /^(\d+)\s*$/) {
            $self->{pid} = $1;
            return (1, '');
        }
        sleep 0.002;
    }
    return (0, "command: @cmd\nnginx exited 0 but wrote no pid file " . $self->pid_file . "\n$stderr", 0);
}

# One start attempt for `--- must_die`: returns nginx's wait status (0 when
# it did start; it is then running and stop() ends it).
sub try_start {
    my $self = shift;
    my (undef, undef, $status) = $self->_start_once;
    return $status // 0;
}

# Graceful stop (QUIT, or TERM for TEST_NGINX_FAST_SHUTDOWN); KILL after
# $timeout. Returns once the process is really gone.
sub stop {
    my ($self, %opt) = @_;
    my $pid = delete $self->{pid} or return;
    delete $self->{death};
    my $timeout = $opt{timeout} // 3;
    kill($opt{fast} ? 'TERM' : 'QUIT', $pid) or return;
    return if _wait_gone($pid, $timeout);
    kill 'KILL', $pid;
    _wait_gone($pid, $timeout);
}

sub _wait_gone {
    my ($pid, $timeout) = @_;
    my $until = time + $timeout;
    while (time < $until) {
        my $r = waitpid $pid, WNOHANG;
        return 1 if $r == $pid;
        return 1 if $r == -1 && !_alive($pid);
        sleep 0.002;
    }
    return 0;
}

# Alive and not a zombie (a zombie we cannot reap still answers kill 0).
sub _alive {
    my $pid = shift;
    return 0 unless kill 0, $pid;
    my $stat = slurp("/proc/$pid/stat");
    return 1 unless defined $stat;
    return $stat =~ /^\d+ \(.*\) ([A-Za-z])/s && $1 ne 'Z' && $1 ne 'X' ? 1 : 0;
}

# An nginx left running by an earlier TEST_NGINX_NO_CLEAN run of this very
# servroot would hold the port. Only stop it if its command line names our
# servroot, so other people's nginx processes are never touched.
sub stop_leftover {
    my $self = shift;
    my $pid = slurp($self->pid_file);
    return unless defined $pid && $pid =~ /^(\d+)\s*$/;
    $pid = $1;
    my $cmdline = slurp("/proc/$pid/cmdline") // return;
    return unless $cmdline =~ /nginx/ && index($cmdline, $self->{servroot} . '/') >= 0;
    $self->{pid} = $pid;
    $self->stop(timeout => 3);
}

1;
