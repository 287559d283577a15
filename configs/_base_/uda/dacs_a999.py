# DACS with the final recipe's teacher: alpha 0.999, no feature distance.
_base_ = ['./dacs.py']
uda = dict(alpha=0.999)
