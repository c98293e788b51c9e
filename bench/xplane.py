"""Reading TensorFlow profiler output (``*.xplane.pb``): the events on the inter-op threads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def compute_events(xplane: Path) -> Iterator[tuple[str, int]]:
    """``(event name, duration in picoseconds)`` of every event on the ``tf_Compute`` threads;
    an op's name is ``op_name:op_type``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(xplane.read_bytes())
    for plane in space.planes:
        names = plane.event_metadata
        for line in plane.lines:
            if line.name.startswith("tf_Compute"):
                for event in line.events:
                    yield names[event.metadata_id].name, event.duration_ps
