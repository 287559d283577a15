# The UDA segmentor around ISANet (ResNet-50 V1c, output stride 8): DACS with the options of
# ../uda/dacs_a999.py (every UDA run here keeps the reference's teacher, alpha 0.999) as the model,
# the network of ./isanet_r50-d8.py as its `model`. A run lists this base and sets the options that differ
# as plain values (model.<option>, the network's as model.model.<key>).
_base_ = ['./isanet_r50-d8.py', '../uda/dacs_a999.py']
model = dict(_base_.pop('uda'), _delete_=True, model=_base_.model,
             data_preprocessor=_base_.model.data_preprocessor)
