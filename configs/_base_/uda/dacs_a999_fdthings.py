# DACS final recipe: alpha 0.999 and the ImageNet feature distance (lambda 0.005, scale_min_ratio
# 0.75) on "thing" classes. The reference kept Cityscapes' thing ids (6, 7, 11-18), which do not
# exist among the five DASPM classes (its FD mask was always empty and the loss NaN); here the
# things are the built-up classes: urban area (1), roads (2), impervious surface (3).
_base_ = ['./dacs.py']
uda = dict(
    alpha=0.999,
    imnet_feature_dist_lambda=0.005,
    imnet_feature_dist_classes=[1, 2, 3],
    imnet_feature_dist_scale_min_ratio=0.75,
)
