"""CPU throughput of the overlay renderer (offscreen OpenGL, e.g. Mesa llvmpipe through EGL).

Renders posed Anny meshes (13718 vertices, 27420 triangles) of one and three
people over frames of 768×432 and 1280×720 with the weak-perspective cameras,
the overlay as the demo draws it and the side view. Each case warms up, then
renders ``--frames`` frames cycling through a few poses, so every frame
uploads new vertices. Prints a markdown table of frames per second and the
share of time spent on the CPU side (camera transform + normals + upload).
Run ``python benchmarks/bench_render.py --help``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import roma
import torch

from vibe.body.anny import Anny
from vibe.render.backend import choose_platform
from vibe.render.overlay import OverlayRenderer, PersonMesh

SIZES = ((768, 432), (1280, 720))


def _poses(body: Anny, count: int) -> list[np.ndarray]:
    """``count`` posed meshes ``(V, 3)`` in camera axes (upright, facing the camera)."""
    g = torch.Generator().manual_seed(0)
    rotvec = 0.25 * torch.randn(count, body.num_joints, 3, generator=g)
    pose = roma.rotvec_to_rotmat(rotvec)
    pose[:, 0] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # half turn about x: upright in camera axes
    with torch.no_grad():
        verts = body(pose).vertices.numpy()
    return [v - v.mean(axis=0) for v in verts]


def _people(meshes: list[np.ndarray], frame: int, count: int, width: int, height: int) -> list[PersonMesh]:
    """``count`` people side by side, about 80 % of the frame tall."""
    sy = 1.6 / 1.7
    sx = sy * height / width
    people = []
    for k in range(count):
        tx = (k - (count - 1) / 2) * 0.6 / sx  # centres 0.6 apart in NDC (30 % of the width)
        cam = np.array([sx * (1 - 0.1 * k), sy * (1 - 0.1 * k), tx, 0.0])
        people.append(PersonMesh(k, meshes[(frame + k) % len(meshes)], cam))
    return people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="timed frames per case")
    args = parser.parse_args()

    platform = choose_platform()
    body = Anny()
    meshes = _poses(body, 8)
    faces = body.faces.numpy()
    rows = []
    for width, height in SIZES:
        renderer = OverlayRenderer(width, height, faces, body.num_vertices)
        frame = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
        for count in (1, 3):
            for side in (False, True):
                for i in range(3):  # warm-up: first upload, shader compilation
                    renderer.render(frame, _people(meshes, i, count, width, height), side_view=side)
                start = time.perf_counter()
                for i in range(args.frames):
                    renderer.render(frame, _people(meshes, i, count, width, height), side_view=side)
                elapsed = time.perf_counter() - start
                # CPU-side share: the same per-person work without drawing.
                start = time.perf_counter()
                for i in range(args.frames):
                    for person in _people(meshes, i, count, width, height):
                        eye, _ = renderer._to_eye(person.vertices_cam, person, None)
                        renderer._vertex_normals(person.vertices_cam)
                prep = time.perf_counter() - start
                view = "side" if side else "overlay"
                rows.append((f"{width}×{height}", count, view, args.frames / elapsed, prep / elapsed))
        renderer.close()

    cores = os.cpu_count()
    print(f"OpenGL platform: {platform}; {cores} CPU cores; Anny mesh 13718 vertices / 27420 triangles")
    print("| frame | people | view | frames/s | CPU prep share |")
    print("|---|---|---|---|---|")
    for size, count, view, fps, share in rows:
        print(f"| {size} | {count} | {view} | {fps:.1f} | {100 * share:.0f} % |")


if __name__ == "__main__":
    main()
