"""Track assembly (split / bridge / mask / drop, stable ids) and ByteTrack association."""

from __future__ import annotations

import numpy as np

from imu2safety.builders.video.detect import Detections
from imu2safety.builders.video.track import Observations, PersonTracker, assemble_tracks


def _obs(positions, x0=0.0):
    o = Observations()
    for p in positions:
        box = [x0 + p, 10, x0 + p + 20, 60]
        o.add(p, box, 0.9, np.full((17, 2), float(p)), np.full(17, 0.8))
    return o


def test_split_bridge_mask_and_drop():
    times = np.arange(100) / 10.0  # 10 fps
    a = list(range(0, 20)) + [22, 23] + list(range(27, 40)) + list(range(60, 75))
    b = list(range(5, 8))  # 0.3 s: too short
    tracks, dropped = assemble_tracks({7: _obs(a), 3: _obs(b, 50)}, times, bridge_gap_s=0.3,
                                      max_gap_s=1.0, min_track_s=1.0)
    assert len(dropped) == 1 and "tracker id 3" in dropped[0]
    assert [(t.track_id, t.positions[0], t.positions[-1]) for t in tracks] == [(0, 0, 39), (1, 60, 74)]
    t0 = tracks[0]
    assert np.array_equal(np.flatnonzero(~t0.observed), [20, 21, 24, 25, 26])
    # 19 -> 22 is 0.3 s (bridged), 23 -> 27 is 0.4 s (masked), 39 -> 60 is 2.1 s (split)
    assert np.array_equal(np.flatnonzero(~t0.mask), [24, 25, 26])
    np.testing.assert_allclose(t0.keypoints[20:22, 0, 0], [20.0, 21.0])  # interpolated
    np.testing.assert_allclose(t0.scores[24:27], 0.0)
    np.testing.assert_allclose(t0.boxes[25], [25, 10, 45, 60])
    assert (t0.box_scores[~t0.observed] == 0).all()


def test_ids_in_order_of_first_appearance():
    times = np.arange(50) / 10.0
    tracks, _ = assemble_tracks({9: _obs(range(5, 30)), 2: _obs(range(10, 40)), 4: _obs(range(5, 25))},
                                times, min_track_s=1.0)
    assert [(t.track_id, t.positions[0], len(t.positions)) for t in tracks] == \
        [(0, 5, 20), (1, 5, 25), (2, 10, 30)]


def test_bytetrack_keeps_identity_of_crossing_free_walkers():
    tracker = PersonTracker(fps=10.0, max_gap_s=0.5)
    seen = {}
    for k in range(20):
        boxes = np.array([[10 + 2 * k, 10, 40 + 2 * k, 90], [200 - 2 * k, 10, 230 - 2 * k, 90]],
                         np.float32)
        if k == 8:  # one missed detection of the second walker
            boxes = boxes[:1]
        ids, out, _ = tracker.update(Detections(boxes, np.full(len(boxes), 0.9, np.float32)), k / 10)
        for i, b in zip(ids, out):
            seen.setdefault(int(i), []).append((k, float(b[0])))
    assert len(seen) == 2
    left = next(v for v in seen.values() if v[-1][1] < 100)
    assert [k for k, _ in left] == list(range(1, 20))
    right = next(v for v in seen.values() if v is not left)
    assert 8 not in [k for k, _ in right] and len(right) == 18
