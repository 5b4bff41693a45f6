"""Key names and shapes of the released VIBE files, written from DESIGN.md §4 (not from our code)."""

from __future__ import annotations


def gru_2x1024(input_size: int) -> dict[str, tuple[int, ...]]:
    """``nn.GRU(input_size, 1024, num_layers=2)`` parameters under ``gru.``."""
    return {
        "gru.weight_ih_l0": (3072, input_size),
        "gru.weight_hh_l0": (3072, 1024),
        "gru.bias_ih_l0": (3072,),
        "gru.bias_hh_l0": (3072,),
        "gru.weight_ih_l1": (3072, 1024),
        "gru.weight_hh_l1": (3072, 1024),
        "gru.bias_ih_l1": (3072,),
        "gru.bias_hh_l1": (3072,),
    }


TEMPORAL_ENCODER = {**gru_2x1024(2048), "linear.weight": (2048, 1024), "linear.bias": (2048,)}

REGRESSOR = {
    "init_pose": (1, 144),
    "init_shape": (1, 10),
    "init_cam": (1, 3),
    "fc1.weight": (1024, 2205),
    "fc1.bias": (1024,),
    "fc2.weight": (1024, 1024),
    "fc2.bias": (1024,),
    "decpose.weight": (144, 1024),
    "decpose.bias": (144,),
    "decshape.weight": (10, 1024),
    "decshape.bias": (10,),
    "deccam.weight": (3, 1024),
    "deccam.bias": (3,),
}

GENERATOR = {
    **{f"encoder.{k}": v for k, v in TEMPORAL_ENCODER.items()},
    **{f"regressor.{k}": v for k, v in REGRESSOR.items()},
}

MOTION_DISCRIMINATOR = {
    **gru_2x1024(69),
    "attention.attention.0.weight": (1024, 1024),
    "attention.attention.0.bias": (1024,),
    "attention.attention.3.weight": (1024, 1024),
    "attention.attention.3.bias": (1024,),
    "attention.attention.6.weight": (1, 1024),
    "attention.attention.6.bias": (1,),
    "fc.weight": (1, 1024),
    "fc.bias": (1,),
}
