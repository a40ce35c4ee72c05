"""Lattice's built-in template provisioners: development-grade data services, like score-k8s's.

Each is one StatefulSet (one replica, a 1Gi ReadWriteOnce claim deleted with it, a pinned
image, non-root, no capabilities, no service account token) behind a ClusterIP Service named
``${name}``, plus, where there are credentials, a Secret ``${name}`` generated once by External
Secrets. No backups, no high availability, no tuning: they are for development and tests, and
the status of a service using one says so. A platform team serves production with Provisioner
objects (a ``class`` selects one). Differences from score-k8s: names and users are fixed and
readable instead of random (``app``), and every instance is private to its resource (score-k8s
shares one MinIO and one Kafka per project); a Kafka topic is created on first use
(``auto.create.topics.enable``), an S3 bucket by a ``mc`` sidecar in the MinIO pod.

The images are pinned to tags; nothing here pulls or runs them (the control plane in the tests has
no kubelet), so their behaviour is as documented by each image.
"""

from __future__ import annotations

from typing import Any

from crds import parse_as
from crds.provisioner import ProvisionerSpec

SELECTOR = "app.kubernetes.io/name"
DATA = "data"


def _secret_env(var: str, key: str) -> dict[str, Any]:
    return {"name": var, "valueFrom": {"secretKeyRef": {"name": "${name}", "key": key}}}


def _env(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": k, "value": v} for k, v in values.items()]


def _statefulset(image: str, ports: dict[str, int], uid: int, data_path: str, *, env: list[dict[str, Any]],
                 probe: list[str] | None = None, command: list[str] | None = None,
                 extra_mounts: list[dict[str, Any]] = (), volumes: list[dict[str, Any]] = (),  # type: ignore[assignment]
                 sidecars: list[dict[str, Any]] = (), memory: str = "256Mi") -> dict[str, Any]:  # type: ignore[assignment]
    main: dict[str, Any] = {"name": "main", "image": image}
    if command:
        main["command"] = command
    main.update({
        "ports": [{"name": n, "containerPort": p} for n, p in ports.items()],
        "env": env,
        "resources": {"requests": {"cpu": "100m", "memory": memory}, "limits": {"memory": memory}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": DATA, "mountPath": data_path}, *extra_mounts],
    })
    if probe:
        main["readinessProbe"] = {"exec": {"command": probe}, "periodSeconds": 10, "timeoutSeconds": 5}
    pod: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [main, *sidecars],
    }
    if volumes:
        pod["volumes"] = list(volumes)
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "${name}", "labels": {SELECTOR: "${name}"}},
        "spec": {
            "serviceName": "${name}", "replicas": 1,
            "selector": {"matchLabels": {SELECTOR: "${name}"}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
            "template": {"metadata": {"labels": {SELECTOR: "${name}"}}, "spec": pod},
            "volumeClaimTemplates": [{"metadata": {"name": DATA}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "${params.storage}"}}}}],
        },
    }


def _service(ports: dict[str, int]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "${name}", "labels": {SELECTOR: "${name}"}},
        "spec": {"type": "ClusterIP", "selector": {SELECTOR: "${name}"},
                 "ports": [{"name": n, "port": p, "targetPort": p, "protocol": "TCP"} for n, p in ports.items()]},
    }


_STORAGE = {"storage": {"description": "Size of the data volume.", "default": "1Gi"}}
_DATABASE = {"database": {"description": "Name of the database to create.", "default": "app"}}


def _spec(type_: str, description: str, *, params: dict[str, Any], outputs: dict[str, Any],
          manifests: list[dict[str, Any]], secret: dict[str, Any] | None) -> ProvisionerSpec:
    raw: dict[str, Any] = {"type": type_, "description": f"development-grade {description}",
                           "params": {**_STORAGE, **params}, "outputs": outputs, "manifests": manifests}
    if secret is not None:
        raw["secret"] = secret
    spec, errors = parse_as(ProvisionerSpec, raw)
    assert spec is not None and not errors, errors
    return spec


def _postgres(type_: str, with_database: bool) -> ProvisionerSpec:
    db = "${params.database}" if with_database else "app"
    ports = {"postgres": 5432}
    sts = _statefulset(
        "postgres:17.6-alpine", ports, 70, "/var/lib/postgresql/data",
        env=[*_env({"POSTGRES_USER": "app", "POSTGRES_DB": db, "PGDATA": "/var/lib/postgresql/data/pgdata"}),
             _secret_env("POSTGRES_PASSWORD", "password")],
        probe=["pg_isready", "-U", "app", "-d", db])
    outputs: dict[str, Any] = {"host": "${name}", "port": 5432, "username": "app", "password": "${secret.password}"}
    if with_database:
        outputs.update({"name": db, "database": db})
    return _spec(type_, "PostgreSQL 17 (one replica)", params=_DATABASE if with_database else {},
                 outputs=outputs, manifests=[sts, _service(ports)], secret={"keys": ["password"]})


def _redis() -> ProvisionerSpec:
    ports = {"redis": 6379}
    conf = {"name": "config", "secret": {"secretName": "${name}", "items": [{"key": "redis.conf",
                                                                            "path": "redis.conf"}]}}
    sts = _statefulset("redis:7.4-alpine", ports, 999, "/data", env=[],
                       command=["redis-server", "/usr/local/etc/redis/redis.conf"],
                       probe=["sh", "-c", 'redis-cli -a "$(sed -n "s/^requirepass //p" '
                                          '/usr/local/etc/redis/redis.conf)" --no-auth-warning ping'],
                       extra_mounts=[{"name": "config", "mountPath": "/usr/local/etc/redis", "readOnly": True}],
                       volumes=[conf])
    return _spec("redis", "Redis 7 (one replica, append-only off, snapshot every minute)", params={},
                 outputs={"host": "${name}", "port": 6379, "username": "default", "password": "${secret.password}"},
                 manifests=[sts, _service(ports)],
                 secret={"keys": ["password"],
                         "template": {"redis.conf": "requirepass {{ .password }}\nsave 60 1\ndir /data\n"}})


def _mysql() -> ProvisionerSpec:
    ports = {"mysql": 3306}
    sts = _statefulset("mysql:8.4", ports, 999, "/var/lib/mysql",
                       env=[*_env({"MYSQL_DATABASE": "${params.database}", "MYSQL_USER": "app"}),
                            _secret_env("MYSQL_PASSWORD", "password"),
                            _secret_env("MYSQL_ROOT_PASSWORD", "root-password")],
                       probe=["mysqladmin", "ping", "-h", "127.0.0.1"], memory="512Mi")
    return _spec("mysql", "MySQL 8.4 (one replica)", params=_DATABASE,
                 outputs={"host": "${name}", "port": 3306, "name": "${params.database}",
                          "database": "${params.database}", "username": "app", "password": "${secret.password}"},
                 manifests=[sts, _service(ports)], secret={"keys": ["password", "root-password"]})


def _mongodb() -> ProvisionerSpec:
    ports = {"mongodb": 27017}
    sts = _statefulset("mongo:8.0", ports, 999, "/data/db",
                       env=[*_env({"MONGO_INITDB_ROOT_USERNAME": "app"}),
                            _secret_env("MONGO_INITDB_ROOT_PASSWORD", "password")],
                       probe=["mongosh", "--quiet", "--eval", "db.adminCommand('ping')"], memory="512Mi")
    return _spec("mongodb", "MongoDB 8 (one replica)", params={},
                 outputs={"host": "${name}", "port": 27017, "username": "app", "password": "${secret.password}",
                          "connection": "mongodb://app:${secret.password}@${name}:27017/"},
                 manifests=[sts, _service(ports)], secret={"keys": ["password"]})


def _amqp() -> ProvisionerSpec:
    ports = {"amqp": 5672, "management": 15672}
    sts = _statefulset("rabbitmq:3.13-management-alpine", ports, 100, "/var/lib/rabbitmq",
                       env=[*_env({"RABBITMQ_DEFAULT_USER": "app", "RABBITMQ_DEFAULT_VHOST": "${params.vhost}"}),
                            _secret_env("RABBITMQ_DEFAULT_PASS", "password")],
                       probe=["rabbitmq-diagnostics", "-q", "check_port_connectivity"], memory="512Mi")
    return _spec("amqp", "RabbitMQ 3.13 (one replica)",
                 params={"vhost": {"description": "The virtual host to create.", "default": "app"}},
                 outputs={"host": "${name}", "port": 5672, "vhost": "${params.vhost}", "username": "app",
                          "password": "${secret.password}"},
                 manifests=[sts, _service(ports)], secret={"keys": ["password"]})


def _mssql() -> ProvisionerSpec:
    ports = {"mssql": 1433}
    sts = _statefulset("mcr.microsoft.com/mssql/server:2022-CU16-ubuntu-22.04", ports, 10001, "/var/opt/mssql",
                       env=[*_env({"ACCEPT_EULA": "Y", "MSSQL_PID": "Developer"}),
                            _secret_env("MSSQL_SA_PASSWORD", "password")], memory="2Gi")
    return _spec("mssql", "SQL Server 2022 Developer edition (one replica)", params={},
                 outputs={"server": "${name}", "port": 1433, "database": "master", "username": "sa",
                          "password": "${secret.password}",
                          "connection": "Server=tcp:${name},1433;Initial Catalog=master;User ID=sa;"
                                        "Password=${secret.password}"},
                 manifests=[sts, _service(ports)], secret={"keys": ["password"]})


def _s3() -> ProvisionerSpec:
    ports = {"api": 9000}
    bucket = "${workload}-${resource.name}"
    creds = [*_env({"MINIO_ROOT_USER": "lattice-${guid}"}), _secret_env("MINIO_ROOT_PASSWORD", "secret-key")]
    make_bucket = {
        "name": "make-bucket", "image": "quay.io/minio/mc:RELEASE.2025-04-16T18-13-26Z",
        "command": ["sh", "-c", 'until mc alias set local http://127.0.0.1:9000 "$MINIO_ROOT_USER" '
                                f'"$MINIO_ROOT_PASSWORD"; do sleep 2; done; mc mb --ignore-existing local/{bucket} '
                                "&& exec sleep 2147483647"],
        "env": [*creds, *_env({"MC_CONFIG_DIR": "/tmp/mc"})],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    sts = _statefulset("quay.io/minio/minio:RELEASE.2025-04-22T22-12-26Z", ports, 1000, "/data", env=creds,
                       command=["minio", "server", "/data"], sidecars=[make_bucket],
                       volumes=[{"name": "tmp", "emptyDir": {}}])
    endpoint = "http://${name}:9000"
    return _spec("s3", "MinIO S3 storage with one bucket (one replica)", params={},
                 outputs={"bucket": bucket, "endpoint": endpoint, "region": "us-east-1",
                          "access_key_id": "lattice-${guid}", "secret_key": "${secret.secret-key}",
                          "aws_access_key_id": "lattice-${guid}", "aws_secret_key": "${secret.secret-key}"},
                 manifests=[sts, _service(ports)], secret={"keys": ["secret-key"]})


def _kafka_topic() -> ProvisionerSpec:
    ports = {"kafka": 9092}
    env = _env({
        "KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://127.0.0.1:9093",
        "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://${name}:9092",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@127.0.0.1:9093", "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1", "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
        "KAFKA_NUM_PARTITIONS": "3",
    })
    sts = _statefulset("apache/kafka:3.9.1", ports, 1000, "/var/lib/kafka/data", env=env, memory="1Gi")
    return _spec("kafka-topic", "Kafka 3.9 broker (KRaft, one node; the topic is created on first use with 3 "
                                "partitions)", params={},
                 outputs={"host": "${name}", "port": 9092, "name": "${workload}-${resource.name}",
                          "num_partitions": 3},
                 manifests=[sts, _service(ports)], secret=None)


def _elasticsearch() -> ProvisionerSpec:
    ports = {"http": 9200}
    env = [*_env({"discovery.type": "single-node", "xpack.security.enabled": "true",
                  "xpack.security.http.ssl.enabled": "false", "ES_JAVA_OPTS": "-Xms512m -Xmx512m"}),
           _secret_env("ELASTIC_PASSWORD", "password")]
    sts = _statefulset("docker.elastic.co/elasticsearch/elasticsearch:8.15.3", ports, 1000,
                       "/usr/share/elasticsearch/data", env=env, memory="1Gi")
    return _spec("elasticsearch", "Elasticsearch 8 (one node, HTTP without TLS)", params={},
                 outputs={"host": "${name}", "port": 9200, "username": "elastic", "password": "${secret.password}"},
                 manifests=[sts, _service(ports)], secret={"keys": ["password"]})


DEFAULTS: dict[str, ProvisionerSpec] = {
    s.type: s for s in (
        _postgres("postgres", True), _postgres("postgres-instance", False), _redis(), _mysql(), _mongodb(),
        _amqp(), _mssql(), _s3(), _kafka_topic(), _elasticsearch(),
    )
}
