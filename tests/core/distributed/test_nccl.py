"""The nccl backend on one GPU: a world of one rank that meets through a file store. Skipped
without a GPU (CI has none); two ranks need two GPUs."""

import numpy as np
import pytest

import ember
import ember.distributed as dist

pytestmark = pytest.mark.cuda


@pytest.fixture
def nccl_group(tmp_path):
    if not dist.is_nccl_available():
        pytest.skip("cupy has no NCCL here")
    dist.init_process_group("nccl", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1, timeout=60)
    yield
    dist.destroy_process_group()


def test_collectives_on_one_gpu(nccl_group):
    cuda = ember.device("cuda")
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    tensor = ember.tensor(values, device=cuda)
    dist.all_reduce(tensor, dist.ReduceOp.AVG)
    np.testing.assert_array_equal(tensor.cpu().numpy(), values)
    view = ember.tensor(values, device=cuda).t()  # staged, written back
    dist.all_reduce(view, dist.ReduceOp.MAX)
    np.testing.assert_array_equal(view.cpu().numpy(), values.T)
    gathered = [ember.zeros(2, 3, device=cuda)]
    assert dist.all_gather(gathered, tensor, async_op=True).wait()
    np.testing.assert_array_equal(gathered[0].cpu().numpy(), values)
    dist.broadcast(tensor, 0)
    dist.barrier()
    assert dist.get_backend() == "nccl"


def test_cpu_tensors_are_refused(nccl_group):
    with pytest.raises(RuntimeError, match="needs CUDA tensors"):
        dist.all_reduce(ember.ones(2))
