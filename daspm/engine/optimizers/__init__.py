"""Optimizer wrapper constructors."""
from .merged_param_groups import MergedParamGroupsConstructor, merge_param_groups

__all__ = ['MergedParamGroupsConstructor', 'merge_param_groups']
