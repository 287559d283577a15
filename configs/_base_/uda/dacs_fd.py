# DACS with the ImageNet feature distance on all classes (alpha 0.99).
_base_ = ['./dacs.py']
uda = dict(imnet_feature_dist_lambda=0.005, imnet_feature_dist_classes=None,
           imnet_feature_dist_scale_min_ratio=0.75)
