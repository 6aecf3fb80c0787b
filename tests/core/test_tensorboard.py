"""SummaryWriter writes event files that TensorBoard's reader parses back."""

import numpy as np

import ember
from ember.utils.tensorboard import SummaryWriter


def _events(log_dir):
    from tensorboardX.proto import event_pb2

    events = []
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):  # TFRecord: length, crc, payload, crc
            length = int.from_bytes(data[offset:offset + 8], "little")
            payload = data[offset + 12:offset + 12 + length]
            offset += 12 + length + 4
            event = event_pb2.Event()
            event.ParseFromString(payload)
            events.append(event)
    return events


def test_scalars_histograms_and_images_round_trip(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        for step in range(3):
            writer.add_scalar("loss/train", ember.tensor(1.0 / (step + 1)), step)
        writer.add_histogram("weights", ember.randn(100, requires_grad=True), 0)
        writer.add_image("sample", ember.rand(3, 8, 8), 0)
        writer.add_text("note", "hello", 0)
    scalars = [(e.step, v.simple_value) for e in _events(tmp_path) for v in e.summary.value
               if v.tag == "loss/train"]
    assert scalars == [(0, 1.0), (1, 0.5), (2, np.float32(1 / 3))]
    tags = {v.tag for e in _events(tmp_path) for v in e.summary.value}
    assert {"weights", "sample"} <= tags
