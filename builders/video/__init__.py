"""Stage 1: video -> tracked 3D motion of every person (decoding, detection, tracking, 2D pose, lifting, world frame, cache). Needs the `video` extra."""
