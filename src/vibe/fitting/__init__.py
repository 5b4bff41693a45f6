"""Model fitting to 2D keypoints: temporal SMPLify, its energy terms, pose priors, fits in the training loop."""

from vibe.fitting.pseudo_gt import InLoopConfig, InLoopStats, PseudoGroundTruth
from vibe.fitting.priors import GMMPosePrior, HingeLimits, build_pose_prior, default_pose_prior, hinge_limits
from vibe.fitting.temporal_smplify import FitResult, SMPLifyConfig, TemporalSMPLify, refine_track

__all__ = [
    "FitResult",
    "GMMPosePrior",
    "HingeLimits",
    "InLoopConfig",
    "InLoopStats",
    "PseudoGroundTruth",
    "SMPLifyConfig",
    "TemporalSMPLify",
    "build_pose_prior",
    "default_pose_prior",
    "hinge_limits",
    "refine_track",
]
