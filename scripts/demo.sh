#!/usr/bin/env bash
# make demo: the whole pipeline on this machine, readings on screen within seconds.
#
#   scripts/demo.sh [CONFIG]        (make demo [CONFIG=path] [REGISTRY=1])
#
# Kafka: the broker at CONFIG's bootstrap servers (config.ini if present, else
# localhost:9092), or, if none answers at localhost:PORT, one started there for the demo.
# REGISTRY=1: values go through a schema registry, CONFIG's [schema_registry] url (else
# http://localhost:8080/apis/ccompat/v7), or, if none answers at localhost:PORT, Apicurio
# Registry started there for the demo, its schemas kept in the demo's Kafka.
# WAQI: the real API if WAQI_TOKEN is set (environment or .env), else the simulator.
# Then producer.py and aggregator.py in the background, and consumer.py printing the
# readings and, beside them, the NowCast alerts of <topic>.alerts. Ctrl-C stops what the
# demo started (and stops and wipes the broker if it started one), nothing else.
#
# DEMO_RUN_DIR (default kafka/.run/demo) holds the logs, and the data of the broker it
# starts; SIM_PORT fixes the simulator's port (default: a free one).
set -euo pipefail
cd "$(dirname "$0")/.."

python=.venv/bin/python
config_args=(${1:+"$1"})
run_dir=${DEMO_RUN_DIR:-kafka/.run/demo}
broker_dir=$run_dir/kafka
registry_dir=$run_dir/registry
aggregator_state=$run_dir/aggregator-state
started_broker=""
started_registry=""
simulator_pid=""
producer_pid=""
aggregator_pid=""
consumer_pid=""
alerts_pid=""

say() { printf 'demo: %s\n' "$*" >&2; }

alive() { kill -0 "$1" 2>/dev/null; }

stop() { # PID NAME: SIGTERM, and SIGKILL if it has not exited 15 s later
  local pid=$1 name=$2
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do
    alive "$pid" || return 0
    sleep 0.1
  done
  say "$name did not stop within 15 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

clean_up() {
  local status=$?
  # A second Ctrl-C must not cut this short (nor reach the broker's shutdown, run from here).
  trap '' INT TERM
  # By PID: children of a script ignore the terminal's Ctrl-C unless they handle it
  # themselves. The consumer first, so it commits while the broker is still there.
  if [[ -n $consumer_pid ]]; then stop "$consumer_pid" consumer.py; fi
  if [[ -n $alerts_pid ]]; then stop "$alerts_pid" "consumer.py (alerts)"; fi
  if [[ -n $aggregator_pid ]]; then stop "$aggregator_pid" aggregator.py; fi
  if [[ -n $producer_pid ]]; then stop "$producer_pid" producer.py; fi
  if [[ -n $simulator_pid ]]; then stop "$simulator_pid" "the WAQI simulator"; fi
  if [[ -n $started_registry ]]; then
    # Stopped before the broker that keeps its schemas (they stay there).
    "$python" kafka/local_registry.py --run-dir "$registry_dir" down >/dev/null || true
    say "stopped the schema registry the demo had started"
  fi
  if [[ -n $started_broker ]]; then
    # It runs in a session of its own (a Ctrl-C never reaches it): local_kafka.py stops it.
    "$python" kafka/local_kafka.py --run-dir "$broker_dir" down --clean >/dev/null || true
    # The aggregator's local state belonged to that broker's changelog topics.
    rm -rf "$aggregator_state"
    say "stopped the Kafka broker the demo had started"
  fi
  exit "$status"
}
trap clean_up EXIT
# Ctrl-C is how the demo ends, not a failure (make still reports the interrupt: 130).
trap 'exit 0' INT
trap 'exit 143' TERM

wait_for_line() { # LOG PATTERN PID SECONDS: 0 once LOG has a line matching PATTERN,
  # 1 if PID ends first, 2 if SECONDS pass first
  local log=$1 pattern=$2 pid=$3 seconds=$4
  for _ in $(seq $((seconds * 10))); do
    if grep -q "$pattern" "$log" 2>/dev/null; then return 0; fi
    alive "$pid" || return 1
    sleep 0.1
  done
  return 2
}

wait_for_start() { # NAME LOG PATTERN PID SECONDS: wait for the line that says it has started;
  # exit if it stops first, say so (it keeps trying) if it takes longer
  local name=$1 log=$2 pattern=$3 pid=$4 seconds=$5
  wait_for_line "$log" "$pattern" "$pid" "$seconds" || case $? in
    1)
      say "$name stopped; the end of $log:"
      tail -n 5 "$log" >&2
      exit 1
      ;;
    2) say "$name has not reached Kafka within $seconds s; it keeps trying (see $log)" ;;
  esac
}

mkdir -p "$run_dir"
settings=$("$python" scripts/demo_settings.py "${config_args[@]}")
read -r bootstrap waqi <<<"$settings"

if "$python" kafka/local_kafka.py probe "$bootstrap" >/dev/null 2>&1; then
  say "using the Kafka broker at $bootstrap (it is left running)"
elif [[ $bootstrap =~ ^(localhost|127\.0\.0\.1):([0-9]+)$ ]]; then
  say "no Kafka broker answers at $bootstrap: starting one there for the demo"
  started_broker=yes
  # Left over by a demo that was killed: its data, on this port or another.
  "$python" kafka/local_kafka.py --run-dir "$broker_dir" down --clean >/dev/null
  rm -rf "$aggregator_state"
  "$python" kafka/local_kafka.py --run-dir "$broker_dir" up --base-port "${BASH_REMATCH[2]}"
else
  say "no Kafka broker answers at $bootstrap: start it, or point CONFIG at one that runs"
  exit 1
fi

if [[ -n ${REGISTRY:-} ]]; then
  registry_url=$("$python" scripts/demo_settings.py --registry-url "${config_args[@]}")
  registry_url=${registry_url:-http://localhost:8080/apis/ccompat/v7}
  if "$python" kafka/local_registry.py probe "$registry_url" >/dev/null 2>&1; then
    say "using the schema registry at $registry_url (it is left running)"
  elif [[ $registry_url =~ ^http://(localhost|127\.0\.0\.1):([0-9]+)/apis/ccompat/v7/?$ ]]; then
    say "no schema registry answers at $registry_url: starting Apicurio Registry there for the demo"
    started_registry=yes
    "$python" kafka/local_registry.py --run-dir "$registry_dir" up --port "${BASH_REMATCH[2]}" \
      --management-port 0 --bootstrap-servers "$bootstrap"
  else
    say "no schema registry answers at $registry_url: start it, or point CONFIG at one that runs"
    exit 1
  fi
  # The producer and the consumer get CONFIG with the registry in it.
  "$python" scripts/demo_settings.py --with-registry "$registry_url" "${config_args[@]}" \
    >"$run_dir/config.ini"
  config_args=("$run_dir/config.ini")
fi

if [[ $waqi == real ]]; then
  topic=air_quality_index
  interval=60 # stations report hourly: polling more often only spends the quota
  say "using the real WAQI API (WAQI_TOKEN is set)"
else
  # Simulated readings get a topic of their own, never mixed with real ones.
  topic=air_quality_index_simulated
  interval=5
  start=$("$python" scripts/demo_settings.py --sim-start "$topic" "${config_args[@]}")
  "$python" -m aqistream.waqi_sim --port "${SIM_PORT:-0}" --hour-seconds 20 --quota 0 \
    ${start:+--start "$start"} >"$run_dir/simulator.log" 2>&1 &
  simulator_pid=$!
  if ! wait_for_line "$run_dir/simulator.log" "listening on" "$simulator_pid" 20; then
    say "the WAQI simulator did not start; its log, $run_dir/simulator.log:"
    cat "$run_dir/simulator.log" >&2
    exit 1
  fi
  url=$(sed -n 's/.*listening on //p' "$run_dir/simulator.log" | head -n 1)
  export WAQI_TOKEN=demo-token WAQI_API_URL=$url
  say "using the WAQI simulator at $url: a simulated hour, new readings, every 20 s"
  say "(for real data, put your free token in .env: see README.md)"
fi

if [[ -n ${REGISTRY:-} ]]; then
  say "producer.py registers the record's schema as $topic-value and writes values in the registry's wire format"
fi
"$python" producer.py "${config_args[@]}" --topic "$topic" --interval "$interval" \
  >"$run_dir/producer.log" 2>&1 &
producer_pid=$!
say "producer.py polls WAQI every $interval s, in the background; its log: $run_dir/producer.log"
# The aggregator and the consumers start once the producer has reached Kafka, and so
# created the topic.
wait_for_start producer.py "$run_dir/producer.log" "connected to Kafka" "$producer_pid" 60
"$python" aggregator.py "${config_args[@]}" --topic "$topic" --group aqi-stream-demo-aggregator \
  --state-dir "$aggregator_state" >"$run_dir/aggregator.log" 2>&1 &
aggregator_pid=$!
say "aggregator.py turns them into $topic.daily, .nowcast and .alerts; its log: $run_dir/aggregator.log"
# The alerts' consumer starts once the aggregator has created its topics.
wait_for_start aggregator.py "$run_dir/aggregator.log" "publishing to" "$aggregator_pid" 120
say "consumer.py prints the readings of $topic as they arrive and, beside them, its NowCast"
say "alerts (ALERT lines: a category changed); Ctrl-C stops the demo"
# In the background of this script, so that the INT trap runs at once; they are still what
# the terminal shows, and a Ctrl-C reaches them there. Groups of their own: --from-beginning
# moves no one else's offsets.
"$python" consumer.py "${config_args[@]}" --topic "$topic" --group aqi-stream-demo \
  --from-beginning &
consumer_pid=$!
# Through a pipe (not the terminal): its lines mingle with the readings', without a second
# header; each says ALERT.
"$python" consumer.py "${config_args[@]}" --topic "$topic.alerts" --group aqi-stream-demo-alerts \
  --from-beginning -q > >(cat) &
alerts_pid=$!

# Until Ctrl-C (the INT trap), or until one of them ends.
status=0
wait -n || status=$?
if [[ $status == 0 ]]; then
  exit 0 # stopped by a signal that did not reach this script: the demo is over
elif ! alive "$consumer_pid" || ! alive "$alerts_pid"; then
  exit "$status" # consumer.py has said why
elif ! alive "$aggregator_pid"; then
  say "aggregator.py stopped (exit $status); the end of $run_dir/aggregator.log:"
  tail -n 5 "$run_dir/aggregator.log" >&2
elif ! alive "$producer_pid"; then
  say "producer.py stopped (exit $status); the end of $run_dir/producer.log:"
  tail -n 5 "$run_dir/producer.log" >&2
else
  say "the WAQI simulator stopped (exit $status); see $run_dir/simulator.log"
fi
exit 1
