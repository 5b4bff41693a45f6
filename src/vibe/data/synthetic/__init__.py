"""Synthetic training windows for the ``open`` stack: mocap motion → detected-landmark look-alikes + targets.

For every motion window (local rotations ``(T, J, 3, 3)`` and root translation
``(T, 3)`` of the Anny rig, 30 fps) :class:`SyntheticGenerator` draws

1. a body shape (:func:`sample_phenotypes`): teens and adults, anny's own
   WHO-calibrated phenotype distribution (see its docstring);
2. a camera (:class:`SyntheticConfig`, "camera"): one of a few phone/webcam
   image sizes, a focal length from the field of view of the long image side,
   a position all around the person at 2–10 m and 0.3–2.2 m above the floor
   looking at the person's mean mid-hip, a small roll, the person shifted off
   the image centre, and a slow pan/tilt over the window; redrawn until enough
   of the body is in view;
3. BlazePose-33 landmarks projected into the image (pinhole, OpenCV axes);
4. the person box as the demo builds it (:mod:`vibe.pipeline.people`): the
   BlazePose detector's region of interest (a square centred on the mid-hip,
   half-side 1.25 × the radius of the circle around the body) with detector
   noise, then :func:`~vibe.pipeline.people.smooth_square_boxes`;
5. detector noise on the landmarks (the noise model: :mod:`~vibe.data.synthetic.detector`);
6. the encoder input through :func:`vibe.data.features.keypoints_to_encoder_input`,
   the very function the demo calls (so truncation at the image border and
   the box normalisation are identical);

and the targets: rotations with the root in the camera frame, the shape, the
best-fitting crop camera, eval14 joints in the camera frame, clean 2D
landmarks in the crop's ``[-1, 1]`` and MediaPipe-style world landmarks.

The parts, one module each:

- :mod:`~vibe.data.synthetic.config`: :class:`SyntheticConfig`, every random choice and noise level;
- :mod:`~vibe.data.synthetic.shapes`: body shapes (:func:`sample_phenotypes`);
- :mod:`~vibe.data.synthetic.cameras`: camera placement, projection and the crop camera;
- :mod:`~vibe.data.synthetic.landmarks`: BlazePose-33 landmark groups and left/right swaps;
- :mod:`~vibe.data.synthetic.detector`: what the detector sees: the person box
  and the landmark noise model (its docstring: the noise model, sim-to-real, calibration);
- :mod:`~vibe.data.synthetic.generator`: :class:`SyntheticGenerator`, which
  assembles the windows, and its output :class:`SyntheticBatch`.

Determinism: all randomness comes from the ``numpy.random.Generator`` passed
to :meth:`SyntheticGenerator.generate`; the same seed gives the same batch.
"""

from vibe.data.synthetic.cameras import fit_crop_camera, project
from vibe.data.synthetic.config import SyntheticConfig
from vibe.data.synthetic.generator import SyntheticBatch, SyntheticGenerator
from vibe.data.synthetic.shapes import sample_phenotypes

__all__ = ["SyntheticConfig", "SyntheticBatch", "SyntheticGenerator", "sample_phenotypes", "fit_crop_camera", "project"]
