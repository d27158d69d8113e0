# Shell functions shared by deploy/run, deploy/install and the uwsgi service script, and
# the defaults the two starters share. Source it. render_tls needs a `gateway` command
# (the caller's: the gateway CLI of the virtualenv it serves from).

# The shared cache both starters give the app unless GATEWAY_CACHE_URL says otherwise:
# uWSGI's cache named "gateway" (uwsgi.ini).
UWSGI_CACHE_URL=uwsgi://gateway

# render_tls HOME DEST CERT KEY: deploy/nginx/tls.conf for this certificate and key, with
# OCSP stapling when the certificate names a responder (and a resolver to reach it).
render_tls() {
    local home=$1 dest=$2 cert key stapling="" resolver
    cert=$(realpath "$3")
    key=$(realpath "$4")
    if [ -n "$(openssl x509 -in "$cert" -noout -ocsp_uri 2>/dev/null)" ]; then
        resolver=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
        stapling="ssl_stapling on; ssl_stapling_verify on; ssl_trusted_certificate $cert;"
        [ -n "$resolver" ] && stapling="$stapling resolver $resolver valid=300s; resolver_timeout 5s;"
    fi
    gateway render "$home/deploy/nginx/tls.conf" "$dest" "TLS_CERT=$cert" "TLS_KEY=$key" \
        "STAPLING=$stapling"
}

# alive PIDFILE: true when the process named by PIDFILE runs.
alive() {
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# wait_gone PID SECONDS: wait until PID has exited; false if it is still there. An exited
# child of this shell that is not reaped yet (a zombie: the shell may be running a trap)
# has exited too, though kill -0 still finds it.
wait_gone() {
    local pid=$1 tries=$(($2 * 10)) state
    while state=$(ps -o stat= -p "$pid" 2>/dev/null) && [ "${state:0:1}" != Z ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.1
    done
}

# wait_http URL SECONDS [HOST]: wait until URL answers 200 (sent with Host: HOST). Over
# HTTPS the certificate is not checked: this asks our own nginx whether it serves.
wait_http() {
    local url=$1 tries=$(($2 * 10)) host=${3:-}
    until [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 ${host:+-H "Host: $host"} "$url")" = 200 ]; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        sleep 0.1
    done
}

# uwsgi_stop RUN_DIR: graceful stop through the master FIFO, forced after 8 s: longer
# than uwsgi.ini's worker-reload-mercy, well under systemd's TimeoutStopSec.
uwsgi_stop() {
    local run_dir=$1 limit=8 pid
    if ! alive "$run_dir/uwsgi.pid"; then
        rm -f "$run_dir/uwsgi.fifo"
        return 0
    fi
    pid=$(cat "$run_dir/uwsgi.pid")
    # "q": graceful shutdown; workers finish their request within worker-reload-mercy.
    # Opened read-write, the FIFO never blocks this script, even before the master reads
    # it (a plain `>` waits for a reader); without one, SIGTERM does the same.
    if [ -p "$run_dir/uwsgi.fifo" ]; then
        { printf q >&3; } 3<>"$run_dir/uwsgi.fifo"
    else
        kill -TERM "$pid"
    fi
    if wait_gone "$pid" "$limit"; then
        # vacuum removes the socket and pid file, not the FIFO; the reload count belongs
        # to this master (its counters go with it).
        rm -f "$run_dir/uwsgi.fifo" "$run_dir/reloads"
        return 0
    fi
    echo "uwsgi did not stop within ${limit}s; killing it" >&2
    # Workers first, while they are still the master's children and can be found.
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 2 || true
    rm -f "$run_dir/uwsgi.sock" "$run_dir/uwsgi.pid" "$run_dir/uwsgi.fifo" "$run_dir/uwsgi-stats.sock" \
        "$run_dir/reloads"
}
