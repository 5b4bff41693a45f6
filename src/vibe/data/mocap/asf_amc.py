"""Acclaim ASF (skeleton) and AMC (motion) files, as written by the CMU database.

Facts used (Acclaim ASF v1.10 definition; CMU/Vicon notes on it):

- ASF lengths are multiplied by ``:units length``; CMU files say ``0.45`` and
  store inches divided by it, so metres = value × 0.0254 / 0.45 = value ×
  0.056444 (CMU FAQ). Angles are degrees unless ``angle rad``.
- A bone has a ``direction`` (unit, world frame, rest pose), a ``length``, an
  ``axis ax ay az ORDER``: the orientation C of the bone's local frame in the
  world, and ``dof`` tokens: which AMC channels it has and in which order.
- Euler angles in ASF/AMC (``axis``, ``dof``, the root ``order``) are
  rotations about *fixed* axes applied in the order written, so ``rx ry rz``
  (or ``axis ... XYZ``) means ``Rz @ Ry @ Rx`` for column vectors.
- The motion M of a bone (from its AMC values) is expressed in its axis frame
  C, so its rotation relative to the parent, in the BVH convention of
  `skeleton` (identity = rest pose), is ``L = C @ M @ C⁻¹``. The root uses its
  ``orientation`` as C and its ``order`` for M; its ``position`` is added to
  the AMC translation (both pre-sets are zero in CMU files).

Bones versus joints. An ASF bone starts at its parent's tail (the root is a
point) and ends at ``head + length * direction``; its rotation turns the bone
itself and everything below it. A BVH joint is the *head* of such a bone. So
the `Motion` has one joint per ASF bone plus the root, joint ``b`` sits at
the head of bone ``b`` (= the tail of its parent bone), carries bone ``b``'s
rotation, and its rest offset is the *parent* bone's vector (zero for bones
hanging off the root: ``lhipjoint``, ``rhipjoint``, ``lowerback``). Leaf bone
tails (toes, head top, finger and thumb tips) become ``end_sites``.

CMU bone names are renamed to the CMU BVH (MotionBuilder) names of
`CMU_ASF_TO_BVH`, so ASF/AMC and BVH clips share joint names.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vibe.data.mocap.skeleton import Motion, Skeleton, euler_product, read_text_any_encoding

log = logging.getLogger(__name__)

CMU_FPS = 120.0
INCH_IN_METRES = 0.0254

# ASF bone name → CMU BVH joint name (head of the bone). The right side is
# the mirror of the left.
CMU_ASF_TO_BVH: dict[str, str] = {
    "root": "Hips",
    "lowerback": "LowerBack",
    "upperback": "Spine",
    "thorax": "Spine1",
    "lowerneck": "Neck",
    "upperneck": "Neck1",
    "head": "Head",
    **{
        f"{s}{bone}": name.format(side=side, s=s.upper())
        for s, side in (("l", "Left"), ("r", "Right"))
        for bone, name in {
            "hipjoint": "{s}HipJoint",
            "femur": "{side}UpLeg",
            "tibia": "{side}Leg",
            "foot": "{side}Foot",
            "toes": "{side}ToeBase",
            "clavicle": "{side}Shoulder",
            "humerus": "{side}Arm",
            "radius": "{side}ForeArm",
            "wrist": "{side}Hand",
            "hand": "{side}FingerBase",
            "fingers": "{side}HandIndex1",
            "thumb": "{s}Thumb",
        }.items()
    },
}


@dataclass
class AsfBone:
    """One ``begin … end`` block of an ASF ``:bonedata`` section (file units).

    Attributes:
        name: bone name.
        direction: ``(3,)`` unit direction of the bone in the rest pose (world).
        length: bone length, in file units (times ``:units length``).
        axis_rad: ``(3,)`` angles about x, y, z of the bone frame C, radians.
        axis_order: order in which those fixed-axis rotations apply, e.g. ``"XYZ"``.
        dofs: AMC channels of this bone in file order, e.g. ``("rx", "rz")``.
        limits: ``(len(dofs), 2)`` channel limits as written (may be empty).
    """

    name: str
    direction: np.ndarray
    length: float
    axis_rad: np.ndarray
    axis_order: str = "XYZ"
    dofs: tuple[str, ...] = ()
    limits: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    def axis_rotmat(self) -> np.ndarray:
        """``(3, 3)`` C: the bone's local frame in the world (fixed-axis Euler)."""
        return fixed_axes_rotmat(self.axis_order, self.axis_rad)


@dataclass
class AsfSkeleton:
    """A parsed ASF file (file units, see `AsfSkeleton.metres_per_unit`).

    Attributes:
        name: the ``:name`` field.
        length_unit: the ``:units length`` multiplier.
        angle_in_degrees: ``:units angle`` is ``deg`` (else radians).
        root_order: AMC root channels in file order, e.g. ``("tx", ..., "rz")``.
        root_axis_order: axes of the root ``orientation``, application order.
        root_position: ``(3,)`` rest position of the root, file units.
        root_orientation_rad: ``(3,)`` rest orientation of the root, radians.
        bones: bone name → bone, in file order.
        children: bone name (or ``"root"``) → child bone names, in file order.
    """

    name: str
    length_unit: float
    angle_in_degrees: bool
    root_order: tuple[str, ...]
    root_axis_order: str
    root_position: np.ndarray
    root_orientation_rad: np.ndarray
    bones: dict[str, AsfBone]
    children: dict[str, list[str]]

    @property
    def metres_per_unit(self) -> float:
        """Metres per file length unit: 0.0254 / ``length`` (inches, CMU FAQ)."""
        return INCH_IN_METRES / self.length_unit

    def bone_order(self) -> list[str]:
        """Bone names depth-first from the root, children in hierarchy order."""
        order: list[str] = []
        stack = list(reversed(self.children.get("root", [])))
        while stack:
            name = stack.pop()
            order.append(name)
            stack.extend(reversed(self.children.get(name, [])))
        return order

    def parent_of(self) -> dict[str, str]:
        """Bone name → parent bone name (``"root"`` for the root's children)."""
        return {c: p for p, kids in self.children.items() for c in kids}


def fixed_axes_rotmat(order: str, angles_xyz_rad: np.ndarray) -> np.ndarray:
    """``(3, 3)`` rotation about fixed axes applied in ``order`` (ASF ``axis``).

    Args:
        order: application order, e.g. ``"XYZ"`` → ``Rz @ Ry @ Rx``.
        angles_xyz_rad: ``(3,)`` angles about x, y and z (as written), radians.
    """
    reverse = order.upper()[::-1]
    return euler_product(reverse, np.array([angles_xyz_rad["XYZ".index(a)] for a in reverse]))


def _tokens(line: str) -> list[str]:
    """Split an ASF line: commas and parentheses are whitespace, ``#`` starts a comment."""
    return re.sub(r"[(),]", " ", line.split("#", 1)[0]).split()


def _sections(text: str) -> dict[str, list[list[str]]]:
    """ASF keyword (``units``, ``root``, ``bonedata``, …) → its tokenised lines."""
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for raw in text.splitlines():
        tokens = _tokens(raw)
        if not tokens:
            continue
        if tokens[0].startswith(":"):
            current = sections.setdefault(tokens[0][1:].lower(), [])
            if len(tokens) > 1:  # ":name VICON" carries its value on the keyword line
                current.append(tokens[1:])
        elif current is not None:
            current.append(tokens)
    return sections


def parse_asf(text: str) -> AsfSkeleton:
    """Parse the text of an ASF file.

    Args:
        text: the whole file.

    Returns:
        The skeleton in file units (angles already in radians).
    """
    sec = _sections(text)
    units = {t[0].lower(): t[1] for t in sec.get("units", []) if len(t) >= 2}
    length_unit = float(units.get("length", 1.0))
    in_degrees = units.get("angle", "deg").lower().startswith("deg")
    to_rad = np.deg2rad if in_degrees else (lambda a: np.asarray(a, dtype=np.float64))

    root = {t[0].lower(): t[1:] for t in sec.get("root", [])}
    root_order = tuple(t.lower() for t in root.get("order", ["tx", "ty", "tz", "rx", "ry", "rz"]))
    root_axis_order = "".join(root.get("axis", ["XYZ"])).upper()
    root_position = np.array([float(v) for v in root.get("position", [0, 0, 0])])
    root_orientation = to_rad(np.array([float(v) for v in root.get("orientation", [0, 0, 0])]))

    bones: dict[str, AsfBone] = {}
    block: dict[str, list[str]] = {}
    last_key = ""
    for tokens in sec.get("bonedata", []):
        key = tokens[0].lower()
        if key == "begin":
            block, last_key = {}, ""
        elif key == "end":
            bone = _make_bone(block, to_rad)
            bones[bone.name] = bone
        elif key in ("id", "name", "direction", "length", "axis", "dof", "limits", "bodymass", "cofmass"):
            block[key], last_key = tokens[1:], key
        elif last_key == "limits":  # further limit pairs sit on their own lines
            block["limits"] = block["limits"] + tokens
        else:
            log.debug("ASF: ignoring bone field %r", tokens[0])

    children: dict[str, list[str]] = {}
    for tokens in sec.get("hierarchy", []):
        if tokens[0].lower() in ("begin", "end"):
            continue
        children.setdefault(tokens[0], []).extend(tokens[1:])
    missing = {c for kids in children.values() for c in kids} - set(bones)
    if missing:
        raise ValueError(f"ASF hierarchy names bones without bonedata: {sorted(missing)}")

    return AsfSkeleton(
        name=" ".join(sec.get("name", [["asf"]])[0]),
        length_unit=length_unit,
        angle_in_degrees=in_degrees,
        root_order=root_order,
        root_axis_order=root_axis_order,
        root_position=root_position,
        root_orientation_rad=root_orientation,
        bones=bones,
        children=children,
    )


def _make_bone(block: dict[str, list[str]], to_rad) -> AsfBone:
    """Build an `AsfBone` from the tokens of one ``begin … end`` block."""
    axis = block.get("axis", ["0", "0", "0", "XYZ"])
    dofs = tuple(t.lower() for t in block.get("dof", []))
    limits = np.array([float(v) for v in block.get("limits", [])], dtype=np.float64)
    direction = np.array([float(v) for v in block["direction"]], dtype=np.float64)
    norm = np.linalg.norm(direction)
    return AsfBone(
        name=block["name"][0],
        direction=direction / norm if norm > 0 else direction,
        length=float(block.get("length", ["0"])[0]),
        axis_rad=to_rad(np.array([float(v) for v in axis[:3]], dtype=np.float64)),
        axis_order=axis[3].upper() if len(axis) > 3 else "XYZ",
        dofs=dofs,
        limits=limits.reshape(-1, 2),
    )


def read_amc(text: str, asf: AsfSkeleton) -> dict[str, np.ndarray]:
    """Read AMC frames.

    Args:
        text: the whole AMC file.
        asf: its skeleton (gives the channel count of each bone).

    Returns:
        ``"root"`` and bone names → ``(T, D)`` channel values as written (file
        units and angle units), channels in ``dof`` / root ``order`` order.
        Bones absent from the file get no entry.
    """
    frames: list[dict[str, list[float]]] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith(":"):
            continue
        tokens = line.split()
        if len(tokens) == 1 and tokens[0].isdigit():
            frames.append({})
        elif frames:
            frames[-1][tokens[0]] = [float(v) for v in tokens[1:]]
    if not frames:
        raise ValueError("AMC file has no frames")
    out: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(n for f in frames for n in f):  # every bone seen, in first-seen order
        width = len(asf.root_order) if name == "root" else len(asf.bones[name].dofs)
        values = np.array([f.get(name, [np.nan] * width) for f in frames], dtype=np.float64)
        if values.shape[1] != width:
            raise ValueError(f"AMC bone {name!r}: {values.shape[1]} values, ASF says {width}")
        out[name] = values
    return out


def _channel_rotation(channels: tuple[str, ...], values_rad: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` M from rotation channels (fixed axes, in written order).

    Args:
        channels: channel names, e.g. ``("tx", "rx", "rz")`` (translations skipped).
        values_rad: ``(T, len(channels))`` values, angles in radians.
    """
    keep = [k for k, c in enumerate(channels) if c in ("rx", "ry", "rz")]
    axes = "".join(channels[k][1] for k in keep)
    if not keep:
        return np.broadcast_to(np.eye(3), (values_rad.shape[0], 3, 3)).copy()
    # Fixed axes applied in written order = intrinsic product in reverse order.
    return euler_product(axes[::-1], values_rad[:, keep[::-1]])


def asf_amc_to_motion(
    asf: AsfSkeleton,
    amc: dict[str, np.ndarray],
    fps: float = CMU_FPS,
    name: str = "",
    metres_per_unit: float | None = None,
    rename: dict[str, str] | None = CMU_ASF_TO_BVH,
) -> Motion:
    """Convert parsed ASF + AMC data to a `Motion` (BVH-style joints, metres).

    Args:
        asf: parsed skeleton.
        amc: output of `read_amc` (``T`` frames).
        fps: frame rate of the AMC file (CMU: 120).
        name: clip name.
        metres_per_unit: length scale; default `AsfSkeleton.metres_per_unit`.
        rename: ASF bone name → joint name; names not in it are kept. ``None``
            keeps the ASF names (``"root"`` for the root).

    Returns:
        Motion with ``1 + len(bones)`` joints, root first, bones depth-first.
        ``meta["asf_bones"]`` lists the ASF bone of every joint.
    """
    scale = asf.metres_per_unit if metres_per_unit is None else metres_per_unit
    to_rad = np.deg2rad if asf.angle_in_degrees else (lambda a: a)
    order = asf.bone_order()
    parent_of = asf.parent_of()
    asf_names = ["root", *order]
    index = {n: i for i, n in enumerate(asf_names)}
    num_frames = next(iter(amc.values())).shape[0]

    parents = np.array([-1] + [index[parent_of[b]] for b in order])
    offsets = np.zeros((len(asf_names), 3))
    end_sites: dict[int, np.ndarray] = {}
    for j, bone_name in enumerate(order, start=1):
        parent = parent_of[bone_name]
        if parent != "root":  # the root is a point: its children start where it is
            bone = asf.bones[parent]
            offsets[j] = bone.direction * bone.length * scale
        if not asf.children.get(bone_name):
            bone = asf.bones[bone_name]
            end_sites[j] = bone.direction * bone.length * scale

    local = np.broadcast_to(np.eye(3), (num_frames, len(asf_names), 3, 3)).copy()
    root_c = fixed_axes_rotmat(asf.root_axis_order, asf.root_orientation_rad)
    root_values = amc.get("root", np.zeros((num_frames, len(asf.root_order))))
    root_values = np.where(np.isnan(root_values), 0.0, root_values)
    rot_cols = [k for k, c in enumerate(asf.root_order) if c.startswith("r")]
    root_rad = root_values.copy()
    root_rad[:, rot_cols] = to_rad(root_values[:, rot_cols])
    m_root = _channel_rotation(asf.root_order, root_rad)
    local[:, 0] = root_c @ m_root @ root_c.T

    # The ASF root position is a pre-set offset added to the captured translation.
    root_transl = np.broadcast_to(asf.root_position, (num_frames, 3)).copy()
    for k, channel in enumerate(asf.root_order):
        if channel in ("tx", "ty", "tz"):
            root_transl[:, "xyz".index(channel[1])] += root_values[:, k]
    root_transl *= scale

    for j, bone_name in enumerate(order, start=1):
        bone = asf.bones[bone_name]
        if bone_name not in amc or not bone.dofs:
            continue
        values = amc[bone_name]
        if np.isnan(values).any():
            log.warning("AMC: bone %s missing in some frames; using 0 there", bone_name)
            values = np.nan_to_num(values)
        c = bone.axis_rotmat()
        local[:, j] = c @ _channel_rotation(bone.dofs, to_rad(values)) @ c.T

    names = [rename.get(n, n) for n in asf_names] if rename else asf_names
    skeleton = Skeleton(joint_names=names, parents=parents, offsets=offsets, end_sites=end_sites)
    meta = {
        "format": "asf/amc",
        "asf_bones": asf_names,
        "metres_per_unit": scale,
        "dofs": {rename.get(b, b) if rename else b: asf.bones[b].dofs for b in order},
    }
    return Motion(skeleton, local, root_transl, fps=fps, name=name, meta=meta)


def drop_blank_frames(amc: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Trim leading and trailing frames whose every channel is exactly zero.

    Such frames are placeholders, not poses: CMU clip 09_10 starts with four
    (the rest pose at the origin, feet 0.94 m under the floor). Blank frames
    inside the clip are kept so that timing is preserved.

    Args:
        amc: output of `read_amc`, ``(T, D)`` per bone.

    Returns:
        The same dict with ``(T', D)`` arrays.
    """
    blank = np.all([np.all(v == 0, axis=1) for v in amc.values()], axis=0)
    if blank.all():
        raise ValueError("every AMC frame is blank")
    first, last = np.flatnonzero(~blank)[[0, -1]]
    if first == 0 and last == blank.size - 1:
        return amc
    log.warning("AMC: trimming %d blank frames at the start, %d at the end", first, blank.size - 1 - last)
    return {k: v[first : last + 1] for k, v in amc.items()}


def load_asf_amc(
    asf_path: Path | str,
    amc_path: Path | str,
    fps: float = CMU_FPS,
    metres_per_unit: float | None = None,
    rename: dict[str, str] | None = CMU_ASF_TO_BVH,
    keep_blank_frames: bool = False,
) -> Motion:
    """Read an ASF skeleton and one of its AMC clips into a `Motion`.

    Args:
        asf_path: the subject's ``.asf``.
        amc_path: the clip's ``.amc``.
        fps: AMC frame rate (not stored in the file; CMU: 120).
        metres_per_unit: length scale; default from the ASF ``:units length``.
        rename: see `asf_amc_to_motion`.
        keep_blank_frames: keep all-zero placeholder frames (see `drop_blank_frames`).

    Returns:
        ``(T, J)`` Motion named after the AMC file stem.
    """
    asf = parse_asf(read_text_any_encoding(asf_path))
    amc = read_amc(read_text_any_encoding(amc_path), asf)
    if not keep_blank_frames:
        amc = drop_blank_frames(amc)
    motion = asf_amc_to_motion(
        asf, amc, fps=fps, name=Path(amc_path).stem, metres_per_unit=metres_per_unit, rename=rename
    )
    motion.meta.update(source=str(amc_path), skeleton_source=str(asf_path))
    return motion
