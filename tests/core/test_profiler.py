"""ember.profiler: every op and backward node recorded once, ranges nest, reports and traces."""

import json
import threading
import time

import numpy as np
import pytest

import ember
from ember.autograd import function as fn_state
from ember.profiler import (
    ProfilerAction,
    ProfilerActivity,
    profile,
    record_function,
    schedule,
    tensorboard_trace_handler,
)
from ember.profiler.recorder import backward_name


def _counts(prof):
    return {avg.key: avg.count for avg in prof.key_averages()}


def test_records_each_forward_op_and_backward_node_once(device):
    x = ember.randn(4, 3, device=device, requires_grad=True)
    w = ember.randn(4, 3, device=device, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        loss = (x * w).tanh().sum()
        loss.backward()
    assert _counts(prof) == {"mul": 1, "tanh": 1, "sum": 1, "SumBackward0": 1,
                             "TanhBackward0": 1, "MulBackward0": 1}
    kinds = {event.name: event.kind for event in prof.events()}
    assert kinds["mul"] == "op" and kinds["MulBackward0"] == "backward"
    # Profiling changes no result.
    expected = (1 - np.tanh(x.detach().cpu().numpy() * w.detach().cpu().numpy()) ** 2)
    np.testing.assert_allclose(x.grad.cpu().numpy(), expected * w.detach().cpu().numpy(),
                               rtol=1e-5)


def test_ops_inside_a_differentiable_backward_nest_in_their_node():
    x = ember.randn(3, requires_grad=True)
    with profile() as prof:
        (grad,) = ember.autograd.grad(x.exp().sum(), x, create_graph=True)
    node = next(e for e in prof.events() if e.name == "ExpBackward0")
    assert node.cpu_children and all(child.kind == "op" for child in node.cpu_children)
    np.testing.assert_allclose(grad.detach().numpy(), np.exp(x.detach().numpy()), rtol=1e-6)


def test_backward_names_follow_pytorch():
    assert backward_name("mul") == "MulBackward0"
    assert backward_name("log_softmax") == "LogSoftmaxBackward0"
    assert backward_name("MyFunction") == "MyFunctionBackward0"


def test_nested_ranges_split_self_and_total_time():
    with profile() as prof:
        with record_function("outer"):
            time.sleep(0.02)
            with record_function("inner"):
                time.sleep(0.03)
                ember.ones(2).neg()
    events = {event.name: event for event in prof.events()}
    outer, inner, neg = events["outer"], events["inner"], events["neg"]
    assert inner.cpu_parent is outer and neg.cpu_parent is inner
    assert outer.self_cpu_time_total == pytest.approx(
        outer.cpu_time_total - inner.cpu_time_total)
    assert inner.self_cpu_time_total == pytest.approx(inner.cpu_time_total - neg.cpu_time_total)
    assert 0.018e6 < outer.self_cpu_time_total < outer.cpu_time_total
    assert inner.cpu_time_total >= 0.028e6
    assert [e.name for e in prof.events()] == ["outer", "inner", "neg"]  # by start


def test_record_function_as_decorator_and_without_a_profiler():
    @record_function("step")
    def step(x):
        return x.exp()

    step(ember.ones(2))  # no profiler: nothing to record, no error
    with profile() as prof:
        step(ember.ones(2))
        step(ember.ones(2))
    assert _counts(prof) == {"step": 2, "exp": 2}


def test_record_shapes_and_grouping_by_shape():
    with profile(record_shapes=True) as prof:
        ember.ones(2, 3) * ember.ones(2, 3)
        ember.ones(4) * ember.ones(4)
    shapes = [event.input_shapes for event in prof.events() if event.name == "mul"]
    assert shapes == [[[2, 3], [2, 3]], [[4], [4]]]
    assert [avg.count for avg in prof.key_averages() if avg.key == "mul"] == [2]
    grouped = [a.input_shapes for a in prof.key_averages(group_by_input_shape=True)
               if a.key == "mul"]
    assert grouped == shapes
    with profile() as prof:
        ember.ones(2) * ember.ones(2)
    assert prof.events()[0].input_shapes == []


def test_table_sorts_limits_and_totals():
    with profile() as prof:
        with record_function("slow"):
            time.sleep(0.01)
        for _ in range(3):
            ember.ones(2).neg()
    averages = prof.key_averages()
    table = averages.table(sort_by="self_cpu_time_total", row_limit=1)
    lines = table.splitlines()
    assert "Self CPU %" in lines[1] and "# of Calls" in lines[1]
    assert lines[3].startswith("slow") and len(lines) == 6  # rule, title, rule, 1 row, rule, total
    assert lines[-1].startswith("Self CPU time total: ")
    by_count = averages.table(sort_by="count").splitlines()
    assert by_count[3].split()[0] == "neg" and by_count[3].split()[-1] == "3"
    total = sum(event.self_cpu_time_total for event in prof.events())
    assert averages.self_cpu_time_total == pytest.approx(total)
    with pytest.raises(ValueError, match="unknown sort_by 'gpu'"):
        averages.table(sort_by="gpu")


def test_chrome_trace_holds_every_event(tmp_path):
    x = ember.ones(3, requires_grad=True)
    with profile(record_shapes=True) as prof:
        with record_function("forward"):
            y = x.exp().sum()
        y.backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    trace = json.loads(path.read_text())["traceEvents"]
    assert [e["name"] for e in trace] == ["forward", "exp", "sum", "SumBackward0", "ExpBackward0"]
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in trace)
    outer, exp = trace[0], trace[1]
    assert outer["cat"] == "user_annotation" and exp["cat"] == "cpu_op"
    assert outer["ts"] <= exp["ts"] and exp["ts"] + exp["dur"] <= outer["ts"] + outer["dur"]
    assert exp["args"] == {"Input Dims": [[3]]}
    with pytest.raises(TypeError, match="not their averages"):
        prof.key_averages().export_chrome_trace(tmp_path / "averages.json")


def test_schedule_steps_follow_pytorch():
    actions = [schedule(wait=1, warmup=1, active=2, repeat=2, skip_first=1)(step)
               for step in range(11)]
    n, w, r, s = (ProfilerAction.NONE, ProfilerAction.WARMUP, ProfilerAction.RECORD,
                  ProfilerAction.RECORD_AND_SAVE)
    assert actions == [n, n, w, r, s, n, w, r, s, n, n]
    with pytest.raises(ValueError, match="active > 0"):
        schedule(wait=0, warmup=0, active=0)


def test_a_scheduled_loop_records_only_active_steps_and_hooks_nothing_while_waiting():
    cycles, hooked = [], []

    def ready(prof):
        cycles.append(sorted(a.key for a in prof.key_averages()))

    with profile(schedule=schedule(wait=1, warmup=1, active=2), on_trace_ready=ready) as prof:
        for step in range(8):
            hooked.append(fn_state._observer is not None)
            with record_function(f"work{step}"):
                ember.ones(2).neg()
            prof.step()
    assert hooked == [False, True, True, True] * 2
    assert cycles == [["ProfilerStep#2", "ProfilerStep#3", "neg", "work2", "work3"],
                      ["ProfilerStep#6", "ProfilerStep#7", "neg", "work6", "work7"]]
    step_range = next(e for e in prof.events() if e.name == "ProfilerStep#6")
    assert [child.name for child in step_range.cpu_children] == ["work6"]
    assert fn_state._observer is None


def test_stopping_mid_cycle_delivers_it_and_unhooks():
    delivered = []
    with profile(schedule=schedule(wait=0, warmup=0, active=5),
                 on_trace_ready=lambda p: delivered.append(len(p.events()))):
        ember.ones(1).neg()
    assert delivered == [2]  # ProfilerStep#0 and neg
    assert fn_state._observer is None


def test_every_thread_is_recorded():
    def work():
        ember.ones(2).exp()

    with profile() as prof:
        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
        ember.ones(2).neg()
    threads = {event.name: event.thread for event in prof.events()}
    assert threads["neg"] == threading.get_ident() and threads["exp"] == worker.ident


def test_trace_handler_writes_one_file_per_cycle(tmp_path):
    handler = tensorboard_trace_handler(tmp_path / "traces", worker_name="w0")
    with profile(schedule=schedule(wait=0, warmup=0, active=1), on_trace_ready=handler) as prof:
        for _ in range(2):
            ember.ones(1).neg()
            prof.step()
    files = sorted((tmp_path / "traces").iterdir())
    # As in PyTorch, the step begun by the last step() is a cycle too, delivered at the end.
    assert len(files) == 3 and all(f.name.startswith("w0.") for f in files)
    assert all(f.name.endswith(".pt.trace.json") for f in files)
    names = {e["name"] for e in json.loads(files[0].read_text())["traceEvents"]}
    assert names == {"ProfilerStep#0", "neg"}
    assert {e["name"] for e in json.loads(files[2].read_text())["traceEvents"]} == {
        "ProfilerStep#2"}


def test_misuse_is_a_clear_error():
    with pytest.raises(ValueError, match="does not record with_stack"):
        profile(with_stack=True)
    with pytest.raises(TypeError, match="ProfilerActivity values"):
        profile(activities=["cpu"])
    with profile(), pytest.raises(RuntimeError, match="already running"):
        profile().start()
    prof = profile()
    with pytest.raises(RuntimeError, match="no results yet"):
        prof.key_averages()
    assert fn_state._observer is None
