# The UDA segmentor around DAFormer (MiT-B5, separable-ASPP head): DACS with the options of
# ../uda/dacs_a999.py (every UDA run here keeps the reference's teacher, alpha 0.999) as the model,
# the network of ./daformer_sepaspp_mitb5.py as its `model`. A run lists this base and sets the options that differ
# as plain values (model.<option>, the network's as model.model.<key>).
_base_ = ['./daformer_sepaspp_mitb5.py', '../uda/dacs_a999.py']
model = dict(_base_.pop('uda'), _delete_=True, model=_base_.model,
             data_preprocessor=_base_.model.data_preprocessor)
