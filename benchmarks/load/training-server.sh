# Sourced by the training-service benchmarks (job-threads.sh, train-interference.sh): the jar, a scratch folder
# removed on exit with the server, HERE (this folder), the CLI, and `start_server ARGS...` (serve on 127.0.0.1:$PORT with the given
# options, log in $WORK/server.log, returns once /v2/health/ready answers). Needs PORT set before sourcing.
# SERVER_JAVA_OPTS: extra JVM options of the server only (e.g. -Xlog:gc*:file=gc.log); LOGS=DIR: the server's log
# (and any file the server wrote under $WORK/logs) is copied there on exit.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
JAR=$ROOT/http/target/dense4j.jar
WORK=$(mktemp -d)
SERVER_PID=
mkdir -p "$WORK/logs"
cleanup() {
  [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [[ -n ${LOGS:-} ]] && mkdir -p "$LOGS" && cp -r "$WORK/server.log" "$WORK/logs/." "$LOGS/" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
J=(java -jar "$JAR")
export DENSE4J_SERVER=http://127.0.0.1:$PORT DENSE4J_TRAIN_TOKEN=bench-train

start_server() {
  # shellcheck disable=SC2086 # SERVER_JAVA_OPTS is a list of options
  (cd "$WORK/logs" && exec java ${SERVER_JAVA_OPTS:-} -jar "$JAR" serve --port "$PORT" "$@" --no-access-log >"$WORK/server.log" 2>&1) &
  SERVER_PID=$!
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PORT/v2/health/ready" >/dev/null && return 0; sleep 0.2; done
  echo "the server did not become ready; its log:" >&2; cat "$WORK/server.log" >&2; return 1
}
