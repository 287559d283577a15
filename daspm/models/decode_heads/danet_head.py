"""DANet's dual-attention head with one logit map per forward pass, as DACS expects of a decoder.

mmseg's ``DAHead.forward`` returns three logit maps (position + channel attention fused, position
only, channel only) and only its own ``loss``/``predict`` know how to read them. DACS runs the
head's ``forward`` for the pseudo-labels and the mixed step and treats the result as logits, so
this head returns the fused map there and computes all three supervised losses in ``loss`` (the
source step, source-only and oracle training), where DANet's auxiliary position/channel terms
belong. In DACS's mixed step only the fused map is trained; the reference (DAFormer's mmseg 0.x)
also weighted the two auxiliary maps there.
"""
from __future__ import annotations

from typing import List, Sequence

from mmseg.models.decode_heads.da_head import DAHead
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor


@MODELS.register_module()
class DAHeadFusedLogits(DAHead):
    """mmseg's DAHead whose ``forward`` returns only the fused (PAM + CAM) logits; ``loss`` keeps all three."""

    def forward_all(self, inputs: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """The three logit maps of DANet: fused, position attention, channel attention."""
        return super().forward(inputs)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Fused logits (what DANet predicts with), computed without the two auxiliary classifiers."""
        x = self._transform_inputs(inputs)
        pam_feat = self.pam_out_conv(self.pam(self.pam_in_conv(x)))
        cam_feat = self.cam_out_conv(self.cam(self.cam_in_conv(x)))
        return self.cls_seg(pam_feat + cam_feat)

    def loss(self, inputs: Sequence[Tensor], batch_data_samples: SampleList, train_cfg: ConfigType) -> dict:
        """Losses of the fused map and of both auxiliary maps (prefixed pam_cam., pam., cam.)."""
        return self.loss_by_feat(self.forward_all(inputs), batch_data_samples)

    def predict(self, inputs: Sequence[Tensor], batch_img_metas: List[dict], test_cfg: ConfigType) -> Tensor:
        """Predict with the fused logits, as DANet does."""
        return self.predict_by_feat(self.forward(inputs), batch_img_metas)
