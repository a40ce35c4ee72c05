# lattice_proto stamp: grpcio-tools=1.85.4 lattice_proto/agent.proto sha256=1a7c117eac0e21ba85d73316be3026ccc807aefb5fd3b7389029a100f20e9288
# mypy: ignore-errors
# ruff: noqa
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_STATE_UNKNOWN: _ClassVar[AgentState]
    AGENT_STATE_PROVISIONING: _ClassVar[AgentState]
    AGENT_STATE_PIVOTING: _ClassVar[AgentState]
    AGENT_STATE_READY: _ClassVar[AgentState]
    AGENT_STATE_DEGRADED: _ClassVar[AgentState]
    AGENT_STATE_FAILED: _ClassVar[AgentState]
AGENT_STATE_UNKNOWN: AgentState
AGENT_STATE_PROVISIONING: AgentState
AGENT_STATE_PIVOTING: AgentState
AGENT_STATE_READY: AgentState
AGENT_STATE_DEGRADED: AgentState
AGENT_STATE_FAILED: AgentState

class AgentMessage(_message.Message):
    __slots__ = ("cluster_name", "ready", "bootstrap_complete", "heartbeat", "subtree_state", "kubernetes_response", "move_ack", "move_complete_ack", "cluster_deleting", "exec_data", "certificate_renewal", "batch", "upgrade_credit")
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    SUBTREE_STATE_FIELD_NUMBER: _ClassVar[int]
    KUBERNETES_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    MOVE_ACK_FIELD_NUMBER: _ClassVar[int]
    MOVE_COMPLETE_ACK_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_DELETING_FIELD_NUMBER: _ClassVar[int]
    EXEC_DATA_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_RENEWAL_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_CREDIT_FIELD_NUMBER: _ClassVar[int]
    cluster_name: str
    ready: AgentReady
    bootstrap_complete: BootstrapComplete
    heartbeat: Heartbeat
    subtree_state: SubtreeState
    kubernetes_response: KubernetesResponse
    move_ack: MoveObjectAck
    move_complete_ack: MoveCompleteAck
    cluster_deleting: ClusterDeleting
    exec_data: ExecData
    certificate_renewal: CertificateRenewal
    batch: AgentMessageBatch
    upgrade_credit: StreamCredit
    def __init__(self, cluster_name: _Optional[str] = ..., ready: _Optional[_Union[AgentReady, _Mapping]] = ..., bootstrap_complete: _Optional[_Union[BootstrapComplete, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., subtree_state: _Optional[_Union[SubtreeState, _Mapping]] = ..., kubernetes_response: _Optional[_Union[KubernetesResponse, _Mapping]] = ..., move_ack: _Optional[_Union[MoveObjectAck, _Mapping]] = ..., move_complete_ack: _Optional[_Union[MoveCompleteAck, _Mapping]] = ..., cluster_deleting: _Optional[_Union[ClusterDeleting, _Mapping]] = ..., exec_data: _Optional[_Union[ExecData, _Mapping]] = ..., certificate_renewal: _Optional[_Union[CertificateRenewal, _Mapping]] = ..., batch: _Optional[_Union[AgentMessageBatch, _Mapping]] = ..., upgrade_credit: _Optional[_Union[StreamCredit, _Mapping]] = ...) -> None: ...

class CellCommand(_message.Message):
    __slots__ = ("command_id", "welcome", "kubernetes_request", "request_body", "credit", "cancel", "move_batch", "move_complete", "exec_request", "exec_stdin", "exec_resize", "certificate_issued", "sync_resources", "batch", "upgrade_data", "unpivot_imported")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    KUBERNETES_REQUEST_FIELD_NUMBER: _ClassVar[int]
    REQUEST_BODY_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    MOVE_BATCH_FIELD_NUMBER: _ClassVar[int]
    MOVE_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    EXEC_REQUEST_FIELD_NUMBER: _ClassVar[int]
    EXEC_STDIN_FIELD_NUMBER: _ClassVar[int]
    EXEC_RESIZE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_ISSUED_FIELD_NUMBER: _ClassVar[int]
    SYNC_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_DATA_FIELD_NUMBER: _ClassVar[int]
    UNPIVOT_IMPORTED_FIELD_NUMBER: _ClassVar[int]
    command_id: int
    welcome: Welcome
    kubernetes_request: KubernetesRequest
    request_body: RequestBody
    credit: StreamCredit
    cancel: CancelRequest
    move_batch: MoveObjectBatch
    move_complete: MoveComplete
    exec_request: ExecRequest
    exec_stdin: ExecData
    exec_resize: ExecResize
    certificate_issued: CertificateIssued
    sync_resources: SyncResources
    batch: CellCommandBatch
    upgrade_data: UpgradeData
    unpivot_imported: UnpivotImported
    def __init__(self, command_id: _Optional[int] = ..., welcome: _Optional[_Union[Welcome, _Mapping]] = ..., kubernetes_request: _Optional[_Union[KubernetesRequest, _Mapping]] = ..., request_body: _Optional[_Union[RequestBody, _Mapping]] = ..., credit: _Optional[_Union[StreamCredit, _Mapping]] = ..., cancel: _Optional[_Union[CancelRequest, _Mapping]] = ..., move_batch: _Optional[_Union[MoveObjectBatch, _Mapping]] = ..., move_complete: _Optional[_Union[MoveComplete, _Mapping]] = ..., exec_request: _Optional[_Union[ExecRequest, _Mapping]] = ..., exec_stdin: _Optional[_Union[ExecData, _Mapping]] = ..., exec_resize: _Optional[_Union[ExecResize, _Mapping]] = ..., certificate_issued: _Optional[_Union[CertificateIssued, _Mapping]] = ..., sync_resources: _Optional[_Union[SyncResources, _Mapping]] = ..., batch: _Optional[_Union[CellCommandBatch, _Mapping]] = ..., upgrade_data: _Optional[_Union[UpgradeData, _Mapping]] = ..., unpivot_imported: _Optional[_Union[UnpivotImported, _Mapping]] = ...) -> None: ...

class AgentMessageBatch(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[AgentMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[AgentMessage, _Mapping]]] = ...) -> None: ...

class CellCommandBatch(_message.Message):
    __slots__ = ("commands",)
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedCompositeFieldContainer[CellCommand]
    def __init__(self, commands: _Optional[_Iterable[_Union[CellCommand, _Mapping]]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("cell_cluster", "agent_cluster", "protocol_version", "ca_bundle_pem", "heartbeat_interval_seconds", "ancestors")
    CELL_CLUSTER_FIELD_NUMBER: _ClassVar[int]
    AGENT_CLUSTER_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CA_BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ANCESTORS_FIELD_NUMBER: _ClassVar[int]
    cell_cluster: str
    agent_cluster: str
    protocol_version: int
    ca_bundle_pem: bytes
    heartbeat_interval_seconds: int
    ancestors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cell_cluster: _Optional[str] = ..., agent_cluster: _Optional[str] = ..., protocol_version: _Optional[int] = ..., ca_bundle_pem: _Optional[bytes] = ..., heartbeat_interval_seconds: _Optional[int] = ..., ancestors: _Optional[_Iterable[str]] = ...) -> None: ...

class AgentReady(_message.Message):
    __slots__ = ("agent_version", "kubernetes_version", "state", "api_server_endpoint", "protocol_version")
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    KUBERNETES_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    API_SERVER_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    agent_version: str
    kubernetes_version: str
    state: AgentState
    api_server_endpoint: str
    protocol_version: int
    def __init__(self, agent_version: _Optional[str] = ..., kubernetes_version: _Optional[str] = ..., state: _Optional[_Union[AgentState, str]] = ..., api_server_endpoint: _Optional[str] = ..., protocol_version: _Optional[int] = ...) -> None: ...

class BootstrapComplete(_message.Message):
    __slots__ = ("cluster_name", "capi_ready", "installed_providers")
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    CAPI_READY_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    cluster_name: str
    capi_ready: bool
    installed_providers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cluster_name: _Optional[str] = ..., capi_ready: _Optional[bool] = ..., installed_providers: _Optional[_Iterable[str]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("state", "unix_millis", "uptime_seconds", "active_requests")
    STATE_FIELD_NUMBER: _ClassVar[int]
    UNIX_MILLIS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    state: AgentState
    unix_millis: int
    uptime_seconds: int
    active_requests: int
    def __init__(self, state: _Optional[_Union[AgentState, str]] = ..., unix_millis: _Optional[int] = ..., uptime_seconds: _Optional[int] = ..., active_requests: _Optional[int] = ...) -> None: ...

class SubtreeState(_message.Message):
    __slots__ = ("full", "clusters")
    FULL_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    full: bool
    clusters: _containers.RepeatedCompositeFieldContainer[SubtreeCluster]
    def __init__(self, full: _Optional[bool] = ..., clusters: _Optional[_Iterable[_Union[SubtreeCluster, _Mapping]]] = ...) -> None: ...

class SubtreeCluster(_message.Message):
    __slots__ = ("name", "parent", "phase", "labels", "removed", "connected", "pivoted")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    PIVOTED_FIELD_NUMBER: _ClassVar[int]
    name: str
    parent: str
    phase: str
    labels: _containers.ScalarMap[str, str]
    removed: bool
    connected: bool
    pivoted: bool
    def __init__(self, name: _Optional[str] = ..., parent: _Optional[str] = ..., phase: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., removed: _Optional[bool] = ..., connected: _Optional[bool] = ..., pivoted: _Optional[bool] = ...) -> None: ...

class CertificateRenewal(_message.Message):
    __slots__ = ("csr_pem",)
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    csr_pem: bytes
    def __init__(self, csr_pem: _Optional[bytes] = ...) -> None: ...

class CertificateIssued(_message.Message):
    __slots__ = ("certificate_pem", "ca_bundle_pem", "error")
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    CA_BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    certificate_pem: bytes
    ca_bundle_pem: bytes
    error: str
    def __init__(self, certificate_pem: _Optional[bytes] = ..., ca_bundle_pem: _Optional[bytes] = ..., error: _Optional[str] = ...) -> None: ...

class Header(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class KubernetesRequest(_message.Message):
    __slots__ = ("request_id", "target_cluster", "method", "path", "query", "headers", "body", "more_body", "user", "groups", "timeout_ms", "window_bytes", "streaming", "uid", "extra", "upgrade")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ExtraValues
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ExtraValues, _Mapping]] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_CLUSTER_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    MORE_BODY_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_BYTES_FIELD_NUMBER: _ClassVar[int]
    STREAMING_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    UPGRADE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    target_cluster: str
    method: str
    path: str
    query: str
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    body: bytes
    more_body: bool
    user: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    timeout_ms: int
    window_bytes: int
    streaming: bool
    uid: str
    extra: _containers.MessageMap[str, ExtraValues]
    upgrade: str
    def __init__(self, request_id: _Optional[int] = ..., target_cluster: _Optional[str] = ..., method: _Optional[str] = ..., path: _Optional[str] = ..., query: _Optional[str] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., body: _Optional[bytes] = ..., more_body: _Optional[bool] = ..., user: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ..., timeout_ms: _Optional[int] = ..., window_bytes: _Optional[int] = ..., streaming: _Optional[bool] = ..., uid: _Optional[str] = ..., extra: _Optional[_Mapping[str, ExtraValues]] = ..., upgrade: _Optional[str] = ...) -> None: ...

class ExtraValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class UpgradeData(_message.Message):
    __slots__ = ("request_id", "data", "end")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    data: bytes
    end: bool
    def __init__(self, request_id: _Optional[int] = ..., data: _Optional[bytes] = ..., end: _Optional[bool] = ...) -> None: ...

class RequestBody(_message.Message):
    __slots__ = ("request_id", "data", "end")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    data: bytes
    end: bool
    def __init__(self, request_id: _Optional[int] = ..., data: _Optional[bytes] = ..., end: _Optional[bool] = ...) -> None: ...

class StreamCredit(_message.Message):
    __slots__ = ("request_id", "bytes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    bytes: int
    def __init__(self, request_id: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("request_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    reason: str
    def __init__(self, request_id: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class KubernetesResponse(_message.Message):
    __slots__ = ("request_id", "status_code", "headers", "body", "end", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    status_code: int
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    body: bytes
    end: bool
    error: str
    def __init__(self, request_id: _Optional[int] = ..., status_code: _Optional[int] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., body: _Optional[bytes] = ..., end: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class SourceOwnerRef(_message.Message):
    __slots__ = ("source_uid", "api_version", "kind", "name", "controller", "block_owner_deletion")
    SOURCE_UID_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_FIELD_NUMBER: _ClassVar[int]
    BLOCK_OWNER_DELETION_FIELD_NUMBER: _ClassVar[int]
    source_uid: str
    api_version: str
    kind: str
    name: str
    controller: bool
    block_owner_deletion: bool
    def __init__(self, source_uid: _Optional[str] = ..., api_version: _Optional[str] = ..., kind: _Optional[str] = ..., name: _Optional[str] = ..., controller: _Optional[bool] = ..., block_owner_deletion: _Optional[bool] = ...) -> None: ...

class MoveObject(_message.Message):
    __slots__ = ("source_uid", "manifest", "owners")
    SOURCE_UID_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    source_uid: str
    manifest: bytes
    owners: _containers.RepeatedCompositeFieldContainer[SourceOwnerRef]
    def __init__(self, source_uid: _Optional[str] = ..., manifest: _Optional[bytes] = ..., owners: _Optional[_Iterable[_Union[SourceOwnerRef, _Mapping]]] = ...) -> None: ...

class MoveObjectBatch(_message.Message):
    __slots__ = ("move_id", "batch_index", "total_batches", "objects", "target_namespace", "cluster_name")
    MOVE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_INDEX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BATCHES_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    TARGET_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    move_id: str
    batch_index: int
    total_batches: int
    objects: _containers.RepeatedCompositeFieldContainer[MoveObject]
    target_namespace: str
    cluster_name: str
    def __init__(self, move_id: _Optional[str] = ..., batch_index: _Optional[int] = ..., total_batches: _Optional[int] = ..., objects: _Optional[_Iterable[_Union[MoveObject, _Mapping]]] = ..., target_namespace: _Optional[str] = ..., cluster_name: _Optional[str] = ...) -> None: ...

class UidMapping(_message.Message):
    __slots__ = ("source_uid", "target_uid")
    SOURCE_UID_FIELD_NUMBER: _ClassVar[int]
    TARGET_UID_FIELD_NUMBER: _ClassVar[int]
    source_uid: str
    target_uid: str
    def __init__(self, source_uid: _Optional[str] = ..., target_uid: _Optional[str] = ...) -> None: ...

class MoveObjectError(_message.Message):
    __slots__ = ("source_uid", "message", "retryable")
    SOURCE_UID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    source_uid: str
    message: str
    retryable: bool
    def __init__(self, source_uid: _Optional[str] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class MoveObjectAck(_message.Message):
    __slots__ = ("request_id", "mappings", "errors")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    mappings: _containers.RepeatedCompositeFieldContainer[UidMapping]
    errors: _containers.RepeatedCompositeFieldContainer[MoveObjectError]
    def __init__(self, request_id: _Optional[int] = ..., mappings: _Optional[_Iterable[_Union[UidMapping, _Mapping]]] = ..., errors: _Optional[_Iterable[_Union[MoveObjectError, _Mapping]]] = ...) -> None: ...

class DistributableResources(_message.Message):
    __slots__ = ("cloud_providers", "secrets_providers", "secrets", "cedar_policies", "oidc_providers")
    CLOUD_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    SECRETS_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    CEDAR_POLICIES_FIELD_NUMBER: _ClassVar[int]
    OIDC_PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    cloud_providers: _containers.RepeatedScalarFieldContainer[bytes]
    secrets_providers: _containers.RepeatedScalarFieldContainer[bytes]
    secrets: _containers.RepeatedScalarFieldContainer[bytes]
    cedar_policies: _containers.RepeatedScalarFieldContainer[bytes]
    oidc_providers: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, cloud_providers: _Optional[_Iterable[bytes]] = ..., secrets_providers: _Optional[_Iterable[bytes]] = ..., secrets: _Optional[_Iterable[bytes]] = ..., cedar_policies: _Optional[_Iterable[bytes]] = ..., oidc_providers: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SyncResources(_message.Message):
    __slots__ = ("resources", "full_sync")
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    FULL_SYNC_FIELD_NUMBER: _ClassVar[int]
    resources: DistributableResources
    full_sync: bool
    def __init__(self, resources: _Optional[_Union[DistributableResources, _Mapping]] = ..., full_sync: _Optional[bool] = ...) -> None: ...

class MoveComplete(_message.Message):
    __slots__ = ("move_id", "cluster_name", "target_namespace", "resources", "manifests")
    MOVE_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    TARGET_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    MANIFESTS_FIELD_NUMBER: _ClassVar[int]
    move_id: str
    cluster_name: str
    target_namespace: str
    resources: DistributableResources
    manifests: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, move_id: _Optional[str] = ..., cluster_name: _Optional[str] = ..., target_namespace: _Optional[str] = ..., resources: _Optional[_Union[DistributableResources, _Mapping]] = ..., manifests: _Optional[_Iterable[bytes]] = ...) -> None: ...

class MoveCompleteAck(_message.Message):
    __slots__ = ("request_id", "success", "error", "resources_created")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_CREATED_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    success: bool
    error: str
    resources_created: int
    def __init__(self, request_id: _Optional[int] = ..., success: _Optional[bool] = ..., error: _Optional[str] = ..., resources_created: _Optional[int] = ...) -> None: ...

class ClusterDeleting(_message.Message):
    __slots__ = ("cluster_name", "namespace", "objects")
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    cluster_name: str
    namespace: str
    objects: _containers.RepeatedCompositeFieldContainer[MoveObject]
    def __init__(self, cluster_name: _Optional[str] = ..., namespace: _Optional[str] = ..., objects: _Optional[_Iterable[_Union[MoveObject, _Mapping]]] = ...) -> None: ...

class UnpivotImported(_message.Message):
    __slots__ = ("cluster_name", "success", "error")
    CLUSTER_NAME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    cluster_name: str
    success: bool
    error: str
    def __init__(self, cluster_name: _Optional[str] = ..., success: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class ExecRequest(_message.Message):
    __slots__ = ("request_id", "target_cluster", "path", "query", "headers", "user", "groups")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_CLUSTER_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    target_cluster: str
    path: str
    query: str
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    user: str
    groups: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[int] = ..., target_cluster: _Optional[str] = ..., path: _Optional[str] = ..., query: _Optional[str] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., user: _Optional[str] = ..., groups: _Optional[_Iterable[str]] = ...) -> None: ...

class ExecData(_message.Message):
    __slots__ = ("request_id", "stream_id", "data", "stream_end")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    STREAM_END_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    stream_id: int
    data: bytes
    stream_end: bool
    def __init__(self, request_id: _Optional[int] = ..., stream_id: _Optional[int] = ..., data: _Optional[bytes] = ..., stream_end: _Optional[bool] = ...) -> None: ...

class ExecResize(_message.Message):
    __slots__ = ("request_id", "width", "height")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    width: int
    height: int
    def __init__(self, request_id: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...
