"""One bad byte or cell costs its row, never a file (issue 6, item 9; fall times of item 7)."""

from __future__ import annotations

import numpy as np

from imu2safety.builders.records import Clip
from imu2safety.builders.sources import smartfallmm_imu as sf
from imu2safety.builders.sources import up_fall
from imu2safety.builders.sources import weda_fall as weda

import test_source_smartfallmm_imu as sfx
import test_source_up_fall as upx
import test_source_weda_fall as wx


def test_weda_fall_bad_byte_in_an_unused_timestamp_row_keeps_the_fall_times(tmp_path):
    rows = "F01/U01_R01,1.5,2.5\r\nF02/U09_R01,1,2\r\n"
    wx.write_falls(tmp_path, rows)
    path = tmp_path / "fall_timestamps.csv"
    path.write_bytes(path.read_bytes().replace(b"U09", b"U\xff9"))  # not UTF-8
    [clip] = wx.items(wx.write_trial(tmp_path))
    assert isinstance(clip, Clip)
    assert clip.extra["fall_start_s"] == 1.5 and clip.extra["fall_end_s"] == 2.5
    assert clip.extra["fall_timestamps_dropped_rows"] == 1


def test_weda_fall_implausible_fall_times_are_dropped_not_written(tmp_path):
    wx.write_falls(tmp_path, "F01/U01_R01,-1e308,1e308\r\n")
    [clip] = wx.items(wx.write_trial(tmp_path))
    assert isinstance(clip, Clip)
    assert clip.extra["fall_start_s"] is None and clip.extra["fall_end_s"] is None
    assert clip.extra["fall_timestamps_dropped_rows"] == 1


def test_weda_fall_bad_byte_in_a_sensor_file_costs_one_row(tmp_path):
    wx.write_falls(tmp_path)
    acc = wx.write_trial(tmp_path)
    lines = acc.read_bytes().split(b"\n")
    lines[7] = lines[7][:3] + b"\xfe" + lines[7][4:]
    acc.write_bytes(b"\n".join(lines))
    [clip] = wx.items(acc)
    assert isinstance(clip, Clip) and clip.extra["corrupt_rows"]["accelerometer"] == 1


def test_up_fall_bad_dates_cost_their_rows_not_the_file(tmp_path):
    body = upx.rows(1, 1, 1) + upx.rows(1, 11, 2, start_s=60) + upx.rows(15, 6, 1, start_s=120)
    body[3][0] = "3018-07-04T12:04:17.738369"        # out of range: wrapped to 1849 by a ns clock
    body[50][0] = "2018-07-04T12:05:17.738369+05:00"  # a time zone among naive stamps
    path = upx.write(tmp_path / "CompleteDataSet.csv", body)
    clips = [c for c in upx.items(path) if isinstance(c, Clip)]
    assert [c.id for c in clips] == ["S01A01T01", "S01A11T02", "S15A06T01"]
    by_id = {c.id: c for c in clips}
    assert by_id["S01A01T01"].extra["corrupt_rows"]["accelerometer"] == 1
    assert by_id["S01A11T02"].extra["corrupt_rows"]["accelerometer"] == 1
    for c in clips:  # 41 rows 50 ms apart: 2 s, never a span reaching into another century
        assert abs(len(c.imu) / c.sample_rate_hz - 2.0) < 0.1
        assert c.extra["start_time"].startswith("2018-07-04")


def test_smartfallmm_watch_bad_byte_costs_one_row(tmp_path):
    path = sfx.write_trial(tmp_path)
    lines = path.read_bytes().split(b"\n")
    lines[5] = lines[5][:5] + b"\xff" + lines[5][6:]
    path.write_bytes(b"\n".join(lines))
    [clip] = sfx.items(path)
    assert isinstance(clip, Clip)
    assert clip.extra["corrupt_rows"] == {"accelerometer": 1, "gyroscope": 0}
    assert np.isfinite(clip.imu).all()
