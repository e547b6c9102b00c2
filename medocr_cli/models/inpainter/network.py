"""The learned inpainter: a small encoder-decoder of gated convolutions (PEN-Net / DeepFill v2).

A gated convolution computes features and a soft gate from the same input,
`act(conv_f(x)) * sigmoid(conv_g(x))`, so the network learns per pixel and per channel how much
to trust what it sees: around a hole the valid pixels pass and the zeroed ones are gated away,
which a plain convolution cannot do. The layout follows PEN-Net's U-Net shape: three stride-2
gated encoders, a bottleneck of dilated gated convolutions (a wide receptive field at 1/8
resolution, cheap), and a decoder that upsamples and fuses the encoder's skip features.

Input: the image in [0, 1] with the hole zeroed (3 channels) plus the mask (1 = hole); output:
the whole image, of which only the hole is kept (see `inpaint_array`). Inside, parameter-free
fills of the hole are computed first (`fills`): the membrane (push-pull with relaxation, the
smooth surface spanned by the hole's border) and one fill per direction that bridges the hole
with straight lines, so that an edge crossing it comes back instead of a smear; a self-check on
a ring of known pixels around the hole ranks them per pixel. The network sees the image, the
membrane, the ranked blend and the ranking's errors, and predicts from a zero-initialised head a
change to the ranking's logits: an untrained model gives the self-checked blend exactly,
training teaches it where the ranking is wrong, and the output is always a blend of fills that
continue the image (no painted artefacts). The first design, still loadable, had only the
membrane and a correction; its network learned to add 0.01 dB.

Colour images use the 3 channels as RGB; grey images are replicated to 3 channels and the
output's channel mean is used. One 3-channel model serves both: the same cost for grey and
colour, and colour holes filled with coherent channels instead of three independent guesses
(a 1-channel model run per channel would triple the cost of colour and fringe its edges).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional

from medocr_cli.models.inpainter.fills import push_pull, select_fills, upsample_like
from medocr_cli.models.inpainter.spec import ARCH, STRIDE
from medocr_cli.models.registry import register

#: Memory layout of the inference inputs (and of a loaded model's weights): about 15% faster
#: than the default layout for these convolutions on CPU, the same results.
CHANNELS_LAST = torch.channels_last


class GatedConv2d(nn.Module):
    """`leaky_relu(conv_features(x)) * sigmoid(conv_gate(x))`, both from one convolution.

    Args:
        cin: Input channels.
        cout: Output channels (the convolution itself makes 2 * cout: features and gate).
        kernel: Kernel size (odd); padding keeps the size at stride 1.
        stride: 1, or 2 to halve the resolution.
        dilation: Dilation of the kernel.
    """

    def __init__(
        self, cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            cin, 2 * cout, kernel, stride, padding=dilation * (kernel - 1) // 2, dilation=dilation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the gated features."""
        features, gate = self.conv(x).chunk(2, dim=1)
        return functional.leaky_relu(features, 0.2) * torch.sigmoid(gate)


class GatedInpainter(nn.Module):
    """U-shaped gated-convolution inpainter; see the module docstring.

    Args:
        widths: Channels at 1/2, 1/4 and 1/8 resolution.
        dilations: One residual dilated gated convolution per entry, at 1/8 resolution.
        fill_iterations: Relaxation steps of the parameter-free fill at full resolution
            (see `push_pull`).
        directions: Angles of the directional fills (see `fills.directional_fill`). With them
            the head predicts, per pixel, a change to the self-check's logits over the
            membrane and these fills (`fills.select_fills`), and the output is their softmax
            blend; without them (the first design) the head predicts a correction and the
            output is the membrane plus it.
    """

    def __init__(
        self,
        widths: tuple[int, int, int],
        dilations: tuple[int, ...],
        fill_iterations: int = 4,
        directions: tuple[float, ...] = (),
    ) -> None:
        super().__init__()
        self.fill_iterations = fill_iterations
        self.directions = tuple(float(a) for a in directions)
        #: What forward returns: "learned" (the model), "membrane" (its parameter-free
        #: membrane, see `fill_only`) or "prior" (the self-checked blend the network starts
        #: from, see `prior_only`).
        self.output = "learned"
        w1, w2, w3 = widths
        choices = len(self.directions) + 1 if self.directions else 0
        # the image, the hole, the membrane; with directions also the self-checked blend and
        # every candidate's self-check error (the fills themselves would cost 3 channels each
        # in the first and last convolutions, the bulk of the network's time)
        inputs = 7 + (3 + choices if choices else 0)
        self.enc1 = GatedConv2d(inputs, w1, 5, stride=2)
        self.enc2 = GatedConv2d(w1, w2, 3, stride=2)
        self.enc3 = GatedConv2d(w2, w3, 3, stride=2)
        self.bottleneck = nn.ModuleList(GatedConv2d(w3, w3, 3, dilation=d) for d in dilations)
        self.dec3 = GatedConv2d(w3 + w2, w2, 3)
        self.dec2 = GatedConv2d(w2 + w1, w1, 3)
        # With directions the head gives only the change to the blend's logits: the output is
        # always a convex blend of fills. An additive correction as well was tried: after one
        # epoch it cost 0.74 dB on ds1 val (40 images) while the logits alone gained 0.04.
        self.head = nn.Conv2d(w1 + inputs, choices or 3, 3, padding=1)
        # The head's output starts at exactly zero: it is zero-initialised (its own weights
        # still get full gradients, and through them the rest of the network). A ReZero-style
        # scale that starts at zero instead starves the head: its gradient is multiplied by the
        # scale, and a first run ended 900 steps later with the scale at 0.01 and the network
        # adding 0.01 dB to the fill. The first design keeps the scale, at 1, so that its
        # checkpoints still load.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        if not choices:
            self.residual_scale = nn.Parameter(torch.ones(1))

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Return the predicted image (N, 3, H, W) for any H, W.

        Args:
            image: (N, 3, H, W) in [0, 1]; the hole's values are ignored (zeroed here).
            mask: (N, 1, H, W), 1 inside the hole, 0 outside.
        """
        rows, cols = image.shape[-2:]
        pad_r, pad_c = (-rows) % STRIDE, (-cols) % STRIDE
        known = image * (1 - mask)
        grey = torch.equal(known[:, 0], known[:, 1]) and torch.equal(known[:, 1], known[:, 2])
        # grey: every fill is per channel, do it once; the fills want the plain layout
        channels = (known[:, :1] if grey else known).contiguous()
        mask = mask.contiguous()
        with torch.no_grad():
            if self.directions and self.output != "membrane":
                fills, prior, errors = select_fills(
                    channels, 1 - mask, self.directions, self.fill_iterations
                )
                membrane = fills[:, 0]
            else:
                membrane = push_pull(channels, 1 - mask, self.fill_iterations)
        coarse = membrane.expand(-1, 3, -1, -1) if grey else membrane
        if self.output == "membrane":
            return coarse
        parts = [known, mask, coarse]
        if self.directions:
            blend = _blend(prior, fills, grey)
            if self.output == "prior":
                return blend
            parts += [blend, errors]
        x = torch.cat(parts, dim=1)
        if pad_r or pad_c:
            mode = "reflect" if rows > pad_r and cols > pad_c else "replicate"
            x = functional.pad(x, (0, pad_c, 0, pad_r), mode=mode)
        if self.enc1.conv.weight.is_contiguous(memory_format=CHANNELS_LAST):
            x = x.contiguous(memory_format=CHANNELS_LAST)  # the fills come in the plain layout
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        h = self.enc3(e2)
        for block in self.bottleneck:
            h = h + block(h)
        h = self.dec3(torch.cat([upsample_like(h, e2), e2], dim=1))
        h = self.dec2(torch.cat([upsample_like(h, e1), e1], dim=1))
        out = self.head(torch.cat([upsample_like(h, x), x], dim=1))[..., :rows, :cols]
        if not self.directions:
            return coarse + self.residual_scale * out
        return _blend(prior + out, fills, grey)


def _blend(logits: torch.Tensor, fills: torch.Tensor, grey: bool) -> torch.Tensor:
    """Return the softmax(logits)-weighted sum of the fills (N, K, C, H, W) as 3 channels."""
    blend = (torch.softmax(logits, dim=1).unsqueeze(2) * fills).sum(dim=1)
    return blend.expand(-1, 3, -1, -1) if grey else blend


@register(ARCH)
def build_inpainter(spec: dict[str, Any]) -> nn.Module:
    """Build the gated inpainter that `spec` describes."""
    widths = tuple(int(w) for w in spec.get("widths", (24, 48, 64)))
    dilations = tuple(int(d) for d in spec.get("dilations", (2, 2, 4, 4)))
    if len(widths) != 3:
        raise ValueError("an inpainter spec needs three widths")
    iterations = int(spec.get("fill_iterations", 4))
    directions = tuple(float(a) for a in spec.get("directions", ()))
    return GatedInpainter(widths, dilations, iterations, directions)  # type: ignore[arg-type]


def fill_only(model: nn.Module) -> nn.Module:
    """Return a copy of a gated inpainter that gives only its parameter-free membrane fill.

    That is what the first design started from; comparing shows what everything else adds.
    """
    return _copy_giving(model, "membrane")


def prior_only(model: nn.Module) -> nn.Module:
    """Return a copy of a gated inpainter that gives its parameter-free self-checked blend.

    With directions, that is what the network starts from (`fills.select_fills`) before its
    learned change to the blend; comparing shows what the learning adds. Without directions it
    is the membrane, as `fill_only`.
    """
    return _copy_giving(model, "prior" if getattr(model, "directions", ()) else "membrane")


def _copy_giving(model: nn.Module, output: str) -> nn.Module:
    """Return an eval-mode copy of `model` whose forward gives `output` (see `GatedInpainter`)."""
    import copy

    base = copy.deepcopy(model)
    base.output = output
    return base.eval()
