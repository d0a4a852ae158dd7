"""Device (sensor) models: what a real MEMS accelerometer and gyroscope do to the ideal signals.

``apply_device`` turns ideal specific force and angular rate (sensor frame, SI, uniformly sampled)
into what a smartwatch / phone IMU would report. The stages, in order:

1. sampling jitter: the ideal signal is read at jittered instants (linear interpolation);
2. anti-alias low-pass: the on-chip digital filter, a causal 2nd-order Butterworth whose -3 dB
   cutoff is ``lowpass_fraction`` x output data rate (it delays the signal, as the chip does);
3. axis misalignment (cross-axis coupling) and scale-factor error, fixed per recording;
4. bias: turn-on bias (fixed per recording) + bias instability (flicker noise, approximated by a
   sum of first-order Gauss-Markov processes with log-spaced correlation times, started in their
   stationary state) + bias random walk (rate random walk);
5. white noise with standard deviation ``noise_density * sqrt(sample_rate_hz)`` per sample, so
   that the Allan deviation at tau = 1 s equals the noise density;
6. saturation: clip to +-full-scale range;
7. ADC quantisation: round to the LSB, ``LSB = 2 * range / 2**bits`` (symmetric, so +-range is a
   whole number of LSBs and a saturated sample reads exactly +-range).

Datasheet "typ." figures given as +-x are used as 1 sigma. Random draws come only from the ``rng``
given, in a fixed order, so the same seed gives byte-identical output.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields

import numpy as np

from . import kinematics as kin
from .motion import G

_DEG = math.pi / 180.0
_UG = 1e-6 * G  # one micro-g in m/s^2
_MG = 1e-3 * G

#: Correlation times (s) of the Gauss-Markov processes whose sum approximates flicker noise.
#: Two per decade keeps the ripple of the Allan floor below a few percent between ~1 s and ~3000 s.
FLICKER_TAUS_S: np.ndarray = np.logspace(-0.5, 4.0, 10)
_FLICKER_RATIO = float(FLICKER_TAUS_S[1] / FLICKER_TAUS_S[0])
#: Knots per correlation time when a Gauss-Markov term is generated coarsely.
_GM_KNOTS_PER_TAU = 20


@dataclass(frozen=True)
class DeviceProfile:
    """Error figures of one 6-axis IMU (all 1 sigma unless stated; 0 disables a stage).

    accel_noise_density: m/s^2/sqrt(Hz), white noise (velocity random walk coefficient).
    gyro_noise_density: rad/s/sqrt(Hz), white noise (angle random walk coefficient).
    accel_bias_instability / gyro_bias_instability: m/s^2 / rad/s, flicker floor B of the Allan
        deviation (the floor reads 0.664 * B).
    accel_bias_random_walk / gyro_bias_random_walk: m/s^3/sqrt(Hz) / rad/s^2/sqrt(Hz), rate random
        walk K (Allan deviation K * sqrt(tau / 3)).
    accel_turn_on_bias / gyro_turn_on_bias: m/s^2 / rad/s, constant offset drawn per recording.
    accel_scale_error / gyro_scale_error: fraction, per-axis gain error drawn per recording.
    accel_misalignment / gyro_misalignment: rad, each off-diagonal coupling term drawn per recording.
    accel_range_ms2 / gyro_range_rads: full scale, m/s^2 / rad/s; inf = no saturation.
    accel_adc_bits / gyro_adc_bits: ADC word length over the full range; 0 = no quantisation.
    sampling_jitter_s: s, deviation of each sample instant from the nominal grid.
    lowpass_fraction: -3 dB cutoff of the on-chip low-pass as a fraction of the output data rate,
        in (0, 0.5); 0 = no filter.
    """

    name: str
    accel_noise_density: float = 0.0
    gyro_noise_density: float = 0.0
    accel_bias_instability: float = 0.0
    gyro_bias_instability: float = 0.0
    accel_bias_random_walk: float = 0.0
    gyro_bias_random_walk: float = 0.0
    accel_turn_on_bias: float = 0.0
    gyro_turn_on_bias: float = 0.0
    accel_scale_error: float = 0.0
    gyro_scale_error: float = 0.0
    accel_misalignment: float = 0.0
    gyro_misalignment: float = 0.0
    accel_range_ms2: float = math.inf
    gyro_range_rads: float = math.inf
    accel_adc_bits: int = 0
    gyro_adc_bits: int = 0
    sampling_jitter_s: float = 0.0
    lowpass_fraction: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "name":
                continue
            if f.name.endswith("_bits"):
                if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                    raise ValueError(f"{f.name} must be an int, got {value!r}")
                if value != 0 and not 2 <= value <= 32:
                    raise ValueError(f"{f.name} must be 0 (off) or 2..32, got {value}")
            elif f.name.endswith(("_range_ms2", "_range_rads")):
                if not value > 0:  # also rejects NaN; inf allowed
                    raise ValueError(f"{f.name} must be positive (inf = no saturation), got {value}")
            elif not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{f.name} must be finite and >= 0, got {value}")
        if self.lowpass_fraction != 0 and not self.lowpass_fraction < 0.5:
            raise ValueError(
                f"lowpass_fraction must be 0 (off) or below 0.5 (Nyquist), got {self.lowpass_fraction}"
            )
        for sensor in ("accel", "gyro"):
            if getattr(self, f"{sensor}_adc_bits") and not math.isfinite(self._range(sensor)):
                raise ValueError(f"{sensor}_adc_bits needs a finite {sensor} range")

    def _range(self, sensor: str) -> float:
        return self.accel_range_ms2 if sensor == "accel" else self.gyro_range_rads

    @property
    def accel_lsb(self) -> float:
        """Accelerometer LSB, m/s^2 (0 when not quantised)."""
        return 2.0 * self.accel_range_ms2 / 2**self.accel_adc_bits if self.accel_adc_bits else 0.0

    @property
    def gyro_lsb(self) -> float:
        """Gyroscope LSB, rad/s (0 when not quantised)."""
        return 2.0 * self.gyro_range_rads / 2**self.gyro_adc_bits if self.gyro_adc_bits else 0.0

    @property
    def is_ideal(self) -> bool:
        """True when every stage is off (``apply_device`` returns the inputs unchanged)."""
        return all(getattr(self, f.name) == f.default for f in fields(self) if f.name != "name")


# Bosch Sensortec BMI160, data sheet BST-BMI160-DS000-07 (rev 0.8, Feb 2015), Table 1
# "Electrical parameter specification" unless stated. 16-bit accelerometer and gyroscope.
_BMI160 = DeviceProfile(
    name="bmi160",
    accel_noise_density=180 * _UG,           # Table 1: output noise density 180 ug/sqrt(Hz) (normal mode)
    gyro_noise_density=0.007 * _DEG,         # Table 1: output noise density 0.007 deg/s/sqrt(Hz)
    accel_bias_instability=80 * _UG,         # ASSUMED (no datasheet figure): 80 ug, consumer MEMS
    gyro_bias_instability=8.0 * _DEG / 3600,  # ASSUMED (no datasheet figure): 8 deg/h, consumer MEMS
    # ASSUMED (no datasheet figure): rate random walk meeting the bias-instability floor at
    # tau ~ 3000 s (K = 0.664 B sqrt(3 / 3000)), the shape of consumer-MEMS Allan plots.
    accel_bias_random_walk=0.021 * 80 * _UG,
    gyro_bias_random_walk=0.021 * 8.0 * _DEG / 3600,
    accel_turn_on_bias=40 * _MG,             # Table 1: zero-g offset +-40 mg typ.
    gyro_turn_on_bias=3.0 * _DEG,            # Table 1: zero-rate offset +-3 deg/s typ.
    accel_scale_error=0.01,                  # Table 1: sensitivity tolerance +-1 % typ.
    gyro_scale_error=0.01,                   # Table 1: sensitivity tolerance +-1 % typ.
    accel_misalignment=0.01,                 # Table 1: cross-axis sensitivity +-1 % typ.
    gyro_misalignment=0.01,                  # Table 1: cross-axis sensitivity +-1 % typ.
    accel_range_ms2=16 * G,                  # Table 1: +-2/4/8/16 g; +-16 g chosen (fall impacts)
    gyro_range_rads=2000 * _DEG,             # Table 1: +-125 ... +-2000 deg/s; +-2000 chosen
    accel_adc_bits=16,                       # Table 1 / key features: 16-bit
    gyro_adc_bits=16,
    sampling_jitter_s=50e-6,                 # ASSUMED: FIFO samples are clocked on chip; 50 us
    lowpass_fraction=0.405,                  # Sec. 2.4.1.1: normal filter mode, 40.5 Hz at ODR 100 Hz
)

# TDK InvenSense ICM-42688-P, data sheet DS-000347 (rev 1.x): Table 1 "Gyroscope
# specifications", Table 2 "Accelerometer specifications". 16-bit output registers.
_ICM42688P = DeviceProfile(
    name="icm42688p",
    accel_noise_density=70 * _UG,            # Table 2: noise spectral density 70 ug/sqrt(Hz) (LN mode)
    gyro_noise_density=0.0028 * _DEG,        # Table 1: rate noise spectral density 0.0028 dps/sqrt(Hz)
    accel_bias_instability=40 * _UG,         # ASSUMED (no datasheet figure): 40 ug
    gyro_bias_instability=3.0 * _DEG / 3600,  # ASSUMED (no datasheet figure): 3 deg/h
    accel_bias_random_walk=0.021 * 40 * _UG,  # ASSUMED, as for the BMI160 (floor meets RRW ~3000 s)
    gyro_bias_random_walk=0.021 * 3.0 * _DEG / 3600,
    accel_turn_on_bias=20 * _MG,             # Table 2: zero-g level +-20 mg (board level)
    gyro_turn_on_bias=0.5 * _DEG,            # Table 1: initial ZRO tolerance +-0.5 dps (board level)
    accel_scale_error=0.005,                 # Table 2: sensitivity initial tolerance +-0.5 %
    gyro_scale_error=0.005,                  # Table 1: sensitivity scale factor tolerance +-0.5 %
    accel_misalignment=0.01,                 # Table 2: cross-axis sensitivity +-1 %
    gyro_misalignment=0.0125,                # Table 1: cross-axis sensitivity +-1.25 %
    accel_range_ms2=16 * G,                  # Table 2: +-2/4/8/16 g; +-16 g chosen
    gyro_range_rads=2000 * _DEG,             # Table 1: +-15.6 ... +-2000 dps; +-2000 chosen
    accel_adc_bits=16,                       # Tables 1-2: ADC word length 16 bits
    gyro_adc_bits=16,
    sampling_jitter_s=50e-6,                 # ASSUMED: on-chip clocked FIFO; 50 us
    lowpass_fraction=0.25,                   # ASSUMED setting: UI-filter bandwidth option ODR/4
                                             # (register GYRO_ACCEL_CONFIG0)
)

DEVICES: dict[str, DeviceProfile] = {
    "ideal": DeviceProfile(name="ideal"),
    "bmi160": _BMI160,
    "icm42688p": _ICM42688P,
}


def get_device(name: str) -> DeviceProfile:
    """Profile by name; ValueError listing the valid names."""
    try:
        return DEVICES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown device {name!r}; choose one of {sorted(DEVICES)}") from None


def _check_signal(x, label: str, n: int | None) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{label} must be (N, 3), got {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{label} has {arr.shape[0]} samples, accel has {n}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{label} contains NaN or Inf; repair the motion before the device model")
    return arr


def _field(p: DeviceProfile, field: str) -> np.ndarray:
    """(6,) per-channel figure: the accelerometer's for ax ay az, the gyroscope's for gx gy gz."""
    return np.repeat([getattr(p, f"accel_{field}"), getattr(p, f"gyro_{field}")], 3)


def _gm_steps(n: int, dt: float) -> list[tuple[int, int, float]]:
    """(samples between knots, knots, AR coefficient) of each Gauss-Markov term."""
    out = []
    for tau in FLICKER_TAUS_S:
        step = max(1, int(tau / (_GM_KNOTS_PER_TAU * dt)))
        out.append((step, -(-(n - 1) // step) + 1, math.exp(-step * dt / tau)))
    return out


def _pool_size(n: int, p: DeviceProfile, gm_knots: np.ndarray) -> int:
    """Standard normal draws one recording of n samples needs, laid out (in this order) as:
    jitter (n, only with sampling jitter), scale (6), cross-axis (2 x 3 x 3), turn-on (6), random
    walk (n x 6), white (n x 6), then per Gauss-Markov term its knots x 6 drives and 6 starts."""
    return (n if p.sampling_jitter_s else 0) + 30 + 12 * n + 6 * int(gm_knots.sum()) + 6 * len(gm_knots)


@functools.lru_cache(maxsize=256)
def _gm_arrays(n: int, dt: float, instability: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(G,) steps, knots and AR coefficients of the Gauss-Markov terms (G = 0 without flicker)."""
    gm = _gm_steps(n, dt) if instability else []
    return (np.array([g[0] for g in gm], dtype=np.int64), np.array([g[1] for g in gm], dtype=np.int64),
            np.array([g[2] for g in gm], dtype=np.float64))


@functools.lru_cache(maxsize=32)
def _model_arrays(profile: DeviceProfile, rate: float) -> dict[str, np.ndarray]:
    """The per-sensor and per-channel factors ``kernels.device_ragged`` takes for ``profile`` at
    ``rate`` Hz (shared: not to be modified)."""
    if profile.lowpass_fraction:
        sos, zi = kin._butter_sos(2, 2.0 * profile.lowpass_fraction)  # signal.butter's numbers
    else:
        sos, zi = np.zeros((0, 6)), np.zeros((0, 2))
    return {"sos": sos, "zi": zi,
            "scale": np.array([profile.accel_scale_error, profile.gyro_scale_error]),
            "mis": np.array([profile.accel_misalignment, profile.gyro_misalignment]),
            "turn_on": _field(profile, "turn_on_bias"),
            "gm_sigma": _field(profile, "bias_instability") * math.sqrt(math.log(_FLICKER_RATIO) / math.pi),
            "walk": _field(profile, "bias_random_walk") * math.sqrt(1.0 / rate),
            "white": _field(profile, "noise_density") * math.sqrt(rate),
            "full_scale": np.array([profile.accel_range_ms2, profile.gyro_range_rads]),
            "lsb": np.array([profile.accel_lsb, profile.gyro_lsb])}


def apply_device_ragged(x: np.ndarray, offsets: np.ndarray, sample_rate_hz: float,
                        profile: DeviceProfile, rngs: list[np.random.Generator]) -> np.ndarray:
    """Measured signals of B recordings of any lengths, in place and returned.

    x: (sum N, 6) float64, ideal ax ay az (m/s^2, specific force) gx gy gz (rad/s), sensor frame,
    recording b in rows offsets[b]:offsets[b + 1], uniformly sampled at ``sample_rate_hz``;
    rngs: one generator per recording. Each recording's draws come from its own generator only
    (one ``standard_normal`` call, in a fixed layout), and the compiled pass computes each
    recording on its own, so a recording's result does not depend on the others, bit for bit.
    """
    from .kernels import device_ragged

    b = len(offsets) - 1
    if len(rngs) != b:
        raise ValueError(f"need one rng per recording: {b} recordings, {len(rngs)} rngs")
    if profile.is_ideal or b == 0:
        return x
    rate, dt = float(sample_rate_hz), 1.0 / float(sample_rate_hz)
    factors = _model_arrays(profile, rate)
    flicker = bool(factors["gm_sigma"].any())
    lengths = np.diff(offsets).tolist()
    unique = sorted(set(lengths))  # one design per distinct length
    gms = [_gm_arrays(n, dt, flicker) for n in unique]
    sizes = {n: _pool_size(n, profile, g[1]) if n else 0 for n, g in zip(unique, gms)}
    pool_offsets = np.zeros(b + 1, dtype=np.int64)
    np.cumsum([sizes[n] for n in lengths], out=pool_offsets[1:])
    pool = np.empty(int(pool_offsets[-1]))
    bounds = pool_offsets.tolist()
    for k, rng in enumerate(rngs):
        if bounds[k + 1] > bounds[k]:
            rng.standard_normal(out=pool[bounds[k]:bounds[k + 1]])
    if len(unique) == 1:
        gm_step, gm_knots, gm_a = (np.repeat(g[None], b, axis=0) for g in gms[0])
    else:
        pick = np.searchsorted(unique, lengths)
        gm_step, gm_knots, gm_a = (np.stack([g[j] for g in gms])[pick] for j in range(3))
    device_ragged(x, np.asarray(offsets, dtype=np.int64), pool, pool_offsets, gm_step, gm_knots, gm_a,
                  profile.sampling_jitter_s * rate, factors["sos"], factors["zi"], factors["scale"],
                  factors["mis"], factors["turn_on"], factors["gm_sigma"], factors["walk"],
                  factors["white"], factors["full_scale"], factors["lsb"])
    return x


def apply_device_batch(imu: np.ndarray, sample_rate_hz: float, profile: DeviceProfile,
                       rngs: list[np.random.Generator]) -> np.ndarray:
    """Measured signals of B recordings of equal length at once.

    imu: (N, B, 6) float, ideal ax ay az (m/s^2, specific force) gx gy gz (rad/s), sensor frame,
    uniformly sampled at ``sample_rate_hz``; rngs: one generator per recording. Each recording's
    random numbers come from its own generator only, so the result for one recording does not
    depend on the others in the batch. Returns (N, B, 6) float64.
    """
    x = np.array(imu, dtype=np.float64)
    n, b = x.shape[0], x.shape[1]
    if len(rngs) != b:
        raise ValueError(f"need one rng per recording: {b} recordings, {len(rngs)} rngs")
    if profile.is_ideal or n == 0:
        return x
    flat = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(b * n, 6)
    apply_device_ragged(flat, np.arange(b + 1, dtype=np.int64) * n, sample_rate_hz, profile, rngs)
    return flat.reshape(b, n, 6).transpose(1, 0, 2).copy()


def apply_device(accel, gyro, sample_rate_hz: float, profile: DeviceProfile,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Measured signals from ideal ones (one recording; see ``apply_device_batch``).

    accel: (N, 3) float, m/s^2, specific force, sensor frame; gyro: (N, 3) float, rad/s, sensor
    frame; both uniformly sampled at ``sample_rate_hz``. Returns new (N, 3) float64 arrays.
    The ``ideal`` profile (every stage off) returns the inputs unchanged, bit for bit.
    """
    accel = _check_signal(accel, "accel", None)
    gyro = _check_signal(gyro, "gyro", accel.shape[0])
    rate = float(sample_rate_hz)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
    if not isinstance(profile, DeviceProfile):
        raise TypeError(f"profile must be a DeviceProfile (see get_device), got {type(profile).__name__}")
    out = apply_device_batch(np.concatenate([accel, gyro], axis=1)[:, None], rate, profile, [rng])
    return out[:, 0, :3], out[:, 0, 3:]
