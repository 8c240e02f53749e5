"""The seed article's U-Net in PyTorch: the same layers as :mod:`..keras.unet`, channels-first.

Modules are named after the Keras layers (``conv2d``, ``dropout``, ``conv2d_1``, ...,
``conv2d_transpose``, ``conv2d_18``), so both exports reconcile layer by layer under the same
names.  Keras's concatenate layers are ``torch.cat`` calls (no module, no parameters).
``sum(p.numel())`` is 7,759,521, as Keras's ``count_params()``.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from ..keras.unet import DECODER, ENCODER, INPUT_SHAPE, PARAMS

__all__ = ["PARAMS", "build_unet", "randomize_weights", "unet_factory"]


def build_unet() -> Any:
    """The U-Net as an ``nn.Module`` taking (N, 1, 96, 96)."""
    import torch
    from torch import nn

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.order: List[Tuple[str, str]] = []   # (kind, module name) in Keras's layer order
            names = {"conv2d": 0, "dropout": 0, "max_pooling2d": 0, "conv2d_transpose": 0}
            channels = INPUT_SHAPE[-1]

            def add(kind: str, module: nn.Module) -> str:
                count = names[kind]
                names[kind] += 1
                name = kind if count == 0 else f"{kind}_{count}"
                self.add_module(name, module)
                self.order.append((kind, name))
                return name

            def block(filters: int, rate: float) -> None:
                nonlocal channels
                add("conv2d", nn.Conv2d(channels, filters, 3, padding=1))
                add("dropout", nn.Dropout(rate))
                add("conv2d", nn.Conv2d(filters, filters, 3, padding=1))
                channels = filters

            self.skip_channels = []
            for level, (filters, rate) in enumerate(ENCODER):
                block(filters, rate)
                if level < len(ENCODER) - 1:
                    self.skip_channels.append(filters)
                    add("max_pooling2d", nn.MaxPool2d(2))
            for (filters, rate), skip in zip(DECODER, reversed(self.skip_channels), strict=True):
                add("conv2d_transpose", nn.ConvTranspose2d(channels, filters, 2, stride=2))
                channels = filters + skip
                self.order.append(("concatenate", ""))
                block(filters, rate)
            add("conv2d", nn.Conv2d(channels, 1, 1))

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            skips = []
            convs = 0
            for kind, name in self.order:
                if kind == "concatenate":
                    x = torch.cat([x, skips.pop()], dim=1)
                    continue
                if kind == "max_pooling2d":
                    skips.append(x)
                x = getattr(self, name)(x)
                if kind == "conv2d":
                    convs += 1
                    x = torch.sigmoid(x) if convs == 19 else torch.relu(x)
            return x

    return UNet()


def randomize_weights(module: Any, seed: int) -> None:
    """As the Keras U-Net's: kernels ~ N(0, 2/fan_in), biases ~ N(0, 0.05^2), nothing zero."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            if parameter.dim() >= 2:
                # parameter[0] is in*kh*kw of a Conv2d's (out, in, kh, kw) and out*kh*kw of a
                # ConvTranspose2d's (in, out, kh, kw): Keras's fan_in, prod(kernel.shape[:-1])
                fan_in = parameter[0].numel()
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
            else:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)


def unet_factory(seed: int = 0) -> Tuple[Any, Tuple[Any, ...]]:
    """(the seeded U-Net in eval mode, (one (1, 1, 96, 96) example input,)): a ``--torch`` factory."""
    import torch

    module = build_unet()
    randomize_weights(module, seed)
    module.eval()
    height, width, channels = INPUT_SHAPE
    return module, (torch.zeros(1, channels, height, width),)
