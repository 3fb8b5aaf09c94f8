"""The parts of Quix Streams aqistream uses, imported without the noise of its dependencies.

quixstreams imports confluent_kafka.schema_registry, whose authlib forces a deprecation
warning about its httpx module onto stderr at import, about code aqi-stream never runs.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings(record=True):
    from quixstreams import Application, State
    from quixstreams.dataframe.windows.aggregations import BaseAggregator
    from quixstreams.dataframe.windows.base import WindowKeyResult, WindowOnLateCallback
    from quixstreams.dataframe.windows.time_based import FixedTimeWindowMultiAggregation
    from quixstreams.error_callbacks import default_on_consumer_error
    from quixstreams.exceptions import QuixException
    from quixstreams.kafka import ConnectionConfig
    from quixstreams.models import TopicConfig
    from quixstreams.models.serializers import Deserializer, SerializationContext, Serializer
    from quixstreams.state import WindowedPartitionTransaction

__all__ = [
    "Application",
    "BaseAggregator",
    "ConnectionConfig",
    "Deserializer",
    "FixedTimeWindowMultiAggregation",
    "QuixException",
    "SerializationContext",
    "Serializer",
    "State",
    "TopicConfig",
    "WindowKeyResult",
    "WindowOnLateCallback",
    "WindowedPartitionTransaction",
    "default_on_consumer_error",
]
