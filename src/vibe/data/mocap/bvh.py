"""Biovision BVH files: read any skeleton into a `Motion`, write a `Motion` back.

Reading follows the usual BVH semantics:

- ``OFFSET`` is the joint's rest offset from its parent; ``End Site`` blocks
  become `Skeleton.end_sites`.
- Rotation channels compose in the order written: ``Zrotation Xrotation
  Yrotation`` → ``L = Rz @ Rx @ Ry`` (intrinsic ``"ZXY"``), angles in degrees.
- Position channels *replace* the offset: on the root they give its world
  position (``Motion.root_transl``); on other joints (files with 6 channels
  everywhere) the first frame's values become the rest offset, because a
  `Motion` has rigid bones; a warning is logged if they move.
- ``scale`` multiplies every length to give metres (1 for files in metres,
  0.01 for centimetres, 0.0254 / 0.45 for CMU ASF units).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from vibe.data.mocap.skeleton import Motion, Skeleton, euler_product, read_text_any_encoding

log = logging.getLogger(__name__)

_ROTATION_CHANNELS = {"xrotation": "X", "yrotation": "Y", "zrotation": "Z"}
_POSITION_CHANNELS = {"xposition": 0, "yposition": 1, "zposition": 2}

# Metres per unit of the CMU 31-joint BVH release (cmu_31joint/): despite its
# README ("unit length equals 1 meter") its lengths are CMU ASF units (hips
# ≈ 17 units above the floor), i.e. inches / 0.45.
CMU_BVH_METRES_PER_UNIT = 0.0254 / 0.45

# Joint names of the CMU BVH "3ds Max friendly" release (cgspeed; e.g. the
# 131_0x clips) → the MotionBuilder-friendly names the ASF reader uses. In
# that release the thorax and wrist bones have zero length (``lowerneck``,
# ``LeftCollar`` sit on ``Chest2``; ``lhand`` sits on ``LeftWrist``).
CMU_MAX_TO_MB_NAMES: dict[str, str] = {
    "lowerback": "LowerBack",
    "Chest": "Spine",
    "Chest2": "Spine1",
    "lowerneck": "Neck",
    "Neck": "Neck1",
    **{
        f"{old.format(side=side, s=s, low=s.lower())}": new.format(side=side, s=s)
        for side, s in (("Left", "L"), ("Right", "R"))
        for old, new in {
            "{side}Hip": "{side}UpLeg",
            "{side}Knee": "{side}Leg",
            "{side}Ankle": "{side}Foot",
            "{side}Toe": "{side}ToeBase",
            "{side}Collar": "{side}Shoulder",
            "{side}Shoulder": "{side}Arm",
            "{side}Elbow": "{side}ForeArm",
            "{side}Wrist": "{side}Hand",
            "{low}hand": "{side}FingerBase",
            "{s}Fingers": "{side}HandIndex1",
        }.items()
    },
}


@dataclass
class _Node:
    """A ``ROOT`` / ``JOINT`` block while parsing."""

    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)
    end_site: np.ndarray | None = None


def _parse_hierarchy(tokens: list[str], pos: int) -> tuple[list[_Node], int]:
    """Parse ``HIERARCHY`` tokens from ``pos``; returns the nodes and the ``MOTION`` index."""
    nodes: list[_Node] = []
    stack: list[int] = []  # open ROOT/JOINT nodes; -2 marks an open End Site
    while pos < len(tokens):
        tok = tokens[pos]
        key = tok.upper()
        if key in ("ROOT", "JOINT"):
            parent = stack[-1] if stack else -1
            nodes.append(_Node(tokens[pos + 1], parent, np.zeros(3)))
            stack.append(len(nodes) - 1)
            pos += 2
        elif key == "END":  # "End Site"
            stack.append(-2)
            pos += 2
        elif key == "OFFSET":
            offset = np.array([float(v) for v in tokens[pos + 1 : pos + 4]])
            if stack[-1] == -2:
                nodes[stack[-2]].end_site = offset
            else:
                nodes[stack[-1]].offset = offset
            pos += 4
        elif key == "CHANNELS":
            count = int(tokens[pos + 1])
            nodes[stack[-1]].channels = [c.lower() for c in tokens[pos + 2 : pos + 2 + count]]
            pos += 2 + count
        elif tok == "{":
            pos += 1
        elif tok == "}":
            stack.pop()
            pos += 1
        elif key == "MOTION":
            return nodes, pos
        else:
            raise ValueError(f"unexpected BVH token {tok!r}")
    raise ValueError("BVH file has no MOTION section")


_NAMED_LINE = re.compile(r"^\s*(ROOT|JOINT)\s+(.+?)\s*(\{)?\s*$", re.IGNORECASE | re.MULTILINE)


def _tokens(text: str) -> list[str]:
    """Whitespace tokens, except that a ``ROOT``/``JOINT`` name runs to the end of its line.

    3ds Max Biped writes names with spaces (``JOINT Bip01 L Thigh``); they are
    kept whole (spaces become a private mark while splitting).
    """
    mark = "\x00"
    text = _NAMED_LINE.sub(lambda m: f"{m.group(1)} {m.group(2).replace(' ', mark)} {m.group(3) or ''}", text)
    return [t.replace(mark, " ") for t in text.split()]


def parse_bvh(text: str, scale: float = 1.0, name: str = "") -> Motion:
    """Parse the text of a BVH file.

    Args:
        text: the whole file.
        scale: metres per file length unit.
        name: clip name stored in the `Motion`.

    Returns:
        ``(T, J)`` Motion, joints in file order (``End Site`` blocks are not joints).
    """
    tokens = _tokens(text)
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise ValueError("not a BVH file (no HIERARCHY)")
    nodes, pos = _parse_hierarchy(tokens, 1)
    # MOTION  Frames: N  Frame Time: dt  values...
    if tokens[pos + 1].lower() != "frames:" or tokens[pos + 3].lower() != "frame":
        raise ValueError("BVH MOTION header must be 'Frames: N' then 'Frame Time: dt'")
    num_frames = int(tokens[pos + 2])
    frame_time = float(tokens[pos + 5])
    num_channels = sum(len(n.channels) for n in nodes)
    values = np.array(tokens[pos + 6 :], dtype=np.float64)
    if values.size < num_frames * num_channels:
        raise ValueError(f"BVH has {values.size} values, expected {num_frames} × {num_channels}")
    if values.size > num_frames * num_channels:
        log.warning("BVH: ignoring %d values past the last frame", values.size - num_frames * num_channels)
    values = values[: num_frames * num_channels].reshape(num_frames, num_channels)

    num_joints = len(nodes)
    local = np.broadcast_to(np.eye(3), (num_frames, num_joints, 3, 3)).copy()
    offsets = np.stack([n.offset for n in nodes]) * scale
    root_transl = np.broadcast_to(offsets[0], (num_frames, 3)).copy()
    offsets[0] = 0.0
    column = 0
    for j, node in enumerate(nodes):
        cols = np.arange(column, column + len(node.channels))
        column += len(node.channels)
        rot = [(c, k) for c, k in zip(node.channels, cols) if c in _ROTATION_CHANNELS]
        if rot:
            axes = "".join(_ROTATION_CHANNELS[c] for c, _ in rot)
            local[:, j] = euler_product(axes, np.deg2rad(values[:, [k for _, k in rot]]))
        pos_cols = [(c, k) for c, k in zip(node.channels, cols) if c in _POSITION_CHANNELS]
        if not pos_cols:
            continue
        position = offsets[j].copy() if j else root_transl[0].copy()
        track = np.broadcast_to(position, (num_frames, 3)).copy()
        for c, k in pos_cols:
            track[:, _POSITION_CHANNELS[c]] = values[:, k] * scale
        if j == 0:
            root_transl = track
        else:
            offsets[j] = track[0]
            if np.ptp(track, axis=0).max() > 1e-6:
                log.warning("BVH joint %s translates over time; using its first-frame offset", node.name)

    end_sites = {j: n.end_site * scale for j, n in enumerate(nodes) if n.end_site is not None}
    skeleton = Skeleton(
        joint_names=[n.name for n in nodes],
        parents=np.array([n.parent for n in nodes]),
        offsets=offsets,
        end_sites=end_sites,
    )
    meta = {"format": "bvh", "channels": {n.name: tuple(n.channels) for n in nodes}, "scale": scale}
    return Motion(skeleton, local, root_transl, fps=_frame_rate(frame_time), name=name, meta=meta)


def _frame_rate(frame_time: float) -> float:
    """Frames per second from a ``Frame Time`` that files often truncate (.0083333 → 120)."""
    fps = 1.0 / frame_time
    return float(round(fps)) if abs(fps - round(fps)) < 1e-4 * fps else fps


def read_bvh(path: Path | str, scale: float = 1.0) -> Motion:
    """Read a BVH file (see `parse_bvh`); the clip is named after the file stem."""
    path = Path(path)
    motion = parse_bvh(read_text_any_encoding(path), scale=scale, name=path.stem)
    motion.meta["source"] = str(path)
    return motion


def format_bvh(motion: Motion, rotation_order: str = "ZXY", scale: float = 1.0, decimals: int = 6) -> str:
    """BVH text of a motion: 6 channels on the root, 3 rotation channels elsewhere.

    Args:
        motion: ``(T, J)`` motion.
        rotation_order: rotation channel order, intrinsic (``"ZXY"`` writes
            ``Zrotation Xrotation Yrotation``).
        scale: metres per file unit (lengths are divided by it).
        decimals: digits after the decimal point.
    """
    order = rotation_order.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise ValueError(f"rotation_order must be a permutation of XYZ, got {rotation_order!r}")
    skel = motion.skeleton
    rot_channels = " ".join(f"{a}rotation" for a in order)
    lines = ["HIERARCHY"]
    fmt = f"{{:.{decimals}f}}"

    def vec(v: np.ndarray) -> str:
        return " ".join(fmt.format(x) for x in np.asarray(v) / scale)

    def write(j: int, depth: int) -> None:
        pad = "\t" * depth
        kind = "ROOT" if j == 0 else "JOINT"
        lines.append(f"{pad}{kind} {skel.joint_names[j]}")
        lines.append(f"{pad}{{")
        # The root's position lives in its channels only, so readers agree on it.
        lines.append(f"{pad}\tOFFSET {vec(skel.offsets[j] if j else np.zeros(3))}")
        channels = f"6 Xposition Yposition Zposition {rot_channels}" if j == 0 else f"3 {rot_channels}"
        lines.append(f"{pad}\tCHANNELS {channels}")
        kids = skel.children(j)
        for child in kids:
            write(child, depth + 1)
        if not kids:  # BVH leaves must end with an End Site
            lines.append(f"{pad}\tEnd Site")
            lines.append(f"{pad}\t{{")
            lines.append(f"{pad}\t\tOFFSET {vec(skel.end_sites.get(j, np.zeros(3)))}")
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    write(0, 0)
    # Channels appear in depth-first file order, which may differ from joint order.
    file_order: list[int] = []
    stack = [0]
    while stack:
        j = stack.pop()
        file_order.append(j)
        stack.extend(reversed(skel.children(j)))
    flat = motion.local_rotmat[:, file_order].reshape(-1, 3, 3)
    with warnings.catch_warnings():
        # Gimbal lock only makes the angle split non-unique; the rotation is kept.
        warnings.filterwarnings("ignore", message="Gimbal lock")
        euler_deg = Rotation.from_matrix(flat).as_euler(order, degrees=True)
    euler_deg = euler_deg.reshape(motion.num_frames, len(file_order) * 3)
    root_pos = (motion.root_transl + skel.offsets[0]) / scale
    frames = np.concatenate([root_pos, euler_deg], axis=1)
    lines += ["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    lines += [" ".join(fmt.format(x) for x in row) for row in frames]
    return "\n".join(lines) + "\n"


def write_bvh(
    path: Path | str, motion: Motion, rotation_order: str = "ZXY", scale: float = 1.0, decimals: int = 6
) -> Path:
    """Write a motion as BVH (see `format_bvh`), atomically (temp file, then rename).

    Joints are written depth-first; `read_bvh` of the result gives the same
    joint positions (up to ``decimals``), with joints in depth-first order.

    Returns:
        The written path.
    """
    path = Path(path)
    text = format_bvh(motion, rotation_order=rotation_order, scale=scale, decimals=decimals)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
