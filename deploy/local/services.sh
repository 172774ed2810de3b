#!/usr/bin/env bash
# Local backing services for newsflow: a real Apache Kafka broker (KRaft,
# combined broker+controller) and a real single Elasticsearch 8 node, both run
# from Maven Central jars on 127.0.0.1. See deploy/local/README.md.
#
#   services.sh up|start   [kafka|elasticsearch|es ...] [--fresh]
#   services.sh down|stop  [kafka|elasticsearch|es ...]
#   services.sh restart    [kafka|elasticsearch|es ...]
#   services.sh status     [kafka|elasticsearch|es ...]   (exit 0: all up, 3: some down)
#   services.sh logs       [kafka|elasticsearch|es ...]   (tail of the logs)
#   services.sh fetch-tools                  (download Kafka's command-line tools; `up` does it too)
#   services.sh s3proxy-jar                  (download S3Proxy, the S3-compatible server the archive.s3
#                                             tests run, once; prints the jar's path)
#   services.sh kafka-tool NAME [ARGS...]    (run one of Kafka's tools against the local broker:
#                                             topics, consumer-groups, console-consumer, ...;
#                                             `services.sh kafka-tool list` names them all)
#
# Environment:
#   NEWSFLOW_CACHE           cache root (default ~/.cache/newsflow); jars go to $NEWSFLOW_CACHE/services
#   NEWSFLOW_SERVICES_DATA   data + logs + pid files (default $NEWSFLOW_CACHE/services/data)
#   KAFKA_PORT (9092) KAFKA_CONTROLLER_PORT (9093) ES_PORT (9200) ES_TRANSPORT_PORT (9300)
#   KAFKA_HEAP_OPTS ("-Xms256m -Xmx512m")  ES_HEAP_OPTS ("-Xms512m -Xmx1g")
#   FRESH=1                  same as --fresh (wipe the data of the services being started)
#   SERVICES_READY_TIMEOUT   seconds to wait for readiness (default 180)
#   SERVICES_STOP_TIMEOUT    seconds between SIGTERM and SIGKILL (default 30)
#   KAFKA_BROKER_SESSION_TIMEOUT_MS  broker.session.timeout.ms, its heartbeat a sixth of it (default
#                            Kafka's: 9000, heartbeat 2000). A broker restarted after a SIGKILL waits
#                            this long for its dead registration to be fenced before it serves again.
#   JAVA / JAVAC / MVN       tool overrides
#   S3PROXY_VERSION          org.gaul:s3proxy version for `s3proxy-jar` (default 2.6.0)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${NEWSFLOW_CACHE:-${HOME:-/root}/.cache/newsflow}"
SERVICES_DIR="$CACHE_ROOT/services"
DATA_DIR="${NEWSFLOW_SERVICES_DATA:-$SERVICES_DIR/data}"
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"

BIND_HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
ES_PORT="${ES_PORT:-9200}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-9300}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
ES_HEAP_OPTS="${ES_HEAP_OPTS:--Xms512m -Xmx1g}"
READY_TIMEOUT="${SERVICES_READY_TIMEOUT:-180}"
STOP_TIMEOUT="${SERVICES_STOP_TIMEOUT:-30}"
KAFKA_BROKER_SESSION_TIMEOUT_MS="${KAFKA_BROKER_SESSION_TIMEOUT_MS:-}"
JAVA="${JAVA:-java}"
JAVAC="${JAVAC:-javac}"
JAR="${JAR:-jar}"
MVN="${MVN:-mvn}"
S3PROXY_VERSION="${S3PROXY_VERSION:-2.6.0}"

ALL_SERVICES=(kafka elasticsearch)

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

sha_of() { cat "$@" | sha256sum | cut -c1-12; }

# ---------------------------------------------------------------- processes

pid_file() { echo "$RUN_DIR/$1.pid"; }

# Marker that must appear in the command line of a process we started.
marker() {
    case "$1" in
        kafka) echo "kafka.Kafka" ;;
        elasticsearch) echo "EmbeddedElasticsearch" ;;
    esac
}

# Prints the pid if the service started by this script is alive.
running_pid() {
    local svc="$1" pf pid
    pf="$(pid_file "$svc")"
    [[ -s "$pf" ]] || return 1
    pid="$(cat "$pf")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$(marker "$svc")" || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$BIND_HOST/$1") 2>/dev/null; }

svc_port() {
    case "$1" in
        kafka) echo "$KAFKA_PORT" ;;
        elasticsearch) echo "$ES_PORT" ;;
    esac
}

# Starts "$@" fully detached (own session, no stdin, output to $out); writes the pid file.
spawn() {
    local svc="$1" out="$2" workdir="$3"
    shift 3
    mkdir -p "$RUN_DIR"
    local pf
    pf="$(pid_file "$svc")"
    rm -f "$pf"
    # bash -c writes its own pid and execs java, so the pid file holds the JVM's pid
    # whether or not setsid had to fork.
    (
        exec 9>&- # do not hand the `up` lock fd to the daemon
        cd "$workdir"
        exec setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pf" "$@" </dev/null >>"$out" 2>&1
    ) &
    local i
    for i in $(seq 1 50); do
        [[ -s "$pf" ]] && return 0
        sleep 0.1
    done
    die "$svc: could not start (no pid file $pf)"
}

stop_service() {
    local svc="$1" pid i
    if ! pid="$(running_pid "$svc")"; then
        log "$svc: not running"
        rm -f "$(pid_file "$svc")"
        return 0
    fi
    log "$svc: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 $((STOP_TIMEOUT * 5))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$(pid_file "$svc")"
            log "$svc: stopped"
            return 0
        fi
        sleep 0.2
    done
    log "$svc: still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$(pid_file "$svc")"
    log "$svc: killed"
}

show_logs() {
    local svc="$1" f
    for f in "$LOG_DIR/$svc.out" "$LOG_DIR/$svc"/*.log; do
        [[ -f "$f" ]] || continue
        printf '\n===== %s (last 40 lines) =====\n' "$f" >&2
        tail -n 40 "$f" >&2 || true
    done
}

# ---------------------------------------------------------------- downloads

need_tool() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found (need JDK 17+ and Maven)"; }

check_java() {
    need_tool "$JAVA"
    local v
    v="$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    [[ "${v%%.*}" =~ ^[0-9]+$ ]] && ((${v%%.*} >= 17)) || die "Java 17+ required ('$JAVA' is '${v:-unknown}')"
}

# mvn_fetch <pom> <dest-dir> [mvn args]: copies the runtime dependencies of <pom> into <dest-dir>/lib once.
mvn_fetch() {
    local pom="$1" dest="$2"
    shift 2
    [[ -f "$dest/.complete" ]] && return 0
    need_tool "$MVN"
    log "downloading jars for $(basename "$pom") into $dest (first run only)"
    rm -rf "$dest"
    mkdir -p "$dest"
    cp "$pom" "$dest/pom.xml"
    (cd "$dest" && "$MVN" -B -q -f pom.xml dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$dest/lib.tmp" "$@") >"$dest/mvn.log" 2>&1 || {
        cat "$dest/mvn.log" >&2
        die "maven download failed (log: $dest/mvn.log)"
    }
    mv "$dest/lib.tmp" "$dest/lib"
}

kafka_install() {
    local pom="$HERE/kafka-pom.xml"
    KAFKA_HOME="$SERVICES_DIR/kafka/$(sha_of "$pom")"
    mvn_fetch "$pom" "$KAFKA_HOME"
    touch "$KAFKA_HOME/.complete"
}

# The broker's Kafka version, as kafka-pom.xml pins it.
kafka_version() {
    sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/kafka-pom.xml" | head -n 1
}

# Kafka's command-line tools (org.apache.kafka:kafka-tools at the broker's version, with its
# dependencies) in their own cache dir: fetching them never touches a running broker.
kafka_tools_install() {
    local pom="$HERE/kafka-tools-pom.xml" version
    version="$(kafka_version)"
    [[ -n "$version" ]] || die "no <kafka.version> in $HERE/kafka-pom.xml"
    KAFKA_TOOLS_HOME="$SERVICES_DIR/kafka-tools/$(sha_of "$pom" "$HERE/kafka-pom.xml")"
    [[ -f "$KAFKA_TOOLS_HOME/.complete" ]] && return 0
    mvn_fetch "$pom" "$KAFKA_TOOLS_HOME" -Dkafka.version="$version"
    [[ -f "$KAFKA_TOOLS_HOME/lib/kafka-tools-$version.jar" ]] ||
        die "kafka-tools-$version.jar missing from $KAFKA_TOOLS_HOME/lib"
    cat >"$KAFKA_TOOLS_HOME/log4j2.properties" <<EOF
# the tools print their results on stdout; their own logging: warnings and errors, on stderr
status = error
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = err
EOF
    touch "$KAFKA_TOOLS_HOME/.complete"
}

# S3Proxy (org.gaul:s3proxy, its self-contained jar) for the archive.s3 tests (tests/support/s3proxy.py).
s3proxy_install() {
    local dest="$SERVICES_DIR/s3proxy/$S3PROXY_VERSION"
    S3PROXY_JAR="$dest/s3proxy-$S3PROXY_VERSION-jar-with-dependencies.jar"
    [[ -f "$dest/.complete" ]] && return 0
    need_tool "$MVN"
    log "downloading S3Proxy $S3PROXY_VERSION into $dest (first run only)"
    rm -rf "$dest"
    mkdir -p "$dest"
    "$MVN" -B -q dependency:copy -Dartifact="org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies" \
        -DoutputDirectory="$dest" >"$dest/mvn.log" 2>&1 || {
        cat "$dest/mvn.log" >&2
        die "maven download failed (log: $dest/mvn.log)"
    }
    [[ -f "$S3PROXY_JAR" ]] || die "$(basename "$S3PROXY_JAR") missing from $dest"
    touch "$dest/.complete"
}

# NAME -> main class of Kafka's tool (bin/kafka-NAME.sh of the Kafka distribution) and whether
# it takes --bootstrap-server. kafka.admin.ConfigCommand lives in the broker jar.
kafka_tool_class() {
    case "$1" in
        topics) echo "org.apache.kafka.tools.TopicCommand bootstrap" ;;
        consumer-groups) echo "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand bootstrap" ;;
        share-groups) echo "org.apache.kafka.tools.consumer.group.ShareGroupCommand bootstrap" ;;
        groups) echo "org.apache.kafka.tools.GroupsCommand bootstrap" ;;
        console-consumer) echo "org.apache.kafka.tools.consumer.ConsoleConsumer bootstrap" ;;
        console-producer) echo "org.apache.kafka.tools.ConsoleProducer bootstrap" ;;
        get-offsets) echo "org.apache.kafka.tools.GetOffsetShell bootstrap" ;;
        delete-records) echo "org.apache.kafka.tools.DeleteRecordsCommand bootstrap" ;;
        configs) echo "kafka.admin.ConfigCommand bootstrap" ;;
        log-dirs) echo "org.apache.kafka.tools.LogDirsCommand bootstrap" ;;
        broker-api-versions) echo "org.apache.kafka.tools.BrokerApiVersionsCommand bootstrap" ;;
        metadata-quorum) echo "org.apache.kafka.tools.MetadataQuorumCommand bootstrap" ;;
        features) echo "org.apache.kafka.tools.FeatureCommand bootstrap" ;;
        transactions) echo "org.apache.kafka.tools.TransactionsCommand bootstrap" ;;
        leader-election) echo "org.apache.kafka.tools.LeaderElectionCommand bootstrap" ;;
        reassign-partitions) echo "org.apache.kafka.tools.reassign.ReassignPartitionsCommand bootstrap" ;;
        acls) echo "org.apache.kafka.tools.AclCommand bootstrap" ;;
        producer-perf-test) echo "org.apache.kafka.tools.ProducerPerformance -" ;;
        consumer-perf-test) echo "org.apache.kafka.tools.ConsumerPerformance bootstrap" ;;
        dump-log) echo "org.apache.kafka.tools.DumpLogSegments -" ;;
        *) return 1 ;;
    esac
}
KAFKA_TOOLS=(topics consumer-groups share-groups groups console-consumer console-producer get-offsets
    delete-records configs log-dirs broker-api-versions metadata-quorum features transactions
    leader-election reassign-partitions acls producer-perf-test consumer-perf-test dump-log)

# kafka-tool NAME [ARGS...]: NAME is a tool above (kafka-NAME.sh works too) or a main class.
# --bootstrap-server 127.0.0.1:$KAFKA_PORT is added unless ARGS name a server or a controller.
cmd_kafka_tool() {
    local name="${1:-}" spec cls bootstrap a
    [[ -n "$name" ]] || die "usage: services.sh kafka-tool NAME [ARGS...] (names: services.sh kafka-tool list)"
    shift
    if [[ "$name" == list ]]; then
        for a in "${KAFKA_TOOLS[@]}"; do
            spec="$(kafka_tool_class "$a")"
            printf '%-20s %s\n' "$a" "${spec% *}"
        done
        return 0
    fi
    name="${name#kafka-}"
    name="${name%.sh}"
    if spec="$(kafka_tool_class "$name")"; then
        cls="${spec% *}"
        bootstrap="${spec##* }"
    elif [[ "$name" == *.* ]]; then
        cls="$name"
        bootstrap=-
    else
        die "unknown Kafka tool '$name' (services.sh kafka-tool list names them; a main class works too)"
    fi
    if [[ "$bootstrap" == bootstrap ]]; then
        for a in "$@"; do
            case "$a" in
                --bootstrap-server | --bootstrap-server=* | --bootstrap-controller | --bootstrap-controller=* | \
                    --broker-list | --broker-list=* | --help | -h | --version) bootstrap=- ;;
            esac
        done
    fi
    check_java
    if [[ ! -f "$SERVICES_DIR/kafka/$(sha_of "$HERE/kafka-pom.xml")/.complete" ||
        ! -f "$SERVICES_DIR/kafka-tools/$(sha_of "$HERE/kafka-tools-pom.xml" "$HERE/kafka-pom.xml")/.complete" ]]; then
        take_lock # first use: download, one at a time
        kafka_install
        kafka_tools_install
        exec 9>&-
    fi
    kafka_install
    kafka_tools_install
    local args=("$@")
    [[ "$bootstrap" == bootstrap ]] && args=(--bootstrap-server "$BIND_HOST:$KAFKA_PORT" "$@")
    exec "$JAVA" -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$KAFKA_TOOLS_HOME/log4j2.properties" \
        -cp "$KAFKA_TOOLS_HOME/lib/*:$KAFKA_HOME/lib/*" "$cls" "${args[@]+"${args[@]}"}"
}

es_install() {
    local pom="$HERE/elasticsearch-pom.xml"
    ES_HOME="$SERVICES_DIR/elasticsearch/$(sha_of "$pom")"
    if [[ ! -f "$ES_HOME/.complete" ]]; then
        mvn_fetch "$pom" "$ES_HOME"
        local jar version mod="$ES_HOME/modules/transport-netty4"
        jar="$(ls "$ES_HOME"/lib/elasticsearch-[0-9]*.jar)"
        version="$(basename "$jar" .jar)"
        version="${version#elasticsearch-}"
        # The netty transport is loaded as an ES module from path.home/modules; its jars
        # must not also be on the server class path (ES's jar hell check).
        mkdir -p "$mod" "$ES_HOME/plugins"
        mv "$ES_HOME"/lib/transport-netty4-*.jar "$ES_HOME"/lib/netty-*.jar "$mod/"
        cat >"$mod/plugin-descriptor.properties" <<EOF
name=transport-netty4
description=Netty 4 based transport implementation
version=$version
elasticsearch.version=$version
java.version=17
classname=org.elasticsearch.transport.netty4.Netty4Plugin
EOF
        echo "$version" >"$ES_HOME/VERSION"
        touch "$ES_HOME/.complete"
    fi
    ES_VERSION="$(cat "$ES_HOME/VERSION")"

    # Launcher + root-endpoint module, compiled from deploy/local/*.java (cached by source hash).
    local src_sha
    src_sha="$(sha_of "$HERE/EmbeddedElasticsearch.java" "$HERE/NewsflowRootPlugin.java")"
    ES_LAUNCHER_DIR="$ES_HOME/launcher-$src_sha"
    if [[ ! -f "$ES_LAUNCHER_DIR/.complete" ]]; then
        need_tool "$JAVAC"
        need_tool "$JAR"
        log "compiling the Elasticsearch launcher"
        rm -rf "$ES_HOME"/launcher-* "$ES_HOME/modules/newsflow-root"
        mkdir -p "$ES_LAUNCHER_DIR/classes" "$ES_LAUNCHER_DIR/plugin-classes"
        "$JAVAC" -nowarn -d "$ES_LAUNCHER_DIR/classes" -cp "$ES_HOME/lib/*" "$HERE/EmbeddedElasticsearch.java"
        "$JAVAC" -nowarn -d "$ES_LAUNCHER_DIR/plugin-classes" \
            -cp "$ES_HOME/lib/*:$ES_HOME/modules/transport-netty4/*" "$HERE/NewsflowRootPlugin.java"
        local rootmod="$ES_HOME/modules/newsflow-root"
        mkdir -p "$rootmod"
        "$JAR" cf "$rootmod/newsflow-root.jar" -C "$ES_LAUNCHER_DIR/plugin-classes" .
        cat >"$rootmod/plugin-descriptor.properties" <<EOF
name=newsflow-root
description=GET / and HEAD / (stand-in for the rest-root module)
version=$ES_VERSION
elasticsearch.version=$ES_VERSION
java.version=17
classname=NewsflowRootPlugin
EOF
        touch "$ES_LAUNCHER_DIR/.complete"
    fi
}

# ---------------------------------------------------------------- kafka

kafka_ready() {
    if python3 -c 'import kafka' 2>/dev/null; then
        timeout 20 python3 - "$BIND_HOST:$KAFKA_PORT" <<'EOF' >/dev/null 2>&1
import sys
from kafka.admin import KafkaAdminClient
c = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=5000)
try:
    c.list_topics()
finally:
    c.close()
EOF
    else
        # No kafka-python here: the broker logs this once it serves requests.
        port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$LOG_DIR/kafka/server.log" 2>/dev/null
    fi
}

kafka_start() {
    kafka_install
    local data="$DATA_DIR/kafka" conf="$DATA_DIR/kafka/config" logs="$LOG_DIR/kafka"
    mkdir -p "$data/log-dirs" "$conf" "$logs"

    cat >"$conf/server.properties" <<EOF
# generated by deploy/local/services.sh on every start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$BIND_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$BIND_HOST:$KAFKA_PORT,CONTROLLER://$BIND_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$BIND_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data/log-dirs
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=4
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
    if [[ -n "$KAFKA_BROKER_SESSION_TIMEOUT_MS" ]]; then
        printf 'broker.session.timeout.ms=%d\nbroker.heartbeat.interval.ms=%d\n' \
            "$KAFKA_BROKER_SESSION_TIMEOUT_MS" "$((KAFKA_BROKER_SESSION_TIMEOUT_MS / 6))" >>"$conf/server.properties"
    fi

    cat >"$conf/log4j2.properties" <<EOF
status = warn
name = newsflow-kafka
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $logs/server.log
appender.file.filePattern = $logs/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
EOF

    local cp="$KAFKA_HOME/lib/*"
    local jvm=($KAFKA_HEAP_OPTS -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$conf/log4j2.properties" -Dkafka.logs.dir="$logs")

    if [[ ! -f "$data/log-dirs/meta.properties" ]]; then
        local cluster_id
        # Never starting with "-" (as Kafka's own Uuid.randomUuid): the tool would read it as an option.
        cluster_id="$(python3 -c 'import base64,uuid
while (i := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(i)')"
        log "kafka: formatting storage (cluster id $cluster_id)"
        "$JAVA" "${jvm[@]}" -cp "$cp" kafka.tools.StorageTool format \
            -t "$cluster_id" -c "$conf/server.properties" --ignore-formatted >>"$logs/format.log" 2>&1 || {
            cat "$logs/format.log" >&2
            die "kafka: storage format failed"
        }
    fi

    spawn kafka "$LOG_DIR/kafka.out" "$data" "$JAVA" "${jvm[@]}" -cp "$cp" kafka.Kafka "$conf/server.properties"
}

# ---------------------------------------------------------------- elasticsearch

es_ready() {
    local url="http://$BIND_HOST:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=5s"
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -m 10 "$url" 2>/dev/null | grep -q '"status":"\(yellow\|green\)"'
    else
        python3 -c 'import sys,urllib.request;b=urllib.request.urlopen(sys.argv[1],timeout=10).read().decode();sys.exit(0 if "\"status\":\"yellow\"" in b or "\"status\":\"green\"" in b else 1)' "$url" 2>/dev/null
    fi
}

es_start() {
    es_install
    local data="$DATA_DIR/elasticsearch" conf="$DATA_DIR/elasticsearch/config" logs="$LOG_DIR/elasticsearch"
    mkdir -p "$data/data" "$data/tmp" "$conf" "$logs"

    cat >"$conf/elasticsearch.yml" <<EOF
# generated by deploy/local/services.sh on every start
cluster.name: newsflow-local
node.name: newsflow-local
discovery.type: single-node
network.host: $BIND_HOST
http.port: $ES_PORT
transport.port: $ES_TRANSPORT_PORT
path.data: $data/data
path.logs: $logs
cluster.routing.allocation.disk.threshold_enabled: false
# serial GC + small heap: the real-memory circuit breaker would trip on uncollected garbage
indices.breaker.total.use_real_memory: false
# dev/test node: allow DELETE of wildcard index patterns
action.destructive_requires_name: false
EOF

    cat >"$conf/log4j2.properties" <<'EOF'
status = error
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = ${sys:es.logs.base_path}${sys:file.separator}${sys:es.logs.cluster_name}.log
appender.file.filePattern = ${sys:es.logs.base_path}${sys:file.separator}${sys:es.logs.cluster_name}.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.file.ref = file

# deprecation warnings go to their own file and to the HTTP "Warning" response header, like a real node
appender.deprecation.type = File
appender.deprecation.name = deprecation
appender.deprecation.fileName = ${sys:es.logs.base_path}${sys:file.separator}${sys:es.logs.cluster_name}_deprecation.log
appender.deprecation.layout.type = PatternLayout
appender.deprecation.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
appender.header_warning.type = HeaderWarningAppender
appender.header_warning.name = header_warning
logger.deprecation.name = org.elasticsearch.deprecation
logger.deprecation.level = WARN
logger.deprecation.appenderRef.deprecation.ref = deprecation
logger.deprecation.appenderRef.header_warning.ref = header_warning
logger.deprecation.additivity = false
EOF

    local jvm=($ES_HEAP_OPTS -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -XX:-OmitStackTraceInFastThrow -Dfile.encoding=UTF-8
        -Djava.io.tmpdir="$data/tmp" -Djna.tmpdir="$data/tmp" -Djna.nosys=true
        -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true -Dio.netty.recycler.maxCapacityPerThread=0
        -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true -Dlog4j2.formatMsgNoLookups=true
        -Des.networkaddress.cache.ttl=60 -Des.networkaddress.cache.negative.ttl=10)

    spawn elasticsearch "$LOG_DIR/elasticsearch.out" "$data" "$JAVA" "${jvm[@]}" \
        -cp "$ES_LAUNCHER_DIR/classes:$ES_HOME/lib/*" EmbeddedElasticsearch "$ES_HOME" "$conf"
}

# ---------------------------------------------------------------- commands

wait_ready() {
    local svc="$1" start="$2" deadline pid
    deadline=$((start + READY_TIMEOUT))
    while true; do
        if ! pid="$(running_pid "$svc")"; then
            log "$svc: process exited during start-up"
            show_logs "$svc"
            return 1
        fi
        if "${svc/elasticsearch/es}_ready"; then
            log "$svc: ready on $BIND_HOST:$(svc_port "$svc") (pid $pid, $(($(date +%s) - start))s)"
            return 0
        fi
        if (($(date +%s) >= deadline)); then
            log "$svc: not ready after ${READY_TIMEOUT}s"
            show_logs "$svc"
            stop_service "$svc"
            return 1
        fi
        sleep 1
    done
}

cmd_up() {
    local fresh="$1"
    shift
    local svc pid started=() rc=0
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    for svc in "$@"; do
        if [[ "$fresh" == 1 ]]; then
            stop_service "$svc"
            log "$svc: --fresh: wiping $DATA_DIR/$svc and its logs"
            rm -rf "${DATA_DIR:?}/$svc" "${LOG_DIR:?}/$svc" "$LOG_DIR/$svc.out"
        fi
        if pid="$(running_pid "$svc")"; then
            log "$svc: already running (pid $pid) on $BIND_HOST:$(svc_port "$svc")"
            continue
        fi
        rm -f "$(pid_file "$svc")"
        if port_open "$(svc_port "$svc")"; then
            if "${svc/elasticsearch/es}_ready"; then
                log "$svc: $BIND_HOST:$(svc_port "$svc") is served by a process not started by this script; using it as is"
                continue
            fi
            log "$svc: port $BIND_HOST:$(svc_port "$svc") is in use by another process; set $([[ $svc == kafka ]] && echo KAFKA_PORT || echo ES_PORT) to use another port"
            rc=1
            continue
        fi
        local t0
        t0=$(date +%s)
        # (Kafka's tools are fetched below, after the JVMs were started.)
        ((${#started[@]})) || check_java
        log "$svc: starting"
        "${svc/elasticsearch/es}_start"
        started+=("$svc:$t0")
    done
    # Kafka's command-line tools (`kafka-tool`): downloaded on the first `up` of kafka, cached
    # like the broker's jars, while the JVMs start; a running broker is left as it is.
    if [[ " $* " == *" kafka "* ]]; then
        (kafka_tools_install) || { log "kafka: the command-line tools could not be fetched"; rc=1; }
    fi
    local item
    for item in "${started[@]+"${started[@]}"}"; do
        wait_ready "${item%%:*}" "${item##*:}" || rc=1
    done
    return $rc
}

cmd_status() {
    local svc pid rc=0
    for svc in "$@"; do
        if pid="$(running_pid "$svc")"; then
            if "${svc/elasticsearch/es}_ready"; then
                echo "$svc: up (pid $pid, $BIND_HOST:$(svc_port "$svc"))"
            else
                echo "$svc: starting/unhealthy (pid $pid, $BIND_HOST:$(svc_port "$svc"))"
                rc=3
            fi
        elif port_open "$(svc_port "$svc")"; then
            echo "$svc: down (not started by this script, but $BIND_HOST:$(svc_port "$svc") is in use)"
            rc=3
        else
            echo "$svc: down"
            rc=3
        fi
    done
    return $rc
}

# One `up`/`restart` at a time per cache dir (fd 9 is closed in the daemons, see spawn).
take_lock() {
    mkdir -p "$SERVICES_DIR"
    exec 9>"$SERVICES_DIR/.lock"
    if command -v flock >/dev/null 2>&1; then
        flock -w 900 9 || die "another services.sh up is still running (lock $SERVICES_DIR/.lock)"
    fi
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

main() {
    local cmd="${1:-}"
    [[ -n "$cmd" ]] || { usage; exit 2; }
    shift
    case "$cmd" in
        kafka-tool | kafka-tools)
            cmd_kafka_tool "$@"
            return
            ;;
        fetch-tools)
            take_lock
            kafka_install
            kafka_tools_install
            log "kafka tools: $KAFKA_TOOLS_HOME (kafka-tools $(kafka_version))"
            return
            ;;
        s3proxy-jar)
            [[ -f "$SERVICES_DIR/s3proxy/$S3PROXY_VERSION/.complete" ]] || take_lock
            s3proxy_install
            echo "$S3PROXY_JAR"
            return
            ;;
    esac
    local fresh="${FRESH:-0}" services=() a
    for a in "$@"; do
        case "$a" in
            --fresh) fresh=1 ;;
            kafka) services+=(kafka) ;;
            elasticsearch | es) services+=(elasticsearch) ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown argument '$a' (services: kafka, elasticsearch)" ;;
        esac
    done
    [[ "$fresh" == 1 || "$fresh" == true || "$fresh" == yes ]] && fresh=1 || fresh=0
    ((${#services[@]})) || services=("${ALL_SERVICES[@]}")

    case "$cmd" in
        up | start)
            take_lock
            cmd_up "$fresh" "${services[@]}"
            ;;
        down | stop)
            local svc
            for svc in "${services[@]}"; do stop_service "$svc"; done
            ;;
        restart)
            take_lock
            local svc
            for svc in "${services[@]}"; do stop_service "$svc"; done
            cmd_up "$fresh" "${services[@]}"
            ;;
        status) cmd_status "${services[@]}" ;;
        logs)
            local svc
            for svc in "${services[@]}"; do show_logs "$svc"; done 2>&1
            ;;
        -h | --help | help) usage ;;
        *) usage; exit 2 ;;
    esac
}

main "$@"
