#!/usr/bin/env bash
# The measurements of docs/benchmarks.md, "Hits before Python": a cached home page
# answered by Python (uWSGI's cache), by nginx from the page file, by nginx from memcached
# (a prototype, speed only), beside nginx serving the same bytes as a plain file and the
# stylesheet.
#
# Needs a running `make run` stack on $GATEWAY_PORT (its data dir in $GATEWAY_DATA_DIR)
# and Debian's memcached and wrk. Starts memcached and a reference nginx on loopback,
# stops both by PID. Rounds interleaved (every candidate once per round), medians.
set -euo pipefail
port=${GATEWAY_PORT:-8080}
data_dir=${GATEWAY_DATA_DIR:?the data dir of the running stack}
rounds=${ROUNDS:-3}
ref_port=$((port + 1)) mc_port=$((port + 2))
work=$(mktemp -d /tmp/cache-hits-bench.XXXXXX)
chmod 0755 "$work"
html='Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
url=http://127.0.0.1:$port

# The home page's exact bytes, as the app rendered them.
curl -sf -H "$html" "$url/" -o /dev/null
curl -sf -H "$html" "$url/" -o "$work/page.html"
memcached -l 127.0.0.1 -p "$mc_port" -U 0 -u nobody -m 64 & mc_pid=$!
cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    sendfile on;
    # The gateway's log line and security headers, so that the ceiling differs from the
    # gateway's hit only by the checks and the lookup of the page file.
    log_format gateway '\$remote_addr [\$time_local] "\$request" \$status \$body_bytes_sent '
                       'rid=\$request_id upstream_status=\$upstream_status '
                       'rt=\$request_time urt=\$upstream_response_time "\$http_user_agent"';
    access_log $work/access.log gateway;
    client_body_temp_path $work/body;
    server {
        listen 127.0.0.1:$ref_port;
        add_header Content-Security-Policy "default-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'" always;
        add_header X-Content-Type-Options "nosniff" always;
        add_header X-Frame-Options "DENY" always;
        add_header Referrer-Policy "strict-origin-when-cross-origin" always;
        add_header X-Request-ID \$request_id always;
        add_header Cache-Control "public, max-age=0, s-maxage=300";
        add_header Vary Cookie;
        add_header X-Cache HIT;
        location = /page.html { root $work; }
        location = /mc/ {
            set \$memcached_key "page:/";
            default_type "text/html; charset=utf-8";
            memcached_pass 127.0.0.1:$mc_port;
        }
    }
}
CONF
nginx -p "$work" -c "$work/nginx.conf" -g 'daemon off;' & ref_pid=$!
trap 'kill $ref_pid $mc_pid 2>/dev/null; wait; rm -rf "$work"' EXIT
sleep 1
python3 - "$mc_port" "$work/page.html" <<'PY'
import socket, sys
body = open(sys.argv[2], "rb").read()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"set page:/ 0 0 %d\r\n" % len(body) + body + b"\r\n")
assert s.recv(100).startswith(b"STORED")
PY

declare -A cmd=(
    [python_hit]="-H 'Cookie: not_a_session=1' $url/"
    [nginx_file_hit]="$url/"
    [nginx_memcached]="http://127.0.0.1:$ref_port/mc/"
    [static_same_bytes]="http://127.0.0.1:$ref_port/page.html"
    [stylesheet]="$url/static/style.css"
)
order=(python_hit nginx_file_hit nginx_memcached static_same_bytes stylesheet)
for name in "${order[@]}"; do  # every candidate answers 200 with the page's size
    eval curl -s -o /dev/null -w "'$name %{http_code} %{size_download} %header{x-cache}\n'" -H "'$html'" ${cmd[$name]}
done
for round in $(seq "$rounds"); do
    for name in "${order[@]}"; do
        rps=$(eval wrk -c100 -t2 -d${SECONDS_EACH:-5}s -H "'$html'" ${cmd[$name]} | awk '/Requests\/sec/ {print $2}')
        echo "round $round $name $rps"
    done
done
