# Shell functions shared by deploy/run, deploy/install and the uwsgi service script.
# Source it; it defines functions only.

# render SRC DEST NAME=VALUE...: copy SRC to DEST with every @NAME@ replaced by VALUE.
render() {
    local src=$1 dest=$2 script="" pair name value
    shift 2
    for pair in "$@"; do
        name=${pair%%=*}
        value=$(printf '%s' "${pair#*=}" | sed 's/[\\|&]/\\&/g')
        script="${script}s|@${name}@|${value}|g;"
    done
    sed "$script" "$src" > "$dest.tmp"
    if grep -q '@[A-Z_]*@' "$dest.tmp"; then
        echo "render: $src has a placeholder left: $(grep -o '@[A-Z_]*@' "$dest.tmp" | head -n1)" >&2
        rm -f "$dest.tmp"
        return 1
    fi
    mv "$dest.tmp" "$dest"
}

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
    render "$home/deploy/nginx/tls.conf" "$dest" "TLS_CERT=$cert" "TLS_KEY=$key" "STAPLING=$stapling"
}

# alive PIDFILE: true when the process named by PIDFILE runs.
alive() {
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# wait_gone PID SECONDS: wait until PID has exited; false if it is still there.
wait_gone() {
    local pid=$1 tries=$(($2 * 10))
    while kill -0 "$pid" 2>/dev/null; do
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

# uwsgi_stop RUN_DIR SECONDS: graceful stop through the master FIFO, then force.
uwsgi_stop() {
    local run_dir=$1 limit=$2 pid
    if ! alive "$run_dir/uwsgi.pid"; then
        rm -f "$run_dir/uwsgi.fifo"
        return 0
    fi
    pid=$(cat "$run_dir/uwsgi.pid")
    # "q": graceful shutdown; workers finish their request within worker-reload-mercy.
    printf q > "$run_dir/uwsgi.fifo" || kill -TERM "$pid"
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
