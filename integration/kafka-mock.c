/* One Kafka cluster (the source or the DR one) from librdkafka's mock cluster: a real Kafka-protocol
 * broker on 127.0.0.1 that any librdkafka client reaches over TCP. No Apache Kafka broker can be
 * installed on these machines, and the mock has no CreateTopics API, so this helper creates topics
 * itself. One process per cluster, so one side can be stopped (SIGSTOP) like a hung host.
 *
 *   kafka-mock STATE_DIR primary|dr
 * writes STATE_DIR/NAME.bootstrap, then serves commands, one per line, written to the FIFO
 * STATE_DIR/NAME.control; each answer ("ok" or "error: ...") goes to STATE_DIR/NAME.reply:
 *   create TOPIC PARTITIONS
 *   down        (the broker closes its connections and refuses new ones)
 *   up
 * It runs until killed (SIGTERM); everything lives in memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static rd_kafka_mock_cluster_t *start_cluster(const char *dir, const char *name, rd_kafka_t **handle) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) { fprintf(stderr, "kafka-mock: %s\n", errstr); exit(1); }
    rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, 1);
    if (!cluster) { fprintf(stderr, "kafka-mock: cannot start the %s cluster\n", name); exit(1); }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.bootstrap", dir, name);
    FILE *file = fopen(path, "w");
    if (!file) { perror(path); exit(1); }
    fprintf(file, "%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
    fclose(file);
    *handle = rk;
    return cluster;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: kafka-mock STATE_DIR primary|dr\n"); return 2; }
    const char *dir = argv[1], *name = argv[2];
    char control[4096], reply[4096];
    snprintf(control, sizeof(control), "%s/%s.control", dir, name);
    snprintf(reply, sizeof(reply), "%s/%s.reply", dir, name);
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *cluster = start_cluster(dir, name, &rk);
    printf("%s %s\n", name, rd_kafka_mock_cluster_bootstraps(cluster));
    fflush(stdout);

    /* Opened read-write so the FIFO never reports end-of-file between writers. */
    FILE *in = fopen(control, "r+");
    if (!in) { perror(control); return 1; }
    char line[1024];
    while (fgets(line, sizeof(line), in)) {
        char verb[32] = "", topic[512] = "";
        int partitions = 0;
        char answer[2048] = "ok";
        line[strcspn(line, "\n")] = 0;
        int fields = sscanf(line, "%31s %511s %d", verb, topic, &partitions);
        if (fields >= 1 && strcmp(verb, "create") == 0 && fields == 3 && partitions > 0) {
            rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, topic, partitions, 1);
            if (err) snprintf(answer, sizeof(answer), "error: %s", rd_kafka_err2str(err));
        } else if (fields == 1 && strcmp(verb, "down") == 0) {
            rd_kafka_mock_broker_set_down(cluster, 1);
        } else if (fields == 1 && strcmp(verb, "up") == 0) {
            rd_kafka_mock_broker_set_up(cluster, 1);
        } else {
            snprintf(answer, sizeof(answer), "error: expected 'create TOPIC PARTITIONS', 'down' or 'up', got: %s", line);
        }
        FILE *out = fopen(reply, "w");
        if (!out) { perror(reply); return 1; }
        fprintf(out, "%s\n", answer);
        fclose(out);
    }
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(rk);
    return 0;
}
