r"""NeuroSim-sized CIFAR architectures: VGG8 and ResNet-20, with a channel divisor for tests.

- :func:`vgg8`: NeuroSim's VGG8 (``NetWork_VGG8.csv`` of DNN_NeuroSim V1.4): 3x3 same-padded
  convolutions 3->128, 128->128, pool, 128->256, 256->256, pool, 256->512, 512->512, pool,
  then ``nn.Linear`` 8192->1024 and 1024->10, ReLU after every layer but the last, no batch
  norm; 32x32x3 inputs. About 0.61 G multiply-accumulates per image.
- :func:`resnet20`: ResNet-20 for CIFAR (He et al. 2016, section 4.2): a 3x3 convolution to
  16 channels, three stages of three basic blocks (16, 32, 64 channels; stride 2 at the first
  block of stages 2 and 3), global average pooling, ``nn.Linear`` 64->10. Shortcuts are
  option A (identity; subsampling plus zero-padded channels where the shape changes), so every
  weight is in a convolution or the classifier; batch norm stays digital.

``divisor`` divides every hidden width (``divisor=1`` gives the published shapes); a small
network for tests keeps the layer list and the spatial sizes.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["VGG8_CHANNELS", "resnet20", "vgg8"]

VGG8_CHANNELS: tuple[int | str, ...] = (128, 128, "pool", 256, 256, "pool", 512, 512, "pool")
"""NeuroSim's VGG8 feature layers: output channels of 3x3 convolutions, ``"pool"`` = 2x2 max
pooling."""

VGG8_HIDDEN = 1024
"""Width of VGG8's first fully connected layer."""


def _check_divisor(divisor: int) -> None:
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 1:
        raise ValueError(f"divisor must be an int >= 1, got {divisor!r}.")


def vgg8(num_classes: int = 10, divisor: int = 1, in_channels: int = 3) -> nn.Sequential:
    r"""NeuroSim's VGG8 for `N x in_channels x 32 x 32` inputs (module docstring).

    Args:
        num_classes: Outputs of the last layer.
        divisor: Divides every hidden width (1 = NeuroSim's shapes).
        in_channels: Input channels.

    Returns:
        A ``nn.Sequential`` of 6 convolutions and 2 linear layers.
    """
    _check_divisor(divisor)
    layers: list[nn.Module] = []
    channels = in_channels
    for spec in VGG8_CHANNELS:
        if spec == "pool":
            layers.append(nn.MaxPool2d(2))
            continue
        width = max(1, int(spec) // divisor)
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
        channels = width
    hidden = max(1, VGG8_HIDDEN // divisor)
    layers += [nn.Flatten(), nn.Linear(channels * 4 * 4, hidden), nn.ReLU(),
               nn.Linear(hidden, num_classes)]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an option-A (parameter-free) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.stride = stride
        self.pad = out_channels - in_channels

    def shortcut(self, x: Tensor) -> Tensor:
        r"""Identity, or `::2` subsampling with zero channels appended (option A)."""
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, 0, self.pad))
        return x

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    """ResNet-20 for CIFAR (module docstring)."""

    def __init__(self, num_classes: int = 10, divisor: int = 1, in_channels: int = 3) -> None:
        super().__init__()
        _check_divisor(divisor)
        widths = [max(1, w // divisor) for w in (16, 32, 64)]
        self.conv = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(widths[0])
        blocks: list[nn.Module] = []
        channels = widths[0]
        for stage, width in enumerate(widths):
            for block in range(3):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(BasicBlock(channels, width, stride))
                channels = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        r"""`N x C x 32 x 32` images -> `N x num_classes` logits."""
        out = F.relu(self.bn(self.conv(x)))
        out = self.blocks(out)
        return self.fc(out.mean(dim=(-2, -1)))


def resnet20(num_classes: int = 10, divisor: int = 1, in_channels: int = 3) -> ResNet20:
    """ResNet-20 (19 convolutions + 1 linear layer on crossbars; module docstring)."""
    return ResNet20(num_classes, divisor, in_channels)
