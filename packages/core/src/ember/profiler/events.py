"""What the profiler records: one ``FunctionEvent`` per op, backward node or named range, their
per-name averages, the table and the Chrome trace.

Times are wall-clock microseconds (floats), as PyTorch reports them. An event's self time is its
total time less the total time of the events directly inside it (on the same thread).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

#: the ``sort_by`` keys of ``EventList.table``, each an attribute of ``FunctionEventAvg``
SORT_KEYS = ("cpu_time_total", "self_cpu_time_total", "cpu_time", "self_cpu_time", "count")


class FunctionEvent:
    """One recorded interval: a forward op, a backward node, or a ``record_function`` range.

    Attributes:
        name: the op's registry name (``"mul"``), the backward node's (``"MulBackward0"``), or the
            range's name.
        kind: ``"op"``, ``"backward"`` or ``"user"`` (a ``record_function`` range).
        thread: the id of the thread that ran it.
        input_shapes: the inputs' shapes when ``record_shapes=True`` (ops only), else ``[]``.
        start_ns, end_ns: ``time.perf_counter_ns()`` at its start and end.
        cpu_parent: the event it ran inside (None at the top level); ``cpu_children`` the events
            directly inside it.
    """

    __slots__ = ("name", "kind", "thread", "input_shapes", "start_ns", "end_ns", "cpu_parent",
                 "cpu_children")

    def __init__(self, name: str, kind: str, thread: int, input_shapes: list,
                 cpu_parent: FunctionEvent | None) -> None:
        self.name = name
        self.kind = kind
        self.thread = thread
        self.input_shapes = input_shapes
        self.cpu_parent = cpu_parent
        self.cpu_children: list[FunctionEvent] = []
        self.start_ns = self.end_ns = 0

    @property
    def key(self) -> str:
        return self.name

    @property
    def cpu_time_total(self) -> float:
        return (self.end_ns - self.start_ns) / 1000

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - sum(child.cpu_time_total for child in self.cpu_children)

    def __repr__(self) -> str:
        return (f"<FunctionEvent name={self.name!r} kind={self.kind} "
                f"cpu_time_total={self.cpu_time_total:.3f}us shapes={self.input_shapes}>")


class FunctionEventAvg:
    """The events of one name (and input shapes, when grouped by them), added up."""

    def __init__(self, key: str, input_shapes: list) -> None:
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0

    def add(self, event: FunctionEvent) -> None:
        self.count += 1
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total

    @property
    def cpu_time(self) -> float:
        """The average total time of one call."""
        return self.cpu_time_total / self.count

    @property
    def self_cpu_time(self) -> float:
        """The average self time of one call."""
        return self.self_cpu_time_total / self.count

    def __repr__(self) -> str:
        return (f"<FunctionEventAvg key={self.key!r} count={self.count} "
                f"cpu_time_total={self.cpu_time_total:.3f}us "
                f"self_cpu_time_total={self.self_cpu_time_total:.3f}us>")


class EventList(list):
    """A list of events (``FunctionEvent`` or ``FunctionEventAvg``) with PyTorch's reports."""

    @property
    def self_cpu_time_total(self) -> float:
        return sum(event.self_cpu_time_total for event in self)

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """One ``FunctionEventAvg`` per event name (per name and input shapes when
        ``group_by_input_shape``), in order of first appearance."""
        groups: dict = {}
        for event in self:
            shapes = event.input_shapes if group_by_input_shape else []
            key = (event.name, repr(shapes))
            if key not in groups:
                groups[key] = FunctionEventAvg(event.name, shapes)
            groups[key].add(event)
        return EventList(groups.values())

    def table(self, sort_by: str | None = None, row_limit: int = 100,
              max_name_column_width: int = 55, header: str | None = None,
              top_level_events_only: bool = False) -> str:
        """The events as a text table, as ``torch.autograd.profiler_util.EventList.table``.

        Args:
            sort_by: one of ``SORT_KEYS`` (descending), or None to keep the list's order.
            row_limit: at most this many rows (all of them when negative).
            max_name_column_width: longer names are cut with ``...``.
            header: a line printed above the table.
            top_level_events_only: only events not inside another (for ``FunctionEvent``s).

        Raises:
            ValueError: for an unknown ``sort_by``.
        """
        events = list(self)
        if top_level_events_only:
            events = [e for e in events if getattr(e, "cpu_parent", None) is None]
        if sort_by is not None:
            if sort_by not in SORT_KEYS:
                raise ValueError(f"EventList.table: unknown sort_by {sort_by!r}; expected one of "
                                 f"{', '.join(SORT_KEYS)}")
            events.sort(key=lambda event: getattr(event, sort_by), reverse=True)
        if row_limit >= 0:
            events = events[:row_limit]
        return _format_table(events, self.self_cpu_time_total, max_name_column_width, header)

    def export_chrome_trace(self, path: str | os.PathLike) -> None:
        """Writes the events (``FunctionEvent``s) as a Chrome trace JSON file, which Perfetto
        (ui.perfetto.dev) and chrome://tracing open."""
        write_chrome_trace(self, path)


def _format_time(microseconds: float) -> str:
    if microseconds >= 1e6:
        return f"{microseconds / 1e6:.3f}s"
    if microseconds >= 1e3:
        return f"{microseconds / 1e3:.3f}ms"
    return f"{microseconds:.3f}us"


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole > 0 else "0.00%"


def _format_table(events: list, self_total: float, name_width: int, header: str | None) -> str:
    with_shapes = any(event.input_shapes for event in events)
    names = [_cut(event.key, name_width) for event in events]
    name_width = max([len("Name"), *map(len, names)])
    titles = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg", "# of Calls"]
    widths = [max(12, len(t)) for t in titles]
    rows = []
    for name, event in zip(names, events):
        cells = [_percent(event.self_cpu_time_total, self_total),
                 _format_time(event.self_cpu_time_total),
                 _percent(event.cpu_time_total, self_total), _format_time(event.cpu_time_total),
                 _format_time(event.cpu_time_total / max(getattr(event, "count", 1), 1)),
                 str(getattr(event, "count", 1))]
        line = "  ".join([name.ljust(name_width), *(c.rjust(w) for c, w in zip(cells, widths))])
        rows.append(line + (f"  {event.input_shapes}" if with_shapes else ""))
    title = "  ".join(["Name".ljust(name_width), *(t.rjust(w) for t, w in zip(titles, widths))])
    title += "  Input Shapes" if with_shapes else ""
    rule = "-" * len(title)
    lines = ([header] if header else []) + [rule, title, rule, *rows, rule,
                                            f"Self CPU time total: {_format_time(self_total)}"]
    return "\n".join(lines) + "\n"


def _cut(name: str, width: int) -> str:
    return name if len(name) <= width else name[:width - 3] + "..."


def write_chrome_trace(events: Iterable[FunctionEvent], path: str | os.PathLike) -> None:
    """The Chrome trace event format: one complete event (``"ph": "X"``) per interval, times in
    microseconds from the first event's start."""
    events = list(events)
    if events and not isinstance(events[0], FunctionEvent):
        raise TypeError("export_chrome_trace: needs the recorded events (prof.events()), not "
                        "their averages")
    origin = min((event.start_ns for event in events), default=0)
    pid = os.getpid()
    trace = []
    for event in sorted(events, key=lambda e: e.start_ns):
        record = {"name": event.name, "ph": "X", "cat": _CATEGORIES[event.kind], "pid": pid,
                  "tid": event.thread, "ts": (event.start_ns - origin) / 1000,
                  "dur": event.cpu_time_total}
        if event.input_shapes:
            record["args"] = {"Input Dims": event.input_shapes}
        trace.append(record)
    with open(path, "w", encoding="utf-8") as file:
        json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, file)


_CATEGORIES = {"op": "cpu_op", "backward": "cpu_op", "user": "user_annotation"}
