"""Written by `archspec eject` from the spec named in SPEC_NAME; needs only PyTorch.
For an input of 3×224×224: 25,557,032 parameters, 4,089,184,256 multiply-adds.
"""

import torch
from torch import nn

SPEC_NAME = 'resnet50'
SPEC_DESCRIPTION = 'ResNet-50 v1.5 (stride on the 3×3 conv), torchvision layout'


class BottleneckBlock(nn.Module):
    """The bottleneck block."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int,
        stride: int,
        downsample: bool,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        ) if downsample else None
        self.relu3 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu1(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.relu2(out)
        out = self.conv3(out)
        out = self.bn3(out)
        out = out + (x if self.downsample is None else self.downsample(x))
        out = self.relu3(out)
        return out


def bottleneck_stage(
    depth: int,
    in_channels: int,
    out_channels: int,
    width: int,
    stride: int,
) -> nn.Sequential:
    """`depth` bottleneck blocks: the first one changes the shape, the others keep it."""
    blocks = [BottleneckBlock(in_channels, out_channels, width, stride, downsample=True)]
    for _ in range(depth - 1):
        blocks.append(BottleneckBlock(out_channels, out_channels, width, stride=1, downsample=False))
    return nn.Sequential(*blocks)


# One row per stage: depth, in_channels, out_channels, width, stride
STAGES = [
    (3, 64, 256, 64, 1),
    (4, 256, 512, 128, 2),
    (6, 512, 1024, 256, 2),
    (3, 1024, 2048, 512, 2),
]


class Resnet50(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        for i, row in enumerate(STAGES, 1):
            self.add_module(f"layer{i}", bottleneck_stage(*row))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        x = self.flatten(x)
        return self.fc(x)


def build() -> nn.Module:
    """The network with PyTorch's default initialisation; load trained weights with load_state_dict."""
    return Resnet50()
