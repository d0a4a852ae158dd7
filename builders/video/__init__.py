"""Stage 1: video -> tracked 3D motion of every person. Needs the `video` extra.

One module per step: ``decode`` (PyAV, frame folders), ``detect`` (RT-DETR, OpenCV HOG),
``track`` (ByteTrack, split / bridge / mask), ``pose`` (ViTPose backend and the backend
interface), ``blazepose`` (MediaPipe BlazePose backend and detector), ``lift`` (VideoPose3D),
``world`` (root trajectory, camera -> world), ``cache``, ``output`` (motion files, tracks.json,
preview) and ``pipeline`` (the API: ``Stage1Options``, ``PersonTrack``, ``Reconstruction``,
``VideoError``, ``load_models``, ``reconstruct``, ``lift_keypoints``); ``cli`` is
``imu2safety reconstruct``. The simulator knows nothing of video: it gets ``Motion`` objects.
"""
