#!/usr/bin/env bash
# Measures Berth on the scaled demo snapshots (issue 7's scale goals) and prints each figure with
# what produced it:
#   - `berth simulate` evacuating hv-a04-r03 (60 instances) of the 100/5,000 copy and hv-b02-r17
#     (70 instances) of the 300/20,000 copy, with the reference scriptlet and default limits;
#   - `POST /api/v1/scriptlets/evaluate` and `POST /api/v1/simulations` (one create) on the
#     100/5,000 copy: median and p95 of N sequential requests after a warm-up;
#   - resident memory (VmRSS) of the server and its `berth worker`s once both have used the
#     300/20,000 copy.
#
#   scripts/measure-scale.sh [BERTH] [WORKDIR]   BERTH default: target/release/berth (build it
#   first: cargo build --release -p berth-server); N=200 requests by default.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
berth=$(realpath "${1:-$root/target/release/berth}")
work=${2:-$(mktemp -d)}
n=${N:-200}
port=${PORT:-3917}
scriptlet=$root/core/benches/fixtures/spread_by_free_memory.star
mkdir -p "$work/site/pkg"
touch "$work/site/pkg/berth.js" "$work/site/pkg/berth.css"
"$root/scripts/scale-snapshots.sh" "$work" "$berth" >/dev/null

evacuate() {  # snapshot member
    local start end status=0
    start=$(date +%s.%N)
    "$berth" simulate --snapshot "$work/$1" --scriptlet "$scriptlet" \
        --op "{\"kind\":\"evacuate\",\"member\":\"$2\"}" >"$work/simulate.json" 2>"$work/simulate.err" || status=$?
    end=$(date +%s.%N)
    if [[ $status == 0 ]]; then
        echo "berth simulate $1 evacuate $2: $(echo "$end - $start" | bc) s wall," \
            "$(jq '.calls | length' "$work/simulate.json") calls, $(jq '[.calls[] | select(.error != null)] | length' "$work/simulate.json") failed," \
            "stopped: $(jq -c '.stopped // null' "$work/simulate.json")"
    else
        echo "berth simulate $1 evacuate $2: exit $status after $(echo "$end - $start" | bc) s: $(cat "$work/simulate.err")"
    fi
}
evacuate scale-100x5000.json hv-a04-r03
evacuate scale-300x20000.json hv-b02-r17

rm -rf "$work/data"
"$berth" snapshot import "$work/scale-100x5000.json" --data-dir "$work/data" >/dev/null 2>&1
"$berth" snapshot import "$work/scale-300x20000.json" --data-dir "$work/data" >/dev/null 2>&1
"$berth" serve --data-dir "$work/data" --listen "127.0.0.1:$port" --site-root "$work/site" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

candidates=$(jq -c '[.members[] | select(.status == "Online" and .architecture == "x86_64" and (.config["scheduler.instance"] == null)) | .server_name]' "$work/scale-100x5000.json")
jq -cn --rawfile source "$scriptlet" --argjson candidates "$candidates" --argjson id 1 \
    '{snapshot_id: $id, source: $source, candidates: $candidates,
      request: {reason: "new", project: "default", name: "bench-1", type: "container",
                config: {"limits.memory": "4GiB", "user.app": "api"}}}' >"$work/evaluate.json"
jq -cn --rawfile source "$scriptlet" --argjson id 1 \
    '{snapshot_id: $id, source: $source, operations: [{kind: "create", project: "default", name: "bench-1"}]}' \
    >"$work/simulation.json"

latency() {  # path body-file
    local url="http://127.0.0.1:$port$1" code
    code=$(curl -s -o "$work/reply.json" -w '%{http_code}' -H 'content-type: application/json' --data-binary @"$2" "$url")
    if [[ $code != 200 ]]; then
        echo "POST $1: HTTP $code: $(head -c 300 "$work/reply.json")"
        return
    fi
    for _ in $(seq 5); do curl -s -o /dev/null -H 'content-type: application/json' --data-binary @"$2" "$url"; done
    for _ in $(seq "$n"); do
        curl -s -o /dev/null -w '%{time_total}\n' -H 'content-type: application/json' --data-binary @"$2" "$url"
    done | sort -n | awk -v path="$1" '{ t[NR] = $1 * 1000 } END {
        printf "POST %s on 100/5,000: median %.1f ms, p95 %.1f ms (%d sequential requests)\n", path, t[int((NR + 1) / 2)], t[int(NR * 0.95 + 0.5)], NR }'
}
latency /api/v1/scriptlets/evaluate "$work/evaluate.json"
latency /api/v1/simulations "$work/simulation.json"

# A fresh server whose workers hold only the 300/20,000 copy, after as many requests as
# workers at once of each kind.
kill $server
wait $server || true
"$berth" serve --data-dir "$work/data" --listen "127.0.0.1:$port" --site-root "$work/site" >>"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
sed 's/"snapshot_id":1/"snapshot_id":2/' "$work/evaluate.json" >"$work/evaluate-2.json"
sed 's/"snapshot_id":1/"snapshot_id":2/' "$work/simulation.json" >"$work/simulation-2.json"
for request in scriptlets/evaluate:evaluate-2 simulations:simulation-2; do
    pids=()
    for _ in 1 2; do
        curl -s -o /dev/null -H 'content-type: application/json' --data-binary @"$work/${request#*:}.json" \
            "http://127.0.0.1:$port/api/v1/${request%:*}" &
        pids+=($!)
    done
    wait "${pids[@]}"
done
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
total=$(rss $server)
line="server $((total / 1024)) MiB"
for worker in $(pgrep -P $server || true); do
    kib=$(rss "$worker")
    total=$((total + kib))
    line="$line + worker $((kib / 1024)) MiB"
done
echo "VmRSS holding 300/20,000: $line = $((total / 1024)) MiB"
