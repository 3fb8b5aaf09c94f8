#!/usr/bin/env bash
# Run a command with a Kafka broker at localhost:9092: the one already answering there, or a
# local broker started for the command from Maven Central jars and stopped (and wiped) after it.
#   kafka/with-kafka.sh COMMAND [ARGS...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-"$here/../.venv/bin/python"}
bootstrap=localhost:9092
run_dir="$here/.run/with-kafka"

if "$python" "$here/local_kafka.py" probe "$bootstrap" 2>/dev/null; then
  echo "Using the Kafka broker already answering at $bootstrap; it is left running."
  exec "$@"
fi
"$python" "$here/local_kafka.py" --run-dir "$run_dir" down --clean >/dev/null
stop() { "$python" "$here/local_kafka.py" --run-dir "$run_dir" down --clean; }
trap stop EXIT
trap 'exit 130' INT TERM
"$python" "$here/local_kafka.py" --run-dir "$run_dir" up || exit $?
"$@"
