# Sourced by the training-service benchmarks (job-threads.sh, train-interference.sh): the jar, a scratch folder
# removed on exit with the server, HERE (this folder), the CLI, and `start_server ARGS...` (serve on 127.0.0.1:$PORT with the given
# options, log in $WORK/server.log, returns once /v2/health/ready answers). Needs PORT set before sourcing.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
JAR=$ROOT/http/target/dense4j.jar
WORK=$(mktemp -d)
SERVER_PID=
cleanup() { [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
J=(java -jar "$JAR")
export DENSE4J_SERVER=http://127.0.0.1:$PORT DENSE4J_TRAIN_TOKEN=bench-train

start_server() {
  "${J[@]}" serve --port "$PORT" "$@" --no-access-log >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && return 0; sleep 0.2; done
  echo "the server did not become ready; its log:" >&2; cat "$WORK/server.log" >&2; return 1
}
