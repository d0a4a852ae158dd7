"""Decoding: video files with PyAV, or folders of numbered frame images.

Frames come out as ``Frame(index, time_s, image)``: ``index`` counts frames from the start of the
file (frame folders: the image's position in sorted order), ``time_s`` is the presentation time in
seconds from the container (variable frame rate is kept: the times are not assumed uniform) and
``image`` is (H, W, 3) uint8 RGB, already turned upright when the container carries a display
rotation (phone videos). A clip window (``start_s``/``end_s``) is reached by seeking to the key
frame before ``start_s``, not by decoding from the beginning.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class VideoError(ValueError):
    """A video (or frame folder) that cannot be read, or a window outside it. Says why."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video.

    fps: container average frame rate, Hz (frame folders: the stated fps).
    width, height: pixels of the upright (rotation-applied) frames.
    duration_s: container duration, seconds (None when the container does not say).
    rotation_deg: display rotation, degrees counter-clockwise (0, 90, -90, 180).
    num_frames: frame count from the container (0 when unknown).
    focal_35mm: 35 mm-equivalent focal length, mm, from the first frame image's EXIF
        (``FocalLengthIn35mmFilm``; frame folders only: video containers carry no standard key).
    """

    path: str
    fps: float
    width: int
    height: int
    duration_s: float | None
    rotation_deg: int
    num_frames: int
    is_frame_folder: bool = False
    focal_35mm: float | None = None


@dataclass
class Frame:
    """One decoded frame: index in the file, presentation time (s), (H, W, 3) uint8 RGB image."""

    index: int
    time_s: float
    image: np.ndarray


def _upright(image: np.ndarray, rotation_deg: int) -> np.ndarray:
    k = int(round(rotation_deg / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


def frame_files(folder: Path) -> list[Path]:
    """Image files of a frame folder in numeric order (``frame_2.png`` before ``frame_10.png``;
    time-stamped names such as UP-Fall's ``2018-07-04T12_04_17.738369.png`` in time order: every
    number in the name counts, left to right)."""
    files = [p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]

    def key(p: Path):
        return (tuple(int(n) for n in re.findall(r"\d+", p.stem)), p.name)

    return sorted(files, key=key)


def _open(path: Path):
    import av

    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: zero-length file, not a video")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as err:
        raise VideoError(f"{path}: not a readable video ({err})") from None
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: the file has no video stream")
    return container


def probe(path: str | Path, frames_fps: float | None = None) -> VideoInfo:
    """Read a video's (or frame folder's) metadata without decoding it all."""
    path = Path(path)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise VideoError(f"{path}: frame folder without images ({', '.join(IMAGE_SUFFIXES)})")
        if frames_fps is None or not frames_fps > 0:
            raise VideoError(f"{path}: a frame folder needs its frame rate (frames_fps / --fps), "
                             f"got {frames_fps}")
        from PIL import Image

        try:
            with Image.open(files[0]) as im:
                w, h = im.size
                exif = im.getexif().get_ifd(0x8769)  # the Exif sub-IFD
                f35 = exif.get(0xA405)  # FocalLengthIn35mmFilm
        except OSError as err:
            raise VideoError(f"{files[0]}: unreadable image ({err})") from None
        f35 = float(f35) if f35 and float(f35) > 0 else None
        return VideoInfo(str(path), float(frames_fps), w, h, len(files) / float(frames_fps), 0,
                         len(files), True, f35)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or float(rate) <= 0:
            raise VideoError(f"{path}: the container states no frame rate")
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1e6
        else:
            duration = None
        rotation = 0
        try:
            first = next(container.decode(stream))
            rotation = int(first.rotation or 0)
        except StopIteration:
            raise VideoError(f"{path}: the video stream holds no decodable frame") from None
        except Exception as err:  # av.error.* and codec errors: corrupt data
            raise VideoError(f"{path}: cannot decode the first frame ({err})") from None
        w, h = stream.codec_context.width, stream.codec_context.height
        if rotation % 180:
            w, h = h, w
        return VideoInfo(str(path), float(rate), int(w), int(h), duration, rotation,
                         int(stream.frames or 0))
    finally:
        container.close()


def iter_frames(path: str | Path, *, start_s: float | None = None, end_s: float | None = None,
                frames_fps: float | None = None, info: VideoInfo | None = None) -> Iterator[Frame]:
    """Yield the frames with ``start_s <= time_s < end_s`` (seconds from the container's start).

    Raises VideoError for an unreadable file or a window that holds no frame (past the end).
    Corrupt packets in the middle of a file end the iteration with a warning (frames so far kept).
    """
    path = Path(path)
    info = info or probe(path, frames_fps)
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise VideoError(f"window end {end_s} s is not after its start {start_s} s")
    if start_s is not None and info.duration_s is not None and start_s >= info.duration_s:
        raise VideoError(f"{path}: window starts at {start_s:g} s, past the end of the "
                         f"{info.duration_s:.3f} s video")
    lo = -np.inf if start_s is None else float(start_s)
    hi = np.inf if end_s is None else float(end_s)
    count = 0
    frames = _iter_folder(path, info) if info.is_frame_folder else _iter_video(path, info, lo)
    for frame in frames:
        if frame.time_s < lo - 1e-9:
            continue
        if frame.time_s >= hi - 1e-9:
            break
        count += 1
        yield frame
    if count == 0:
        raise VideoError(f"{path}: no frame in the window [{start_s}, {end_s}) s "
                         f"(video length {info.duration_s} s)")


def _iter_folder(path: Path, info: VideoInfo) -> Iterator[Frame]:
    from PIL import Image

    for i, file in enumerate(frame_files(path)):
        try:
            with Image.open(file) as im:
                image = np.asarray(im.convert("RGB"))
        except OSError as err:
            raise VideoError(f"{file}: unreadable image ({err})") from None
        yield Frame(i, i / info.fps, image)


def _iter_video(path: Path, info: VideoInfo, start_s: float) -> Iterator[Frame]:
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 1)
        t0 = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        if np.isfinite(start_s) and start_s > 0:
            container.seek(int((start_s + t0) / tb), stream=stream, backward=True, any_frame=False)
        index_base = None
        prev_time = None
        try:
            for k, frame in enumerate(container.decode(stream)):
                if frame.pts is None:
                    time_s = (prev_time + 1.0 / info.fps) if prev_time is not None else 0.0
                else:
                    time_s = float(frame.pts * tb) - t0
                if index_base is None:  # frame index from the time of the first frame decoded
                    index_base = int(round(time_s * info.fps))
                prev_time = time_s
                image = frame.to_ndarray(format="rgb24")
                yield Frame(index_base + k, time_s, _upright(image, frame.rotation or 0))
        except av.error.FFmpegError as err:
            log.warning("%s: decoding stopped at %.3f s: %s", path, prev_time or 0.0, err)
    finally:
        container.close()


def batched(frames: Iterator[Frame], size: int) -> Iterator[list[Frame]]:
    """Group frames into lists of at most ``size`` (bounded memory)."""
    batch: list[Frame] = []
    for f in frames:
        batch.append(f)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def digest(path: str | Path) -> str:
    """sha256 of a video file's bytes, or of a frame folder's image names and bytes (hex).

    Remembered per (file, size, modification time) for the process: a long video cut into many
    windows is read once, not once per window; a file rewritten in place is hashed again."""
    path = Path(path).resolve()
    files = frame_files(path) if path.is_dir() else [path]
    stamp = tuple((f.name, st.st_size, st.st_mtime_ns) for f in files for st in [f.stat()])
    return _digest(str(path), path.is_dir(), stamp)


@functools.lru_cache(maxsize=4096)
def _digest(path: str, is_dir: bool, stamp: tuple) -> str:
    root = Path(path)
    files = [root / name for name, _, _ in stamp] if is_dir else [root]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() if is_dir else b"")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
