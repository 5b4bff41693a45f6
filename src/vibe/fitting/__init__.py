"""Model fitting to 2D keypoints: temporal SMPLify, its energy terms and pose priors."""

from vibe.fitting.priors import GMMPosePrior, HingeLimits, build_pose_prior, default_pose_prior, hinge_limits
from vibe.fitting.temporal_smplify import FitResult, SMPLifyConfig, TemporalSMPLify, refine_track

__all__ = [
    "FitResult",
    "GMMPosePrior",
    "HingeLimits",
    "SMPLifyConfig",
    "TemporalSMPLify",
    "build_pose_prior",
    "default_pose_prior",
    "hinge_limits",
    "refine_track",
]
