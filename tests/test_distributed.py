"""A built model under PyTorch's own distributed engine: DistributedDataParallel on two
processes (gloo, localhost) ends with the weights one process gets from the same global batch."""

import os
import socket
import subprocess
import sys

import torch

import archspec
from conftest import ROOT

RESNET20 = ROOT / "specs" / "cifar" / "resnet20.yaml"
STEPS, BATCH = 3, 8

# What each rank runs, as a user would under torchrun: the model comes from the checkpoint
# (the spec inside it), so every rank builds the same one. Norms in eval mode: BatchNorm's
# batch statistics would differ per rank (SyncBatchNorm needs a GPU), frozen ones do not.
RANK = r"""
import datetime, os, sys
import torch, torch.distributed as dist
import archspec
from torch.nn.parallel import DistributedDataParallel

torch.set_num_threads(1)
rank, world, folder = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), sys.argv[1]
dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=60))
model = DistributedDataParallel(archspec.load_model(os.path.join(folder, "start.safetensors")).eval())
optimiser = torch.optim.SGD(model.parameters(), lr=0.002, momentum=0.9)
data = torch.Generator().manual_seed(0)
for _ in range(int(sys.argv[2])):
    x, target = torch.randn(int(sys.argv[3]), 3, 32, 32, generator=data), torch.randint(0, 10, (int(sys.argv[3]),), generator=data)
    share = slice(rank * len(x) // world, (rank + 1) * len(x) // world)
    optimiser.zero_grad()
    torch.nn.functional.cross_entropy(model(x[share]), target[share]).backward()  # DDP averages the gradients
    optimiser.step()
if rank == 0:
    archspec.save(model, os.path.join(folder, "trained.safetensors"))  # through the DDP wrapper
dist.destroy_process_group()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_with_ddp_train_as_one_on_the_same_global_batch(tmp_path):
    start = archspec.build(RESNET20, seed=0)
    archspec.save(start, tmp_path / "start.safetensors")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()),
           "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
    ranks = [subprocess.Popen([sys.executable, "-c", RANK, str(tmp_path), str(STEPS), str(BATCH)], cwd=ROOT,
                              env={**env, "RANK": str(rank)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for rank in range(2)]
    try:
        outputs = [r.communicate(timeout=90)[0] for r in ranks]
    finally:
        for r in ranks:
            r.kill()
    assert [r.returncode for r in ranks] == [0, 0], outputs

    model = start.eval()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.002, momentum=0.9)
    data = torch.Generator().manual_seed(0)
    for _ in range(STEPS):
        x, target = torch.randn(BATCH, 3, 32, 32, generator=data), torch.randint(0, 10, (BATCH,), generator=data)
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(x), target).backward()
        optimiser.step()
    trained = archspec.load_model(tmp_path / "trained.safetensors").state_dict()
    alone = model.state_dict()
    assert list(trained) == list(alone)
    moved = max((alone[k] - archspec.build(RESNET20, seed=0).state_dict()[k]).abs().max().item() for k in alone)
    differs = max((trained[k] - alone[k]).abs().max().item() for k in alone)
    assert moved > 1e-2 and differs < 1e-6  # equal but for the order of float additions in the all-reduce
