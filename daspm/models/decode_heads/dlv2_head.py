"""The DeepLabV2 decoder as DAFormer's UDA baselines use it (mmseg 1.x ships no DeepLabV2 head).

DeepLabV2's classifier is an atrous spatial pyramid whose branches each predict the classes
directly: parallel 3x3 convolutions with different dilations (bias, no normalisation, no
activation) on the deepest encoder level, summed. The usual UDA setting ("deeplabv2red")
keeps only the dilations 6 and 12, as AdaptSegNet's code effectively did.
"""
from __future__ import annotations

from typing import Sequence

from mmseg.models.decode_heads.aspp_head import ASPPModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor

from ...utils.errors import DaspmInputError


@MODELS.register_module()
class DLV2Head(BaseDecodeHead):
    """DeepLabV2 ASPP classifier: sum of dilated 3x3 convolutions straight to class logits.

    Args:
        dilations: dilation of each parallel branch ((6, 12) in DAFormer's "deeplabv2red").
        **kwargs: BaseDecodeHead arguments except ``channels``, ``dropout_ratio`` and
            ``norm_cfg``, which DeepLabV2 does not have.
    """

    def __init__(self, dilations: Sequence[int] = (6, 12, 18, 24), **kwargs) -> None:
        fixed = sorted(k for k in ('channels', 'dropout_ratio', 'norm_cfg') if k in kwargs)
        if fixed:
            raise DaspmInputError(
                f'DLV2Head: {", ".join(fixed)} cannot be set (DeepLabV2 classifies the encoder '
                'features directly, without intermediate channels, dropout or normalisation); '
                'remove them from decode_head in the config')
        if not isinstance(dilations, (list, tuple)) or not dilations:
            raise DaspmInputError(f'DLV2Head: dilations must be a non-empty list, got {dilations!r}')
        # The branches are initialised like DeepLabV2's classifier (normal, std 0.01).
        kwargs.setdefault('init_cfg', dict(type='Normal', std=0.01, override=dict(name='aspp_modules')))
        super().__init__(channels=1, dropout_ratio=0.0, norm_cfg=None, **kwargs)
        del self.conv_seg  # the ASPP branches are the classifier
        self.dilations = tuple(dilations)
        self.aspp_modules = ASPPModule(self.dilations, self.in_channels, self.out_channels,
                                       conv_cfg=self.conv_cfg, norm_cfg=None, act_cfg=None)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Class logits at the resolution of the selected encoder level."""
        x = self._transform_inputs(inputs)
        outs = self.aspp_modules(x)
        logits = outs[0]
        for out in outs[1:]:
            logits = logits + out
        return logits
