"""Core timings: validate 200 files (see validate_speed.py), plan ResNet-152, build ResNet-50, forward
against a plain hand-written ResNet-50. Run by hand: `python benchmarks/core.py`.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import archspec  # noqa: E402
from timing import best, best_times  # noqa: E402  (this folder is on sys.path)
from validate_speed import write_specs  # noqa: E402


# --- a plain hand-written ResNet-50, the way people write it ---------------------------


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class HandResNet50(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.relu, self.maxpool = nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
        cin, layers = 64, []
        for depth, width, stride in [(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)]:
            blocks = []
            for b in range(depth):
                blocks.append(Bottleneck(cin, width, stride if b == 0 else 1))
                cin = width * 4
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(2048, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def validate_200_files() -> float:
    with tempfile.TemporaryDirectory() as folder:
        write_specs(Path(folder), 200)
        return best_times([[sys.executable, "-m", "archspec", "validate", folder]], runs=3)[0]


def forward_ms(model: nn.Module, x: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        model(x)  # warm-up
        times = []
        for _ in range(10):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU threads, Python {sys.version.split()[0]}")
    print(f"validate 200 spec files (subprocess, best of 3): {validate_200_files() * 1e3:8.1f} ms")
    spec = archspec.load(str(ROOT / "specs/resnet152.yaml"))
    print(f"plan ResNet-152 (best of 5):                     {best(lambda: archspec.plan(spec)) * 1e3:8.2f} ms")
    plan50 = archspec.plan(str(ROOT / "specs/resnet50.yaml"))
    print(f"build ResNet-50, default init (best of 5):       {best(lambda: archspec.build(plan50)) * 1e3:8.1f} ms")
    print(f"build ResNet-50 on meta (best of 5):             {best(lambda: archspec.build(plan50, device='meta')) * 1e3:8.1f} ms")
    print(f"build hand-written ResNet-50 (best of 5):        {best(HandResNet50) * 1e3:8.1f} ms")
    ours, hand = archspec.build(plan50, seed=0), HandResNet50()
    hand.load_state_dict(ours.state_dict())
    for batch in (1, 8):
        x = torch.randn(batch, 3, 224, 224)
        print(f"forward batch {batch}, median of 10: archspec {forward_ms(ours, x):7.1f} ms, "
              f"hand-written {forward_ms(hand, x):7.1f} ms")


if __name__ == "__main__":
    main()
