"""ResNet-50 backbone: torchvision's parameter names/shapes (so SPIN's weights load) and its size."""

from __future__ import annotations

import torch

from vibe.models.backbone import HMRBackbone, imagenet_normalize


def _expected_resnet50_state_shapes() -> dict[str, tuple[int, ...]]:
    """torchvision resnet50 state-dict names and shapes without ``fc``, written from the architecture.

    Stem: 7x7 conv 3→64, BN. Stages of (planes, blocks) = (64,3), (128,4),
    (256,6), (512,3); a bottleneck is 1x1 in→p, 3x3 p→p, 1x1 p→4p, each
    followed by BN; the first block of each stage has a 1x1 conv + BN shortcut.
    """
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, c: int) -> None:
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    shapes["conv1.weight"] = (64, 3, 7, 7)
    bn("bn1", 64)
    in_c = 64
    for stage, (planes, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=1):
        for block in range(blocks):
            p = f"layer{stage}.{block}"
            shapes[f"{p}.conv1.weight"] = (planes, in_c, 1, 1)
            bn(f"{p}.bn1", planes)
            shapes[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            bn(f"{p}.bn2", planes)
            shapes[f"{p}.conv3.weight"] = (4 * planes, planes, 1, 1)
            bn(f"{p}.bn3", 4 * planes)
            if block == 0:
                shapes[f"{p}.downsample.0.weight"] = (4 * planes, in_c, 1, 1)
                bn(f"{p}.downsample.1", 4 * planes)
            in_c = 4 * planes
    return shapes


def test_state_dict_names_and_shapes_are_torchvision_resnet50_without_fc():
    got = {k: tuple(v.shape) for k, v in HMRBackbone().state_dict().items()}
    assert got == _expected_resnet50_state_shapes()


def test_parameter_count_is_resnet50_minus_classifier():
    # torchvision's resnet50 has 25,557,032 parameters of which the 2048→1000
    # classifier is 2,049,000 (https://heytensor.com/answers/how-many-parameters-resnet50.html),
    # leaving 23,508,032.
    assert sum(p.numel() for p in HMRBackbone().parameters()) == 25_557_032 - 2_049_000 == 23_508_032


def test_forward_gives_2048_features_and_is_per_image():
    model = HMRBackbone().eval()
    crops = imagenet_normalize(torch.rand(2, 3, 224, 224))
    with torch.no_grad():
        both = model(crops)
        first = model(crops[:1])
    assert both.shape == (2, 2048)
    assert torch.isfinite(both).all()
    # After a final ReLU and averaging, features are non-negative.
    assert (both >= 0).all()
    torch.testing.assert_close(both[:1], first, rtol=1e-4, atol=1e-5)


def test_imagenet_normalize_matches_hand_computation():
    images = torch.zeros(1, 3, 2, 2)
    images[:, 0] = 0.485
    images[:, 1] = 1.0
    out = imagenet_normalize(images)
    torch.testing.assert_close(out[0, 0], torch.zeros(2, 2))
    torch.testing.assert_close(out[0, 1], torch.full((2, 2), (1.0 - 0.456) / 0.224))
    torch.testing.assert_close(out[0, 2], torch.full((2, 2), -0.406 / 0.225))
