#!/usr/bin/env bash
# scale-rss.sh: the real `vpnwatchd run` against the scale benchmark's
# simulators (1,000 VPN connections in 10 regions, 200 routers with 10
# tunnels each, in their own process), sampling the daemon's RSS every second
# for DURATION seconds after a 35 s warm-up, with a gzip scrape of /metrics
# every SCRAPE seconds (0: none), as Prometheus would. Prints min/mean/max
# RSS (anonymous and file-backed), the peak, and CPU per second.
#
#   make bench-rss                       # DURATION=180 SCRAPE=15
#   DURATION=300 SCRAPE=60 scripts/scale-rss.sh
#   GOMEMLIMIT=40MiB scripts/scale-rss.sh  # GOGC, GOMEMLIMIT: the daemon's environment
set -euo pipefail
DURATION=${DURATION:-180}
SCRAPE=${SCRAPE:-15}
PORT=${PORT:-19123}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
cleanup() {
	[[ -n ${daemon:-} ]] && kill "$daemon" 2>/dev/null
	[[ -n ${SIMS_PID:-} ]] && kill "$SIMS_PID" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/vpnwatchd" ./cmd/vpnwatchd
go test -c -o "$tmp/daemon.test" ./internal/daemon
coproc SIMS { VPNWATCHD_SCALE_SIMS=1 AWS_EC2_METADATA_DISABLED=true exec "$tmp/daemon.test" -test.run='^TestMain$'; }
echo config >&"${SIMS[1]}"
read -r cfg <&"${SIMS[0]}"
# ec2sim's static keys (internal/aws/ec2sim.Env); nothing else of the
# caller's AWS configuration.
env -u AWS_PROFILE -u AWS_REGION -u AWS_ENDPOINT_URL \
	AWS_ACCESS_KEY_ID=AKIAEC2SIMEXAMPLE000 AWS_SECRET_ACCESS_KEY=ec2sim-example-secret-key \
	AWS_CONFIG_FILE=/nonexistent/config AWS_SHARED_CREDENTIALS_FILE=/nonexistent/credentials \
	AWS_EC2_METADATA_DISABLED=true \
	"$tmp/vpnwatchd" run --config.file "$cfg" --web.listen-address "127.0.0.1:$PORT" --log.level warn 2>"$tmp/log" &
daemon=$!
sleep 35
cpu0=$(awk '{print $14 + $15}' "/proc/$daemon/stat")
for i in $(seq 1 "$DURATION"); do
	if ((SCRAPE > 0 && i % SCRAPE == 0)); then
		curl -fsS -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT/metrics" >/dev/null &
	fi
	awk '/^(VmRSS|RssAnon|RssFile):/ {printf "%s ", $2} END {print ""}' "/proc/$daemon/status" >>"$tmp/samples"
	sleep 1
done
cpu1=$(awk '{print $14 + $15}' "/proc/$daemon/stat")
hz=$(getconf CLK_TCK)
echo "vpnwatchd at 1,000 VPNs / 200 routers, ${DURATION} s, scrape every ${SCRAPE} s (0: none), GOGC=${GOGC:-default} GOMEMLIMIT=${GOMEMLIMIT:-none}"
awk -v cpu=$((cpu1 - cpu0)) -v hz="$hz" -v dur="$DURATION" '
	{ for (i = 1; i <= 3; i++) { v = $i / 1024; s[i] += v; if (NR == 1 || v < lo[i]) lo[i] = v; if (v > hi[i]) hi[i] = v } }
	END {
		split("rss anon file", name, " ")
		for (i = 1; i <= 3; i++) printf "%-5s min %5.1f  mean %5.1f  max %5.1f MiB\n", name[i], lo[i], s[i] / NR, hi[i]
		printf "cpu   %.1f %% of a core\n", cpu / hz / dur * 100
	}' "$tmp/samples"
awk '/^VmHWM:/ {printf "peak  %.1f MiB (VmHWM, start-up included)\n", $2 / 1024}' "/proc/$daemon/status"
if [[ -s $tmp/log ]]; then
	echo "daemon log (warnings and errors):"
	head -20 "$tmp/log"
fi
