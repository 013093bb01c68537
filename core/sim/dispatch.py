"""Command queues of a simulated device: program cache, trace capture / replay, events.

The simulator runs every op when it is called, so queue ordering is always satisfied; what this module keeps
is what the card checks and what a trace changes (tt_metal/distributed/mesh_command_queue*.cpp,
ttnn/cpp/ttnn/operations/trace.cpp, wording of the strings in ttnn 0.81.1's libtt_metal):

- A captured op is recorded, not run: "Captured commands will have their execution delayed until the trace is
  replayed" (tt_metal/api/tt-metalium/trace.hpp). Its output buffers are allocated at capture time and hold
  garbage (NaN here) until `execute_trace` replays the recorded steps on the same buffers, reading whatever
  the input buffers hold then (inputs are refreshed with `copy_host_to_device_tensor`).
- Only programs already in the program cache can be captured ("Warm up before capturing a trace").
- Host reads and writes are refused during capture.

This module knows nothing of tensors: ops hand it closures (`record`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from . import rules

# dispatch_core_manager::MAX_NUM_HW_CQS: "num_hw_cqs can be between 1 and {}"
MAX_NUM_HW_CQS = 2

_trace_ids = itertools.count(0)  # MeshTrace::next_id(): one counter for the process
_event_ids = itertools.count(1)


class MeshTraceId(int):
    """ttnn.MeshTraceId: the id `begin_trace_capture` returns (an int underneath)."""

    def __new__(cls, value: int, /) -> MeshTraceId:
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"MeshTraceId({int(self)})"


class QueueId(int):
    """ttnn.QueueId(n): a command-queue id; plain ints are accepted wherever one is."""

    def __new__(cls, value: int, /) -> QueueId:
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"QueueId({int(self)})"


class MeshEvent:
    """ttnn.MeshEvent: completion of everything enqueued on `cq_id` before `record_event` (made by
    record_event; the constructor is positional-only, ttnn has no public one)."""

    def __init__(self, device: Any, cq_id: int, event_id: int, sub_device_ids: tuple = (), /):
        self.device, self.cq_id, self.event_id, self.sub_device_ids = device, cq_id, event_id, sub_device_ids

    def __repr__(self) -> str:
        return f"MeshEvent(id={self.event_id}, cq_id={self.cq_id}, device={self.device!r})"


@dataclass
class Trace:
    trace_id: MeshTraceId
    cq_id: int
    steps: list[Callable[[], None]] = field(default_factory=list)
    complete: bool = False
    # ids of the per-chip value lists that captured ops write (their tensors may die; the lists live on here)
    produced: set[int] = field(default_factory=set)
    keep: list[Any] = field(default_factory=list)


class Dispatch:
    """Per device handle (a Device or a MeshDevice): queues, program cache, traces."""

    def __init__(self, owner: Any, num_command_queues: int = 1, trace_region_size: int = 0):
        if not 1 <= int(num_command_queues) <= MAX_NUM_HW_CQS:
            raise rules.fatal(f"num_hw_cqs can be between 1 and {MAX_NUM_HW_CQS}")
        self.owner = owner
        self.num_command_queues = int(num_command_queues)
        self.trace_region_size = int(trace_region_size or 0)
        self.program_cache: set[Hashable] = set()
        self.program_cache_enabled = True
        self.program_cache_misses_allowed = (
            True  # set_program_cache_misses_allowed(False): a miss is an error
        )
        self.capturing: Trace | None = None
        self.traces: dict[int, Trace] = {}
        self.events: list[MeshEvent] = []

    # -- command queues ----------------------------------------------------------------------------
    def queue(self, cq_id: Any) -> int:
        """The queue index for a `cq_id` / `queue_id` keyword (None: queue 0)."""
        cq = 0 if cq_id is None else int(cq_id)
        # mesh_device.cpp: TT_FATAL(actual_cq_id < command_queues_.size()) — a queue the device was not opened with
        rules.require(
            0 <= cq < self.num_command_queues,
            f"actual_cq_id < command_queues_.size(): command queue {cq} does not exist on {self.owner!r}, "
            f"opened with num_command_queues={self.num_command_queues}",
        )
        return cq

    # -- ops ---------------------------------------------------------------------------------------
    def before_op(self, key: Hashable) -> bool:
        """Called by every device op; returns True when the op is being captured (record it, do not run it)."""
        if self.capturing is None:
            if self.program_cache_enabled:
                rules.require(
                    self.program_cache_misses_allowed or key in self.program_cache,
                    "Program cache miss occurred, but program cache misses are not allowed on this device "
                    "(set_program_cache_misses_allowed(False)): this program is not yet in the program cache",
                )
                self.program_cache.add(key)
            return False
        rules.require(
            key in self.program_cache,
            "Cannot load new binaries during trace capture.This program is not yet in program cache. Warm up "
            "before capturing a trace.See the operation's hash signature for arguments that must match.",
        )
        return True

    def record(self, step: Callable[[], None], outputs: list[Any] = ()) -> None:
        """Append a captured op; `outputs` are the per-chip value lists it writes (kept alive by the trace)."""
        trace = self.capturing
        assert trace is not None
        trace.steps.append(step)
        trace.produced.update(id(v) for v in outputs)
        trace.keep.extend(outputs)

    def produced_by_trace(self, values: list[Any]) -> bool:
        return self.capturing is not None and id(values) in self.capturing.produced

    def require_no_capture(self, what: str) -> None:
        """Host transfers while capturing: "Writes are not supported during trace capture. trace id: {}" and
        "Reads are not supported during trace capture." (mesh_command_queue_base.cpp)."""
        if self.capturing is not None:
            suffix = f" trace id: {int(self.capturing.trace_id)}" if what == "Writes" else ""
            raise rules.fatal(f"{what} are not supported during trace capture.{suffix}")

    # -- traces ------------------------------------------------------------------------------------
    def begin(self, cq_id: Any) -> MeshTraceId:
        cq = self.queue(cq_id)
        rules.require(
            self.capturing is None,
            "!this->mesh_command_queues_[cq_id]->trace_id().has_value(): trace "
            f"{None if self.capturing is None else int(self.capturing.trace_id)} is still being captured",
        )
        trace = Trace(MeshTraceId(next(_trace_ids)), cq)
        self.capturing = trace
        return trace.trace_id

    def end(self, trace_id: Any, cq_id: Any) -> None:
        cq = self.queue(cq_id)
        trace = self.capturing
        rules.require(
            trace is not None and int(trace.trace_id) == int(trace_id) and trace.cq_id == cq,
            f"Trace instance {int(trace_id)} must exist on device {self.owner!r}'s active sub-device manager 0",
        )
        trace.complete = True
        self.traces[int(trace.trace_id)] = trace
        self.capturing = None

    def _get(self, trace_id: Any) -> Trace:
        trace = self.traces.get(int(trace_id))
        rules.require(
            trace is not None,
            f"Trace instance {int(trace_id)} must exist on device {self.owner!r}'s active sub-device manager 0",
        )
        return trace

    def execute(self, trace_id: Any, cq_id: Any) -> int:
        """Replay a trace's steps in order on the buffers they were captured on; returns the op count."""
        self.queue(cq_id)
        rules.require(self.capturing is None, "Cannot execute a trace during trace capture")
        trace = self._get(trace_id)
        for step in trace.steps:
            step()
        return len(trace.steps)

    def release(self, trace_id: Any) -> None:
        self._get(trace_id)
        del self.traces[int(trace_id)]

    # -- events ------------------------------------------------------------------------------------
    def record_event(self, cq_id: Any, sub_device_ids: Any = ()) -> MeshEvent:
        self.owner.check_sub_device_ids(sub_device_ids or ())
        event = MeshEvent(self.owner, self.queue(cq_id), next(_event_ids), tuple(sub_device_ids or ()))
        self.events.append(event)
        return event

    def wait_for_event(self, cq_id: Any, event: MeshEvent) -> None:
        self.queue(cq_id)
        rules.require(
            isinstance(event, MeshEvent), f"wait_for_event: expected a ttnn.MeshEvent, got {event!r}"
        )


def dispatch_of(device: Any) -> Dispatch:
    """The Dispatch of a device handle (every simulated Device / MeshDevice has one)."""
    return device.dispatch
