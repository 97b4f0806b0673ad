from t2ialign.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreRequest(_message.Message):
    __slots__ = ("prompts", "images")
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    prompts: _containers.RepeatedScalarFieldContainer[str]
    images: _containers.RepeatedCompositeFieldContainer[_common_pb2.ImageRef]
    def __init__(self, prompts: _Optional[_Iterable[str]] = ..., images: _Optional[_Iterable[_Union[_common_pb2.ImageRef, _Mapping]]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("scores", "normalized", "reward_version")
    SCORES_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_FIELD_NUMBER: _ClassVar[int]
    REWARD_VERSION_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedScalarFieldContainer[float]
    normalized: _containers.RepeatedScalarFieldContainer[float]
    reward_version: str
    def __init__(self, scores: _Optional[_Iterable[float]] = ..., normalized: _Optional[_Iterable[float]] = ..., reward_version: _Optional[str] = ...) -> None: ...

class RankRequest(_message.Message):
    __slots__ = ("prompt", "images", "k")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    images: _containers.RepeatedCompositeFieldContainer[_common_pb2.ImageRef]
    k: int
    def __init__(self, prompt: _Optional[str] = ..., images: _Optional[_Iterable[_Union[_common_pb2.ImageRef, _Mapping]]] = ..., k: _Optional[int] = ...) -> None: ...

class RankedImage(_message.Message):
    __slots__ = ("index", "score", "normalized", "key")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    index: int
    score: float
    normalized: float
    key: str
    def __init__(self, index: _Optional[int] = ..., score: _Optional[float] = ..., normalized: _Optional[float] = ..., key: _Optional[str] = ...) -> None: ...

class RankResponse(_message.Message):
    __slots__ = ("ranked", "reward_version")
    RANKED_FIELD_NUMBER: _ClassVar[int]
    REWARD_VERSION_FIELD_NUMBER: _ClassVar[int]
    ranked: _containers.RepeatedCompositeFieldContainer[RankedImage]
    reward_version: str
    def __init__(self, ranked: _Optional[_Iterable[_Union[RankedImage, _Mapping]]] = ..., reward_version: _Optional[str] = ...) -> None: ...
