import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from t2ialign.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoundState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUND_STATE_UNSPECIFIED: _ClassVar[RoundState]
    ROUND_STATE_GENERATING: _ClassVar[RoundState]
    ROUND_STATE_LABELING: _ClassVar[RoundState]
    ROUND_STATE_TRAINING_REWARD: _ClassVar[RoundState]
    ROUND_STATE_FINETUNING: _ClassVar[RoundState]
    ROUND_STATE_EVALUATING: _ClassVar[RoundState]
    ROUND_STATE_READY: _ClassVar[RoundState]
    ROUND_STATE_PROMOTED: _ClassVar[RoundState]
    ROUND_STATE_REJECTED: _ClassVar[RoundState]
    ROUND_STATE_FAILED: _ClassVar[RoundState]
    ROUND_STATE_CANCELLED: _ClassVar[RoundState]
ROUND_STATE_UNSPECIFIED: RoundState
ROUND_STATE_GENERATING: RoundState
ROUND_STATE_LABELING: RoundState
ROUND_STATE_TRAINING_REWARD: RoundState
ROUND_STATE_FINETUNING: RoundState
ROUND_STATE_EVALUATING: RoundState
ROUND_STATE_READY: RoundState
ROUND_STATE_PROMOTED: RoundState
ROUND_STATE_REJECTED: RoundState
ROUND_STATE_FAILED: RoundState
ROUND_STATE_CANCELLED: RoundState

class Round(_message.Message):
    __slots__ = ("round_id", "state", "num_prompts", "num_generated", "num_labels", "labels_to_train", "unet_version", "candidate_reward", "candidate_unet", "job_ids", "metrics", "error", "created_at", "updated_at", "raters", "replicas")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    NUM_PROMPTS_FIELD_NUMBER: _ClassVar[int]
    NUM_GENERATED_FIELD_NUMBER: _ClassVar[int]
    NUM_LABELS_FIELD_NUMBER: _ClassVar[int]
    LABELS_TO_TRAIN_FIELD_NUMBER: _ClassVar[int]
    UNET_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_REWARD_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_UNET_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RATERS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    state: RoundState
    num_prompts: int
    num_generated: int
    num_labels: int
    labels_to_train: int
    unet_version: _common_pb2.ModelVersion
    candidate_reward: _common_pb2.ModelVersion
    candidate_unet: _common_pb2.ModelVersion
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    metrics: _containers.ScalarMap[str, float]
    error: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    raters: str
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaSwap]
    def __init__(self, round_id: _Optional[str] = ..., state: _Optional[_Union[RoundState, str]] = ..., num_prompts: _Optional[int] = ..., num_generated: _Optional[int] = ..., num_labels: _Optional[int] = ..., labels_to_train: _Optional[int] = ..., unet_version: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., candidate_reward: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., candidate_unet: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., job_ids: _Optional[_Iterable[str]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., error: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., raters: _Optional[str] = ..., replicas: _Optional[_Iterable[_Union[ReplicaSwap, _Mapping]]] = ...) -> None: ...

class Label(_message.Message):
    __slots__ = ("label_id", "image_key", "rating", "rater_id", "choice")
    LABEL_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGE_KEY_FIELD_NUMBER: _ClassVar[int]
    RATING_FIELD_NUMBER: _ClassVar[int]
    RATER_ID_FIELD_NUMBER: _ClassVar[int]
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    label_id: str
    image_key: str
    rating: float
    rater_id: str
    choice: str
    def __init__(self, label_id: _Optional[str] = ..., image_key: _Optional[str] = ..., rating: _Optional[float] = ..., rater_id: _Optional[str] = ..., choice: _Optional[str] = ...) -> None: ...

class ReplicaSwap(_message.Message):
    __slots__ = ("replica_id", "version", "error")
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    replica_id: str
    version: str
    error: str
    def __init__(self, replica_id: _Optional[str] = ..., version: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class StartRoundRequest(_message.Message):
    __slots__ = ("prompts", "num_images", "seed", "num_inference_steps", "guidance_scale", "labels_to_train", "auto_promote", "round_id", "raters")
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    NUM_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NUM_INFERENCE_STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    LABELS_TO_TRAIN_FIELD_NUMBER: _ClassVar[int]
    AUTO_PROMOTE_FIELD_NUMBER: _ClassVar[int]
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    RATERS_FIELD_NUMBER: _ClassVar[int]
    prompts: _containers.RepeatedScalarFieldContainer[str]
    num_images: int
    seed: int
    num_inference_steps: int
    guidance_scale: float
    labels_to_train: int
    auto_promote: bool
    round_id: str
    raters: str
    def __init__(self, prompts: _Optional[_Iterable[str]] = ..., num_images: _Optional[int] = ..., seed: _Optional[int] = ..., num_inference_steps: _Optional[int] = ..., guidance_scale: _Optional[float] = ..., labels_to_train: _Optional[int] = ..., auto_promote: _Optional[bool] = ..., round_id: _Optional[str] = ..., raters: _Optional[str] = ...) -> None: ...

class StartRoundResponse(_message.Message):
    __slots__ = ("round",)
    ROUND_FIELD_NUMBER: _ClassVar[int]
    round: Round
    def __init__(self, round: _Optional[_Union[Round, _Mapping]] = ...) -> None: ...

class SubmitFeedbackRequest(_message.Message):
    __slots__ = ("round_id", "labels")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    labels: _containers.RepeatedCompositeFieldContainer[Label]
    def __init__(self, round_id: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[Label, _Mapping]]] = ...) -> None: ...

class SubmitFeedbackResponse(_message.Message):
    __slots__ = ("num_accepted", "num_duplicates", "num_labels")
    NUM_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    NUM_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    NUM_LABELS_FIELD_NUMBER: _ClassVar[int]
    num_accepted: int
    num_duplicates: int
    num_labels: int
    def __init__(self, num_accepted: _Optional[int] = ..., num_duplicates: _Optional[int] = ..., num_labels: _Optional[int] = ...) -> None: ...

class GetRoundRequest(_message.Message):
    __slots__ = ("round_id",)
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    round_id: str
    def __init__(self, round_id: _Optional[str] = ...) -> None: ...

class GetRoundResponse(_message.Message):
    __slots__ = ("round",)
    ROUND_FIELD_NUMBER: _ClassVar[int]
    round: Round
    def __init__(self, round: _Optional[_Union[Round, _Mapping]] = ...) -> None: ...

class PromoteRequest(_message.Message):
    __slots__ = ("kind", "version", "skip_gate", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SKIP_GATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: _common_pb2.ModelKind
    version: str
    skip_gate: bool
    reason: str
    def __init__(self, kind: _Optional[_Union[_common_pb2.ModelKind, str]] = ..., version: _Optional[str] = ..., skip_gate: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class PromoteResponse(_message.Message):
    __slots__ = ("serving", "previous", "replicas")
    SERVING_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    serving: _common_pb2.ModelVersion
    previous: _common_pb2.ModelVersion
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaSwap]
    def __init__(self, serving: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., previous: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., replicas: _Optional[_Iterable[_Union[ReplicaSwap, _Mapping]]] = ...) -> None: ...

class RollbackRequest(_message.Message):
    __slots__ = ("kind", "version", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: _common_pb2.ModelKind
    version: str
    reason: str
    def __init__(self, kind: _Optional[_Union[_common_pb2.ModelKind, str]] = ..., version: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RollbackResponse(_message.Message):
    __slots__ = ("serving", "previous", "replicas")
    SERVING_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    serving: _common_pb2.ModelVersion
    previous: _common_pb2.ModelVersion
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaSwap]
    def __init__(self, serving: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., previous: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., replicas: _Optional[_Iterable[_Union[ReplicaSwap, _Mapping]]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("history_limit",)
    HISTORY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    history_limit: int
    def __init__(self, history_limit: _Optional[int] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("serving_unet", "serving_reward", "unet_history", "reward_history", "active_rounds")
    SERVING_UNET_FIELD_NUMBER: _ClassVar[int]
    SERVING_REWARD_FIELD_NUMBER: _ClassVar[int]
    UNET_HISTORY_FIELD_NUMBER: _ClassVar[int]
    REWARD_HISTORY_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    serving_unet: _common_pb2.ModelVersion
    serving_reward: _common_pb2.ModelVersion
    unet_history: _containers.RepeatedCompositeFieldContainer[_common_pb2.PointerEntry]
    reward_history: _containers.RepeatedCompositeFieldContainer[_common_pb2.PointerEntry]
    active_rounds: _containers.RepeatedCompositeFieldContainer[Round]
    def __init__(self, serving_unet: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., serving_reward: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., unet_history: _Optional[_Iterable[_Union[_common_pb2.PointerEntry, _Mapping]]] = ..., reward_history: _Optional[_Iterable[_Union[_common_pb2.PointerEntry, _Mapping]]] = ..., active_rounds: _Optional[_Iterable[_Union[Round, _Mapping]]] = ...) -> None: ...
