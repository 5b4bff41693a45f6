"""Geometry: rotations (roma), cameras and projection, square crops, Procrustes.

Units are metres and radians; the camera frame is OpenCV's (x right, y down,
z forward); quaternions are xyzw. Rotations and cameras take torch tensors;
box and crop helpers (:mod:`vibe.geometry.crops`) take numpy arrays.
"""

from vibe.geometry.cameras import (
    crop_cam_to_image_cam,
    crop_cam_to_translation,
    image_cam_to_pixels,
    perspective_projection,
    project_to_crop,
    weak_perspective_projection,
)
from vibe.geometry.crops import (
    bbox_cxcys_to_xyxy,
    bbox_xyxy_to_cxcys,
    crop_image,
    crop_transform,
    denormalize_points_from_crop,
    invert_affine,
    normalize_points_to_crop,
    transform_points,
)
from vibe.geometry.procrustes import similarity_procrustes
from vibe.geometry.rotations import (
    axis_angle_to_quat,
    axis_angle_to_rotmat,
    euler_to_rotmat,
    quat_to_axis_angle,
    quat_to_rotmat,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_euler,
    rotmat_to_quat,
    rotmat_to_rot6d,
)

__all__ = [
    "axis_angle_to_quat",
    "axis_angle_to_rotmat",
    "bbox_cxcys_to_xyxy",
    "bbox_xyxy_to_cxcys",
    "crop_cam_to_image_cam",
    "crop_cam_to_translation",
    "crop_image",
    "crop_transform",
    "denormalize_points_from_crop",
    "euler_to_rotmat",
    "image_cam_to_pixels",
    "invert_affine",
    "normalize_points_to_crop",
    "perspective_projection",
    "project_to_crop",
    "quat_to_axis_angle",
    "quat_to_rotmat",
    "rot6d_to_rotmat",
    "rotmat_to_axis_angle",
    "rotmat_to_euler",
    "rotmat_to_quat",
    "rotmat_to_rot6d",
    "similarity_procrustes",
    "transform_points",
    "weak_perspective_projection",
]
