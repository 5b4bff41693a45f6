"""ResNet-50 feature extractor of HMR/SPIN: a ``(N, 3, 224, 224)`` crop → ``(N, 2048)``.

torchvision is not a dependency, so the network is written out here. Module and
parameter names are torchvision's ``resnet50`` names (``conv1``, ``bn1``,
``layer1``…``layer4``, each block ``conv1/bn1/conv2/bn2/conv3/bn3`` and
``downsample.0/1``), minus the classifier ``fc``: the ``model`` state dict of
SPIN's ``spin_model_checkpoint.pth.tar`` loads into it unchanged. The stride
sits on the 3x3 convolution of each block ("ResNet v1.5"), as in torchvision
and SPIN.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Bottleneck", "HMRBackbone", "imagenet_normalize"]

# Crops are RGB in [0, 1], normalised with the ImageNet statistics the
# ResNet-50 was trained on.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalize(images: torch.Tensor) -> torch.Tensor:
    """RGB images ``(..., 3, H, W)`` in ``[0, 1]`` → ImageNet-normalised images, same shape."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype, device=images.device)
    std = torch.tensor(IMAGENET_STD, dtype=images.dtype, device=images.device)
    return (images - mean[:, None, None]) / std[:, None, None]


class Bottleneck(nn.Module):
    """ResNet bottleneck block: 1x1 → 3x3 (strided) → 1x1 (×4 channels) plus a shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` → ``(N, 4·planes, H/stride, W/stride)``."""
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


class HMRBackbone(nn.Module):
    """ResNet-50 up to global average pooling: ``(N, 3, 224, 224)`` → ``(N, 2048)``.

    Input crops must already be ImageNet-normalised (:func:`imagenet_normalize`).
    """

    feature_dim = 512 * Bottleneck.expansion

    def __init__(self, blocks_per_stage: tuple[int, int, int, int] = (3, 4, 6, 3)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = 64
        stages = []
        for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), blocks_per_stage)):
            stride = 1 if index == 0 else 2
            stage, in_channels = _make_stage(in_channels, planes, blocks, stride)
            stages.append(stage)
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        # On a 224² crop the last map is 7x7: adaptive pooling equals the
        # original AvgPool2d(7) there and also accepts other sizes.
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self._init_weights()

    def _init_weights(self) -> None:
        # He initialisation (fan-out) as torchvision and HMR; matters only
        # when training from scratch, released weights replace it.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """Normalised crops ``(N, 3, H, W)`` (224² in the original) → features ``(N, 2048)``."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(crops))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


def _make_stage(in_channels: int, planes: int, blocks: int, stride: int) -> tuple[nn.Sequential, int]:
    """One ResNet stage of ``blocks`` bottlenecks; returns it and its output width."""
    out_channels = planes * Bottleneck.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
            nn.BatchNorm2d(out_channels),
        )
    layers = [Bottleneck(in_channels, planes, stride, downsample)]
    layers += [Bottleneck(out_channels, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers), out_channels
