from t2ialign.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GenerateRequest(_message.Message):
    __slots__ = ("prompt", "num_images", "seed", "num_inference_steps", "guidance_scale", "best_of_n", "min_reward", "return_images", "round")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NUM_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    NUM_INFERENCE_STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    BEST_OF_N_FIELD_NUMBER: _ClassVar[int]
    MIN_REWARD_FIELD_NUMBER: _ClassVar[int]
    RETURN_IMAGES_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    num_images: int
    seed: int
    num_inference_steps: int
    guidance_scale: float
    best_of_n: int
    min_reward: float
    return_images: bool
    round: str
    def __init__(self, prompt: _Optional[str] = ..., num_images: _Optional[int] = ..., seed: _Optional[int] = ..., num_inference_steps: _Optional[int] = ..., guidance_scale: _Optional[float] = ..., best_of_n: _Optional[int] = ..., min_reward: _Optional[float] = ..., return_images: _Optional[bool] = ..., round: _Optional[str] = ...) -> None: ...

class GeneratedImage(_message.Message):
    __slots__ = ("image", "reward", "normalized_reward", "unet_version", "index")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_REWARD_FIELD_NUMBER: _ClassVar[int]
    UNET_VERSION_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    image: _common_pb2.ImageRef
    reward: float
    normalized_reward: float
    unet_version: str
    index: int
    def __init__(self, image: _Optional[_Union[_common_pb2.ImageRef, _Mapping]] = ..., reward: _Optional[float] = ..., normalized_reward: _Optional[float] = ..., unet_version: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("images", "unet_version", "reward_version", "num_generated", "seed")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    UNET_VERSION_FIELD_NUMBER: _ClassVar[int]
    REWARD_VERSION_FIELD_NUMBER: _ClassVar[int]
    NUM_GENERATED_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    images: _containers.RepeatedCompositeFieldContainer[GeneratedImage]
    unet_version: str
    reward_version: str
    num_generated: int
    seed: int
    def __init__(self, images: _Optional[_Iterable[_Union[GeneratedImage, _Mapping]]] = ..., unet_version: _Optional[str] = ..., reward_version: _Optional[str] = ..., num_generated: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class ModelInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfoResponse(_message.Message):
    __slots__ = ("backend", "unet", "resolution", "last_load_error", "replica_id")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    UNET_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    LAST_LOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    backend: str
    unet: _common_pb2.ModelVersion
    resolution: int
    last_load_error: str
    replica_id: str
    def __init__(self, backend: _Optional[str] = ..., unet: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., resolution: _Optional[int] = ..., last_load_error: _Optional[str] = ..., replica_id: _Optional[str] = ...) -> None: ...

class LoadUnetRequest(_message.Message):
    __slots__ = ("version", "prefix")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    version: str
    prefix: str
    def __init__(self, version: _Optional[str] = ..., prefix: _Optional[str] = ...) -> None: ...

class LoadUnetResponse(_message.Message):
    __slots__ = ("swapped", "serving", "previous", "error", "load_seconds", "replica_id")
    SWAPPED_FIELD_NUMBER: _ClassVar[int]
    SERVING_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LOAD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    swapped: bool
    serving: _common_pb2.ModelVersion
    previous: _common_pb2.ModelVersion
    error: str
    load_seconds: float
    replica_id: str
    def __init__(self, swapped: _Optional[bool] = ..., serving: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., previous: _Optional[_Union[_common_pb2.ModelVersion, _Mapping]] = ..., error: _Optional[str] = ..., load_seconds: _Optional[float] = ..., replica_id: _Optional[str] = ...) -> None: ...
