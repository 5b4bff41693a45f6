"""The VIBE networks: feature sources, temporal encoder, regressor, generator, motion discriminator, MPoser.

Import from the submodules (``vibe.models.vibe``, ``vibe.models.checkpoints``, ...);
this package only re-exports the main classes.
"""

from vibe.models.backbone import HMRBackbone
from vibe.models.discriminator import MotionDiscriminator, MotionDiscriminatorConfig, motion_features
from vibe.models.keypoint_encoder import KeypointEncoder, KeypointEncoderConfig
from vibe.models.mposer import MPoser, MPoserConfig
from vibe.models.regressor import Regressor, RegressorInit, RegressorOutput
from vibe.models.temporal import TemporalEncoder, TemporalEncoderConfig
from vibe.models.vibe import VIBE, VIBEConfig, VIBEOutput

__all__ = [
    "HMRBackbone",
    "KeypointEncoder",
    "KeypointEncoderConfig",
    "MPoser",
    "MPoserConfig",
    "MotionDiscriminator",
    "MotionDiscriminatorConfig",
    "Regressor",
    "RegressorInit",
    "RegressorOutput",
    "TemporalEncoder",
    "TemporalEncoderConfig",
    "VIBE",
    "VIBEConfig",
    "VIBEOutput",
    "motion_features",
]
